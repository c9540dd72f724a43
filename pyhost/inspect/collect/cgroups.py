"""The cgroup limits the kernel applies to a process, and its usage, on cgroup v1 and v2."""

from __future__ import annotations

import os

from .cgroupmounts import ROOT as ROOT  # re-exported: callers read them here
from .cgroupmounts import v1_mounts as v1_mounts
from .cgroupmounts import v1_of
from .cgroupmounts import version as version
from .fs import read_text as _read

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

V1_UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge page-rounded number near 2**63


def v1_mounts_of(table: list[Any]) -> dict[str, tuple[str, str]]:
    """v1_mounts from a mount table already parsed (mountinfo.Mount entries)."""
    return v1_of([(m.point, m.root, m.fstype, m.super_options) for m in table])


def v1_dir(controller: str, path: str, root: str, mounts: dict[str, tuple[str, str]]) -> str:
    """The directory of ``path`` (from /proc/PID/cgroup) in ``controller``'s hierarchy."""
    if root != ROOT or controller not in mounts:  # a recorded tree, or nothing mounted
        return f"{root}/{controller}{path}"
    point, mount_root = mounts[controller]
    if mount_root != "/" and (path == mount_root or path.startswith(mount_root + "/")):
        path = path[len(mount_root) :]
    return point + (path if path != "/" else "")


def paths(pid: int | str, proc: str = "/proc") -> dict[str, str]:
    """Controller -> cgroup path from /proc/PID/cgroup ("" is the v2 unified hierarchy)."""
    result: dict[str, str] = {}
    with open(f"{proc}/{pid}/cgroup") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) != 3:
                continue
            _, controllers, path = parts
            for name in controllers.split(",") if controllers else [""]:
                result[name.removeprefix("name=")] = path
    return result


def _int(text: str | None) -> int | None:
    if text is None or text == "max":
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def _keyed(text: str | None) -> dict[str, int]:
    result: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            result[key] = int(value)
    return result


def limits(
    pid: int | str,
    proc: str = "/proc",
    root: str = ROOT,
    cg_version: int | None = None,
    sysfs: str = "/sys",
    v1: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Memory, CPU, pids, cpuset and io limits and usage of the process's cgroup.

    A limit of None means unlimited; a value of None also where a file could not be read.
    ``v1``: this process's v1 hierarchies (v1_mounts), where the caller has them already.
    """
    cg = paths(pid, proc)
    ver = cg_version or version()
    out: dict[str, Any] = {"version": ver}
    if ver == 2:
        base = root + cg.get("", "/")
        out["path"] = cg.get("", "/")
        out["memory"] = {
            "limit": _int(_read(f"{base}/memory.max")),
            "usage": _int(_read(f"{base}/memory.current")),
            "peak": _int(_read(f"{base}/memory.peak")),
            "swap_limit": _int(_read(f"{base}/memory.swap.max")),
            "oom_kills": _keyed(_read(f"{base}/memory.events")).get("oom_kill"),
        }
        cpu_max = (_read(f"{base}/cpu.max") or "max 100000").split()
        quota = _int(cpu_max[0])
        period = _int(cpu_max[1]) if len(cpu_max) > 1 else 100000
        stat = _keyed(_read(f"{base}/cpu.stat"))
        out["cpu"] = {
            "quota": quota,
            "period": period,
            "cpus": quota / period if quota and period else None,
            "weight": _int(_read(f"{base}/cpu.weight")),
            "throttled": stat.get("nr_throttled"),
            "throttled_usec": stat.get("throttled_usec"),
        }
        out["pids"] = {
            "limit": _int(_read(f"{base}/pids.max")),
            "current": _int(_read(f"{base}/pids.current")),
        }
        out["cpuset"] = cpuset_v2(base)
        out["io"] = io_v2(base, sysfs)
        return out
    if root != ROOT:
        mounts: dict[str, tuple[str, str]] = {}
    else:
        mounts = v1 if v1 is not None else v1_mounts(f"{proc}/self/mountinfo")
    mem = v1_dir("memory", cg.get("memory", "/"), root, mounts)
    cpu = v1_dir("cpu", cg.get("cpu", cg.get("cpuacct", "/")), root, mounts)
    pids = v1_dir("pids", cg.get("pids", "/"), root, mounts)
    out["path"] = cg.get("memory", "/")
    mem_limit = _int(_read(f"{mem}/memory.limit_in_bytes"))
    memsw = _int(_read(f"{mem}/memory.memsw.limit_in_bytes"))
    out["memory"] = {
        "limit": None if mem_limit is None or mem_limit >= V1_UNLIMITED else mem_limit,
        "usage": _int(_read(f"{mem}/memory.usage_in_bytes")),
        "peak": _int(_read(f"{mem}/memory.max_usage_in_bytes")),
        "swap_limit": None if memsw is None or memsw >= V1_UNLIMITED else memsw,
        "oom_kills": _keyed(_read(f"{mem}/memory.oom_control")).get("oom_kill"),
    }
    quota_us = _int(_read(f"{cpu}/cpu.cfs_quota_us"))
    period_us = _int(_read(f"{cpu}/cpu.cfs_period_us"))
    quota = None if quota_us is None or quota_us < 0 else quota_us
    stat = _keyed(_read(f"{cpu}/cpu.stat"))
    out["cpu"] = {
        "quota": quota,
        "period": period_us,
        "cpus": quota / period_us if quota and period_us else None,
        "shares": _int(_read(f"{cpu}/cpu.shares")),
        "throttled": stat.get("nr_throttled"),
        "throttled_usec": stat["throttled_time"] // 1000 if "throttled_time" in stat else None,
    }
    out["pids"] = {
        "limit": _int(_read(f"{pids}/pids.max")),
        "current": _int(_read(f"{pids}/pids.current")),
    }
    out["cpuset"] = cpuset_v1(v1_dir("cpuset", cg.get("cpuset", "/"), root, mounts))
    out["io"] = io_v1(v1_dir("blkio", cg.get("blkio", "/"), root, mounts), sysfs)
    return out


def _cpus(text: str | None) -> str | None:
    """A cpu or memory-node list ("0-3,6"); empty (inherit everything on v2) is None."""
    return text or None


def cpuset_v1(base: str) -> dict[str, str | None]:
    return {
        "cpus": _cpus(_read(f"{base}/cpuset.cpus")),
        "effective_cpus": _cpus(_read(f"{base}/cpuset.effective_cpus")),
        "mems": _cpus(_read(f"{base}/cpuset.mems")),
        "effective_mems": _cpus(_read(f"{base}/cpuset.effective_mems")),
    }


def cpuset_v2(base: str) -> dict[str, str | None]:
    return {
        "cpus": _cpus(_read(f"{base}/cpuset.cpus")),
        "effective_cpus": _cpus(_read(f"{base}/cpuset.cpus.effective")),
        "mems": _cpus(_read(f"{base}/cpuset.mems")),
        "effective_mems": _cpus(_read(f"{base}/cpuset.mems.effective")),
    }


IO_KEYS = ("rbps", "wbps", "riops", "wiops")
V1_THROTTLE = {
    "rbps": "blkio.throttle.read_bps_device",
    "wbps": "blkio.throttle.write_bps_device",
    "riops": "blkio.throttle.read_iops_device",
    "wiops": "blkio.throttle.write_iops_device",
}


def block_device(dev: str, sysfs: str = "/sys") -> str | None:
    """The kernel's name of a block device "major:minor" (vda, sda1), from /sys/dev/block."""
    try:
        return os.path.basename(os.readlink(f"{sysfs}/dev/block/{dev}"))
    except OSError:
        return None


def _io_row(dev: str, sysfs: str) -> dict[str, Any]:
    row: dict[str, Any] = {"device": dev, "name": block_device(dev, sysfs)}
    row.update(dict.fromkeys(IO_KEYS))
    return row


def parse_io_max(text: str | None, sysfs: str = "/sys") -> list[dict[str, Any]]:
    """v2 io.max: "8:0 rbps=1048576 wbps=max riops=max wiops=max" per device."""
    rows = []
    for line in (text or "").splitlines():
        dev, *pairs = line.split()
        row = _io_row(dev, sysfs)
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key in IO_KEYS:
                row[key] = _int(value)
        if any(row[key] is not None for key in IO_KEYS):
            rows.append(row)
    return rows


def _weight(text: str | None) -> int | None:
    """io.weight / blkio.bfq.weight: "default 100" (then per-device lines) or "100"."""
    first = (text or "").splitlines()[:1]
    words = first[0].split() if first else []
    return _int(words[-1]) if words else None


def io_v2(base: str, sysfs: str = "/sys") -> dict[str, Any]:
    return {
        "limits": parse_io_max(_read(f"{base}/io.max"), sysfs),
        "weight": _weight(_read(f"{base}/io.weight") or _read(f"{base}/io.bfq.weight")),
    }


def io_v1(base: str, sysfs: str = "/sys") -> dict[str, Any]:
    """v1 blkio.throttle.{read,write}_{bps,iops}_device: "254:0 1048576" per device."""
    rows: dict[str, dict[str, Any]] = {}
    for key, name in V1_THROTTLE.items():
        for line in (_read(f"{base}/{name}") or "").splitlines():
            dev, _, value = line.partition(" ")
            if value.strip().isdigit():
                rows.setdefault(dev, _io_row(dev, sysfs))[key] = int(value)
    weight = _read(f"{base}/blkio.weight") or _read(f"{base}/blkio.bfq.weight")
    return {"limits": list(rows.values()), "weight": _weight(weight)}


def driver(path: str) -> str | None:
    """Docker's cgroup driver, from the shape of the path: systemd scopes or /docker/<id>."""
    leaf = path.rstrip("/").rsplit("/", 1)[-1]
    if leaf.endswith(".scope") or ".slice" in path:
        return "systemd"
    if path in ("", "/"):
        return None
    return "cgroupfs"


def _configured(config: dict[str, Any] | None) -> dict[str, int | None]:
    """Docker's config (HostConfig) limits, for comparison with what the kernel applies."""
    host = (config or {}).get("HostConfig") or {}
    pids = host.get("PidsLimit")
    return {
        "memory": host.get("Memory") or None,
        "pids": pids if pids and pids > 0 else None,
    }


def mismatches(kernel: dict[str, Any], config: dict[str, Any] | None) -> list[str]:
    """Lines where Docker's config and the kernel disagree about a limit."""
    if config is None:
        return []
    wanted = _configured(config)
    applied = {"memory": kernel["memory"]["limit"], "pids": kernel["pids"]["limit"]}
    return [
        f"Docker's config sets {name} limit {wanted[name]}, the kernel applies {applied[name]}"
        for name in wanted
        if wanted[name] is not None and wanted[name] != applied[name]
    ]


def section(
    pid: int | str,
    *,
    config: dict[str, Any] | None = None,
    proc: str = "/proc",
    root: str = ROOT,
    cg_version: int | None = None,
    sysfs: str = "/sys",
    v1: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Version, driver, path per controller, and every limit the kernel applies."""
    out = limits(pid, proc, root, cg_version, sysfs, v1)
    out["driver"] = driver(out["path"])
    out["controllers"] = paths(pid, proc)
    out["findings"] = mismatches(out, config)
    return out
