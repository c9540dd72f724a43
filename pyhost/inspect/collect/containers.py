"""`ps` data: every running container, Docker's and `pyhost run`'s, with its isolation."""

from __future__ import annotations

import os

from . import cgroups, jsonc, namespaces, security
from .engine import Engine, EngineUnavailable
from .fs import hostname, pyhost_state_dir

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

SCHEMA = "pyhost.ps/1"

# Shared with the host but expected, not a finding: on cgroup v1 Docker never makes a
# cgroup namespace, without userns-remap or rootless it never makes a user namespace, and
# it never makes a time namespace.
EXPECTED_SHARED = {"user", "time"}
EXPECTED_SHARED_V1 = {"cgroup"}


def _container_row(
    summary: dict[str, Any],
    engine: Engine,
    cg_version: int,
    host_ns: dict[str, tuple[int, int] | None],
) -> dict[str, Any]:
    ident = summary["Id"]
    names = [n.lstrip("/") for n in summary.get("Names") or []]
    row: dict[str, Any] = {
        "id": ident,
        "name": names[0] if names else ident[:12],
        "image": summary.get("Image", ""),
        "state": summary.get("State", ""),
        "runtime": "docker",
        "pid": None,
        "errors": [],
    }
    try:
        details = engine.container(ident)
    except KeyError:  # gone between the list and now
        row["state"] = "removed"
        return row
    pid = int(details.get("State", {}).get("Pid") or 0)
    if not pid:
        return row
    row["pid"] = pid
    _kernel_sections(row, pid, cg_version, host_ns)
    return row


def _kernel_sections(
    row: dict[str, Any], pid: int, cg_version: int, host_ns: dict[str, tuple[int, int] | None]
) -> None:
    """What the kernel says of ``pid``: shared namespaces, limits, security posture."""
    try:
        shared = namespaces.shared_with_host(pid, host=host_ns)
        expected = EXPECTED_SHARED | (EXPECTED_SHARED_V1 if cg_version == 1 else set())
        row["namespaces_shared"] = sorted(k for k, v in shared.items() if v)
        row["namespaces_unknown"] = sorted(k for k, v in shared.items() if v is None)
        row["findings"] = sorted(k for k, v in shared.items() if v and k not in expected)
        row["limits"] = cgroups.limits(pid, cg_version=cg_version)
        row["security"] = security.posture(pid)
        row["docker_sock"] = security.docker_socket_mounted(pid)
    except FileNotFoundError:
        row["state"] = "exited"  # it ended while we read it
        row["pid"] = None
    except PermissionError as e:
        row["errors"].append(f"{e.filename}: permission denied (run as root)")


def pyhost_records(state_dir: str | None = None) -> list[dict[str, Any]]:
    directory = state_dir or pyhost_state_dir()
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    records = []
    for name in names:
        try:
            with open(os.path.join(directory, name, "state.json")) as f:
                records.append(jsonc.load(f))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: r.get("created", 0), reverse=True)


def find_record(query: str) -> dict[str, Any] | None:
    """A `pyhost run` container by full id, name or unique id prefix (Docker's rule)."""
    records = pyhost_records()
    for key in ("id", "name"):
        exact = [r for r in records if r.get(key) == query]
        if exact:
            return exact[0]
    prefix = [r for r in records if query and str(r.get("id", "")).startswith(query.lower())]
    return prefix[0] if len(prefix) == 1 else None


def _iso(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    import datetime

    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def record_as_config(record: dict[str, Any]) -> dict[str, Any]:
    """A `pyhost run` record in the shape of Docker's container JSON, so that one report
    (and its kernel-versus-config comparisons) serves both runtimes."""
    running = _alive(record)
    limits = record.get("limits") or {}
    net = record.get("network") or {}
    ports: dict[str, list[dict[str, str]]] = {}
    for p in net.get("ports") or []:
        key = f"{p['container_port']}/{p['proto']}"
        ports.setdefault(key, []).append({"HostIp": p["host_ip"], "HostPort": str(p["host_port"])})
    networks = {}
    if net.get("mode") == "bridge":
        subnet = str(net.get("subnet", "/24"))
        networks[net.get("bridge", "pyhost0")] = {
            "IPAddress": net.get("address"),
            "IPPrefixLen": int(subnet.rsplit("/", 1)[-1]),
            "Gateway": net.get("gateway"),
        }
    command = list(record.get("command") or [])
    security = record.get("security") or {}
    return {
        "Id": record.get("id", ""),
        "Name": "/" + str(record.get("name", "")),
        "Image": record.get("image_id") or record.get("image", ""),
        "Path": command[0] if command else "",
        "Args": command[1:],
        "Config": {"Image": record.get("image"), "Env": record.get("env") or []},
        "State": {
            "Status": "running" if running else "exited",
            "Pid": int(record.get("pid") or 0) if running else 0,
            "ExitCode": record.get("exit_code"),
            "OOMKilled": bool(record.get("oom_killed")),
            "StartedAt": _iso(record.get("started_at")),
            "FinishedAt": _iso(record.get("finished_at")),
        },
        "HostConfig": {
            "Memory": limits.get("memory") or 0,
            "PidsLimit": limits.get("pids"),
            "NanoCpus": int(float(limits.get("cpus") or 0) * 1e9),
            "NetworkMode": net.get("mode"),
            "ReadonlyRootfs": bool(security.get("read_only")),
            "CapAdd": security.get("capabilities"),
        },
        "NetworkSettings": {"Networks": networks, "Ports": ports},
        "Mounts": [
            {
                "Type": m.get("kind"),
                "Source": m.get("source"),
                "Destination": m.get("target"),
                "RW": not m.get("readonly"),
            }
            for m in record.get("mounts") or []
        ],
        "pyhost": {
            "rootfs": record.get("rootfs"),
            "bundle": record.get("bundle"),
            "supervisor_pid": record.get("supervisor_pid"),
        },
    }


def _alive(record: dict[str, Any]) -> bool:
    pid = int(record.get("pid") or 0)
    return record.get("status") == "running" and pid > 0 and os.path.exists(f"/proc/{pid}")


def _pyhost_rows(
    include_stopped: bool, cg_version: int, host_ns: dict[str, tuple[int, int] | None]
) -> list[dict[str, Any]]:
    rows = []
    for record in pyhost_records():
        running = _alive(record)
        if not running and not include_stopped:
            continue
        row: dict[str, Any] = {
            "id": record.get("id", ""),
            "name": record.get("name", ""),
            "image": record.get("image", ""),
            "state": "running" if running else "exited",
            "runtime": "pyhost",
            "pid": None,
            "errors": [],
        }
        if running:
            row["pid"] = int(record["pid"])
            _kernel_sections(row, row["pid"], cg_version, host_ns)
        rows.append(row)
    return rows


def collect(*, include_stopped: bool = False, engine: Engine | None = None) -> dict[str, Any]:
    """Every container the engine knows, with what the kernel says about each."""
    engine = engine or Engine()
    reference, host_ns = namespaces.host_reference()
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "host": hostname(),
        "root": os.geteuid() == 0,
        "cgroup_version": cgroups.version(),
        "namespace_reference": reference,
        "engine": {"socket": engine.path, "available": False, "error": None, "version": None},
        "containers": [],
    }
    cg_version = result["cgroup_version"]
    mine = _pyhost_rows(include_stopped, cg_version, host_ns)
    try:
        version = engine.version()
        summaries = engine.containers(include_stopped=include_stopped)
    except EngineUnavailable as e:
        result["engine"]["error"] = e.reason
        result["containers"] = mine
        return result
    result["engine"].update(available=True, version=version.get("Version"))
    result["containers"] = [_container_row(s, engine, cg_version, host_ns) for s in summaries]
    result["containers"] += mine
    return result
