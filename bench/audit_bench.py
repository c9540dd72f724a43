"""Wall time of `pyhost audit INVENTORY --format json` over 1, 5, 10 and 20 lab hosts,
three running containers each.

Starts its own lab (dockerd if needed, the lab image, the Docker CE repository), boots the
largest count of fresh hosts once, installs Docker CE on all of them with `pyhost provision`,
starts three containers on each (a memory limit, the host's network, a docker.sock mount),
then times `pyhost audit` over the first N hosts (`--forks N`): the median, min and max of
`--runs` runs of a fresh `python -m pyhost` each, with the number of results. Everything is
removed at the end. Run as root with the venv's interpreter:
`.venv/bin/python bench/audit_bench.py [--counts 1 5 10 20] [--runs 3]`.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchlib import compile_bytecode
from labkit.aptrepo import build_docker_ce_repo
from labkit.engine import ensure_engine
from labkit.hosts import MAKE_SLEEP_IMAGE, Lab
from labkit.image import ensure_base_image

MAX_HOSTS = 20
SETUP = (
    f"{MAKE_SLEEP_IMAGE} >/dev/null && "
    "docker run -d --name mem32 --memory 32m lab/sleep /usr/bin/sleep 3600 >/dev/null && "
    "docker run -d --name hostnet --network host lab/sleep /usr/bin/sleep 3600 >/dev/null && "
    "docker run -d --name sock -v /var/run/docker.sock:/var/run/docker.sock "
    "lab/sleep /usr/bin/sleep 3600 >/dev/null"
)


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
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    counts = sorted({min(max(c, 1), MAX_HOSTS) for c in args.counts})
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="pyhost-audit-bench-"))
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
        everything = lab.write_inventory(work / "all.yml", hosts, repo)
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
        print(
            f"{'hosts':>5} {'median s':>9} {'min s':>7} {'max s':>7} {'results':>8} "
            f"{'gather s':>9} {'checks s':>9}"
        )
        for count in counts:
            inv = lab.write_inventory(work / f"inv{count}.yml", hosts[:count], repo)
            argv = ("audit", str(inv), "--known-hosts", str(lab.known_hosts), "--format", "json")
            times, results, split = [], 0, []
            for _ in range(args.runs):
                began = time.perf_counter()
                res = pyhost(*argv, "--forks", str(count), timeout=300)
                times.append(time.perf_counter() - began)
                if res.returncode not in (0, 1):
                    sys.exit(f"pyhost audit failed (exit {res.returncode}): {res.stderr[-2000:]}")
                doc = json.loads(res.stdout)
                if any(h["status"] != "ok" for h in doc["hosts"]):
                    sys.exit(f"a host was not audited: {doc['hosts']}")
                results = len(doc["results"])
                split.append((doc["timings"]["gather_s"], doc["timings"]["checks_s"]))
            print(
                f"{count:>5} {statistics.median(times):>9.2f} {min(times):>7.2f} "
                f"{max(times):>7.2f} {results:>8} "
                f"{statistics.median(g for g, _ in split):>9.2f} "
                f"{statistics.median(c for _, c in split):>9.2f}",
                flush=True,
            )
    finally:
        if lab is not None:
            lab.teardown()
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
