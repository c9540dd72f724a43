"""`pyhost run` on a real cgroup v2 kernel (user-mode Linux): the v2 writers, enforcement,
the cgroup namespace, and the copy fallback where overlayfs is missing (UML has none).

This machine's kernel binds every controller to cgroup v1, so v2 runs under UML only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from labkit.runtime import busybox_rootfs
from labkit.uml import run_in_uml, why_no_uml

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def v2_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    problem = why_no_uml()
    if problem:
        pytest.skip(problem)
    if os.geteuid() != 0:
        pytest.skip("pyhost run needs root")
    rootfs = busybox_rootfs(tmp_path_factory.mktemp("bb") / "rootfs")
    run = "python3 -m pyhost run --rm --network none"
    return run_in_uml(
        f"""
export PYTHONPATH={REPO} PYHOST_STATE_ROOT=/run/pyhost-state PYHOST_DATA_ROOT=/run/pyhost-data
cd /run
echo "OVERLAY $(grep -c overlay /proc/filesystems)"
{run} -m 16m --memory-swap 16m {rootfs} sh -c 'echo "MEMMAX $(cat /sys/fs/cgroup/memory.max)"; \
  echo "CGROUP $(cat /proc/self/cgroup)"; x=$(head -c 100000000 /dev/zero | tr "\\0" a)'
echo "OOM-EXIT $?"
{run} --cpus 0.5 --pids-limit 9 --cpu-shares 512 {rootfs} \
  sh -c 'echo "CPUMAX $(cat /sys/fs/cgroup/cpu.max)"; \
  echo "PIDSMAX $(cat /sys/fs/cgroup/pids.max)"; echo "WEIGHT $(cat /sys/fs/cgroup/cpu.weight)"; \
  echo "CAPS $(grep CapEff /proc/self/status)"; echo "ROOT $(ls / | tr "\\n" " ")"'
echo "LIMITS-EXIT $?"
{run} --pids-limit 8 {rootfs} sh -c 'for i in $(seq 20); do sleep 5 & echo "FORKED $i"; done'
echo "PIDS-EXIT $?"
echo "LEFT $(ls /sys/fs/cgroup/pyhost | grep -vc '\\.') $(ls /run/pyhost-state/containers | wc -l) \
$(ls /run/pyhost-data/containers | wc -l)"
""",
        timeout=180,
    )


def value(output: str, key: str) -> str:
    match = re.search(rf"^{key} (.*)$", output, re.M)
    assert match, f"{key} missing from:\n{output[-3000:]}"
    return match.group(1).strip()


def test_memory_limit_is_written_and_enforced_on_v2(v2_output: str) -> None:
    assert value(v2_output, "OVERLAY") == "0"  # so the copy fallback was used
    assert value(v2_output, "MEMMAX") == str(16 << 20)
    assert value(v2_output, "CGROUP") == "0::/"  # its own cgroup namespace
    assert value(v2_output, "OOM-EXIT") == "137"


def test_cpu_and_pids_limits_on_v2(v2_output: str) -> None:
    assert value(v2_output, "CPUMAX") == "50000 100000"
    assert value(v2_output, "PIDSMAX") == "9"
    assert value(v2_output, "WEIGHT") == str(1 + (512 - 2) * 9999 // 262142)
    assert value(v2_output, "CAPS").endswith("00000000a80425fb")
    assert set(value(v2_output, "ROOT").split()) == {"bin", "dev", "etc", "proc", "sys", "tmp"}
    assert value(v2_output, "LIMITS-EXIT") == "0"
    forked = re.findall(r"^FORKED (\d+)$", v2_output, re.M)
    assert forked == [str(i) for i in range(1, 8)]
    assert value(v2_output, "PIDS-EXIT") == "2"


def test_nothing_left_on_v2(v2_output: str) -> None:
    assert value(v2_output, "LEFT") == "0 0 0"
