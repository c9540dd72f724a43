"""Build image inputs for the image tests: layer tars (hostile ones too, member by member
with tarfile), OCI image layouts around them, and a snapshot to prove nothing changed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


@dataclass
class Member:
    info: tarfile.TarInfo
    data: bytes = b""


def reg(name: str, data: bytes = b"", mode: int = 0o644, **pax: str) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    if pax:
        info.pax_headers = dict(pax)
    return Member(info, data)


def directory(name: str, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 1_700_000_000
    return Member(info)


def symlink(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    return Member(info)


def hardlink(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return Member(info)


def device(name: str, major: int, minor: int, kind: bytes = tarfile.CHRTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = major, minor
    info.mode = 0o666
    return Member(info)


def layer(*members: Member) -> bytes:
    """An uncompressed layer tar (PAX format: names with NUL bytes survive in PAX only)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            tar.addfile(m.info, io.BytesIO(m.data) if m.data else None)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data: bytes, how: str) -> bytes:
    if how == "none":
        return data
    if how == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if how == "zstd":
        return subprocess.run(
            ["zstd", "-q", "-c"], input=data, capture_output=True, check=True, timeout=60
        ).stdout
    raise ValueError(how)


def _put_blob(root: Path, data: bytes) -> str:
    digest = sha256(data)
    path = root / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def write_oci_layout(
    root: Path,
    layers: list[bytes],
    *,
    how: str = "gzip",
    name: str | None = "test/img:1",
    config: dict[str, Any] | None = None,
    tamper: str | None = None,
    platform: tuple[str, str] = ("linux", "amd64"),
) -> dict[str, Any]:
    """An OCI image layout with one image made of ``layers`` (uncompressed tars).
    ``tamper``: "blob" (the manifest names another blob digest than the layer's bytes),
    "diff_id" (the config names another diff_id) or "config" (the manifest names another
    config digest)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    diff_ids = [sha256(t) for t in layers]
    descriptors = []
    for i, tar in enumerate(layers):
        blob = compress(tar, how)
        digest = _put_blob(root, blob)
        if tamper == "blob" and i == len(layers) - 1:
            bogus = blob + b"\0"
            digest = sha256(bogus)  # the manifest names bytes the layout does not hold
            (root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(blob)
        descriptors.append({"mediaType": LAYER_TYPES[how], "digest": digest, "size": len(blob)})
    if tamper == "diff_id":
        diff_ids[-1] = sha256(b"something else")
    cfg = {
        "architecture": platform[1],
        "os": platform[0],
        "created": "2024-01-02T03:04:05Z",
        "config": config or {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    cfg_bytes = json.dumps(cfg).encode()
    cfg_digest = _put_blob(root, cfg_bytes)
    if tamper == "config":
        other = cfg_bytes + b" "
        cfg_digest = sha256(other)
        (root / "blobs" / "sha256" / cfg_digest.split(":")[1]).write_bytes(cfg_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
        "layers": descriptors,
    }
    man_bytes = json.dumps(manifest).encode()
    man_digest = _put_blob(root, man_bytes)
    desc: dict[str, Any] = {
        "mediaType": OCI_MANIFEST,
        "digest": man_digest,
        "size": len(man_bytes),
    }
    if name:
        desc["annotations"] = {"org.opencontainers.image.ref.name": name}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}
    (root / "index.json").write_text(json.dumps(index))
    return {
        "config_digest": sha256(cfg_bytes),
        "diff_ids": [sha256(t) for t in layers],
        "manifest": manifest,
        "manifest_bytes": man_bytes,
        "config_bytes": cfg_bytes,
    }


def tar_directory(src: Path, dest: Path) -> None:
    """A tar of a directory's contents (names relative to it)."""
    with tarfile.open(dest, "w") as tar:
        for entry in sorted(os.listdir(src)):
            tar.add(src / entry, arcname=entry)


def oci_from_docker_save(save_tar: Path, dest: Path, *, how: str = "gzip") -> dict[str, Any]:
    """Rewrite a legacy docker save archive as an OCI layout (layers recompressed)."""
    with tarfile.open(save_tar) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        entry = manifest[0]
        layers = [tar.extractfile(name).read() for name in entry["Layers"]]  # type: ignore[union-attr]
        config = json.loads(tar.extractfile(entry["Config"]).read())  # type: ignore[union-attr]
    return write_oci_layout(
        dest,
        layers,
        how=how,
        name=entry["RepoTags"][0] if entry.get("RepoTags") else None,
        config=config.get("config"),
    )


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root`` with its type, mode, size, content digest or link target."""
    result: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            extra: Any = None
            if path.is_symlink():
                extra = os.readlink(path)
            elif path.is_file():
                extra = hashlib.sha256(path.read_bytes()).hexdigest()
            result[str(path.relative_to(root))] = (st.st_mode, st.st_size, extra)
    return result


def clean_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
