"""pyhost.runtime.linux's calls on the real kernel, each in a forked child that the test reads
back from: what a call changed is checked from /proc, never from the wrapper's own answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyhost.runtime import linux

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and mounts need root")


def in_child(body: Callable[[], str]) -> str:
    """Run ``body`` in a forked child; its return value, or its error as ``error: ...``."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            out = body()
        except BaseException as e:  # reported to the parent
            out = f"error: {type(e).__name__}: {e}"
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode()


def _status_field(name: str) -> str:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split()[1]
    raise AssertionError(name)


def test_unshare_and_sethostname_change_only_the_childs_uts_namespace() -> None:
    host_ns = os.readlink("/proc/self/ns/uts")
    host_name = os.uname().nodename

    def body() -> str:
        linux.unshare(linux.CLONE_NEWUTS)
        linux.sethostname("pyhost-unit")
        return f"{os.readlink('/proc/self/ns/uts')} {os.uname().nodename}"

    ns, name = in_child(body).split()
    assert ns != host_ns and name == "pyhost-unit"
    assert os.uname().nodename == host_name


def test_link_up_brings_loopback_up_in_a_new_network_namespace() -> None:
    def lo_up() -> bool:  # IFF_UP in the flags of this namespace's sysfs
        return bool(int(Path("/sys/class/net/lo/flags").read_text(), 16) & 0x1)

    def body() -> str:
        linux.unshare(linux.CLONE_NEWNET | linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        linux.mount("sysfs", "/sys", "sysfs")  # a sysfs shows the namespace that mounts it
        before = lo_up()
        linux.link_up("lo")
        return f"{before} {lo_up()}"

    assert in_child(body) == "False True"


def test_link_up_of_a_missing_interface_names_it() -> None:
    def body() -> str:
        linux.unshare(linux.CLONE_NEWNET)
        linux.link_up("nosuch0")
        return "no error"

    out = in_child(body)
    assert out.startswith("error: OSError") and "SIOCGIFFLAGS nosuch0" in out


def test_mount_and_umount_in_a_private_mount_namespace(tmp_path: Path) -> None:
    def body() -> str:
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        linux.mount("tmpfs", str(tmp_path), "tmpfs", linux.MS_NOSUID, "size=1m,mode=700")
        (tmp_path / "inside").write_text("x")
        mounted = any(
            line.split()[1] == str(tmp_path) and line.split()[2] == "tmpfs"
            for line in Path("/proc/self/mounts").read_text().splitlines()
        )
        linux.umount(str(tmp_path))
        return f"{mounted} {(tmp_path / 'inside').exists()}"

    assert in_child(body) == "True False"
    assert not (tmp_path / "inside").exists()  # the host never saw the tmpfs


def test_a_failed_mount_raises_oserror_with_errno_and_target(tmp_path: Path) -> None:
    def body() -> str:
        linux.unshare(linux.CLONE_NEWNS)
        try:
            linux.mount(None, str(tmp_path / "missing"), "tmpfs")
        except OSError as e:
            return f"{e.errno} {e.strerror}"
        return "mounted"

    out = in_child(body)
    assert out.startswith("2 mount ") and str(tmp_path / "missing") in out


def test_capset_sets_exactly_the_masks_given() -> None:
    keep = (1 << 0) | (1 << 5) | (1 << 21)  # chown, kill, sys_admin

    def body() -> str:
        linux.capset(keep, keep, 0)
        return f"{_status_field('CapEff')} {_status_field('CapPrm')} {_status_field('CapInh')}"

    eff, prm, inh = in_child(body).split()
    assert int(eff, 16) == keep and int(prm, 16) == keep and int(inh, 16) == 0


def test_capset_keeps_bits_above_31() -> None:
    keep = (1 << 0) | (1 << 33)  # chown, mac_admin: the second 32-bit record

    def body() -> str:
        linux.capset(keep, keep, 0)
        return _status_field("CapEff")

    assert int(in_child(body), 16) == keep


def test_prctl_and_a_seccomp_filter_refuse_one_syscall() -> None:
    """A three-row filter: uname(2) fails with EPERM, everything else is allowed."""
    uname = {"x86_64": 63, "aarch64": 160}.get(os.uname().machine)
    if uname is None:
        pytest.skip("the test's syscall number is for x86_64 and aarch64")
    ld_w_abs, jeq_k, ret_k = 0x20, 0x15, 0x06
    program = [
        (ld_w_abs, 0, 0, 0),  # A = seccomp_data.nr
        (jeq_k, 0, 1, uname),
        (ret_k, 0, 0, 0x00050000 | 1),  # SECCOMP_RET_ERRNO | EPERM
        (ret_k, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
    ]

    def body() -> str:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        linux.seccomp_filter(program)
        try:
            os.uname()
        except OSError as e:
            return f"{_status_field('Seccomp')} {_status_field('NoNewPrivs')} {e.errno}"
        return "uname allowed"

    assert in_child(body) == "2 1 1"


def test_flock_exclusive_waits_for_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.touch()
    held = os.open(lock, os.O_RDWR)
    linux.flock_exclusive(held)
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys; from pyhost.runtime import linux; "
            "fd = os.open(sys.argv[1], os.O_RDWR); linux.flock_exclusive(fd); print('locked')",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.3)
        assert waiter.poll() is None, "the second locker did not wait"
        os.close(held)
        out, _ = waiter.communicate(timeout=10)
        assert out.strip() == "locked"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
