"""The Linux calls the runtime needs that Python's standard library does not offer.

mount(2), umount2(2), pivot_root(2), unshare(2), setns(2), capset(2), prctl(2), ioctl(2) on
a bare socket and flock(2) have no stdlib binding before Python 3.12 (some none at all, some
only in modules that cost their own import), and no well-kept package wraps them without pulling
in a compiler or a large dependency; so they are called through libffi here, each raising
``OSError`` with errno like the stdlib does.

The calls go through ``_ctypes``, the extension that the ``ctypes`` package wraps, with the
few names the package itself imports from it: ``ctypes``'s own module body (its type aliases,
checks, loaders, and the ``struct`` and ``types`` modules it imports) costs ~3 ms of every
``pyhost run`` on a small machine, and the runtime needs none of it.
"""

from __future__ import annotations

import os
import sys
from _ctypes import (
    FUNCFLAG_CDECL,
    FUNCFLAG_USE_ERRNO,
    RTLD_LOCAL,
    CFuncPtr,
    _SimpleCData,
    addressof,
    dlopen,
    get_errno,
)

TYPE_CHECKING = False  # typing costs ~5 ms of every `pyhost run`
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}


class _Int(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "i"


class _ULong(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "L"


class _CharP(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "z"  # bytes or None, passed as a pointer to its characters


class _Char(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "c"  # arrays of it are writable buffers (``.raw``) that pass as pointers


class _Function(CFuncPtr):
    """A C function of the running program's libc: returns int, saves errno."""

    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _Libc:
    _handle = dlopen(None, RTLD_LOCAL)  # type: ignore[arg-type] # the program and its libc


def _function(name: str, *argtypes: type) -> _Function:
    function = _Function((name, _Libc))  # type: ignore[arg-type] # any object with _handle
    if argtypes:
        function.argtypes = argtypes
    return function


_mount = _function("mount", _CharP, _CharP, _CharP, _ULong, _CharP)
_umount2 = _function("umount2", _CharP, _Int)
_unshare = _function("unshare", _Int)
_setns = _function("setns", _Int, _Int)
_prctl = _function("prctl", _Int, _ULong, _ULong, _ULong, _ULong)
_sethostname = _function("sethostname", _CharP, _ULong)
_socket = _function("socket", _Int, _Int, _Int)
_capset = _function("capset")
_ioctl = _function("ioctl")
_flock = _function("flock", _Int, _Int)
_syscall = _function("syscall")
_WORD = 8 if sys.maxsize > 2**32 else 4  # a pointer's size and alignment
_ORDER = sys.byteorder


def _buffer(data: bytes) -> Any:
    """A writable C copy of ``data``; it passes as a pointer to its first byte."""
    return (_Char * len(data)).from_buffer_copy(data)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    _check(_mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    _check(_umount2(_b(target), flags), f"umount {target}")


def unshare(flags: int) -> None:
    _check(_unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_setns(fd, nstype), "setns")


def pivot_root(new_root: str, put_old: str) -> None:
    number = _PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(38, f"pivot_root: unsupported architecture {os.uname().machine}")
    _check(_syscall(number, _b(new_root), _b(put_old)), "pivot_root")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_sethostname(raw, len(raw)), "sethostname")


def datagram_socket() -> int:
    """A bare AF_INET datagram socket fd for interface ioctls (the socket module costs ~8 ms)."""
    fd = int(_socket(2, 2 | 0o2000000, 0))  # AF_INET, SOCK_DGRAM | SOCK_CLOEXEC
    if fd < 0:
        err = get_errno()
        raise OSError(err, f"socket: {os.strerror(err)}")
    return fd


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> None:
    _check(_prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ_SIZE = 40  # struct ifreq: the name in 16 bytes, then a union (flags: a short)


def link_up(name: str) -> None:
    """`ip link set NAME up` with two ioctls on a bare socket: no netlink library, no
    fcntl or struct module, for what --network none needs (loopback up)."""
    request = _buffer(name.encode().ljust(_IFREQ_SIZE, b"\0"))
    s = datagram_socket()
    try:
        _check(_ioctl(s, _SIOCGIFFLAGS, request), f"SIOCGIFFLAGS {name}")
        raw = request.raw
        flags = int.from_bytes(raw[16:18], _ORDER) | _IFF_UP
        request.raw = raw[:16] + flags.to_bytes(2, _ORDER) + raw[18:]
        _check(_ioctl(s, _SIOCSIFFLAGS, request), f"SIOCSIFFLAGS {name}")
    finally:
        os.close(s)


def flock_exclusive(fd: int) -> None:
    """flock(fd, LOCK_EX): wait for an exclusive lock (EINTR retried, as the stdlib does)."""
    while _flock(fd, 2) != 0:
        err = get_errno()
        if err != 4:  # EINTR
            raise OSError(err, f"flock: {os.strerror(err)}")


_CAP_V3 = 0x20080522


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (64-bit masks): a v3 header (version, pid 0 = this
    thread), then two 32-bit {effective, permitted, inheritable} records, low bits first."""
    header = _buffer(_CAP_V3.to_bytes(4, _ORDER) + bytes(4))
    data = b"".join(
        (mask >> shift & 0xFFFFFFFF).to_bytes(4, _ORDER)
        for shift in (0, 32)
        for mask in (effective, permitted, inheritable)
    )
    _check(_capset(header, _buffer(data)), "capset")


def seccomp_filter(program: list[tuple[int, int, int, int]]) -> None:
    """Install a classic-BPF seccomp filter given as (code, jt, jf, k) rows.

    Each row is a struct sock_filter (u16 code, u8 jt, u8 jf, u32 k); the struct sock_fprog
    the kernel reads is a u16 count, padding to a pointer's alignment, and the pointer."""
    rows = _buffer(
        b"".join(
            code.to_bytes(2, _ORDER) + bytes((jt, jf)) + k.to_bytes(4, _ORDER)
            for code, jt, jf, k in program
        )
    )
    prog = _buffer(
        len(program).to_bytes(2, _ORDER).ljust(_WORD, b"\0")
        + addressof(rows).to_bytes(_WORD, _ORDER)
    )
    _check(_prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, addressof(prog), 0, 0), "seccomp")


def setuid_root() -> None:
    """After the user namespace is mapped: become its root (uid and gid 0) for what follows."""
    os.setgid(0)
    os.setuid(0)
