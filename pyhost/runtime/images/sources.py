"""What `ImageStore.load` reads: docker save archives (the legacy manifest.json and the
Docker >= 25 OCI flavour), OCI image layouts (a directory or a tar), plain rootfs tarballs
and plain rootfs directories. Each becomes `ImageSource`s: a config, names, and layers that
open as streams. Nothing here writes into the store, and nothing is trusted yet: the store
verifies every digest while it unpacks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pyhost.runtime.images.errors import ImageError, short_digest
from pyhost.runtime.images.platforms import Platform, choose_manifest, default_platform
from pyhost.runtime.images.refs import DIGEST, normalize_name
from pyhost.runtime.images.streams import (
    Readable,
    as_file,
    compression_of,
    decompressed,
    read_head,
)

MAX_JSON = 16 * 1024 * 1024  # a manifest, index or config larger than this is refused

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)

_ARCHIVE_NAMES = re.compile(
    r"(manifest\.json|index\.json|oci-layout|repositories|blobs(/.*)?|[0-9a-f]{64}(\.json|/.*)?)"
)


@dataclass
class LayerSource:
    """One layer as delivered: ``open()`` yields its bytes (maybe compressed)."""

    open: Callable[[], contextlib.AbstractContextManager[Readable]]
    blob_digest: str | None  # what the manifest says the delivered bytes hash to
    label: str


@dataclass
class ImageSource:
    """One image to load. ``config`` is None for a rootfs (pyhost writes the config)."""

    config: bytes | None
    config_digest: str | None
    names: list[str]
    layers: list[LayerSource] = field(default_factory=list)


def is_index(doc: dict[str, Any]) -> bool:
    return doc.get("mediaType") in INDEX_TYPES or (
        "manifests" in doc and "layers" not in doc and "config" not in doc
    )


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise ImageError(f"{what} is not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise ImageError(f"{what} is not a JSON object")
    return doc


def check_digest(value: Any, what: str) -> str:
    """A digest string from a manifest, checked before it becomes part of a path or URL."""
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise ImageError(f"{what}: {value!r} is not a sha256 digest; refusing this image")
    return value


def manifest_layers(manifest: dict[str, Any], what: str) -> tuple[str, list[str]]:
    """The config digest and the layer digests of an image manifest."""
    media = manifest.get("mediaType")
    if media in DOCKER_SCHEMA1 or manifest.get("schemaVersion") == 1:
        raise ImageError(
            f"{what} is a Docker schema 1 manifest, which pyhost does not read",
            hint="re-push the image with a current Docker",
        )
    config = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        raise ImageError(f"{what} is not an image manifest (no config or layers)")
    config_digest = check_digest(config.get("digest"), f"{what} config")
    digests = []
    for layer in layers:
        if not isinstance(layer, dict):
            raise ImageError(f"{what} has a layer that is not an object")
        digests.append(check_digest(layer.get("digest"), f"{what} layer"))
    return config_digest, digests


# -- detection ---------------------------------------------------------------------------------


def looks_like_image_archive(path: Path) -> bool:
    """True for docker save / OCI tars, False for a rootfs tarball: decided from the first
    member names (a rootfs starts with ``./``, ``bin/``...; an image archive with
    ``<64 hex>/``, ``blobs/``, ``manifest.json``...)."""
    with path.open("rb") as raw:
        stream = decompressed(raw)
        try:
            try:
                tar = tarfile.open(fileobj=as_file(stream), mode="r|")  # noqa: SIM115 (stream closed below)
            except tarfile.TarError as e:
                raise ImageError(f"{path}: not a tar archive or image layout ({e})") from e
            for _ in range(16):
                try:
                    member = tar.next()
                except tarfile.TarError as e:
                    raise ImageError(f"{path}: broken tar archive ({e})") from e
                if member is None:
                    break
                name = member.name.removeprefix("./")
                if name and _ARCHIVE_NAMES.fullmatch(name):
                    return True
            return False
        finally:
            stream.close()


# -- readers over a directory or a tar ---------------------------------------------------------


class _Files:
    """Read named files of an archive or a directory (names are archive-relative)."""

    def open(self, name: str) -> contextlib.AbstractContextManager[Readable]:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def read(self, name: str, what: str) -> bytes:
        if not self.exists(name):
            raise ImageError(f"{what}: {name!r} is missing from the archive")
        with self.open(name) as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ImageError(f"{what}: {name!r} is larger than {MAX_JSON} bytes; refusing it")
        return data


class _TarFiles(_Files):
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: dict[str, tarfile.TarInfo] = {}
        for member in tar.getmembers():
            self.members[member.name.removeprefix("./")] = member

    def exists(self, name: str) -> bool:
        return name in self.members

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[Readable]:
        member = self.members.get(name)
        if member is None:
            raise ImageError(f"{name!r} is missing from the archive")
        try:
            f = self.tar.extractfile(member)  # resolves in-archive links; reads, never writes
        except (KeyError, tarfile.TarError) as e:
            raise ImageError(f"{name!r} cannot be read from the archive ({e})") from e
        if f is None:
            raise ImageError(f"{name!r} in the archive is not a file")
        with f:
            yield f


class _DirFiles(_Files):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        parts = name.split("/")
        if name.startswith("/") or ".." in parts:
            raise ImageError(f"{name!r} points outside the image layout; refusing it")
        return self.root.joinpath(*parts)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[Readable]:
        path = self._path(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as e:
            raise ImageError(f"{path}: {e.strerror}") from e
        with os.fdopen(fd, "rb") as f:
            yield f


# -- docker save -------------------------------------------------------------------------------


def _blob_digest_of(name: str) -> str | None:
    match = re.fullmatch(r"blobs/sha256/([0-9a-f]{64})", name)
    return f"sha256:{match.group(1)}" if match else None


def docker_save_sources(files: _Files, origin: str) -> list[ImageSource]:
    """``manifest.json`` → one ImageSource per entry (``docker save a b`` holds two)."""
    manifest = json.loads(files.read("manifest.json", origin) or b"[]")
    if not isinstance(manifest, list):
        raise ImageError(f"{origin}: manifest.json is not a list")
    sources = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ImageError(f"{origin}: manifest.json has an entry without a Config")
        config_name = entry["Config"]
        legacy = re.fullmatch(r"([0-9a-f]{64})\.json", config_name)
        config_digest = f"sha256:{legacy.group(1)}" if legacy else _blob_digest_of(config_name)
        config = files.read(config_name, origin)
        names = [normalize_name(t) for t in entry.get("RepoTags") or [] if isinstance(t, str)]
        layers = []
        for layer_name in entry.get("Layers") or []:
            if not isinstance(layer_name, str):
                raise ImageError(f"{origin}: manifest.json has a layer that is not a name")
            blob = _blob_digest_of(layer_name)
            layers.append(
                LayerSource(
                    open=lambda n=layer_name: files.open(n),  # type: ignore[misc]
                    blob_digest=blob,
                    label=short_digest(blob) if blob else layer_name,
                )
            )
        sources.append(ImageSource(config, config_digest, names, layers))
    return sources


# -- OCI image layout --------------------------------------------------------------------------


def _blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def _read_blob(files: _Files, digest: str, what: str) -> bytes:
    import hashlib

    data = files.read(_blob_name(digest), what)
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ImageError(
            f"{what}: blob {short_digest(digest)} has digest {short_digest(actual)}; "
            "refusing this image"
        )
    return data


def _names_of(descriptor: dict[str, Any]) -> list[str]:
    notes = descriptor.get("annotations") or {}
    full = notes.get("io.containerd.image.name")
    if isinstance(full, str):
        return [normalize_name(full)]
    ref = notes.get("org.opencontainers.image.ref.name")
    if isinstance(ref, str) and ("/" in ref or ":" in ref):
        with contextlib.suppress(ImageError):
            return [normalize_name(ref)]
    return []  # only a tag: the layout does not say which repository


def oci_sources(files: _Files, origin: str, want: Platform | None = None) -> list[ImageSource]:
    """index.json → (nested indexes →) manifests → config and layer blobs."""
    index = parse_json(files.read("index.json", origin), f"{origin}: index.json")
    want = want or default_platform()
    sources = []
    for top in index.get("manifests") or []:
        if not isinstance(top, dict):
            continue
        desc = top
        for _ in range(8):  # nested indexes, bounded
            digest = check_digest(desc.get("digest"), f"{origin}: index.json")
            doc = parse_json(_read_blob(files, digest, origin), f"{origin}: {digest}")
            if not is_index(doc):
                break
            desc = choose_manifest(doc.get("manifests") or [], want, what=f"{origin} index")
        else:
            raise ImageError(f"{origin}: indexes nested too deep")
        config_digest, layer_digests = manifest_layers(doc, f"{origin}: manifest {digest}")
        config = _read_blob(files, config_digest, origin)
        layers = [
            LayerSource(
                open=lambda d=d: files.open(_blob_name(d)),  # type: ignore[misc]
                blob_digest=d,
                label=short_digest(d),
            )
            for d in layer_digests
        ]
        sources.append(ImageSource(config, config_digest, _names_of(top), layers))
    if not sources:
        raise ImageError(f"{origin}: index.json lists no image")
    return sources


# -- entry point -------------------------------------------------------------------------------


def _tar_of_directory(root: Path, out: IO[bytes]) -> None:
    """A rootfs directory as a tar stream, so that the same safe extractor reads it
    (tarfile.add lstat()s: symlinks are stored as links, never followed)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(root, arcname=".", recursive=True)


def open_sources(
    path: Path, scratch: Path, stack: contextlib.ExitStack, *, rootfs_name: str | None
) -> tuple[str, list[ImageSource]]:
    """The kind of ``path`` (``docker-archive``, ``oci-layout``, ``rootfs``) and its images.
    ``scratch`` is a private directory on the store's filesystem for temporary files; the
    files stay open until ``stack`` closes."""
    origin = str(path)
    if path.is_dir():
        if (path / "oci-layout").is_file():
            return "oci-layout", oci_sources(_DirFiles(path), origin)
        if (path / "manifest.json").is_file() and (path / "repositories").exists():
            raise ImageError(
                f"{origin} is an unpacked docker save archive",
                hint="give the .tar file that docker save wrote",
            )
        tmp = scratch / "rootfs.tar"
        with tmp.open("wb") as out:
            _tar_of_directory(path, out)
        return "rootfs", [_rootfs_source(tmp, origin, rootfs_name)]
    if not path.is_file():
        raise ImageError(f"{origin}: no such file or directory")
    if not looks_like_image_archive(path):
        return "rootfs", [_rootfs_source(path, origin, rootfs_name)]
    archive = path
    with path.open("rb") as raw:
        compressed = compression_of(read_head(raw)) is not None
    if compressed:
        # random access into a compressed tar re-reads it from the start each time
        archive = scratch / "archive.tar"
        with path.open("rb") as raw, archive.open("wb") as out:
            stream = decompressed(raw)
            try:
                while chunk := stream.read(1 << 20):
                    out.write(chunk)
            finally:
                stream.close()
    try:
        tar = stack.enter_context(tarfile.open(archive, "r:"))  # noqa: SIM115
        files = _TarFiles(tar)
    except tarfile.TarError as e:
        raise ImageError(f"{origin}: broken tar archive ({e})") from e
    if files.exists("manifest.json"):
        return "docker-archive", docker_save_sources(files, origin)
    if files.exists("index.json") and files.exists("oci-layout"):
        return "oci-layout", oci_sources(files, origin)
    raise ImageError(f"{origin}: an archive without manifest.json or index.json")


def _rootfs_source(path: Path, origin: str, name: str | None) -> ImageSource:
    @contextlib.contextmanager
    def opener() -> Iterator[Readable]:
        with path.open("rb") as f:
            yield f

    return ImageSource(
        config=None,
        config_digest=None,
        names=[name] if name else [],
        layers=[LayerSource(open=opener, blob_digest=None, label=os.path.basename(origin))],
    )
