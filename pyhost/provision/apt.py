"""apt on a host: wait for its locks, update, resolve versions, install, hold.

Every apt command waits for the dpkg lock itself (``DPkg::Lock::Timeout``), and before it
runs, `wait_for_locks` waits for every apt/dpkg lock (the lists and archive locks too, which
that option does not cover) and names the process that holds one — on fresh VMs that is
unattended-upgrades.
"""

from __future__ import annotations

import shlex

from pyhost.connection import Connection
from pyhost.errors import HostError

LOCKS = (
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/lib/apt/lists/lock",
    "/var/cache/apt/archives/lock",
)

# Runs on the host with python3 (which pyhost, like Ansible, expects there). fcntl locks are
# what apt takes; flock(1) would not see them. Exit 0 when free, 3 on timeout.
_WAIT_SCRIPT = r"""
import fcntl, os, sys, time
locks, deadline = sys.argv[2:], time.monotonic() + float(sys.argv[1])
def holder(path):
    try:
        ino = os.stat(path).st_ino
        for line in open("/proc/locks"):
            f = line.split()
            if f[5].rsplit(":", 1)[-1] == str(ino):
                pid = f[4]
                return pid + " (" + open("/proc/%s/comm" % pid).read().strip() + ")"
    except (OSError, IndexError):
        pass
    return "another process"
waited = 0.0
while True:
    busy = None
    for path in locks:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            busy = path
        finally:
            os.close(fd)
        if busy:
            break
    if busy is None:
        print("waited %.1f" % waited)
        sys.exit(0)
    if time.monotonic() >= deadline:
        print("%s is held by %s" % (busy, holder(busy)))
        sys.exit(3)
    time.sleep(1)
    waited += 1
"""


def wait_for_locks(conn: Connection, timeout: int) -> float:
    """Wait until no apt/dpkg lock is held; return the seconds waited."""
    command = f"python3 -c {shlex.quote(_WAIT_SCRIPT)} {timeout} {' '.join(LOCKS)}"
    result = conn.run(command, sudo=True, check=False, timeout=timeout + 60)
    if result.exit_code == 3:
        raise HostError(
            conn.name,
            f"apt is busy: {result.stdout.strip()} after waiting {timeout} s",
            hint="wait for it to finish (unattended-upgrades on a fresh VM) or raise "
            "pyhost_apt_lock_timeout",
        )
    if result.exit_code != 0:
        raise HostError(conn.name, f"cannot check the apt locks: {result.stderr.strip()}")
    return float(result.stdout.split()[-1]) if result.stdout.strip() else 0.0


def apt_get(timeout: int, *args: str) -> str:
    """An apt-get command line that never prompts and waits for the dpkg lock."""
    return (
        "DEBIAN_FRONTEND=noninteractive apt-get -q -y "
        f"-o DPkg::Lock::Timeout={timeout} "
        "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
        + " ".join(shlex.quote(a) for a in args)
    )


def update(conn: Connection, lock_timeout: int) -> float:
    """``apt-get update``; returns the seconds spent waiting for apt's locks first."""
    waited = wait_for_locks(conn, lock_timeout)
    result = conn.run(apt_get(lock_timeout, "update"), sudo=True, check=False, timeout=600)
    output = result.stdout + result.stderr
    problems = [
        line.strip()
        for line in output.splitlines()
        if line.startswith(("E:", "W:", "Err:"))
        and any(w in line for w in ("NO_PUBKEY", "not signed", "BADSIG", "EXPKEYSIG", "docker"))
    ]
    if result.exit_code != 0 or any("NO_PUBKEY" in p or "BADSIG" in p for p in problems):
        detail = problems[0] if problems else (output.strip().splitlines() or ["?"])[-1]
        raise HostError(conn.name, f"apt-get update failed: {detail}")
    return waited


def available_versions(conn: Connection, package: str, *, apt_options: str = "") -> list[str]:
    from pyhost.provision.versions import parse_madison

    result = conn.run(
        f"apt-cache {apt_options} madison {shlex.quote(package)}", check=False, timeout=120
    )
    return parse_madison(result.stdout)
