"""pyhost provision against pyinfra, same steps, same kind of fresh lab hosts, side by side.

For each count N (default 1, 5, 10) one lab starts with 2N fresh hosts: N for pyhost, N for
pyinfra. Each tool does a first run (N hosts in parallel) and a no-change re-run right after
it; the table shows the wall time of each (process start included) and the exit codes.
After the runs every host is checked out of band (through Docker, not SSH): docker-ce at the
wanted version, docker and containerd active and enabled.

pyinfra is only for this benchmark and not a dependency of pyhost: install it into a venv of
its own, then run as root with pyhost's venv:

    python3 -m venv /tmp/pyinfra-venv
    /tmp/pyinfra-venv/bin/pip install -r bench/requirements-pyinfra.txt
    .venv/bin/python bench/pyinfra_compare.py [--counts 1 5 10 20] [--pyinfra PATH]

pyinfra runs bench/pyinfra_deploy.py (its operations: files.put, apt.update, apt.packages,
systemd.service) as the lab user with sudo and the lab's password, verifying host keys
against the lab's known_hosts file (ssh_strict_host_key_checking=yes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchlib import provision_cmd
from labkit.aptrepo import build_docker_ce_repo
from labkit.engine import ensure_engine
from labkit.hosts import Lab, LabHost
from labkit.image import LAB_USER, ensure_base_image

HERE = Path(__file__).resolve().parent
MAX_HOSTS = 40  # per lab, both tools together
DEFAULT_PYINFRA = "/tmp/pyinfra-venv/bin/pyinfra"
DEPLOY = HERE / "pyinfra_deploy.py"
INSTALL_HINT = (
    "python3 -m venv /tmp/pyinfra-venv && "
    "/tmp/pyinfra-venv/bin/pip install -r bench/requirements-pyinfra.txt"
)


def timed(cmd: list[str], cwd: Path, label: str) -> tuple[float, int, str]:
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800, check=False)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        print(f"--- {label}: exit {res.returncode}", file=sys.stderr)
        print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
    return elapsed, res.returncode, res.stdout + res.stderr


def pyhost_cmd(inv: Path, known_hosts: Path, forks: int, *extra: str) -> list[str]:
    return provision_cmd(inv, known_hosts, "--forks", str(forks), *extra)


def pyinfra_cmd(pyinfra: str, inv: Path, parallel: int) -> list[str]:
    return [pyinfra, str(inv), str(DEPLOY), "-y", "--parallel", str(parallel)]


def write_pyinfra_inventory(
    path: Path, lab: Lab, hosts: list[LabHost], repo: Any, version: str
) -> Path:
    """A pyinfra inventory (Python): one group, every host with its SSH port and the data."""
    common = {
        "ssh_hostname": "127.0.0.1",
        "ssh_user": LAB_USER,
        "ssh_key": str(lab.key_file),
        "ssh_known_hosts_file": str(lab.known_hosts),
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
        "_sudo": True,
        "_sudo_password": lab.sudo_password,
        # pyinfra runs sudo with an askpass script it writes to the temp dir; the lab's /tmp
        # is Docker's tmpfs, mounted noexec (as CIS-hardened servers mount it).
        "_temp_dir": "/var/tmp",
        "docker_key_file": str(repo.key_file),
        "docker_key_fingerprint": repo.fingerprint,
        "docker_repo_url": f"{lab.repo_url}{repo.url_path}",
        "docker_channel": "stable",
        "docker_version": version,
    }
    entries = [(h.name, {**common, "ssh_port": h.port}) for h in hosts]
    path.write_text(f"lab_hosts = {entries!r}\n")
    path.chmod(0o600)  # holds the sudo password, as pyhost's inventory does
    return path


def full_version(repo: Any, wanted: str) -> str:
    """The repository's full apt version of docker-ce for ``wanted`` (exact upstream match)."""
    for version in repo.versions["docker-ce"]:
        upstream = version.split(":", 1)[-1].split("-", 1)[0]
        if upstream == wanted:
            return str(version)
    raise SystemExit(f"the lab repository has no docker-ce {wanted}: {repo.versions['docker-ce']}")


def verified(hosts: list[LabHost], version: str) -> int:
    """How many hosts have docker-ce ``version`` and docker/containerd active and enabled."""
    good = 0
    for host in hosts:
        code, out = host.exec(
            "dpkg-query -W -f '${Version}\\n' docker-ce docker-ce-cli"
            " && systemctl is-active docker containerd && systemctl is-enabled docker containerd"
        )
        lines = out.split()
        if code == 0 and lines[:2] == [version, version]:
            good += 1
    return good


def pyhost_changes(inv: Path, known_hosts: Path, forks: int, work: Path) -> str:
    res = subprocess.run(
        pyhost_cmd(inv, known_hosts, forks, "--json"),
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return str(sum(len(h["changes"]) for h in json.loads(res.stdout)["hosts"]))
    except (ValueError, KeyError, TypeError):
        return "?"


def pyinfra_changes(output: str) -> str:
    """Operations that changed something in pyinfra's results ('Success', Grand total row)."""
    for line in output.splitlines():
        cells = line.split()
        if cells[:2] == ["Grand", "total"] and len(cells) == 6:
            return "0" if cells[3] == "-" else cells[3]
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument(
        "--pyinfra",
        default=os.environ.get("PYINFRA", DEFAULT_PYINFRA),
        help=f"pyinfra executable (default $PYINFRA or {DEFAULT_PYINFRA})",
    )
    parser.add_argument("--version", default="20.10.24", help="docker-ce version to install")
    args = parser.parse_args()
    pyinfra = shutil.which(args.pyinfra)
    if pyinfra is None:
        raise SystemExit(f"no pyinfra at {args.pyinfra}; install it: {INSTALL_HINT}")
    pyinfra_version = subprocess.run(
        [pyinfra, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()

    work = Path(tempfile.mkdtemp(prefix="pyhost-vs-pyinfra-"))
    engine = ensure_engine(work / "dockerd")
    rows: list[str] = []
    try:
        image = ensure_base_image(engine.client)
        repo = build_docker_ce_repo(work / "repo")
        version = full_version(repo, args.version)
        print(f"docker-ce {version}; {pyinfra_version}; {os.cpu_count()} CPUs", flush=True)
        head = (
            f"{'hosts':>5} | {'pyhost first s':>14} | {'pyhost re-run s':>15} | "
            f"{'pyinfra first s':>15} | {'pyinfra re-run s':>16} | "
            f"{'exit pyhost':>11} | {'exit pyinfra':>12} | {'re-run changed':>14} | "
            f"{'verified':>8}"
        )
        print(head, flush=True)
        inotify = Path("/proc/sys/fs/inotify/max_user_instances")
        saved_inotify = inotify.read_text().strip()
        if 2 * max(args.counts) > 16 and int(saved_inotify) < 1024:
            # each lab host's systemd takes several inotify instances; 128 (the default)
            # runs out at about 20 hosts. Raised for the bench only, restored at the end.
            print(f"fs.inotify.max_user_instances {saved_inotify} -> 1024 for this run")
            inotify.write_text("1024")
        for count in args.counts:
            count = max(1, min(count, MAX_HOSTS // 2))
            lab = Lab(engine.client, image, work / f"lab{count}")
            try:
                lab.start()
                lab.serve_repo(repo.root)
                hosts = lab.add_hosts(2 * count, timeout=60 + 20 * count)
                mine, theirs = hosts[:count], hosts[count:]
                inv = lab.write_inventory(
                    work / f"inv{count}.yml", mine, repo, pyhost_docker_version=args.version
                )
                pinv = write_pyinfra_inventory(work / f"inv{count}.py", lab, theirs, repo, version)
                kh = lab.known_hosts
                p1, prc1, _ = timed(pyhost_cmd(inv, kh, count), work, f"pyhost first N={count}")
                p2, prc2, _ = timed(pyhost_cmd(inv, kh, count), work, f"pyhost re-run N={count}")
                pch = pyhost_changes(inv, kh, count, work)
                i1, irc1, _ = timed(pyinfra_cmd(pyinfra, pinv, count), work, "pyinfra first")
                i2, irc2, out2 = timed(pyinfra_cmd(pyinfra, pinv, count), work, "pyinfra re-run")
                ich = pyinfra_changes(out2)
                ok = f"{verified(mine, version)}/{count}, {verified(theirs, version)}/{count}"
                row = (
                    f"{count:>5} | {p1:>14.1f} | {p2:>15.2f} | {i1:>15.1f} | {i2:>16.2f} | "
                    f"{f'{prc1}, {prc2}':>11} | {f'{irc1}, {irc2}':>12} | "
                    f"{f'{pch}, {ich}':>14} | {ok:>8}"
                )
                rows.append(row)
                print(row, flush=True)
            finally:
                left = lab.teardown()
                if left:
                    print(f"lab {count}: not removed: {left}", file=sys.stderr)
    finally:
        if "saved_inotify" in locals():
            Path("/proc/sys/fs/inotify/max_user_instances").write_text(saved_inotify)
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("re-run changed: changes pyhost's --json reports on a third run, changed operations")
    print("in pyinfra's re-run (its 'Success' total); verified: hosts with docker-ce at the")
    print("version and docker and containerd active and enabled (pyhost's, pyinfra's hosts).")


if __name__ == "__main__":
    main()
