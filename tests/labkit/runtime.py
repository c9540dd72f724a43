"""Lab helpers for `pyhost run`: a busybox rootfs made here, isolated state roots, and a
snapshot of everything the runtime may leave behind (mounts, cgroups, links, rules)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BUSYBOX = "/bin/busybox"


def busybox_rootfs(root: Path) -> Path:
    """A minimal root: static busybox with its applets, passwd/group with a normal user."""
    if not os.path.exists(BUSYBOX):
        raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "tmp").mkdir(mode=0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run(
        [BUSYBOX, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "app:x:1000:1000:app:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (root / "etc" / "group").write_text(
        "root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n"
    )
    (root / "etc" / "noexec.sh").write_text("#!/bin/sh\necho never\n")
    os.chmod(root / "etc" / "noexec.sh", 0o644)
    return root


def runtime_env(base: Path) -> dict[str, str]:
    """Environment for a pyhost whose state and data live under ``base``."""
    env = dict(os.environ)
    env["PYHOST_STATE_ROOT"] = str(base / "state")
    env["PYHOST_DATA_ROOT"] = str(base / "data")
    env.pop("PYHOST_NO_OVERLAY", None)
    return env


def pyhost(env: dict[str, str], *args: str, timeout: float = 60, **kw: Any) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,
    )


def leftovers(base: Path) -> dict[str, list[str]]:
    """What the runtime could leak: mounts under ``base``, pyhost cgroups, links, rules."""
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(base) in line.split()[4]
    ]
    cgroups = []
    for root in Path("/sys/fs/cgroup").iterdir():
        parent = root / "pyhost"
        if parent.is_dir():
            cgroups += [str(p) for p in parent.iterdir() if p.is_dir()]
    links = [n for n in os.listdir("/sys/class/net") if n.startswith(("ph", "pc", "pyhost0"))]
    rules = []
    if shutil.which("iptables-save"):
        dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
        rules = [line for line in dump.stdout.splitlines() if "pyhost:" in line]
    state = base / "state" / "containers"
    records = sorted(os.listdir(state)) if state.is_dir() else []
    return {
        "mounts": mounts,
        "cgroups": cgroups,
        "links": links,
        "rules": rules,
        "records": records,
    }
