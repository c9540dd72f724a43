"""The cgroup limits the kernel applies to a process, and its usage, on cgroup v1 and v2."""

from __future__ import annotations

from typing import Any

ROOT = "/sys/fs/cgroup"
V1_UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge page-rounded number near 2**63


def version(mountinfo: str = "/proc/self/mountinfo") -> int:
    """2 when /sys/fs/cgroup itself is a cgroup2 mount (unified), else 1 (v1 or hybrid)."""
    with open(mountinfo) as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) > 4 and fields[4] == ROOT:
                return 2 if right.split()[0] == "cgroup2" else 1
    return 1


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


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


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
    pid: int | str, proc: str = "/proc", root: str = ROOT, cg_version: int | None = None
) -> dict[str, Any]:
    """Memory, CPU and pids limits and usage of the process's cgroup, read from the kernel.

    A limit of None means unlimited; a value of None also where a file could not be read.
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
        return out
    mem = root + "/memory" + cg.get("memory", "/")
    cpu = root + "/cpu" + cg.get("cpu", cg.get("cpuacct", "/"))
    pids = root + "/pids" + cg.get("pids", "/")
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
    return out
