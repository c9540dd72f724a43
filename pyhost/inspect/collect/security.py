"""Security posture of a process from /proc/PID/status and mountinfo."""

from __future__ import annotations

import os

from . import mountinfo
from .capnames import CAP_NAMES, DEFAULT_CAPS

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any


def status(pid: int | str, proc: str = "/proc") -> dict[str, str]:
    with open(f"{proc}/{pid}/status") as fh:
        return {key: value.strip() for key, _, value in (line.partition(":") for line in fh) if key}


def last_cap(proc: str = "/proc") -> int:
    try:
        with open(f"{proc}/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return len(CAP_NAMES) - 1


def cap_names(mask: int) -> list[str]:
    return [
        CAP_NAMES[bit] if bit < len(CAP_NAMES) else f"CAP_{bit}"
        for bit in range(64)
        if mask >> bit & 1
    ]


def posture(pid: int | str, proc: str = "/proc") -> dict[str, Any]:
    """Effective capabilities against Docker's default, seccomp, no_new_privs."""
    st = status(pid, proc)
    cap_eff = int(st.get("CapEff", "0"), 16)
    full = (1 << (last_cap(proc) + 1)) - 1
    default = sum(1 << bit for bit in DEFAULT_CAPS)
    return {
        "cap_eff": f"{cap_eff:016x}",
        "privileged": cap_eff & full == full,
        "caps_added": cap_names(cap_eff & ~default),
        "caps_dropped": cap_names(default & ~cap_eff),
        "seccomp": {"0": "disabled", "1": "strict", "2": "filter"}.get(st.get("Seccomp", ""), ""),
        "no_new_privs": st.get("NoNewPrivs") == "1",
    }


def docker_socket_mounted(pid: int | str, proc: str = "/proc") -> bool:
    """True when a docker.sock is mounted into the process's mount namespace."""
    try:
        with open(f"{proc}/{pid}/mountinfo") as fh:
            return any(line.split()[4].endswith("/docker.sock") for line in fh)
    except OSError:
        return False


def id_map(pid: int | str, which: str, proc: str = "/proc") -> list[list[int]]:
    """/proc/PID/{uid,gid}_map rows: [inside, outside, count]."""
    with open(f"{proc}/{pid}/{which}_map") as fh:
        return [[int(v) for v in line.split()] for line in fh if line.strip()]


def apparmor(pid: int | str, proc: str = "/proc", sysfs: str = "/sys") -> str | None:
    """The AppArmor label ("docker-default (enforce)"), or None where AppArmor is absent.

    attr/current is the label of whichever LSM answers it (SELinux's too): it counts only
    where AppArmor is the one enabled.
    """
    paths = [f"{proc}/{pid}/attr/apparmor/current"]
    if os.path.exists(f"{sysfs}/module/apparmor"):
        paths.append(f"{proc}/{pid}/attr/current")
    for path in paths:
        try:
            with open(path) as fh:
                label = fh.read().strip("\0\n ")
        except OSError:
            continue  # EINVAL without an LSM that answers, ENOENT on old kernels
        if label:
            return label
    return None


def readonly_rootfs(pid: int | str, proc: str = "/proc") -> bool | None:
    """True when "/" is mounted read-only in the process's mount namespace."""
    root = mountinfo.root_mount(mountinfo.read(pid, proc))
    return None if root is None else root.readonly


def verdict(result: dict[str, Any]) -> str:
    """privileged, weakened (beyond Docker's defaults), default, or hardened."""
    if result["privileged"]:
        return "privileged"
    label = result["apparmor"]
    unconfined = isinstance(label, str) and label.startswith("unconfined")
    if result["caps_added"] or result["seccomp"] != "filter" or unconfined:
        return "weakened"
    if result["caps_dropped"] or result["user_namespace"] or result["readonly_rootfs"]:
        return "hardened"
    return "default" if not result["no_new_privs"] else "hardened"


def findings(result: dict[str, Any]) -> list[str]:
    lines = []
    if result["privileged"]:
        lines.append("privileged: every capability is effective")
    elif result["caps_added"]:
        added = result["caps_added"]
        more = f" and {len(added) - 8} more" if len(added) > 8 else ""
        lines.append(f"capabilities beyond Docker's default: {', '.join(added[:8])}{more}")
    if result["seccomp"] == "disabled":
        lines.append("no seccomp filter (seccomp=unconfined)")
    label = result["apparmor"]
    if isinstance(label, str) and label.startswith("unconfined"):
        lines.append("AppArmor: unconfined")
    return lines


def section(pid: int | str, proc: str = "/proc") -> dict[str, Any]:
    """Capabilities, seccomp, AppArmor, no_new_privs, read-only root, user namespace maps."""
    st = status(pid, proc)
    result = posture(pid, proc)
    uid_map = id_map(pid, "uid", proc)
    result.update(
        capabilities=cap_names(int(st.get("CapEff", "0"), 16)),
        seccomp_filters=int(st.get("Seccomp_filters", "0") or 0),
        apparmor=apparmor(pid, proc),
        readonly_rootfs=readonly_rootfs(pid, proc),
        uid_map=uid_map,
        gid_map=id_map(pid, "gid", proc),
        user_namespace=uid_map != [[0, 0, 4294967295]],
        docker_sock=docker_socket_mounted(pid, proc),
    )
    result["verdict"] = verdict(result)
    result["findings"] = findings(result)
    return result
