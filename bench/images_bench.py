"""Image store figures: `pyhost load` of a docker save archive (first time: every layer
unpacked and verified; second time: nothing to unpack), and `pyhost images`.

Run as root with the venv's interpreter: `.venv/bin/python bench/images_bench.py`.
Without --tar it builds a busybox image FROM scratch (Debian's busybox-static) on the running
dockerd, saves it and removes it again; `--image NAME` saves an existing image instead.
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

from benchlib import compile_bytecode

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /usr/bin /sbin /usr/sbin && \
/bin/busybox --install -s /bin && echo a > /etc-a"]
RUN ["/bin/sh", "-c", "rm /etc-a && mkdir -p /etc/opq && echo b > /etc/opq/b"]
"""


def docker(*argv: str) -> None:
    subprocess.run(["docker", *argv], check=True, capture_output=True, timeout=600)


def make_tar(work: Path, image: str | None) -> Path:
    tar = work / "image.tar"
    if image is not None:
        docker("save", "-o", str(tar), image)
        return tar
    tag = f"pyhost-bench-busybox:{os.getpid()}"
    ctx = work / "ctx"
    ctx.mkdir()
    shutil.copy2("/bin/busybox", ctx / "busybox")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    docker("build", "-q", "-t", tag, str(ctx))
    try:
        docker("save", "-o", str(tar), tag)
    finally:
        docker("rmi", tag)
    return tar


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, timeout=1800)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tar", type=Path, help="a docker save archive to load")
    parser.add_argument("--image", help="docker save this image instead of building busybox")
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="pyhost-images-bench-") as tmp:
        work = Path(tmp)
        tar = args.tar or make_tar(work, args.image)
        size_mb = tar.stat().st_size / 1e6
        pyhost = [sys.executable, "-m", "pyhost"]
        first, second, listing = [], [], []
        for i in range(args.runs):
            root = work / f"store-{i}"
            env = {**os.environ, "PYHOST_DATA_ROOT": str(root)}
            first.append(timed([*pyhost, "load", "-i", str(tar)], env))
            second.append(timed([*pyhost, "load", "-i", str(tar)], env))
            listing.append(timed([*pyhost, "images"], env))
            shutil.rmtree(root)
        print(f"archive: {tar.name} ({size_mb:.1f} MB), n={args.runs}")
        print(f"{'command':34} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
        for name, times in (
            ("pyhost load (first: unpack)", first),
            ("pyhost load (second: all there)", second),
            ("pyhost images (one image)", listing),
        ):
            print(f"{name:34} {statistics.median(times):10.1f} {min(times):8.1f} {max(times):8.1f}")


if __name__ == "__main__":
    main()
