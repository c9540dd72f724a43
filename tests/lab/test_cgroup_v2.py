"""The collector's cgroup v2 readers on a real cgroup v2 kernel (user-mode Linux).

This machine's own kernel runs cgroup v1 (hybrid), so v2 is exercised in a user-mode Linux
kernel booted by the test: limits written with the kernel's own files, an OOM kill and CPU
throttling provoked there, and pyhost's reader compared with the files read directly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from labkit.uml import run_in_uml, why_no_uml

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def v2_report() -> dict[str, Any]:
    problem = why_no_uml()
    if problem:
        pytest.skip(problem)
    out = run_in_uml(f"""
echo "CONTROLLERS $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "+memory +pids +cpu" > /sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/box /sys/fs/cgroup/oom
echo 16777216 > /sys/fs/cgroup/box/memory.max
echo "10000 100000" > /sys/fs/cgroup/box/cpu.max
echo 7 > /sys/fs/cgroup/box/pids.max
echo 16777216 > /sys/fs/cgroup/oom/memory.max
echo 0 > /sys/fs/cgroup/oom/memory.swap.max 2>/dev/null
# a process far over its memory limit: the kernel kills it (exit 137)
sh -c 'echo $$ > /sys/fs/cgroup/oom/cgroup.procs; exec python3 -c "b = bytearray(96 << 20)"'
echo "OOM-EXIT $?"
# a busy process under 0.1 CPU for about a second: throttled
sh -c 'echo $$ > /sys/fs/cgroup/box/cgroup.procs; exec timeout 1.5 sh -c "while :; do :; done"' &
sleep 2
sh -c 'echo $$ > /sys/fs/cgroup/box/cgroup.procs; exec sleep 60' &
sleep 0.5
sh -c 'echo $$ > /sys/fs/cgroup/oom/cgroup.procs; exec sleep 60' &
sleep 0.5
cd {REPO} && python3 - <<'PY'
import json, sys
sys.path.insert(0, ".")
from pyhost.inspect.collect import cgroups
for name in ("box", "oom"):
    pid = int(open(f"/sys/fs/cgroup/{{name}}/cgroup.procs").read().split()[0])
    files = {{f: open(f"/sys/fs/cgroup/{{name}}/{{f}}").read()
             for f in ("memory.max", "memory.events", "cpu.max", "cpu.stat", "pids.max",
                       "pids.current")}}
    print("REPORT", json.dumps({{"name": name, "version": cgroups.version(),
                                 "limits": cgroups.limits(pid), "files": files}}))
PY
""")
    reports = {}
    for line in out.splitlines():
        if line.startswith("REPORT "):
            data = json.loads(line[len("REPORT ") :])
            reports[data["name"]] = data
    match = re.search(r"OOM-EXIT (\d+)", out)
    return {
        "reports": reports,
        "oom_exit": int(match.group(1)) if match else None,
        "controllers": re.search(r"CONTROLLERS (.*)", out).group(1).split(),
    }  # type: ignore[union-attr]


def keyed(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in text.splitlines())}


def test_the_kernel_is_cgroup_v2_with_its_controllers(v2_report: dict[str, Any]) -> None:
    assert {"cpu", "memory", "pids"} <= set(v2_report["controllers"])
    assert v2_report["reports"]["box"]["version"] == 2


def test_v2_limits_read_as_the_kernel_applies_them(v2_report: dict[str, Any]) -> None:
    box = v2_report["reports"]["box"]
    limits, files = box["limits"], box["files"]
    assert limits["path"] == "/box"
    assert limits["memory"]["limit"] == int(files["memory.max"]) == 16 << 20
    quota, period = (int(x) for x in files["cpu.max"].split())
    assert limits["cpu"]["quota"] == quota and limits["cpu"]["period"] == period
    assert limits["cpu"]["cpus"] == 0.1
    assert limits["pids"]["limit"] == 7 and limits["pids"]["current"] == int(files["pids.current"])


def test_cpu_throttling_is_seen(v2_report: dict[str, Any]) -> None:
    box = v2_report["reports"]["box"]
    stat = keyed(box["files"]["cpu.stat"])
    assert stat["nr_throttled"] > 0
    assert box["limits"]["cpu"]["throttled"] == stat["nr_throttled"]
    assert box["limits"]["cpu"]["throttled_usec"] == stat["throttled_usec"]


def test_an_oom_kill_is_seen(v2_report: dict[str, Any]) -> None:
    assert v2_report["oom_exit"] == 137  # SIGKILL from the OOM killer
    oom = v2_report["reports"]["oom"]
    events = keyed(oom["files"]["memory.events"])
    assert events["oom_kill"] >= 1
    assert oom["limits"]["memory"]["oom_kills"] == events["oom_kill"]


@pytest.fixture(scope="module")
def docker_on_v2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Docker Engine on the cgroup v2 kernel, one limited container, and pyhost's view."""
    problem = why_no_uml()
    if problem:
        pytest.skip(problem)
    work = tmp_path_factory.mktemp("uml-docker")
    image = work / "sleep.tar"
    # a tiny image from this machine's own binaries: no registry can be reached
    import subprocess

    subprocess.run(
        [
            "tar",
            "-C",
            "/",
            "-chf",
            str(image),
            "usr/bin/sleep",
            "lib/x86_64-linux-gnu/libc.so.6",
            "lib64/ld-linux-x86-64.so.2",
        ],
        check=True,
    )
    out = run_in_uml(
        f"""
mount -t tmpfs tmpfs /var/run
mount -t tmpfs -o size=256m tmpfs /var/lib/docker
mount -t tmpfs tmpfs /var/lib/containerd
mount -t tmpfs tmpfs /etc/docker
hostname uml
dockerd --storage-driver vfs --iptables=false --bridge=none --ip-masq=false >/run/d.log 2>&1 &
i=0; while [ $i -lt 150 ] && ! docker info >/dev/null 2>&1; do sleep 0.2; i=$((i+1)); done
docker import {image} lab/sleep >/dev/null
id=$(docker run -d --name lim --memory 16m --pids-limit 20 --cpus 0.5 --network none \\
     lab/sleep /usr/bin/sleep 120)
sleep 1
echo "TRUTH $(docker inspect lim --format '{{{{json .HostConfig}}}}')"
echo "FILES $(cd /sys/fs/cgroup/docker/$id && cat memory.max pids.max | tr '\\n' ' ';
               cat cpu.max)"
cd {REPO}
echo "INSPECT $(.venv/bin/python -m pyhost inspect lim --json | tr -d '\\n')"
echo "PS $(.venv/bin/python -m pyhost ps --json | tr -d '\\n')"
""",
        mem="1G",
        timeout=240,
    )
    found: dict[str, Any] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        if key in ("TRUTH", "INSPECT", "PS"):
            found[key] = json.loads(value)
        elif key == "FILES":
            found[key] = value.split()
    assert {"TRUTH", "INSPECT", "PS", "FILES"} <= set(found), out[-3000:]
    return found


def test_pyhost_inspect_on_docker_with_cgroup_v2(docker_on_v2: dict[str, Any]) -> None:
    truth, report = docker_on_v2["TRUTH"], docker_on_v2["INSPECT"]
    memory_max, pids_max, quota, period = docker_on_v2["FILES"]
    cg = report["cgroups"]
    assert cg["version"] == 2 and cg["driver"] == "cgroupfs"
    assert cg["path"].startswith("/docker/")
    assert cg["memory"]["limit"] == truth["Memory"] == int(memory_max) == 16 << 20
    assert cg["pids"]["limit"] == truth["PidsLimit"] == int(pids_max) == 20
    assert cg["cpu"]["cpus"] == truth["NanoCpus"] / 1e9 == int(quota) / int(period)
    verdicts = {k: v["verdict"] for k, v in report["namespaces"]["types"].items()}
    # on v2 Docker gives each container its own cgroup namespace
    for kind in ("mnt", "uts", "ipc", "pid", "net", "cgroup"):
        assert verdicts[kind] == "isolated", verdicts
    assert verdicts["user"] == "shared with host"
    assert report["namespaces"]["types"]["user"]["expected"] is True


def test_pyhost_ps_on_docker_with_cgroup_v2(docker_on_v2: dict[str, Any]) -> None:
    (row,) = docker_on_v2["PS"]["containers"]
    assert docker_on_v2["PS"]["cgroup_version"] == 2
    assert row["name"] == "lim" and row["findings"] == []
    assert row["limits"]["memory"]["limit"] == 16 << 20
    assert row["limits"]["pids"]["limit"] == 20
