"""Wall time of `pyhost ps -i INVENTORY --json` over 1, 3 and 6 lab hosts, 2 containers each.

Starts its own lab (dockerd if needed, the lab image, the Docker CE repository), boots the
largest count of fresh hosts once, installs Docker CE on all of them with `pyhost provision`,
starts two containers on each (one with `--memory 32m`, one with `--network host`, from an
image made on the host out of its own binaries), then times `pyhost ps` over the first N
hosts (`--forks N`): the median, min and max of 5 runs of a fresh `python -m pyhost` each.
Everything is removed at the end. Run as root with the venv's interpreter:
`.venv/bin/python bench/remote_bench.py [--counts 1 3 6] [--runs 5]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from labkit.aptrepo import build_docker_ce_repo
from labkit.engine import ensure_engine
from labkit.hosts import MAKE_SLEEP_IMAGE, Lab
from labkit.image import ensure_base_image

MAX_HOSTS = 12
SETUP = (
    f"{MAKE_SLEEP_IMAGE} >/dev/null && "
    "docker run -d --name mem32 --memory 32m lab/sleep /usr/bin/sleep 3600 >/dev/null && "
    "docker run -d --name hostnet --network host lab/sleep /usr/bin/sleep 3600 >/dev/null"
)


def inventory(path: Path, lab: Lab, repo: Any, hosts: list[Any]) -> Path:
    return lab.write_inventory(path, hosts, repo)


def pyhost(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    counts = sorted({min(max(c, 1), MAX_HOSTS) for c in args.counts})
    work = Path(tempfile.mkdtemp(prefix="pyhost-remote-bench-"))
    engine = ensure_engine(work / "dockerd")
    lab: Lab | None = None
    try:
        image = ensure_base_image(engine.client)
        repo = build_docker_ce_repo(work / "repo")
        lab = Lab(engine.client, image, work / "lab")
        lab.start()
        lab.serve_repo(repo.root)
        start = time.perf_counter()
        hosts = lab.add_hosts(counts[-1], timeout=60 + 10 * counts[-1])
        everything = inventory(work / "all.yml", lab, repo, hosts)
        res = pyhost(
            "provision", str(everything), "--known-hosts", str(lab.known_hosts), "--forks", "20"
        )
        if res.returncode != 0:
            sys.exit(f"provision failed (exit {res.returncode}):\n{res.stdout[-3000:]}")
        for host in hosts:
            code, out = host.exec(SETUP)
            if code != 0:
                sys.exit(f"{host.name}: could not start the containers: {out}")
        print(f"lab ready: {len(hosts)} hosts in {time.perf_counter() - start:.0f} s", flush=True)
        print(f"{'hosts':>5} {'median s':>9} {'min s':>7} {'max s':>7} {'containers':>11}")
        for count in counts:
            inv = inventory(work / f"inv{count}.yml", lab, repo, hosts[:count])
            argv = ("ps", "-i", str(inv), "--known-hosts", str(lab.known_hosts), "--json")
            times, listed = [], 0
            for _ in range(args.runs):
                began = time.perf_counter()
                res = pyhost(*argv, "--forks", str(count), timeout=300)
                times.append(time.perf_counter() - began)
                if res.returncode != 0:
                    sys.exit(f"pyhost ps failed (exit {res.returncode}): {res.stderr[-2000:]}")
                listed = sum(
                    len(h["result"]["containers"]) for h in json.loads(res.stdout)["hosts"]
                )
            print(
                f"{count:>5} {statistics.median(times):>9.2f} {min(times):>7.2f} "
                f"{max(times):>7.2f} {listed:>11}",
                flush=True,
            )
    finally:
        if lab is not None:
            lab.teardown()
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
