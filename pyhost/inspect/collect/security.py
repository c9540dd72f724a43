"""Security posture of a process from /proc/PID/status and mountinfo."""

from __future__ import annotations

import os

from . import mountinfo
from .capnames import CAP_NAMES, DEFAULT_CAPS
from .fs import read_bytes
from .proctable import status_fields

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any


def status(pid: int | str, proc: str = "/proc") -> dict[str, str]:
    return status_fields(pid, proc)


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


def posture(
    pid: int | str, proc: str = "/proc", st: dict[str, str] | None = None
) -> dict[str, Any]:
    """Effective capabilities against Docker's default, seccomp, no_new_privs (``st``: its
    /proc/PID/status, where it was read already)."""
    if st is None:
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


def docker_socket_mounted(
    pid: int | str, proc: str = "/proc", mounts: list[mountinfo.Mount] | None = None
) -> bool:
    """True when a docker.sock is mounted into the process's mount namespace (``mounts``:
    its mount table, where it was read already)."""
    if mounts is None:
        try:
            mounts = mountinfo.read(pid, proc)
        except OSError:
            return False
    return any(m.point.endswith("/docker.sock") for m in mounts)


def id_map(pid: int | str, which: str, proc: str = "/proc") -> list[list[int]]:
    """/proc/PID/{uid,gid}_map rows: [inside, outside, count]."""
    text = read_bytes(f"{proc}/{pid}/{which}_map").decode()
    return [[int(v) for v in line.split()] for line in text.splitlines() if line.strip()]


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
            label = read_bytes(path).decode(errors="replace").strip("\0\n ")
        except OSError:
            continue  # EINVAL without an LSM that answers, ENOENT on old kernels
        if label:
            return label
    return None


def readonly_rootfs(
    pid: int | str, proc: str = "/proc", mounts: list[mountinfo.Mount] | None = None
) -> bool | None:
    """True when "/" is mounted read-only in the process's mount namespace."""
    root = mountinfo.root_mount(mounts if mounts is not None else mountinfo.read(pid, proc))
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


def section(
    pid: int | str, proc: str = "/proc", mounts: list[mountinfo.Mount] | None = None
) -> dict[str, Any]:
    """Capabilities, seccomp, AppArmor, no_new_privs, read-only root, user namespace maps
    (``mounts``: the process's mount table, where it was read already)."""
    st = status(pid, proc)
    result = posture(pid, proc, st)
    uid_map = id_map(pid, "uid", proc)
    if mounts is None:
        mounts = mountinfo.read(pid, proc)
    result.update(
        capabilities=cap_names(int(st.get("CapEff", "0"), 16)),
        seccomp_filters=int(st.get("Seccomp_filters", "0") or 0),
        apparmor=apparmor(pid, proc),
        readonly_rootfs=readonly_rootfs(pid, proc, mounts),
        uid_map=uid_map,
        gid_map=id_map(pid, "gid", proc),
        user_namespace=uid_map != [[0, 0, 4294967295]],
        docker_sock=docker_socket_mounted(pid, proc, mounts),
    )
    result["verdict"] = verdict(result)
    result["findings"] = findings(result)
    return result
