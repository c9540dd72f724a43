"""The image store: content-addressed layers and configs under one root directory.

    ROOT/layers/sha256/<diff_id hex>/diff       the layer's tree (an overlay lowerdir)
    ROOT/layers/sha256/<diff_id hex>/meta.json  size, entries, whiteout form
    ROOT/layers/tmp/                             unpacking in progress (same filesystem)
    ROOT/images/sha256/<config hex>.json         image configs, byte for byte
    ROOT/images/names.json                       name → image id (0644, replaced atomically)
    ROOT/images/names.lock                       flock() around read-modify-write

A layer is unpacked into ``layers/tmp`` and renamed into place only when it is complete and
its digests verified, so a crash never leaves half a layer under its final name, and a layer
that is already there is never unpacked again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pyhost.runtime.images import catalog
from pyhost.runtime.images.catalog import ImageConfig
from pyhost.runtime.images.errors import ImageError, ImageInUse, ImageNotFound, short_digest
from pyhost.runtime.images.layout import OVERLAY, TARFORM, Limits
from pyhost.runtime.images.refs import DIGEST, name_from_file, normalize_name, parse_reference
from pyhost.runtime.stdlite import DIR_FLAGS as _DIR_FLAGS
from pyhost.runtime.stdlite import remove_tree

TYPE_CHECKING = False  # typing costs ~5 ms of every `pyhost run IMAGE`
if TYPE_CHECKING:
    from typing import Any

    from pyhost.runtime.images.extract import LayerStats
    from pyhost.runtime.images.sources import ImageSource, LayerSource
    from pyhost.runtime.images.streams import Digesting

_HEX = re.compile(r"[0-9a-f]{64}")


class Image:
    """An image in the store, ready to run."""

    def __init__(
        self,
        *,
        id: str,
        names: tuple[str, ...],
        layers: tuple[Path, ...],  # layer trees, lowest first (overlay lowerdirs reversed)
        config: ImageConfig,
        created: str,
        size: int,
        architecture: str,
        os: str,
        diff_ids: tuple[str, ...] = (),
        whiteout_forms: tuple[str, ...] = (),  # per layer: "overlay" or "tar"
        labels: dict[str, str] | None = None,
    ) -> None:
        self.id = id
        self.names = names
        self.layers = layers
        self.config = config
        self.created = created
        self.size = size
        self.architecture = architecture
        self.os = os
        self.diff_ids = diff_ids
        self.whiteout_forms = whiteout_forms
        self.labels = labels or {}

    def __repr__(self) -> str:
        return f"Image({self.id[:19]!r}, names={self.names!r})"

    def _key(self) -> tuple[object, ...]:
        return (self.id, self.names, self.layers, self.diff_ids, self.whiteout_forms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Image) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @property
    def overlay_ready(self) -> bool:
        """True when every layer can be an overlayfs lowerdir as it is (whiteouts in the
        overlay form); else the launcher flattens them with `materialize_rootfs`."""
        return all(form == OVERLAY for form in self.whiteout_forms)


def default_store_root() -> Path:
    """``$PYHOST_DATA_ROOT``, else /var/lib/pyhost as root, else $XDG_DATA_HOME/pyhost."""
    return Path(catalog.store_root())


class ImageStore:
    """Images under ``root``; see the module docstring for the layout."""

    def __init__(
        self,
        root: Path,
        *,
        limits: Limits | None = None,
        whiteout_form: str | None = None,
    ) -> None:
        """``limits`` caps each layer; ``whiteout_form`` forces "overlay" or "tar" (default:
        overlay where this process can write it, i.e. real root)."""
        if whiteout_form not in (None, OVERLAY, TARFORM):
            raise ValueError(f"whiteout_form must be {OVERLAY!r} or {TARFORM!r}")
        self.root = Path(root)
        self.limits = limits or Limits()
        self.layers_dir = self.root / "layers" / "sha256"
        self.tmp_dir = self.root / "layers" / "tmp"
        self.images_dir = self.root / "images" / "sha256"
        self.names_file = self.root / "images" / "names.json"
        self.lock_file = self.root / "images" / "names.lock"
        self._overlay: bool | None = None if whiteout_form is None else whiteout_form == OVERLAY

    # -- layout -----------------------------------------------------------------------------

    def _prepare(self) -> None:
        for path in (self.layers_dir, self.images_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.tmp_dir.mkdir(exist_ok=True, mode=0o700)
        self._clean_stale_tmp()

    def _clean_stale_tmp(self) -> None:
        """Remove what a killed process left in tmp (its pid is in the name)."""
        for entry in os.listdir(self.tmp_dir):
            match = re.match(r"[a-z]+-(\d+)-", entry)
            if match is None:
                continue
            pid = int(match.group(1))
            if pid != os.getpid() and not _alive(pid):
                _remove_tree(self.tmp_dir / entry)

    def _overlay_whiteouts(self) -> bool:
        from pyhost.runtime.images.extract import probe_overlay_whiteouts

        if self._overlay is None:
            self._overlay = probe_overlay_whiteouts(str(self.tmp_dir))
        return self._overlay

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _read_names(self) -> dict[str, str]:
        return catalog.read_names(str(self.root))

    def _write_names(self, names: dict[str, str]) -> None:
        body = json.dumps({"schema": 1, "names": dict(sorted(names.items()))}, indent=1) + "\n"
        _write_atomic(self.names_file, body.encode())

    # -- layers -----------------------------------------------------------------------------

    def layer_dir(self, diff_id: str) -> Path:
        return self.layers_dir / catalog.hex_of(diff_id)

    def has_layer(self, diff_id: str) -> bool:
        return (self.layer_dir(diff_id) / "meta.json").is_file()

    def layer_meta(self, diff_id: str) -> dict[str, Any]:
        return catalog.layer_meta(str(self.root), diff_id)

    def _unpack(self, source: LayerSource, expected: str | None) -> str:
        """Unpack one layer unless it is there already; return its diff_id."""
        import tempfile

        from pyhost.runtime.images.streams import Digesting

        if expected is not None and self.has_layer(expected):
            return expected
        label = short_digest(expected) if expected else source.label
        tmp = Path(tempfile.mkdtemp(prefix=f"layer-{os.getpid()}-", dir=self.tmp_dir))
        try:
            diff = tmp / "diff"
            diff.mkdir(mode=0o755)
            with source.open() as raw:
                blob = Digesting(raw)
                stats, diff_id = self._extract(blob, diff, label)
                blob.drain()
            if source.blob_digest is not None and blob.digest != source.blob_digest:
                raise ImageError(
                    f"layer {label}: content digest {short_digest(blob.digest)} does not match "
                    f"the manifest's {short_digest(source.blob_digest)}; refusing this image"
                )
            if expected is not None and diff_id != expected:
                raise ImageError(
                    f"layer {label}: diff_id {short_digest(diff_id)} does not match the "
                    f"config's {short_digest(expected)}; refusing this image"
                )
            meta = {
                "diff_id": diff_id,
                "size": stats.size,
                "entries": stats.entries,
                "whiteouts": stats.whiteouts,
                "whiteout_form": stats.whiteout_form,
                "skipped_devices": stats.skipped_devices,
                "unpacked": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            _write_atomic(tmp / "meta.json", json.dumps(meta, indent=1).encode())
            os.chmod(tmp, 0o755)  # noqa: S103 (layers are world-readable, as Docker's)
            final = self.layer_dir(diff_id)
            if final.exists() and not self.has_layer(diff_id):
                self._drop_layer(diff_id)  # no metadata: not ours, or damaged by hand
            if not final.exists():
                try:
                    os.rename(tmp, final)
                except OSError:
                    if not self.has_layer(diff_id):  # not another load that won the race
                        raise
            return diff_id
        finally:
            if tmp.exists():
                _remove_tree(tmp)

    def _extract(self, blob: Digesting, diff: Path, label: str) -> tuple[LayerStats, str]:
        from pyhost.runtime.images.extract import Extractor
        from pyhost.runtime.images.streams import Digesting, StreamTooLarge, decompressed

        try:
            stream = decompressed(blob)
        except OSError as e:
            raise ImageError(f"layer {label}: cannot read it ({e}); refusing this image") from e
        try:
            plain = Digesting(stream, limit=self.limits.max_stream_bytes)
            fd = os.open(diff, _DIR_FLAGS)
            try:
                extractor = Extractor(
                    fd,
                    label=label,
                    limits=self.limits,
                    overlay_whiteouts=self._overlay_whiteouts(),
                )
                stats = extractor.run(plain)
            finally:
                os.close(fd)
            plain.drain()
            if plain.count % 512 or plain.tail != bytes(512):
                # tarfile ends quietly at a header cut short; GNU tar would complain
                raise ImageError(
                    f"layer {label}: the tar archive is cut short (no end-of-archive "
                    "marker); refusing this image"
                )
            return stats, plain.digest
        except StreamTooLarge:
            raise ImageError(
                f"layer {label}: unpacks to more than {self.limits.max_stream_bytes} bytes "
                "(a decompression bomb?); refusing this image"
            ) from None
        except (EOFError, OSError, ValueError) as e:
            if isinstance(e, ImageError):
                raise
            raise ImageError(
                f"layer {label}: cannot decompress it ({e}); refusing this image"
            ) from e
        finally:
            stream.close()

    # -- images -----------------------------------------------------------------------------

    def add(self, source: ImageSource, *, extra_names: list[str] | None = None) -> Image:
        """Verify and store one image (layers first, then config and names)."""
        import hashlib

        names = [*source.names, *(extra_names or [])]
        if source.config is None:
            diff_ids = [self._unpack(layer, None) for layer in source.layers]
            config = _synthesized_config(diff_ids)
        else:
            config = source.config
            actual = "sha256:" + hashlib.sha256(config).hexdigest()
            if source.config_digest is not None and actual != source.config_digest:
                raise ImageError(
                    f"image config {short_digest(source.config_digest)} has digest "
                    f"{short_digest(actual)}; refusing this image"
                )
            diff_ids = _diff_ids(config, len(source.layers), short_digest(actual))
            for layer, diff_id in zip(source.layers, diff_ids, strict=True):
                self._unpack(layer, diff_id)
        image_id = "sha256:" + hashlib.sha256(config).hexdigest()
        with self._locked():
            for diff_id in diff_ids:
                if not self.has_layer(diff_id):
                    raise ImageError(
                        f"layer {short_digest(diff_id)} was removed while loading",
                        hint="load the image again",
                    )
            path = self._image_file(image_id)
            if not path.exists():
                _write_atomic(path, config)
            if names:
                index = self._read_names()
                for name in names:
                    index[name] = image_id
                self._write_names(index)
        return self._image(image_id, self._read_names())

    def load(self, source: Path, *, tag: str | None = None) -> list[Image]:
        """Load a docker save tar, an OCI layout (directory or tar), a rootfs tarball or a
        rootfs directory. ``tag`` names a rootfs (default: from the file name) or adds a name
        to the one image of an archive."""
        import tempfile

        from pyhost.runtime.images.sources import open_sources

        source = Path(source)
        extra = [normalize_name(tag)] if tag else []
        with _os_errors(f"loading {source}"), contextlib.ExitStack() as stack:
            self._prepare()
            scratch = Path(tempfile.mkdtemp(prefix=f"load-{os.getpid()}-", dir=self.tmp_dir))
            stack.callback(_remove_tree, scratch)
            rootfs_name = extra[0] if extra else None
            if rootfs_name is None:
                with contextlib.suppress(ImageError):
                    rootfs_name = name_from_file(
                        (source.resolve() if source.is_dir() else source).name
                    )
            kind, sources = open_sources(source, scratch, stack, rootfs_name=rootfs_name)
            if kind == "rootfs":
                extra = []
                if rootfs_name is None:
                    raise ImageError(
                        f"cannot make an image name from {source.name!r}", hint="give --tag NAME"
                    )
            elif extra and len(sources) != 1:
                raise ImageError(
                    f"--tag names one image, and {source} holds {len(sources)}",
                    hint="load it without --tag",
                )
            return [self.add(src, extra_names=extra) for src in sources]

    def _ids(self) -> list[str]:
        try:
            entries = os.listdir(self.images_dir)
        except FileNotFoundError:
            return []
        return [
            f"sha256:{e[:-5]}" for e in entries if e.endswith(".json") and _HEX.fullmatch(e[:-5])
        ]

    def _image(self, image_id: str, names: dict[str, str]) -> Image:
        doc = catalog.read_image(str(self.root), image_id)
        diff_ids = catalog.diff_ids_of(doc)
        metas = [self.layer_meta(d) for d in diff_ids]
        config = ImageConfig.from_json(doc.get("config") or {})
        return Image(
            id=image_id,
            names=tuple(sorted(n for n, i in names.items() if i == image_id)),
            layers=tuple(self.layer_dir(d) / "diff" for d in diff_ids),
            config=config,
            created=str(doc.get("created") or ""),
            size=sum(int(m.get("size", 0)) for m in metas),
            architecture=str(doc.get("architecture") or ""),
            os=str(doc.get("os") or ""),
            diff_ids=diff_ids,
            whiteout_forms=tuple(str(m.get("whiteout_form", "tar")) for m in metas),
            labels=config.labels,
        )

    def images(self) -> list[Image]:
        """Every image, newest first."""
        with _os_errors(f"reading the image store {self.root}"):
            names = self._read_names()
            found = [self._image(i, names) for i in self._ids()]
        return sorted(found, key=lambda img: (img.created, img.id), reverse=True)

    def resolve(self, ref: str) -> Image:
        """An image by name (``busybox``, ``name:tag``, ``host:5000/ns/name:tag``) or by full
        or short id (4 hex or more, unique)."""
        names = self._read_names()
        text = ref.strip()
        try:
            name: str | None = normalize_name(text)
        except ImageError:
            name = None
        if name is not None and name in names:
            return self._image(names[name], names)
        hexpart = text.removeprefix("sha256:")
        if re.fullmatch(r"[0-9a-f]{4,64}", hexpart):
            matches = sorted(i for i in self._ids() if catalog.hex_of(i).startswith(hexpart))
            if len(matches) == 1:
                return self._image(matches[0], names)
            if len(matches) > 1:
                shown = ", ".join(catalog.hex_of(m)[:12] for m in matches[:5])
                raise ImageNotFound(
                    f"image id prefix {hexpart!r} is ambiguous: it matches {shown}",
                    hint="give more of the id",
                )
        raise ImageNotFound(self._not_found(text, names), hint=_ADD_HINT)

    def _not_found(self, text: str, names: dict[str, str]) -> str:
        import difflib

        candidates = sorted(set(names) | {n.rsplit(":", 1)[0] for n in names})
        short = text.removeprefix("docker.io/library/")
        close = difflib.get_close_matches(short, candidates, n=3, cutoff=0.5)
        close = [c if c in names else f"{c}:{_tag_of(c, names)}" for c in close]
        message = f"no image {text!r} in {self.root}"
        if close:
            message += f"; nearest: {', '.join(dict.fromkeys(close))}"
        return message

    def remove(self, ref: str, *, in_use: Callable[[str], bool] | None = None) -> list[str]:
        """Untag ``ref`` (a name), or delete the image it names (an id, or its last name).
        Layers another image uses stay. ``in_use(image_id)`` vetoes deleting an image.
        Returns Docker's lines: ``Untagged: NAME``, ``Deleted: sha256:...``."""
        removed: list[str] = []
        with _os_errors(f"removing {ref}"), self._locked():
            names = self._read_names()
            try:
                name: str | None = normalize_name(ref)
            except ImageError:
                name = None
            if name is not None and name in names:
                image_id = names[name]
                others = [n for n, i in names.items() if i == image_id and n != name]
                if others:
                    del names[name]
                    self._write_names(names)
                    return [f"Untagged: {name}"]
                untag = [name]
            else:
                image_id = self.resolve(ref).id
                untag = sorted(n for n, i in names.items() if i == image_id)
            if in_use is not None and in_use(image_id):
                raise ImageInUse(
                    f"image {ref!r} ({catalog.hex_of(image_id)[:12]}) is in use by a container",
                    hint="remove the container first",
                )
            image = self._image(image_id, names)
            for n in untag:
                del names[n]
                removed.append(f"Untagged: {n}")
            self._write_names(names)
            self._image_file(image_id).unlink()
            removed.append(f"Deleted: {image_id}")
            still_used: set[str] = set()
            for other in self._ids():
                with contextlib.suppress(ImageError):
                    still_used.update(self._diff_ids_of(other))
            for diff_id in image.diff_ids:
                if diff_id in still_used or not self.layer_dir(diff_id).exists():
                    continue
                self._drop_layer(diff_id)
                removed.append(f"Deleted: layer {diff_id}")
        return removed

    def _image_file(self, image_id: str) -> Path:
        return Path(catalog.image_file(str(self.root), image_id))

    def _diff_ids_of(self, image_id: str) -> tuple[str, ...]:
        return catalog.diff_ids_of(catalog.read_image(str(self.root), image_id))

    def _drop_layer(self, diff_id: str) -> None:
        """Move the layer out of its name first (atomic), then delete the tree."""
        import tempfile

        self.tmp_dir.mkdir(exist_ok=True, mode=0o700)
        graveyard = Path(tempfile.mkdtemp(prefix=f"rm-{os.getpid()}-", dir=self.tmp_dir))
        try:
            os.rename(self.layer_dir(diff_id), graveyard / "layer")
        finally:
            _remove_tree(graveyard)

    def pull(
        self,
        ref: str,
        *,
        platform: str | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
    ) -> Image:
        """Pull ``ref`` from its registry (Registry HTTP API v2) into the store."""
        from pyhost.runtime.images.registry import pull_source

        parsed = parse_reference(ref)
        with _os_errors(f"pulling {ref}"):
            self._prepare()
            source = pull_source(parsed, platform=platform, insecure=insecure, timeout=timeout)
            return self.add(source)


_ADD_HINT = "pyhost images lists them; pyhost load or pyhost pull adds one"


@contextlib.contextmanager
def _os_errors(what: str) -> Iterator[None]:
    """An OSError the checks above did not expect (permissions, a full disk) as one line."""
    try:
        yield
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise ImageError(
            f"{what}: {e.strerror or e}{where}",
            hint="set PYHOST_DATA_ROOT to a writable directory"
            if isinstance(e, PermissionError)
            else None,
        ) from e


def _tag_of(repo: str, names: dict[str, str]) -> str:
    tags = sorted(n.rsplit(":", 1)[1] for n in names if n.rsplit(":", 1)[0] == repo)
    return "latest" if "latest" in tags else (tags[0] if tags else "latest")


def _diff_ids(config: bytes, layers: int, label: str) -> list[str]:
    try:
        doc = json.loads(config)
    except ValueError as e:
        raise ImageError(f"image config {label} is not valid JSON ({e})") from e
    rootfs = doc.get("rootfs") if isinstance(doc, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(
        isinstance(d, str) and DIGEST.fullmatch(d) for d in diff_ids
    ):
        raise ImageError(f"image config {label} has no valid rootfs.diff_ids; refusing it")
    if len(diff_ids) != layers:
        raise ImageError(
            f"image config {label} lists {len(diff_ids)} layers and the manifest {layers}; "
            "refusing this image"
        )
    return list(diff_ids)


def _synthesized_config(diff_ids: list[str]) -> bytes:
    from pyhost.runtime.images.platforms import default_platform

    plat = default_platform()
    doc: dict[str, Any] = {
        "architecture": plat.architecture,
        "os": plat.os,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "pyhost load (rootfs)"}],
    }
    if plat.variant:
        doc["variant"] = plat.variant
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _write_atomic(path: Path, data: bytes) -> None:
    """tmp + fsync + rename, 0644: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        os.fchmod(fd, 0o644)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _remove_tree(path: Path) -> None:
    """Remove ``path`` following no symlink (a half-unpacked layer may hold hostile ones),
    read-only directories of a non-root store included."""
    remove_tree(str(path))
    if os.path.lexists(path):
        raise OSError(f"{path} could not be removed completely")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
