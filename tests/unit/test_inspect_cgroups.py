"""cgroup limits on recorded trees, v1 and v2, as `pyhost inspect` reads them.

The v1 tree was recorded from a live container on the lab machine. cgroup v2 cannot be
exercised live here: the lab kernel mounts a v1 (hybrid) hierarchy at /sys/fs/cgroup, so
the v2 tree is written file by file in the kernel's v2 formats (see its README), for the
same `docker run` flags. Both must give the same limits.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pyhost.inspect.collect import cgroups

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "inspect"
CID = "d004b5b6271552371de87b6b1b1c2302d20f4949e56da0107a039f87660b7ab3"
MiB = 1024 * 1024


def tree(version: int, tmp_path: Path) -> dict[str, str]:
    """The recorded tree, plus a /sys with /sys/dev/block/254:0 -> vda."""
    root = tmp_path / f"v{version}"
    shutil.copytree(DATA / f"cgroup-v{version}", root)
    block = root / "sys" / "dev" / "block"
    block.mkdir(parents=True)
    (block / "254:0").symlink_to("../../devices/pci0000:00/0000:00:02.0/virtio1/block/vda")
    return {"proc": str(root / "proc"), "root": str(root / "cgroup"), "sysfs": str(root / "sys")}


def section(version: int, tmp_path: Path, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return cgroups.section(4242, config=config, cg_version=version, **tree(version, tmp_path))


@pytest.mark.parametrize("version", [1, 2])
def test_same_limits_on_v1_and_v2(version: int, tmp_path: Path) -> None:
    got = section(version, tmp_path)
    assert got["version"] == version
    assert got["memory"]["limit"] == 64 * MiB
    assert got["memory"]["usage"] == 438272 and got["memory"]["peak"] == 4071424
    assert got["cpu"]["quota"] == 150000 and got["cpu"]["period"] == 100000
    assert got["cpu"]["cpus"] == 1.5
    assert got["pids"] == {"limit": 50, "current": 1}
    assert got["cpuset"]["cpus"] == "0" and got["cpuset"]["effective_cpus"] == "0"
    assert got["cpuset"]["effective_mems"] == "0"
    assert got["io"]["limits"] == [
        {
            "device": "254:0",
            "name": "vda",
            "rbps": MiB,
            "wbps": None,
            "riops": None,
            "wiops": 100,
        }
    ]
    assert got["io"]["weight"] == 100
    assert got["findings"] == []


def test_v1_specifics(tmp_path: Path) -> None:
    got = section(1, tmp_path)
    assert got["path"] == f"/docker/{CID}" and got["driver"] == "cgroupfs"
    assert got["memory"]["swap_limit"] == 128 * MiB  # memsw: memory + swap
    assert got["cpu"]["shares"] == 1024
    assert got["controllers"]["memory"] == f"/docker/{CID}"
    assert got["controllers"]["hugetlb"] == "/"


def test_v2_specifics(tmp_path: Path) -> None:
    got = section(2, tmp_path)
    assert got["path"] == f"/system.slice/docker-{CID}.scope" and got["driver"] == "systemd"
    assert got["memory"]["swap_limit"] == 64 * MiB  # memory.swap.max: swap only
    assert got["memory"]["oom_kills"] == 1
    assert got["cpu"]["weight"] == 100
    assert got["cpu"]["throttled"] == 1 and got["cpu"]["throttled_usec"] == 350
    assert got["cpuset"]["mems"] is None  # empty: inherits the parent's


def test_config_and_kernel_disagreeing_is_a_finding(tmp_path: Path) -> None:
    config = {"HostConfig": {"Memory": 32 * MiB, "PidsLimit": 50}}
    got = section(1, tmp_path, config)
    assert got["findings"] == [
        f"Docker's config sets memory limit {32 * MiB}, the kernel applies {64 * MiB}"
    ]
    agree = {"HostConfig": {"Memory": 64 * MiB, "PidsLimit": 50}}
    assert section(2, tmp_path, agree)["findings"] == []


def test_no_throttle_and_v2_max(tmp_path: Path) -> None:
    assert cgroups.parse_io_max("8:0 rbps=max wbps=max riops=max wiops=max\n") == []
    assert cgroups.io_v1(str(tmp_path)) == {"limits": [], "weight": None}
    assert cgroups._weight("default 100\n8:0 200\n") == 100
    assert cgroups._weight("250") == 250


@pytest.mark.parametrize(
    ("path", "driver"),
    [
        (f"/docker/{CID}", "cgroupfs"),
        (f"/system.slice/docker-{CID}.scope", "systemd"),
        ("/user.slice/user-0.slice/session-1.scope", "systemd"),
        ("/", None),
    ],
)
def test_driver_from_the_path_shape(path: str, driver: str | None) -> None:
    assert cgroups.driver(path) == driver


def test_v1_controllers_are_found_in_the_mount_table(tmp_path: Path) -> None:
    """Where each v1 hierarchy is mounted comes from mountinfo, not from a fixed path."""
    from pyhost.inspect.collect.cgroups import ROOT, v1_dir, v1_mounts

    info = tmp_path / "mountinfo"
    info.write_text(
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
        "31 25 0:27 / /cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
        "32 25 0:28 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
        "33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    mounts = v1_mounts(str(info))
    assert mounts["cpu"] == mounts["cpuacct"] == ("/sys/fs/cgroup/cpu,cpuacct", "/")
    assert v1_dir("memory", "/docker/abc", ROOT, mounts) == "/cgroup/memory/docker/abc"
    assert v1_dir("cpu", "/docker/abc", ROOT, mounts) == "/sys/fs/cgroup/cpu,cpuacct/docker/abc"
    # a mount showing only a subtree: paths are relative to its root
    assert v1_dir("pids", "/docker/abc", ROOT, mounts) == "/sys/fs/cgroup/pids"
    assert v1_dir("pids", "/docker/abc/sub", ROOT, mounts) == "/sys/fs/cgroup/pids/sub"
    # a recorded tree (root given) keeps its own layout
    assert v1_dir("memory", "/x", "/data", mounts) == "/data/memory/x"
