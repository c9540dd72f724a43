"""`ps` data: every running Docker container with its isolation, as one JSON-able dict."""

from __future__ import annotations

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
    return row


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
    try:
        version = engine.version()
        summaries = engine.containers(include_stopped=include_stopped)
    except EngineUnavailable as e:
        result["engine"]["error"] = e.reason
        return result
    result["engine"].update(available=True, version=version.get("Version"))
    result["containers"] = [
        _container_row(s, engine, result["cgroup_version"], host_ns) for s in summaries
    ]
    return result
