"""A default seccomp filter comparable to Docker's.

Docker's profile is an allow-list of ~300 syscalls with default EPERM; what it blocks for an
unprivileged container is the list below (kernel modules, mounts, namespaces, keyrings,
clocks, reboot, kexec, BPF, perf, userfaultfd, io_uring, ...). pyhost writes the same effect
as a deny-list: smaller to build at every start and identical for every syscall Docker
allows. As in Docker, a blocked syscall is let through when the capability that guards it is
added (``--cap-add SYS_ADMIN`` permits mount). ``clone3`` answers ENOSYS so that libcs fall
back to ``clone``, whose namespace flags need CAP_SYS_ADMIN, which the container lacks.

There is no well-kept pure-Python seccomp binding on PyPI (libseccomp's is a C extension
shipped by distributions only), so the classic-BPF program is assembled here by hand.
"""

from __future__ import annotations

import errno
import os

# (syscall, capability that lifts the block or None) -> number per architecture
_BLOCKED: dict[str, tuple[str | None, int | None, int | None]] = {
    # name: (capability, x86_64, aarch64)
    "acct": ("SYS_PACCT", 163, 89),
    "add_key": (None, 248, 217),
    "bpf": ("BPF", 321, 280),
    "clock_adjtime": ("SYS_TIME", 305, 266),
    "clock_settime": ("SYS_TIME", 227, 112),
    "create_module": ("SYS_MODULE", 174, None),
    "delete_module": ("SYS_MODULE", 176, 106),
    "finit_module": ("SYS_MODULE", 313, 273),
    "get_kernel_syms": ("SYS_MODULE", 177, None),
    "get_mempolicy": ("SYS_NICE", 239, 236),
    "init_module": ("SYS_MODULE", 175, 105),
    "ioperm": ("SYS_RAWIO", 173, None),
    "iopl": ("SYS_RAWIO", 172, None),
    "kcmp": ("SYS_PTRACE", 312, 272),
    "kexec_file_load": ("SYS_BOOT", 320, 294),
    "kexec_load": ("SYS_BOOT", 246, 104),
    "keyctl": (None, 250, 219),
    "lookup_dcookie": ("SYS_ADMIN", 212, 18),
    "mbind": ("SYS_NICE", 237, 235),
    "mount": ("SYS_ADMIN", 165, 40),
    "move_pages": ("SYS_NICE", 279, 239),
    "name_to_handle_at": ("SYS_ADMIN", 303, 264),
    "nfsservctl": ("SYS_ADMIN", 180, 42),
    "open_by_handle_at": ("DAC_READ_SEARCH", 304, 265),
    "perf_event_open": ("PERFMON", 298, 241),
    "pivot_root": ("SYS_ADMIN", 155, 41),
    "process_vm_readv": ("SYS_PTRACE", 310, 270),
    "process_vm_writev": ("SYS_PTRACE", 311, 271),
    "query_module": ("SYS_MODULE", 178, None),
    "quotactl": ("SYS_ADMIN", 179, 60),
    "quotactl_fd": ("SYS_ADMIN", 443, 443),
    "reboot": ("SYS_BOOT", 169, 142),
    "request_key": (None, 249, 218),
    "set_mempolicy": ("SYS_NICE", 238, 237),
    "setns": ("SYS_ADMIN", 308, 268),
    "settimeofday": ("SYS_TIME", 164, 170),
    "swapon": ("SYS_ADMIN", 167, 224),
    "swapoff": ("SYS_ADMIN", 168, 225),
    "sysfs": (None, 139, None),
    "_sysctl": (None, 156, None),
    "syslog": ("SYSLOG", 103, 116),
    "umount2": ("SYS_ADMIN", 166, 39),
    "unshare": ("SYS_ADMIN", 272, 97),
    "uselib": (None, 134, None),
    "userfaultfd": (None, 323, 282),
    "ustat": (None, 136, None),
    "vhangup": ("SYS_TTY_CONFIG", 153, 58),
    "fsopen": ("SYS_ADMIN", 430, 430),
    "fsconfig": ("SYS_ADMIN", 431, 431),
    "fsmount": ("SYS_ADMIN", 432, 432),
    "fspick": ("SYS_ADMIN", 433, 433),
    "move_mount": ("SYS_ADMIN", 429, 429),
    "open_tree": ("SYS_ADMIN", 428, 428),
    "mount_setattr": ("SYS_ADMIN", 442, 442),
    "io_uring_setup": (None, 425, 425),
    "io_uring_enter": (None, 426, 426),
    "io_uring_register": (None, 427, 427),
}
_CLONE3 = {"x86_64": 435, "aarch64": 435, "arm64": 435}
# AUDIT_ARCH_* values seen in seccomp_data.arch
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "arm64": 0xC00000B7}
_X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000


def supported() -> bool:
    return os.uname().machine in _AUDIT_ARCH


def blocked_syscalls(caps: frozenset[str]) -> list[str]:
    """The syscalls the filter refuses for a container with these capabilities."""
    index = 1 if os.uname().machine == "x86_64" else 2
    return sorted(
        name
        for name, row in _BLOCKED.items()
        if row[index] is not None and (row[0] is None or row[0] not in caps)
    )


def program(caps: frozenset[str]) -> list[tuple[int, int, int, int]]:
    """The BPF program: wrong architecture or x32 → EPERM, blocked → EPERM, clone3 → ENOSYS."""
    machine = os.uname().machine
    index = 1 if machine == "x86_64" else 2
    numbers: list[int] = []
    for name in blocked_syscalls(caps):
        number = _BLOCKED[name][index]
        if isinstance(number, int):
            numbers.append(number)
    numbers.sort()
    deny = _RET_ERRNO | errno.EPERM
    rows: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, _AUDIT_ARCH[machine]),
        (_RET_K, 0, 0, deny),
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        rows += [(_JGE_K, 0, 1, _X32_SYSCALL_BIT), (_RET_K, 0, 0, deny)]
    rows += [(_JEQ_K, 0, 1, _CLONE3[machine]), (_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    # each blocked number: jump to the shared EPERM return placed at the end
    total = len(numbers)
    for i, number in enumerate(numbers):
        rows.append((_JEQ_K, total - i, 0, number))
    rows += [(_RET_K, 0, 0, _RET_ALLOW), (_RET_K, 0, 0, deny)]
    return rows
