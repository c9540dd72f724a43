"""`pyhost run` start-up against `docker run` of the same image and a bare interpreter.

Run as root with a dockerd running: `.venv/bin/python bench/run_bench.py [--runs N]`.
pyhost is measured as a user installs it: a fresh virtual environment with `pip install .`
(no editable finder in its site-packages, which alone adds ~30 ms to every start of the
development venv's interpreter), its `pyhost` console script, and `python -c pass` of that
same interpreter. The commands run interleaved, N times each; medians, spreads and the
ratios the runtime is held to are printed, and the supervisor's peak RSS (from wait4).
It builds a busybox rootfs (busybox-static), imports it into Docker as one image and into
pyhost's store from `docker save` (when the store is there), and removes all of it after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import compile_bytecode, installed_venv, timed

IMAGE = "pyhost-bench/busybox:latest"
SETTLE_S = 0.3


def busybox_rootfs(root: Path) -> None:
    """A small image laid out as base images are: the mount points (/proc, /dev, /sys) and
    the /etc files a runtime binds over (hosts, hostname, resolv.conf) are there already."""
    for sub in ("bin", "etc", "proc", "dev", "sys", "tmp", "root"):
        (root / sub).mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "true", "echo"):
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    for name in ("hosts", "hostname", "resolv.conf"):
        (root / "etc" / name).write_text("")


def peak_rss(argv: list[str], env: dict[str, str]) -> int | None:
    """Peak RSS in KiB of the command and the children it waited for (GNU time's %M).

    Not from this script's own wait4: subprocess starts children with vfork, and a vforked
    child that execs is charged the parent's high-water RSS (this script's, ~18 MiB). GNU time
    forks from its own small process, so its figure is the command's."""
    if not os.path.exists("/usr/bin/time"):
        return None
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return int(proc.stderr.strip().splitlines()[-1])


def _lend_pyroute2(python: str) -> None:
    """The fresh venv is installed without dependencies; bridge networking needs pyroute2:
    a .pth line lends it this interpreter's copy (appended to sys.path, after the venv's own
    site-packages, so pyhost itself still comes from the venv)."""
    import pyroute2

    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lent = Path(pyroute2.__file__).resolve().parent.parent
    (Path(site) / "bench-pyroute2.pth").write_text(f"{lent}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument(
        "--bridge",
        action="store_true",
        help="also both with their default bridge network (no target; pyroute2's import and "
        "the veth and NAT set-up dominate)",
    )
    args = parser.parse_args()
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="pyhost-run-bench-"))
    os.chmod(work, 0o755)
    env = dict(
        os.environ, PYHOST_STATE_ROOT=str(work / "state"), PYHOST_DATA_ROOT=str(work / "data")
    )
    try:
        rootfs = work / "rootfs"
        busybox_rootfs(rootfs)
        tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True)
        subprocess.run(
            ["docker", "import", "-", IMAGE], input=tar.stdout, capture_output=True, check=True
        )
        python, script = installed_venv(work)
        run = [script, "run", "--rm", "--network", "none"]
        cases = {
            "python -c pass": [python, "-c", "pass"],
            "pyhost run (rootfs dir)": [*run, str(rootfs), "true"],
            "docker run": ["docker", "run", "--rm", "--network", "none", IMAGE, "true"],
        }
        saved = work / "image.tar"
        subprocess.run(["docker", "save", "-o", str(saved), IMAGE], check=True)
        loaded = subprocess.run(
            [script, "load", "-i", str(saved)], env=env, capture_output=True, text=True
        )
        if loaded.returncode == 0:
            cases["pyhost run (image)"] = [*run, IMAGE, "true"]
        else:
            print(f"(no image store: {loaded.stderr.strip()[:100]})")
        if args.bridge:
            _lend_pyroute2(python)
            cases["pyhost run (bridge)"] = [script, "run", "--rm", str(rootfs), "true"]
            cases["docker run (bridge)"] = ["docker", "run", "--rm", IMAGE, "true"]
        for argv in cases.values():  # warm caches once
            timed(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                times[name].append(timed(argv, env))
                if argv[0] == "docker":  # both docker cases
                    # dockerd and containerd go on working after the CLI returns (clean-up,
                    # events); on a small machine that would slow whatever runs next
                    time.sleep(SETTLE_S)
        rss = {n: max(peak_rss(argv, env) or 0 for _ in range(3)) for n, argv in cases.items()}
        print(f"{args.runs} runs each, interleaved; python = {python} (pip install ., fresh venv)")
        print(f"{'command':28} {'median ms':>10} {'p10':>8} {'p90':>8} {'peak RSS':>10}")
        for name, values in times.items():
            q = statistics.quantiles(values, n=10)
            peak = f"{rss[name] / 1024:8.1f}MiB" if rss[name] else "       n/a"
            print(f"{name:28} {statistics.median(values):10.1f} {q[0]:8.1f} {q[-1]:8.1f} {peak}")
        bare = statistics.median(times["python -c pass"])
        docker = statistics.median(times["docker run"])
        for name in [n for n in times if n.startswith("pyhost run") and "bridge" not in n]:
            mine = statistics.median(times[name])
            print(
                f"{name}: {mine / docker:.3f}x docker run (target <= 0.15x), "
                f"{mine / bare:.2f}x python -c pass (target <= 3x)"
            )
    finally:
        subprocess.run(["docker", "rmi", "-f", IMAGE], capture_output=True, check=False)
        subprocess.run(
            [sys.executable, "-m", "pyhost", "prune"], env=env, capture_output=True, check=False
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
