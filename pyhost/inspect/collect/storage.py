"""Where a container's files live: the image's layer chain under Docker's root, the
container's own layer, and the mounts its processes see.

overlay2 keeps three indexes under ``<root>/image/overlay2``: ``imagedb`` (image config with
``rootfs.diff_ids``), ``layerdb/sha256/<chain-id>/{cache-id,size}`` (one per layer of a
chain) and ``layerdb/mounts/<container-id>/{mount-id,init-id}``. ``cache-id`` and
``mount-id`` name the directories under ``<root>/overlay2``. Docker's containerd image
store has no layerdb; then the layers come from the root mount's overlay options.
"""

from __future__ import annotations

import os

from . import jsonc, mountinfo
from .fs import read_text as _read

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/var/lib/docker"
WALK_LIMIT = 100_000  # directory entries read at most when sizing an upper dir
SYSTEM_FS = {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue"}
SYSTEM_POINTS = {"/dev", "/dev/pts", "/dev/mqueue", "/dev/shm"}


def sha256_hex(data: bytes) -> str:
    """hashlib.sha256(data).hexdigest() through CPython's built-in module (hashlib loads
    OpenSSL: ~6 ms)."""
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]  # 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:  # a Python built without it
            from hashlib import sha256
    return str(sha256(data).hexdigest())


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID: C0 = D0; Cn = "sha256:" + sha256hex(C(n-1) + " " + Dn)."""
    chain: list[str] = []
    for diff_id in diff_ids:
        if not chain:
            chain.append(diff_id)
        else:
            digest = sha256_hex(f"{chain[-1]} {diff_id}".encode())
            chain.append(f"sha256:{digest}")
    return chain


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def diff_ids(image_id: str, layout: str) -> list[str] | None:
    """rootfs.diff_ids of the image config in imagedb; None when there is none."""
    text = _read(f"{layout}/imagedb/content/sha256/{_hex(image_id)}")
    if text is None:
        return None
    try:
        ids = jsonc.loads(text).get("rootfs", {}).get("diff_ids")
    except ValueError:
        return None
    return [str(d) for d in ids] if isinstance(ids, list) else None


def layer(index: int, diff_id: str, chain_id: str, layout: str, root: str) -> dict[str, Any]:
    base = f"{layout}/layerdb/sha256/{_hex(chain_id)}"
    cache_id = _read(f"{base}/cache-id")
    size = _read(f"{base}/size")
    directory = f"{root}/overlay2/{cache_id}" if cache_id else None
    return {
        "index": index,
        "diff_id": diff_id,
        "chain_id": chain_id,
        "cache_id": cache_id,
        "dir": directory,
        "exists": bool(directory and os.path.isdir(directory)),
        "size": int(size) if size and size.isdigit() else None,
    }


def layers(image_id: str, root: str, driver: str = "overlay2") -> list[dict[str, Any]] | None:
    """The image's layers, bottom first, from layerdb; None without imagedb/layerdb."""
    layout = f"{root}/image/{driver}"
    ids = diff_ids(image_id, layout)
    if ids is None:
        return None
    return [
        layer(i, d, c, layout, root)
        for i, (d, c) in enumerate(zip(ids, chain_ids(ids), strict=True))
    ]


def dir_size(path: str, limit: int = WALK_LIMIT) -> tuple[int, int, bool]:
    """(bytes, files, truncated): apparent size of the regular files under ``path``.

    Bounded: stops after ``limit`` entries and says so. Never follows symlinks; counts a
    hard-linked file once.
    """
    total = files = entries = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for entry in it:
                entries += 1
                if entries > limit:
                    return total, files, True
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        if st.st_nlink > 1 and (st.st_dev, st.st_ino) in seen:
                            continue
                        seen.add((st.st_dev, st.st_ino))
                        total += st.st_size
                        files += 1
                except OSError:
                    continue
    return total, files, False


def container_layer(
    container_id: str,
    root: str,
    driver: str = "overlay2",
    host: list[mountinfo.Mount] | None = None,
) -> dict[str, Any] | None:
    """The container's read-write layer from layerdb/mounts; None where there is none."""
    base = f"{root}/image/{driver}/layerdb/mounts/{container_id}"
    mount_id = _read(f"{base}/mount-id")
    if mount_id is None:
        return None
    merged = f"{root}/{driver}/{mount_id}/merged"
    result = _upper_layer(f"{root}/{driver}/{mount_id}/diff")
    result.update(
        mount_id=mount_id,
        init_id=_read(f"{base}/init-id"),
        merged_dir=merged,
        merged_mounted=merged in {m.point for m in host or []},
    )
    return result


def _resolve_lower(path: str) -> str:
    """overlay2 passes short links (<root>/overlay2/l/XYZ) as lower dirs; follow them."""
    try:
        return os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    except OSError:
        return path


def rootfs(mounts: list[mountinfo.Mount]) -> dict[str, Any] | None:
    """The root mount as the process sees it: type, options, overlay directories."""
    root = mountinfo.root_mount(mounts)
    if root is None:
        return None
    lower = root.super_option("lowerdir")
    lowers = [_resolve_lower(p) for p in lower.split(":")] if lower else []
    return {
        "fstype": root.fstype,
        "source": root.source,
        "readonly": root.readonly,
        "lower_dirs": lowers,
        "upper_dir": root.super_option("upperdir"),
        "work_dir": root.super_option("workdir"),
    }


def mount_kind(m: mountinfo.Mount, host_path: str | None, root: str) -> str:
    """system (runtime's own), docker (hosts, hostname, resolv.conf), volume, tmpfs, bind."""
    if m.fstype in SYSTEM_FS or m.point in SYSTEM_POINTS:
        return "system"
    if m.point.startswith(("/proc/", "/sys/")):
        return "system"  # masked and read-only paths
    if host_path and host_path.startswith(f"{root}/containers/"):
        return "docker"  # its own, or the container whose network it joined
    if host_path and host_path.startswith(f"{root}/volumes/"):
        return "volume"
    return "tmpfs" if m.fstype == "tmpfs" else "bind"


def describe_mount(m: mountinfo.Mount, host: list[mountinfo.Mount], root: str) -> dict[str, Any]:
    path = mountinfo.host_path(m, host)
    kind = mount_kind(m, path, root)
    volume = None
    if kind == "volume" and path:
        volume = path[len(f"{root}/volumes/") :].split("/", 1)[0]
    return {
        "destination": m.point,
        "kind": kind,
        "fstype": m.fstype,
        "source": m.source,
        "host_path": path,
        "volume": volume,
        "readonly": m.readonly,
        "propagation": m.propagation,
    }


def mounts(
    own: list[mountinfo.Mount], host: list[mountinfo.Mount], root: str
) -> list[dict[str, Any]]:
    """Every mount but the root, with its host source where it can be resolved."""
    top = mountinfo.root_mount(own)
    by_dev: dict[str, list[mountinfo.Mount]] = {}  # host_path looks at one device's mounts
    for h in host:
        by_dev.setdefault(h.dev, []).append(h)
    return [describe_mount(m, by_dev.get(m.dev, []), root) for m in own if m is not top]


def config_mounts(config: dict[str, Any]) -> list[dict[str, Any]]:
    """A stopped container's mounts, from Docker's config (no process to read them from)."""
    out = []
    for item in config.get("Mounts") or []:
        kind = {"bind": "bind", "volume": "volume", "tmpfs": "tmpfs"}.get(item.get("Type"), "bind")
        out.append(
            {
                "destination": item.get("Destination"),
                "kind": kind,
                "fstype": None,
                "source": "engine config",
                "host_path": item.get("Source") or None,
                "volume": item.get("Name") if kind == "volume" else None,
                "readonly": not item.get("RW", True),
                "propagation": item.get("Propagation") or None,
            }
        )
    return out


def findings(result: dict[str, Any]) -> list[str]:
    lines = []
    for m in result["mounts"] or []:
        if m["kind"] == "system":
            continue
        if (m["host_path"] or "").endswith("/docker.sock"):
            lines.append(f"the Docker socket is mounted at {m['destination']}")
        if m["propagation"] == "shared":
            lines.append(f"{m['destination']} is mounted with shared propagation")
    layers_ = result["layers"] or []
    missing = [entry["index"] for entry in layers_ if not entry["exists"]]
    if missing:
        lines.append(f"layer directories missing for layers {missing}")
    return lines


def section(
    *,
    pid: int | None,
    config: dict[str, Any] | None,
    root: str = DEFAULT_ROOT,
    driver: str | None = None,
    proc: str = "/proc",
    own_mounts: list[mountinfo.Mount] | None = None,
    host_mounts: list[mountinfo.Mount] | None = None,
) -> dict[str, Any]:
    """Layer chain and container layer (Docker containers), root mount and mounts (running)."""
    own = own_mounts if own_mounts is not None or not pid else mountinfo.read(pid, proc)
    own = own or []
    host = host_mounts if host_mounts is not None else mountinfo.host_mounts(proc)
    result: dict[str, Any] = {
        "driver": driver,
        "docker_root": root if config else None,
        "source": None,
        "image_id": (config or {}).get("Image"),
        "layers": None,
        "container_layer": None,
        "rootfs": rootfs(own) if own else None,
        "mounts": mounts(own, host, root) if own else [],
    }
    if config:
        _docker_layers(result, config, root, driver or "overlay2", host)
        if not own:
            result["mounts"] = config_mounts(config)
    result["findings"] = findings(result)
    return result


def _docker_layers(
    result: dict[str, Any],
    config: dict[str, Any],
    root: str,
    driver: str,
    host: list[mountinfo.Mount],
) -> None:
    chain = layers(config.get("Image", ""), root, driver)
    if chain is not None and any(entry["cache_id"] for entry in chain):
        result["source"] = "layerdb"
        result["layers"] = chain
        result["container_layer"] = container_layer(config["Id"], root, driver, host)
    elif result["rootfs"]:
        result["source"] = "mountinfo"  # containerd image store: no layerdb
        lowers = list(reversed(result["rootfs"]["lower_dirs"]))
        result["layers"] = [_mounted_layer(i, d) for i, d in enumerate(lowers)]
        upper = result["rootfs"]["upper_dir"]
        result["container_layer"] = _upper_layer(upper) if upper else None


def _mounted_layer(index: int, directory: str) -> dict[str, Any]:
    return {
        "index": index,
        "diff_id": None,
        "chain_id": None,
        "cache_id": None,
        "dir": directory,
        "exists": os.path.isdir(directory),
        "size": None,
    }


def _upper_layer(upper: str) -> dict[str, Any]:
    size, files, truncated = dir_size(upper)
    return {
        "mount_id": None,
        "init_id": None,
        "upper_dir": upper,
        "upper_exists": os.path.isdir(upper),
        "upper_size": size,
        "upper_files": files,
        "upper_truncated": truncated,
        "merged_dir": None,
        "merged_mounted": None,
    }
