"""Wall time of `pyhost provision` over 1, 5 and 10 lab hosts: first run and no-change re-run.

Starts its own lab (dockerd if needed, the lab image, the Docker CE repository, N fresh
hosts) for each count and removes it afterwards. Run as root with the venv's interpreter:
`.venv/bin/python bench/provision_bench.py [--counts 1 5 10]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchlib import provision_cmd
from labkit.aptrepo import build_docker_ce_repo
from labkit.engine import ensure_engine
from labkit.hosts import Lab
from labkit.image import ensure_base_image

MAX_HOSTS = 20


def timed_run(inv: Path, known_hosts: Path, forks: int) -> tuple[float, int]:
    start = time.perf_counter()
    res = subprocess.run(
        provision_cmd(inv, known_hosts, "--forks", str(forks)),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if res.returncode != 0:
        print(res.stdout[-2000:], res.stderr[-2000:], file=sys.stderr)
    return time.perf_counter() - start, res.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5, 10])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pyhost-bench-"))
    engine = ensure_engine(work / "dockerd")
    image = ensure_base_image(engine.client)
    repo = build_docker_ce_repo(work / "repo")
    print(f"{'hosts':>5} {'first run s':>12} {'re-run s':>9} {'re-run changed':>15}")
    try:
        for count in args.counts:
            count = min(count, MAX_HOSTS)
            lab = Lab(engine.client, image, work / f"lab{count}")
            try:
                lab.start()
                lab.serve_repo(repo.root)
                hosts = lab.add_hosts(count, timeout=60 + 10 * count)
                inv = work / f"inv{count}.yml"
                lab.write_inventory(inv, hosts, repo, pyhost_docker_version="20.10.24")
                first, rc1 = timed_run(inv, lab.known_hosts, forks=count)
                again, rc2 = timed_run(inv, lab.known_hosts, forks=count)
                check = subprocess.run(
                    provision_cmd(inv, lab.known_hosts, "--json"),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                import json

                changed = sum(len(h["changes"]) for h in json.loads(check.stdout)["hosts"])
                print(
                    f"{count:>5} {first:>12.1f} {again:>9.2f} {changed:>15}"
                    + ("" if rc1 == rc2 == 0 else f"  (exit {rc1}, {rc2})"),
                    flush=True,
                )
            finally:
                lab.teardown()
    finally:
        engine.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
