"""Security posture of a process from /proc/PID/status and mountinfo."""

from __future__ import annotations

# Docker's default capability set (CapEff 00000000a80425fb): bit number -> name.
DEFAULT_CAPS = {
    0: "CHOWN",
    1: "DAC_OVERRIDE",
    3: "FOWNER",
    4: "FSETID",
    5: "KILL",
    6: "SETGID",
    7: "SETUID",
    8: "SETPCAP",
    10: "NET_BIND_SERVICE",
    13: "NET_RAW",
    18: "SYS_CHROOT",
    27: "MKNOD",
    29: "AUDIT_WRITE",
    31: "SETFCAP",
}
CAP_NAMES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]


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


def posture(pid: int | str, proc: str = "/proc") -> dict[str, object]:
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
