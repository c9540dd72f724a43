"""`audit` data: what an auditor needs to know about one Docker host, in one pass.

Raw facts only; judging them is the controller's job (``pyhost.audit``). The host part:
every running dockerd's command line (from /proc, not from the unit file), daemon.json as
written (text, so that a broken file is reported as broken rather than as empty), owners and
modes of Docker's files, the mount that holds the data root, the docker group's members,
and the engine's version and info. Then every container with its config (from the Engine
API) beside what the kernel says about it: namespaces shared with the host, capabilities,
seccomp, AppArmor, no_new_privs, read-only root, limits from the cgroup files, and mounts
from mountinfo.
"""

from __future__ import annotations

import glob
import json
import os
import socket
import stat

from . import cache, cgroups, mountinfo, namespaces, security, storage
from .engine import Engine, EngineUnavailable
from .fs import flag_values

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

SCHEMA = "pyhost.audit-facts/1"
DEFAULT_DAEMON_JSON = cache.DAEMON_JSON
DEFAULT_DATA_ROOT = "/var/lib/docker"
DEFAULT_SOCKET = "/var/run/docker.sock"
UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
FILES = (
    "/etc/docker",
    "/etc/default/docker",
    "/etc/sysconfig/docker",
    "/run/containerd/containerd.sock",
)
MAX_DAEMON_JSON = 1 << 20
# What an auditor reads from a container's inspect document; the rest is left at home.
CONFIG_KEYS = ("Id", "Name", "Image", "State", "HostConfig", "Mounts", "AppArmorProfile")
CONFIG_SUBKEYS = ("User", "Image", "Healthcheck", "Labels", "ExposedPorts")


def dockerd_processes(proc: str = "/proc") -> list[dict[str, Any]]:
    """Every running dockerd: pid, effective uid and argv (rootless ones too)."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/comm") as fh:
                if fh.read().strip() != "dockerd":
                    continue
            with open(f"{proc}/{entry}/cmdline", "rb") as fh:
                argv = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
            uid = os.stat(f"{proc}/{entry}").st_uid
        except OSError:
            continue  # gone, or not ours to read
        found.append({"pid": int(entry), "uid": uid, "argv": argv})
    return sorted(found, key=lambda d: d["pid"])


def stat_path(path: str) -> dict[str, Any] | None:
    """Owner, group and mode of a path (not following a final symlink); None when absent."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    kind = (
        "socket"
        if stat.S_ISSOCK(st.st_mode)
        else "directory"
        if stat.S_ISDIR(st.st_mode)
        else "symlink"
        if stat.S_ISLNK(st.st_mode)
        else "file"
    )
    return {
        "path": path,
        "type": kind,
        "mode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "user": _name(st.st_uid, "/etc/passwd"),
        "group": _name(st.st_gid, "/etc/group"),
        "target": os.readlink(path) if kind == "symlink" else None,
    }


def _name(ident: int, table: str) -> str | None:
    try:
        with open(table) as fh:
            for line in fh:
                fields = line.rstrip("\n").split(":")
                if len(fields) > 2 and fields[2] == str(ident):
                    return fields[0]
    except OSError:
        pass
    return None


def group_members(name: str = "docker") -> dict[str, Any] | None:
    """The group's gid, its listed members, and the users whose primary group it is."""
    gid = None
    members: list[str] = []
    try:
        with open("/etc/group") as fh:
            for line in fh:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 4 and fields[0] == name:
                    gid = int(fields[2])
                    members = [m for m in fields[3].split(",") if m]
    except (OSError, ValueError):
        return None
    if gid is None:
        return None
    primary = []
    try:
        with open("/etc/passwd") as fh:
            for line in fh:
                fields = line.rstrip("\n").split(":")
                if len(fields) > 3 and fields[3] == str(gid):
                    primary.append(fields[0])
    except OSError:
        pass
    return {"name": name, "gid": gid, "members": members, "primary": primary}


def read_daemon_json(path: str) -> dict[str, Any]:
    """daemon.json as written: its text (None when absent) and why it could not be read."""
    out: dict[str, Any] = {"path": path, "exists": False, "text": None, "error": None}
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_DAEMON_JSON + 1)
    except FileNotFoundError:
        return out
    except OSError as e:
        out.update(exists=True, error=f"{path}: {e.strerror or e}")
        return out
    out["exists"] = True
    if len(data) > MAX_DAEMON_JSON:
        out["error"] = f"{path} is larger than {MAX_DAEMON_JSON} bytes"
        return out
    out["text"] = data.decode(errors="replace")
    return out


def mount_of(path: str, mounts: list[mountinfo.Mount]) -> dict[str, Any] | None:
    """The mount that holds ``path`` in the host's tree: the longest mount point above it."""
    real = os.path.realpath(path) if os.path.exists(path) else os.path.normpath(path)
    best = None
    for m in mounts:
        point = m.point.rstrip("/") or "/"
        inside = real == point or real.startswith(point.rstrip("/") + "/") or point == "/"
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = m
    if best is None:
        return None
    return {
        "path": path,
        "resolved": real,
        "point": best.point,
        "fstype": best.fstype,
        "source": best.source,
        "dev": best.dev,
        "exists": os.path.exists(path),
    }


def unit_files() -> dict[str, dict[str, Any] | None]:
    """docker.service and docker.socket: the first found in systemd's unit directories."""
    out: dict[str, dict[str, Any] | None] = {}
    for unit in ("docker.service", "docker.socket"):
        out[unit] = None
        for directory in UNIT_DIRS:
            found = stat_path(f"{directory}/{unit}")
            if found is not None and found["type"] != "symlink":
                out[unit] = found
                break
    return out


def socket_paths(dockerds: list[dict[str, Any]]) -> list[str]:
    """Unix sockets the daemons listen on (``-H unix://...``), the default first."""
    paths = []
    for d in dockerds:
        for value in flag_values(d["argv"], "-H", "--host"):
            if value.startswith("unix://"):
                paths.append(value[len("unix://") :])
            elif value == "fd://":
                paths.append(DEFAULT_SOCKET)
        if d["uid"] != 0:
            paths.append(f"/run/user/{d['uid']}/docker.sock")
    env = os.environ.get("DOCKER_HOST", "")
    if env.startswith("unix://"):
        paths.insert(0, env[len("unix://") :])
    ordered = [DEFAULT_SOCKET, *paths]
    return list(dict.fromkeys(ordered))


def _trim(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: config.get(k) for k in CONFIG_KEYS}
    inner = config.get("Config") or {}
    out["Config"] = {k: inner.get(k) for k in CONFIG_SUBKEYS}
    net = config.get("NetworkSettings") or {}
    out["NetworkSettings"] = {"Ports": net.get("Ports")}
    return out


def _status_ids(pid: int) -> dict[str, int | None]:
    st = security.status(pid)
    uid = st.get("Uid", "").split()
    gid = st.get("Gid", "").split()
    return {
        "uid": int(uid[1]) if len(uid) > 1 else None,
        "gid": int(gid[1]) if len(gid) > 1 else None,
    }


def container_facts(
    summary: dict[str, Any],
    engine: Engine,
    *,
    cg_version: int,
    host_ns: dict[str, tuple[int, int] | None],
    host_mounts: list[mountinfo.Mount],
    root: str,
) -> dict[str, Any] | None:
    """One container: its trimmed config, and the kernel's view while it runs."""
    try:
        config = engine.container(summary["Id"])
    except KeyError:
        return None  # removed between the list and now
    names = [n.lstrip("/") for n in summary.get("Names") or []]
    pid = int((config.get("State") or {}).get("Pid") or 0) or None
    row: dict[str, Any] = {
        "id": summary["Id"],
        "name": names[0] if names else summary["Id"][:12],
        "image": summary.get("Image", ""),
        "state": (config.get("State") or {}).get("Status", summary.get("State", "")),
        "pid": pid,
        "config": _trim(config),
        "kernel": None,
        "error": None,
    }
    if pid is None:
        return row
    try:
        shared = namespaces.shared_with_host(pid, host=host_ns)
        own = mountinfo.read(pid)
        row["kernel"] = {
            "namespaces": shared,
            "security": {k: v for k, v in security.section(pid).items() if k != "findings"},
            "limits": cgroups.limits(pid, cg_version=cg_version),
            "mounts": storage.mounts(own, host_mounts, root),
            "ids": _status_ids(pid),
        }
    except FileNotFoundError:
        row["state"] = "exited"  # it ended while we read it
        row["pid"] = None
    except PermissionError as e:
        row["error"] = f"{e.filename}: permission denied (run as root)"
    return row


def _cap_bnd() -> str | None:
    """The host's capability bounding set (PID 1's, else ours): what "every capability"
    means on this host."""
    for pid in ("1", "self"):
        try:
            value = security.status(pid).get("CapBnd")
        except OSError:
            continue
        if value:
            return value
    return None


def collect(*, engine: Engine | None = None) -> dict[str, Any]:
    """Everything the audit's checks look at on this host."""
    reference, host_ns = namespaces.host_reference()
    dockerds = dockerd_processes()
    host_mounts = mountinfo.host_mounts()
    argv = dockerds[0]["argv"] if dockerds else []
    config_file = (flag_values(argv, "--config-file") or [DEFAULT_DAEMON_JSON])[-1]
    data_roots = flag_values(argv, "--data-root", "-g", "--graph")
    daemon_json = read_daemon_json(config_file)
    try:
        configured = json.loads(daemon_json["text"] or "{}").get("data-root")
    except (ValueError, AttributeError):
        configured = None
    if isinstance(configured, str) and configured:
        data_roots.append(configured)
    sockets = socket_paths(dockerds)
    files = {p: stat_path(p) for p in (*FILES, config_file, *sockets)}
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "host": socket.gethostname(),
        "root": os.geteuid() == 0,
        "cgroup_version": cgroups.version(),
        "namespace_reference": reference,
        "dockerd": dockerds,
        "daemon_json": daemon_json,
        "files": files,
        "units": unit_files(),
        "sockets": sockets,
        "docker_group": group_members(),
        "mounts": {},
        "engine": {
            "socket": None,
            "available": False,
            "error": None,
            "version": None,
            "info": None,
        },
        "containers": [],
        "docker_cli": next(
            (p for p in ("/usr/bin/docker", "/usr/local/bin/docker") if os.path.exists(p)),
            None,
        ),
    }
    errors = []
    for path in sockets:
        if engine is None and not os.path.exists(path):
            continue
        candidate = engine or Engine(path)
        try:
            version = candidate.version()
            info = candidate.info()
            summaries = candidate.containers(include_stopped=False)
        except EngineUnavailable as e:
            errors.append(e.reason)
            if engine is not None:
                break
            continue
        root = str(info.get("DockerRootDir") or DEFAULT_DATA_ROOT)
        result["engine"].update(
            socket=candidate.path,
            available=True,
            version=version,
            info={
                k: info.get(k)
                for k in (
                    "DockerRootDir",
                    "Driver",
                    "CgroupDriver",
                    "CgroupVersion",
                    "SecurityOptions",
                    "LoggingDriver",
                    "RegistryConfig",
                    "LiveRestoreEnabled",
                    "Swarm",
                    "ServerVersion",
                    "Name",
                )
            },
        )
        data_roots.append(root)
        result["containers"] = [
            row
            for row in (
                container_facts(
                    s,
                    candidate,
                    cg_version=result["cgroup_version"],
                    host_ns=host_ns,
                    host_mounts=host_mounts,
                    root=root,
                )
                for s in summaries
            )
            if row is not None
        ]
        break
    else:
        result["engine"]["error"] = (
            "; ".join(errors) if errors else f"no Docker engine here (no socket at {sockets[0]})"
        )
    for path in [*data_roots, DEFAULT_DATA_ROOT]:
        if path not in result["mounts"]:
            result["mounts"][path] = mount_of(path, host_mounts)
    result["rootless_sockets"] = sorted(glob.glob("/run/user/*/docker.sock"))
    result["cap_bnd"] = _cap_bnd()
    return result
