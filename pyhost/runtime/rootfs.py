"""The container's filesystem: overlay (or a copy where overlayfs is missing), the kernel
filesystems Docker mounts, masked and read-only paths, and pivot_root.

Everything here runs in the container's own mount namespace, so every mount it makes goes
away with the namespace, even when the supervisor is killed.
"""

from __future__ import annotations

import errno
import os
import stat

from pyhost.runtime import linux
from pyhost.runtime.linux import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
)
from pyhost.runtime.stdlite import suppress

MASKED = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
)
# and /sys/devices/system/cpu/cpu*/thermal_throttle, listed by hand: glob would import re
MASKED_PER_CPU = ("/sys/devices/system/cpu", "cpu", "thermal_throttle")
READ_ONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEVICES = (  # name, major, minor
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)
DEV_LINKS = (
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
)
MAX_LINKS = 40


def secure_join(root: str, path: str) -> str:
    """``root``/``path`` with every symlink on the way resolved *inside* ``root``.

    An image may carry ``/data -> /etc``: a volume for /data must land in the container's
    /etc, never the host's. Missing components are kept as they are (they get created).
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, f"too many symlinks under {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def mount_overlay(
    lowers: list[str],
    upper: str,
    work: str,
    target: str,
    *,
    rootless: bool = False,
    volatile: bool = False,
) -> None:
    """``lowers`` lowest first; overlayfs wants the topmost first. In a user namespace its
    bookkeeping xattrs go to user.* (trusted.* needs real root).

    ``volatile`` (for ``--rm``, whose upper is thrown away): no syncfs of the upper
    filesystem when the mount goes, which otherwise costs 5-100 ms at every container's end.
    Kernels before 5.10 refuse the option; the mount is then made without it.
    """
    options = f"lowerdir={':'.join(reversed(lowers))},upperdir={upper},workdir={work}"
    if rootless:
        options += ",userxattr"
    if volatile:
        try:
            linux.mount("overlay", target, "overlay", 0, options + ",volatile")
            return
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
    linux.mount("overlay", target, "overlay", 0, options)


def overlay_supported() -> bool:
    try:
        with open("/proc/filesystems") as f:
            return any(line.split()[-1] == "overlay" for line in f if line.strip())
    except OSError:
        return False


def _mkdir(path: str, mode: int = 0o755) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)


def _touch(path: str) -> None:
    if not os.path.lexists(path):
        _mkdir(os.path.dirname(path))
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))


def make_private() -> None:
    linux.mount(None, "/", None, MS_REC | MS_PRIVATE)


def _locked(path: str) -> int:
    """nosuid/nodev/noexec of the mount holding ``path``: a remount in a user namespace
    must keep them (statvfs's ST_* bits have the values of the MS_* flags)."""
    try:
        return os.statvfs(path).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        return 0


def mount_kernel_filesystems(root: str, *, rootless: bool = False) -> None:
    """/proc, /dev (+pts, shm, mqueue) and /sys, as Docker mounts them (then mount_cgroups)."""
    proc = secure_join(root, "/proc")
    _mkdir(proc)
    linux.mount("proc", proc, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV)
    dev = secure_join(root, "/dev")
    _mkdir(dev)
    linux.mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        if rootless:  # no mknod in a user namespace: the host's nodes, bind-mounted
            _touch(f"{dev}/{name}")
            linux.mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
            continue
        os.mknod(f"{dev}/{name}", 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(f"{dev}/{name}", 0o666)  # noqa: S103 - the modes Docker gives these nodes
    for name, target in DEV_LINKS:
        os.symlink(target, f"{dev}/{name}")
    _mkdir(f"{dev}/pts")
    linux.mount(
        "devpts",
        f"{dev}/pts",
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        # gid 5 (tty) does not exist in a single-id user namespace
        "newinstance,ptmxmode=0666,mode=0620" + ("" if rootless else ",gid=5"),
    )
    _mkdir(f"{dev}/shm", 0o1777)
    linux.mount(
        "shm", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"
    )
    _mkdir(f"{dev}/mqueue")
    try:
        linux.mount("mqueue", f"{dev}/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as e:
        if e.errno != errno.ENODEV:  # a kernel without POSIX message queues has none to give
            raise
    sys_dir = secure_join(root, "/sys")
    _mkdir(sys_dir)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY
    try:
        linux.mount("sysfs", sys_dir, "sysfs", flags)
    except OSError:
        # sysfs refuses a new mount when the network namespace is shared and not ours
        linux.mount("/sys", sys_dir, None, MS_BIND | MS_REC)
        linux.mount(None, sys_dir, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)


def mount_cgroups(root: str, cgroup_version: int, cgroup_paths: dict[str, str]) -> None:
    """/sys/fs/cgroup, read-only: the cgroup2 hierarchy (the container's own, through its
    cgroup namespace), or on v1 a tmpfs holding the container's directory of each controller."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY
    cgroup_dir = secure_join(root, "/sys/fs/cgroup")
    if not os.path.isdir(cgroup_dir):
        return
    if cgroup_version == 2:
        linux.mount("cgroup2", cgroup_dir, "cgroup2", flags)
        return
    # v1: a read-only tmpfs holding the container's own directory of each controller
    linux.mount("tmpfs", cgroup_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
    for controller, path in cgroup_paths.items():
        target = f"{cgroup_dir}/{controller}"
        _mkdir(target)
        linux.mount(path, target, None, MS_BIND)
        linux.mount(None, target, None, MS_BIND | MS_REMOUNT | flags)
    linux.mount(None, cgroup_dir, None, MS_REMOUNT | flags, "mode=755")


def bind_file(root: str, source: str, target: str, readonly: bool = False) -> None:
    path = secure_join(root, target)
    _touch(path)
    linux.mount(source, path, None, MS_BIND)
    if readonly:
        linux.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def bind_volume(root: str, source: str, target: str, readonly: bool) -> None:
    path = secure_join(root, target)
    if os.path.isdir(source):
        _mkdir(path)
    else:
        _touch(path)
    linux.mount(source, path, None, MS_BIND | MS_REC)
    if readonly:
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | _locked(path)
        linux.mount(None, path, None, flags)


def mount_tmpfs(root: str, target: str, options: str) -> None:
    path = secure_join(root, target)
    _mkdir(path)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    data = []
    for opt in filter(None, options.split(",")):
        if opt == "ro":
            flags |= MS_RDONLY
        elif opt == "exec":
            flags &= ~MS_NOEXEC
        elif opt == "suid":
            flags &= ~MS_NOSUID
        elif opt not in ("rw", "noexec", "nosuid", "nodev"):
            data.append(opt)
    linux.mount("tmpfs", path, "tmpfs", flags, ",".join(data) or None)


def pivot(root: str) -> None:
    """pivot_root(".", ".") then detach the old root: the host's tree is gone from view."""
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount(".", MNT_DETACH)
    os.chdir("/")


def mask_paths(root: str) -> None:
    """Docker's masked and read-only paths, in the container's /proc and /sys under ``root``.

    Before pivot_root a path is resolved against the host's root, so /proc, /sys and /dev
    are resolved inside ``root`` first (an image's /proc may be a link; mount_kernel_filesystems
    followed it the same way); below them everything is the kernel's own filesystems."""
    kernel = {top: secure_join(root, top) for top in ("/proc", "/sys", "/dev")}

    def inside(path: str) -> str:
        top, rest = path[: path.index("/", 1)], path[path.index("/", 1) :]
        return kernel[top] + rest

    paths = [inside(p) for p in MASKED]
    base, prefix, leaf = MASKED_PER_CPU
    base = inside(base)
    with suppress(OSError):
        paths.extend(f"{base}/{n}/{leaf}" for n in sorted(os.listdir(base)) if n.startswith(prefix))
    null = inside("/dev/null")
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        with suppress(OSError):
            if stat.S_ISDIR(st.st_mode):
                linux.mount("tmpfs", path, "tmpfs", MS_RDONLY)
            else:
                linux.mount(null, path, None, MS_BIND)
    for path in (inside(p) for p in READ_ONLY):
        if not os.path.exists(path):
            continue
        with suppress(OSError):
            linux.mount(path, path, None, MS_BIND | MS_REC)
            flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | _locked(path)
            linux.mount(None, path, None, flags)


def read_only_root() -> None:
    linux.mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked("/"))
