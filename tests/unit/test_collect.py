"""The collector's readers on recorded /proc and /sys trees (cgroup v1 and v2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyhost.inspect.collect import cgroups, security

pytestmark = pytest.mark.unit

CID = "0123456789ab" + "c" * 52


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_v1_limits_and_usage(tmp_path: Path) -> None:
    proc, sys_cg = tmp_path / "proc", tmp_path / "cg"
    write(
        proc,
        {
            "42/cgroup": (
                f"12:pids:/docker/{CID}\n11:memory:/docker/{CID}\n4:cpu,cpuacct:/docker/{CID}\n"
                f"1:name=systemd:/docker/{CID}\n0::/docker/{CID}\n"
            )
        },
    )
    base = f"docker/{CID}"
    write(
        sys_cg,
        {
            f"memory/{base}/memory.limit_in_bytes": "67108864\n",
            f"memory/{base}/memory.usage_in_bytes": "499712\n",
            f"memory/{base}/memory.max_usage_in_bytes": "1000000\n",
            f"memory/{base}/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            f"cpu/{base}/cpu.cfs_quota_us": "150000\n",
            f"cpu/{base}/cpu.cfs_period_us": "100000\n",
            f"cpu/{base}/cpu.shares": "512\n",
            f"cpu/{base}/cpu.stat": "nr_periods 10\nnr_throttled 3\nthrottled_time 4000000\n",
            f"pids/{base}/pids.max": "max\n",
            f"pids/{base}/pids.current": "7\n",
        },
    )
    got = cgroups.limits(42, proc=str(proc), root=str(sys_cg), cg_version=1)
    assert got["path"] == f"/docker/{CID}"
    assert got["memory"] == {
        "limit": 64 << 20,
        "usage": 499712,
        "peak": 1000000,
        "swap_limit": None,
        "oom_kills": 2,
    }
    assert got["cpu"]["cpus"] == 1.5 and got["cpu"]["shares"] == 512
    assert got["cpu"]["throttled"] == 3 and got["cpu"]["throttled_usec"] == 4000
    assert got["pids"] == {"limit": None, "current": 7}


def test_v1_unlimited_is_none(tmp_path: Path) -> None:
    proc, sys_cg = tmp_path / "proc", tmp_path / "cg"
    write(proc, {"7/cgroup": "11:memory:/x\n4:cpu,cpuacct:/x\n"})
    write(
        sys_cg,
        {
            "memory/x/memory.limit_in_bytes": "9223372036854771712\n",
            "cpu/x/cpu.cfs_quota_us": "-1\n",
            "cpu/x/cpu.cfs_period_us": "100000\n",
        },
    )
    got = cgroups.limits(7, proc=str(proc), root=str(sys_cg), cg_version=1)
    assert got["memory"]["limit"] is None
    assert got["cpu"]["quota"] is None and got["cpu"]["cpus"] is None


def test_v2_limits_and_usage(tmp_path: Path) -> None:
    proc, sys_cg = tmp_path / "proc", tmp_path / "cg"
    scope = f"system.slice/docker-{CID}.scope"
    write(proc, {"42/cgroup": f"0::/{scope}\n"})
    write(
        sys_cg,
        {
            f"{scope}/memory.max": "16777216\n",
            f"{scope}/memory.current": "4096\n",
            f"{scope}/memory.peak": "8192\n",
            f"{scope}/memory.swap.max": "max\n",
            f"{scope}/memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
            f"{scope}/cpu.max": "max 100000\n",
            f"{scope}/cpu.weight": "100\n",
            f"{scope}/cpu.stat": "usage_usec 10\nnr_throttled 0\nthrottled_usec 0\n",
            f"{scope}/pids.max": "100\n",
            f"{scope}/pids.current": "3\n",
        },
    )
    got = cgroups.limits(42, proc=str(proc), root=str(sys_cg), cg_version=2)
    assert got["path"] == f"/{scope}"
    assert got["memory"]["limit"] == 16 << 20 and got["memory"]["swap_limit"] is None
    assert got["memory"]["oom_kills"] == 1 and got["memory"]["peak"] == 8192
    assert got["cpu"]["cpus"] is None and got["cpu"]["weight"] == 100
    assert got["pids"] == {"limit": 100, "current": 3}


def test_version_reads_the_mount_type_of_sys_fs_cgroup(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.write_text("30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n")
    hybrid = tmp_path / "hybrid"
    hybrid.write_text(
        "30 1 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
        "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    assert cgroups.version(str(v2)) == 2
    assert cgroups.version(str(hybrid)) == 1
    stacked = tmp_path / "stacked"  # the mount visible at /sys/fs/cgroup is the last one there
    stacked.write_text(
        "30 1 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
        "32 30 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    )
    assert cgroups.version(str(stacked)) == 2


@pytest.mark.parametrize(
    ("cap_eff", "privileged", "added", "dropped"),
    [
        ("00000000a80425fb", False, [], []),
        ("00000000a80435fb", False, ["NET_ADMIN"], []),
        ("00000000a80425f9", False, [], ["DAC_OVERRIDE"]),
        ("000001ffffffffff", True, None, []),
    ],
)
def test_capabilities_against_dockers_default(
    tmp_path: Path, cap_eff: str, privileged: bool, added: list[str] | None, dropped: list[str]
) -> None:
    write(
        tmp_path,
        {
            "9/status": f"Name:\tsh\nCapEff:\t{cap_eff}\nNoNewPrivs:\t1\nSeccomp:\t2\n",
            "sys/kernel/cap_last_cap": "40\n",
        },
    )
    got = security.posture(9, proc=str(tmp_path))
    assert got["privileged"] is privileged
    if added is not None:
        assert got["caps_added"] == added
    assert got["caps_dropped"] == dropped
    assert got["seccomp"] == "filter" and got["no_new_privs"] is True
