"""`pyhost ps` against real containers of the test run's own dockerd (cgroup v1 here)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit.hosts import lab_labels

pytestmark = pytest.mark.lab

MiB = 1024 * 1024


def pyhost_ps(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyhost", "ps", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def containers(docker_engine: Any, lab_image: str) -> Iterator[dict[str, Any]]:
    """A default container, a badly isolated one, and a stopped one."""
    tag = secrets.token_hex(3)
    labels = lab_labels(f"ps-{tag}")
    made: dict[str, Any] = {}
    try:
        made["limited"] = docker_engine.containers.run(
            lab_image,
            ["sleep", "600"],
            name=f"ps-limited-{tag}",
            detach=True,
            labels=labels,
            mem_limit="64m",
            pids_limit=50,
            nano_cpus=500_000_000,
        )
        made["exposed"] = docker_engine.containers.run(
            lab_image,
            ["sleep", "600"],
            name=f"ps-exposed-{tag}",
            detach=True,
            labels=labels,
            network_mode="host",
            pid_mode="host",
            cap_add=["NET_ADMIN"],
            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}},
        )
        made["stopped"] = docker_engine.containers.run(
            lab_image,
            ["true"],
            name=f"ps-stopped-{tag}",
            detach=True,
            labels=labels,
        )
        made["stopped"].wait(timeout=30)
        yield made
    finally:
        for container in made.values():
            container.remove(force=True)


def by_name(data: dict[str, Any], container: Any) -> dict[str, Any]:
    rows = [row for row in data["containers"] if row["name"] == container.name]
    assert len(rows) == 1, [row["name"] for row in data["containers"]]
    return rows[0]


def test_ps_json_reads_namespaces_limits_and_flags_from_the_kernel(containers: Any) -> None:
    res = pyhost_ps("--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["schema"] == "pyhost.ps/1"
    assert data["engine"]["available"] is True

    limited = by_name(data, containers["limited"])
    containers["limited"].reload()
    assert limited["pid"] == containers["limited"].attrs["State"]["Pid"] > 0
    # Docker's defaults: its own mnt, uts, ipc, pid, net namespaces, nothing beyond
    assert limited["findings"] == []
    assert not {"mnt", "uts", "ipc", "pid", "net"} & set(limited["namespaces_shared"])
    assert limited["limits"]["memory"]["limit"] == 64 * MiB
    assert limited["limits"]["pids"]["limit"] == 50
    assert limited["limits"]["cpu"]["cpus"] == 0.5
    assert limited["security"]["caps_added"] == [] and limited["security"]["caps_dropped"] == []
    assert limited["security"]["seccomp"] in ("filter", "disabled")
    assert limited["docker_sock"] is False

    exposed = by_name(data, containers["exposed"])
    assert {"net", "pid"} <= set(exposed["findings"])
    assert "mnt" not in exposed["namespaces_shared"]
    assert exposed["limits"]["memory"]["limit"] is None
    assert exposed["limits"]["pids"]["limit"] is None
    assert exposed["security"]["caps_added"] == ["NET_ADMIN"]
    assert exposed["docker_sock"] is True

    # stopped containers only with --all
    assert containers["stopped"].name not in [row["name"] for row in data["containers"]]


def test_ps_all_lists_stopped_containers_without_a_pid(containers: Any) -> None:
    data = json.loads(pyhost_ps("--all", "--json").stdout)
    stopped = by_name(data, containers["stopped"])
    assert stopped["state"] == "exited"
    assert stopped["pid"] is None


def test_ps_table_shows_each_running_container_and_its_flags(containers: Any) -> None:
    res = pyhost_ps(env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    lines = {line.split()[0]: line for line in res.stdout.splitlines()[1:] if line.strip()}
    assert "64.0MiB" in lines[containers["limited"].name]
    exposed = lines[containers["exposed"].name]
    assert "net pid" in exposed and "docker.sock" in exposed and "+NET_ADMIN" in exposed


def test_ps_without_an_engine_says_why_and_still_succeeds(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/docker.sock", "PATH": "/usr/bin:/bin"}
    res = pyhost_ps(env=env)
    assert res.returncode == 0
    assert "no Docker engine here" in res.stderr and "docker.sock does not exist" in res.stderr
    data = json.loads(pyhost_ps("--json", env=env).stdout)
    assert data["engine"]["available"] is False and data["containers"] == []
