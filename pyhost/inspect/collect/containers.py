"""`ps` data: every running container, Docker's and `pyhost run`'s, with its isolation."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from . import cgroups, namespaces, security
from .engine import Engine, EngineUnavailable

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


def pyhost_state_dir() -> str:
    """Where `pyhost run` keeps its records (the runtime's state root, read here by path)."""
    root = os.environ.get("PYHOST_STATE_ROOT") or "/run/pyhost"
    return os.path.join(root, "containers")


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
                records.append(json.load(f))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: r.get("created", 0), reverse=True)


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
        "host": socket.gethostname(),
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
