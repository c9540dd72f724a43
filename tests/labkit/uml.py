"""A real cgroup v2 kernel for tests: Debian's user-mode Linux, booted as a plain process.

This machine's kernel binds every controller to cgroup v1, so v2 cannot be exercised here
directly. ``linux.uml`` boots Linux 6.1 in about 2 s with this machine's root as a read-only
hostfs; the script given runs as its init, with proc, sysfs, a tmpfs on /run and cgroup2
mounted on /sys/fs/cgroup, and the kernel powers off when it ends.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

UML = "linux.uml"

_PRELUDE = """#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
(
"""
_END = """
) 2>&1
echo UML-DONE
poweroff -f
"""


def why_no_uml() -> str | None:
    if shutil.which(UML) is None:
        return "user-mode Linux is missing (apt-get install user-mode-linux)"
    return None


def run_in_uml(script: str, *, timeout: float = 120, mem: str = "512M") -> str:
    """Run ``script`` (sh) as init of a user-mode Linux kernel; return what it printed."""
    with tempfile.TemporaryDirectory(prefix="pyhost-uml-") as work:
        init = Path(work) / "init.sh"
        init.write_text(_PRELUDE + script + _END)
        init.chmod(0o755)
        proc = subprocess.run(
            [
                UML,
                f"mem={mem}",
                "root=/dev/root",
                "rootfstype=hostfs",
                "rootflags=/",
                "ro",
                f"init={init}",
                "con=null",
                "con0=fd:0,fd:1",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if "UML-DONE" not in proc.stdout:
        raise RuntimeError(f"the user-mode Linux run did not finish:\n{proc.stdout[-3000:]}")
    return proc.stdout
