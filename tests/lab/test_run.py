"""`pyhost run` with real namespaces, mounts and cgroups (cgroup v1 here; v2 is exercised
under user-mode Linux in test_run_cgroup_v2.py). Each test checks from outside what a user
would check, and that nothing stays behind: mounts, cgroups, links, rules, records."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit.runtime import busybox_rootfs, leftovers, pyhost, runtime_env

pytestmark = pytest.mark.lab

DOCKER_DEFAULT_CAPS = "00000000a80425fb"
PYHOST = (sys.executable, "-m", "pyhost")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("pyhost run needs root (run the README's test command as root)")
    try:
        return busybox_rootfs(tmp_path_factory.mktemp("bb") / "rootfs")
    except RuntimeError as e:
        pytest.skip(str(e))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Private state and data roots; afterwards nothing of the runtime may remain."""
    before = leftovers(tmp_path)
    environment = runtime_env(tmp_path)
    yield environment
    pyhost(environment, "prune")  # what a test left running on purpose goes here
    after = leftovers(tmp_path)
    after["records"] = []  # prune removed them; leaks are anything else
    assert after == {**before, "records": []}, f"left behind: {after}"


def record(env: dict[str, str], name: str) -> dict[str, Any]:
    for entry in Path(env["PYHOST_STATE_ROOT"], "containers").iterdir():
        data = json.loads((entry / "state.json").read_text())
        if data["name"] == name:
            return data
    raise AssertionError(f"no record for {name}")


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def status_field(pid: int, key: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise KeyError(key)


def test_exit_codes_propagate(env: dict[str, str], rootfs: Path) -> None:
    run = ["run", "--rm", "--network", "none", str(rootfs)]
    assert pyhost(env, *run, "true").returncode == 0
    assert pyhost(env, *run, "sh", "-c", "exit 3").returncode == 3
    # PID 1 ignores signals it has no handler for (as in Docker): a SIGKILL from outside
    proc = subprocess.Popen(
        [
            *PYHOST,
            "run",
            "--rm",
            "--name",
            "victim",
            "--network",
            "none",
            str(rootfs),
            "sleep",
            "30",
        ],
        env=env,
    )
    wait_for(lambda: _running_record(env, "victim"))
    assert pyhost(env, "kill", "-s", "KILL", "victim").returncode == 0
    assert proc.wait(timeout=10) == 128 + 9
    missing = pyhost(env, *run, "no-such-command")
    assert missing.returncode == 127
    assert 'exec: "no-such-command": executable file not found in $PATH' in missing.stderr
    denied = pyhost(env, *run, "/etc/noexec.sh")
    assert denied.returncode == 126
    assert "permission denied" in denied.stderr


def test_output_and_environment(env: dict[str, str], rootfs: Path) -> None:
    result = pyhost(
        env,
        *("run", "--rm", "--network", "none", "-e", "GREETING=hi", "-w", "/work/dir"),
        *("--hostname", "box", str(rootfs), "sh", "-c", 'echo "$GREETING $(pwd) $(hostname)"'),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi /work/dir box\n"


def test_isolation_seen_from_outside(env: dict[str, str], rootfs: Path) -> None:
    started = pyhost(env, "run", "-d", "--name", "iso", str(rootfs), "sleep", "60")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    rec = record(env, "iso")
    pid = rec["pid"]
    assert rec["id"] == cid
    for ns in ("mnt", "uts", "ipc", "pid", "net"):
        assert os.stat(f"/proc/{pid}/ns/{ns}").st_ino != os.stat(f"/proc/self/ns/{ns}").st_ino, ns
    assert os.stat(f"/proc/{pid}/ns/user").st_ino == os.stat("/proc/self/ns/user").st_ino
    for key in ("CapEff", "CapPrm", "CapBnd"):
        assert status_field(pid, key) == DOCKER_DEFAULT_CAPS, key
    assert status_field(pid, "CapInh") == "0000000000000000"
    assert status_field(pid, "Seccomp") == "2"
    assert status_field(pid, "NoNewPrivs") == "0"
    assert status_field(pid, "NSpid").split()[-1] == "1"  # PID 1 in its own namespace
    cgroup = Path(f"/proc/{pid}/cgroup").read_text()
    assert f"/pyhost/{cid}" in cgroup
    # the host's tree is out of reach: its root is the container's
    assert os.readlink(f"/proc/{pid}/root") == "/"
    assert sorted(os.listdir(f"/proc/{pid}/root/")) == sorted(
        ["bin", "dev", "etc", "proc", "sys", "tmp"]
    )
    hostname = Path(f"/proc/{pid}/root/etc/hostname").read_text().strip()
    assert hostname == cid[:12]
    # `pyhost ps` shows it, measured from the kernel like Docker's containers
    ps = pyhost(env, "ps", "--json")
    rows = [r for r in json.loads(ps.stdout)["containers"] if r.get("runtime") == "pyhost"]
    assert [r["name"] for r in rows] == ["iso"]
    assert rows[0]["pid"] == pid
    assert rows[0]["findings"] == []
    stopped = pyhost(env, "stop", "-t", "1", "iso")
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(f"/proc/{pid}").exists()
    rec = record(env, "iso")
    assert rec["status"] == "exited"
    assert rec["exit_code"] == 137  # sleep as PID 1 ignores SIGTERM: killed after -t
    assert pyhost(env, "rm", "iso").returncode == 0


def test_masked_and_read_only_paths(env: dict[str, str], rootfs: Path) -> None:
    script = (
        "cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; "
        "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo writable || echo ro; "
        "mount -t tmpfs none /tmp 2>/dev/null && echo mounted || echo denied; "
        "ls /dev | tr '\\n' ' '"
    )
    result = pyhost(env, "run", "--rm", "--network", "none", str(rootfs), "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["0", "0", "ro", "denied"]
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"):
        assert node in lines[4].split(), node


def test_masks_follow_an_images_links_to_proc_and_sys(
    env: dict[str, str], tmp_path: Path, rootfs: Path
) -> None:
    """/proc and /sys as links in the image (to /kernel/proc, /kernel/sys): the kernel
    filesystems land where the links point inside the root, and the masks with them."""
    linked = busybox_rootfs(tmp_path / "linked")
    for name in ("proc", "sys"):
        if (linked / name).is_dir():
            (linked / name).rmdir()
        (linked / "kernel" / name).mkdir(parents=True)
        (linked / name).symlink_to(f"/kernel/{name}")
    script = "cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; cat /kernel/proc/sys/kernel/ostype"
    result = pyhost(env, "run", "--rm", "--network", "none", str(linked), "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0", "Linux"]


def test_user_and_capabilities(env: dict[str, str], rootfs: Path) -> None:
    script = "id; grep -E '^Cap(Eff|Bnd)' /proc/self/status"
    base = ("run", "--rm", "--network", "none")
    as_app = pyhost(env, *base, "-u", "app", str(rootfs), "sh", "-c", script)
    assert as_app.returncode == 0, as_app.stderr
    assert as_app.stdout.splitlines()[0].startswith("uid=1000(app) gid=1000(app)")
    assert "2000(extra)" in as_app.stdout.splitlines()[0]
    assert "CapEff:\t0000000000000000" in as_app.stdout
    assert f"CapBnd:\t{DOCKER_DEFAULT_CAPS}" in as_app.stdout
    dropped = pyhost(
        env,
        *base,
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_ADMIN",
        str(rootfs),
        "grep",
        "CapEff",
        "/proc/self/status",
    )
    assert dropped.stdout.split()[-1] == f"{1 << 12:016x}"
    nnp = pyhost(
        env,
        *base,
        "--security-opt",
        "no-new-privileges",
        str(rootfs),
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    )
    assert nnp.stdout.split()[-1] == "1"
    unconfined = pyhost(
        env,
        *base,
        "--security-opt",
        "seccomp=unconfined",
        str(rootfs),
        "grep",
        "^Seccomp:",
        "/proc/self/status",
    )
    assert unconfined.stdout.split()[-1] == "0"
    unknown = pyhost(env, *base, "-u", "nosuchuser", str(rootfs), "true")
    assert unknown.returncode == 125
    assert "unable to find user nosuchuser" in unknown.stderr


def test_volumes_tmpfs_and_read_only_root(
    env: dict[str, str], rootfs: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from host\n")
    result = pyhost(
        env,
        *("run", "--rm", "--network", "none", "--read-only", "-v", f"{shared}:/data"),
        *("-v", f"{shared}:/ro:ro", "--tmpfs", "/scratch", str(rootfs), "sh", "-c"),
        "cat /data/in.txt; echo out > /data/out.txt; echo no > /ro/x 2>/dev/null || echo ro-vol;"
        " touch /newfile 2>/dev/null || echo ro-root; echo t > /scratch/t && echo tmpfs-ok",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["from host", "ro-vol", "ro-root", "tmpfs-ok"]
    assert (shared / "out.txt").read_text() == "out\n"
    assert not (shared / "x").exists()


def test_symlinked_volume_target_stays_inside(
    env: dict[str, str], rootfs: Path, tmp_path: Path
) -> None:
    """An image's /link -> /etc must not lead a volume onto the host's /etc."""
    evil = tmp_path / "evil"
    subprocess.run(["cp", "-a", str(rootfs), str(evil)], check=True)
    os.symlink("/etc", evil / "link")
    src = tmp_path / "src"
    src.mkdir()
    result = pyhost(
        env,
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{src}:/link/pyhost-vol",
        str(evil),
        "ls",
        "-d",
        "/etc/pyhost-vol",
    )
    assert result.returncode == 0, result.stderr
    assert not Path("/etc/pyhost-vol").exists()


def test_memory_limit_ends_in_oom_kill(env: dict[str, str], rootfs: Path) -> None:
    result = pyhost(
        env,
        *("run", "--rm", "--network", "none", "-m", "16m", "--memory-swap", "16m", str(rootfs)),
        *("sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"),
    )
    assert result.returncode == 137
    assert "out of memory" in result.stderr
    assert "survived" not in result.stdout


def test_pids_limit_stops_forks(env: dict[str, str], rootfs: Path) -> None:
    # sh is one process; each `sleep &` that the limit allows prints its number
    result = pyhost(
        env,
        *("run", "--rm", "--network", "none", "--pids-limit", "8", str(rootfs), "sh", "-c"),
        "cat /sys/fs/cgroup/pids/pids.max; for i in $(seq 20); do sleep 30 & echo $i; done",
    )
    lines = result.stdout.split()
    assert lines[0] == "8"
    assert lines[1:] == [str(i) for i in range(1, 8)]  # 1 shell + 7 sleeps = 8
    assert "can't fork" in result.stderr
    assert result.returncode == 2  # busybox sh gives up when fork fails


def test_cpu_quota_throttles(env: dict[str, str], rootfs: Path) -> None:
    started = pyhost(
        env,
        "run",
        "-d",
        "--name",
        "busy",
        "--network",
        "none",
        "--cpus",
        "0.2",
        str(rootfs),
        "sh",
        "-c",
        "while :; do :; done",
    )
    assert started.returncode == 0, started.stderr
    rec = record(env, "busy")
    cpu_dir = Path(rec["cgroup"]["paths"]["cpu"])
    assert (cpu_dir / "cpu.cfs_quota_us").read_text().strip() == "20000"
    usage0 = int((Path(rec["cgroup"]["paths"]["cpuacct"]) / "cpuacct.usage").read_text())
    time.sleep(1.5)
    usage1 = int((Path(rec["cgroup"]["paths"]["cpuacct"]) / "cpuacct.usage").read_text())
    stat = dict(line.split() for line in (cpu_dir / "cpu.stat").read_text().splitlines())
    assert int(stat["nr_throttled"]) > 0
    assert (usage1 - usage0) / 1.5e9 < 0.35  # ~0.2 CPU, far below the 1.0 it would take
    assert pyhost(env, "rm", "-f", "busy").returncode == 0


def test_rm_flag_and_rm_command_leave_nothing(env: dict[str, str], rootfs: Path) -> None:
    assert (
        pyhost(env, "run", "--name", "kept", "--network", "none", str(rootfs), "true").returncode
        == 0
    )
    assert record(env, "kept")["exit_code"] == 0
    again = pyhost(env, "run", "--name", "kept", "--network", "none", str(rootfs), "true")
    assert again.returncode == 2
    assert 'the container name "kept" is already in use' in again.stderr
    assert pyhost(env, "rm", "kept").returncode == 0
    assert leftovers(Path(env["PYHOST_STATE_ROOT"]).parent)["records"] == []
    assert not list(Path(env["PYHOST_DATA_ROOT"], "containers").iterdir())


def test_detached_logs_and_stop_forwarding(env: dict[str, str], rootfs: Path) -> None:
    started = pyhost(
        env,
        "run",
        "-d",
        "--name",
        "svc",
        "--network",
        "none",
        str(rootfs),
        "sh",
        "-c",
        'echo ready; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done',
    )
    assert started.returncode == 0, started.stderr
    wait_for(lambda: "ready" in pyhost(env, "logs", "svc").stdout)
    t0 = time.monotonic()
    assert pyhost(env, "stop", "-t", "10", "svc").returncode == 0
    assert time.monotonic() - t0 < 5  # the trap ended it: no wait for the SIGKILL
    assert pyhost(env, "logs", "svc").stdout == "ready\nbye\n"
    assert record(env, "svc")["exit_code"] == 0
    assert pyhost(env, "rm", "svc").returncode == 0


def test_init_reaps_and_forwards(env: dict[str, str], rootfs: Path) -> None:
    result = pyhost(
        env,
        "run",
        "--rm",
        "--init",
        "--network",
        "none",
        str(rootfs),
        "sh",
        "-c",
        "grep -c . /proc/1/cmdline >/dev/null; cat /proc/1/status | grep PPid; echo $$",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] != "1"  # the command is not PID 1: the init is
    started = pyhost(
        env,
        "run",
        "-d",
        "--init",
        "--name",
        "sleeper",
        "--network",
        "none",
        str(rootfs),
        "sleep",
        "60",
    )
    assert started.returncode == 0, started.stderr
    t0 = time.monotonic()
    assert pyhost(env, "stop", "-t", "10", "sleeper").returncode == 0
    assert time.monotonic() - t0 < 5  # SIGTERM reached sleep through the init
    assert record(env, "sleeper")["exit_code"] == 128 + 15


def test_killed_supervisor_is_collected(env: dict[str, str], rootfs: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyhost",
            "run",
            "--name",
            "orphan",
            "--network",
            "none",
            str(rootfs),
            "sleep",
            "60",
        ],
        env=env,
    )
    rec = wait_for(lambda: _running_record(env, "orphan"))
    pid = rec["pid"]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for(lambda: not Path(f"/proc/{pid}").exists())  # the container died with it
    ps = pyhost(env, "ps", "-a", "--json")  # ps reads; prune collects
    assert ps.returncode == 0
    pruned = pyhost(env, "prune")
    assert rec["id"] in pruned.stdout


def pyhost_injected(env: dict[str, str], prelude: str, *args: str) -> Any:
    """`pyhost ARGS` in a python whose ``prelude`` ran first: a fault injected where the real
    kernel refuses nothing, or a module hidden as on a host without it."""
    program = (
        f"import sys\n{prelude}\nfrom pyhost.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cgroup_failure_after_the_fork_leaves_nothing(env: dict[str, str], rootfs: Path) -> None:
    """On cgroup v1 the cgroup is made while the container's first process already unshares
    and mounts; when writing a limit fails there (injected: nothing the flags let through is
    refused by this kernel), that process is killed and everything is undone."""
    prelude = (
        "from pyhost.runtime import cgroups\n"
        "real = cgroups._write\n"
        "def failing(path, value):\n"
        "    if path.endswith(('memory.limit_in_bytes', 'memory.max')):\n"
        "        raise OSError(28, 'No space left on device (injected)')\n"
        "    real(path, value)\n"
        "cgroups._write = failing"
    )
    run = ["run", "--rm", "-m", "64m", "--name", "nocg", "--network", "none", str(rootfs)]
    result = pyhost_injected(env, prelude, *run, "true")
    assert result.returncode == 125, result.stderr
    assert "cannot set up the container's cgroup" in result.stderr
    assert "No space left on device (injected)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    # the half-started container is gone with its namespaces (the env fixture checks the rest)
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if b"nocg" in _read(p)]


def test_bridge_without_pyroute2_is_one_line(env: dict[str, str], rootfs: Path) -> None:
    """pyroute2 is a dependency, but pyhost may run from a checkout on a bare python3: bridge
    networking then says what it lacks, leaving nothing (the env fixture checks), and
    --network none still works."""
    hidden = "sys.modules['pyroute2'] = None  # as where it is not installed"

    def run(network: str) -> subprocess.CompletedProcess[str]:
        return pyhost_injected(
            env, hidden, "run", "--rm", "--network", network, str(rootfs), "true"
        )

    bridge = run("bridge")
    assert bridge.returncode == 125, bridge.stderr
    lines = bridge.stderr.strip().splitlines()
    assert len(lines) == 1, bridge.stderr
    assert "--network bridge needs the pyroute2 package" in lines[0]
    assert "pip install pyroute2" in lines[0]
    assert run("none").returncode == 0


def test_a_child_failing_at_once_is_reported(env: dict[str, str], rootfs: Path) -> None:
    """The container's first process fails before it reads anything from the supervisor
    (injected): the supervisor's writes to it meet a closed pipe, and the child's own report
    is what the user gets (once this exited 0 without a word)."""
    prelude = (
        "from pyhost.runtime import launch\n"
        "from pyhost.runtime.errors import RunError\n"
        "def failing(*args, **kwargs):\n"
        "    raise RunError('set-up failed at once (injected)')\n"
        "launch._setup = failing"
    )
    for _ in range(3):  # the child is often gone before the first write, not always
        run = ["run", "--rm", "--network", "none", str(rootfs), "true"]
        result = pyhost_injected(env, prelude, *run)
        assert result.returncode == 125, result.stderr
        assert result.stderr.strip() == "pyhost: error: set-up failed at once (injected)"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_killed_bridge_supervisor_leaves_what_prune_removes(
    env: dict[str, str], rootfs: Path
) -> None:
    """kill -9 of a bridge container's pyhost: its DNAT rules, the bridge and the bridge's
    rules stay until prune, which takes them all (the env fixture checks the rest)."""
    port = _free_port()
    publish = ["-p", f"127.0.0.1:{port}:80"]
    proc = subprocess.Popen(
        [*PYHOST, "run", "--name", "netorphan", *publish, str(rootfs), "sleep", "60"], env=env
    )
    rec = wait_for(lambda: _running_record(env, "netorphan"))
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    tag = f"pyhost:{rec['id'][:12]}"
    assert tag in saved and "pyhost:bridge" in saved
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for(lambda: not Path(f"/proc/{rec['pid']}").exists())
    # the veth pair went with the container's namespace; the rules and bridge are still there
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert tag in saved and Path("/sys/class/net/pyhost0").exists()
    pruned = pyhost(env, "prune")
    assert pruned.returncode == 0, pruned.stderr
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert "pyhost:" not in saved
    assert not Path("/sys/class/net/pyhost0").exists()


def test_rule_removal_survives_a_rule_already_gone(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rules go in one all-or-nothing iptables-restore; when one of them went meanwhile
    (another pyhost's prune), the rest still goes, one by one."""
    from pyhost.runtime import network

    tag = "pyhost:feedfacecafe"
    rule = ["FORWARD", "-s", "10.123.0.1/32", "-m", "comment", "--comment", tag, "-j", "ACCEPT"]
    subprocess.run(["iptables", "-w", "5", "-t", "filter", "-A", *rule], check=True)
    try:
        listed = network.saved_rules()
        assert any(tag in line for line in listed["filter"])
        gone = f"-A FORWARD -s 10.123.0.2/32 -m comment --comment {tag} -j ACCEPT"
        listed["filter"].append(gone)  # listed, but no longer there
        monkeypatch.setattr(network, "saved_rules", lambda: listed)
        assert network.remove_rules(tag) == 2
        saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True)
        assert tag not in saved.stdout
    finally:
        subprocess.run(
            ["iptables", "-w", "5", "-t", "filter", "-D", *rule], capture_output=True, check=False
        )


def test_prune_removes_cgroups_no_record_names(env: dict[str, str]) -> None:
    """A cgroup under pyhost's parent that no record names (an older pyhost's, one made by
    hand) is nobody's: prune removes it."""
    import secrets

    orphan = secrets.token_hex(32)
    made = []
    for root in Path("/sys/fs/cgroup").iterdir():
        parent = root / "pyhost"
        if parent.is_dir() and not root.is_symlink():
            (parent / orphan).mkdir()
            made.append(parent / orphan)
    assert made, "no pyhost cgroup parent: run a container first"
    pruned = pyhost(env, "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert not [p for p in made if p.exists()]


def _running_record(env: dict[str, str], name: str) -> dict[str, Any] | None:
    try:
        rec = record(env, name)
    except (AssertionError, FileNotFoundError):
        return None
    return rec if rec["status"] == "running" else None


def test_bad_input_is_one_line_and_leaves_nothing(env: dict[str, str], rootfs: Path) -> None:
    cases = [
        (["--memory", "12q"], "invalid --memory"),
        (["--cpus", "999"], "--cpus 999 is out of range"),
        (["--cap-add", "NET_ADMN"], "did you mean NET_ADMIN?"),
        (["-v", "relative:/x"], "is not an absolute path"),
        (["-p", "70000:80"], "invalid port"),
        (["--network", "none", "-p", "8080:80"], "-p needs --network bridge"),
        (["--cpuset-cpus", "4096"], "CPU 4096 is not available here"),
        (["--cpuset-cpus", "1-0"], "1-0 is backwards"),
    ]
    for flags, message in cases:
        result = pyhost(env, "run", "--rm", *flags, str(rootfs), "true")
        assert result.returncode == 2, (flags, result.stderr)
        assert message in result.stderr, (flags, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    missing = pyhost(env, "run", "--rm", "/no/such/rootfs", "true")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bridge_network_and_published_port(env: dict[str, str], rootfs: Path) -> None:
    port = _free_port()
    server = pyhost(
        env,
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        f"127.0.0.1:{port}:8080",
        str(rootfs),
        "sh",
        "-c",
        "while :; do echo pong | nc -l -p 8080; done",
    )
    assert server.returncode == 0, server.stderr
    rec = record(env, "web")
    address = rec["network"]["address"]
    assert Path(f"/sys/class/net/{rec['network']['veth']}/master").resolve().name == "pyhost0"
    # another pyhost container reaches it over the bridge
    client = pyhost(
        env,
        "run",
        "--rm",
        str(rootfs),
        "sh",
        "-c",
        f"for i in 1 2 3 4 5; do nc {address} 8080 </dev/null && break; sleep 0.2; done",
    )
    assert client.returncode == 0, client.stderr
    assert "pong" in client.stdout

    # and the host reaches it through -p on 127.0.0.1
    def fetch() -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                return s.recv(100)
        except OSError:
            return b""

    assert wait_for(fetch) == b"pong\n"
    busy = pyhost(env, "run", "--rm", "-p", f"127.0.0.1:{port}:80", str(rootfs), "true")
    assert busy.returncode == 2
    assert "already published" in busy.stderr
    assert pyhost(env, "rm", "-f", "web").returncode == 0


def test_exec_joins_namespaces_cgroup_and_privileges(env: dict[str, str], rootfs: Path) -> None:
    started = pyhost(
        env,
        "run",
        "-d",
        "--name",
        "target",
        "--network",
        "none",
        "-m",
        "64m",
        str(rootfs),
        "sleep",
        "60",
    )
    assert started.returncode == 0, started.stderr
    rec = record(env, "target")
    result = pyhost(
        env,
        "exec",
        "target",
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
        "grep -E '^(CapEff|Seccomp):' /proc/self/status; cat /proc/self/cgroup",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == rec["id"][:12]
    assert lines[1].strip() == "sleep 60"  # the container's own PID 1
    assert f"CapEff:\t{DOCKER_DEFAULT_CAPS}" in lines
    assert "Seccomp:\t2" in lines
    assert f"memory:/pyhost/{rec['id']}" in result.stdout
    assert pyhost(env, "exec", "-u", "app", "target", "id", "-u").stdout == "1000\n"
    assert pyhost(env, "exec", "target", "sh", "-c", "exit 5").returncode == 5
    missing = pyhost(env, "exec", "target", "nope")
    assert missing.returncode == 127
    assert "executable file not found" in missing.stderr
    piped = pyhost(env, "exec", "-i", "target", "sh", input="echo from-stdin\n")
    assert piped.stdout == "from-stdin\n"
    assert pyhost(env, "rm", "-f", "target").returncode == 0
    gone = pyhost(env, "exec", "target", "true")
    assert gone.returncode == 2
    assert "no such container: target" in gone.stderr


def _on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run pyhost with a pty as its terminal; return its exit code and what it printed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([*PYHOST, *args], env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return proc.wait(timeout=30), output.decode(errors="replace")


def test_tty_is_a_terminal_inside(env: dict[str, str], rootfs: Path) -> None:
    code, output = _on_a_terminal(
        env, "run", "--rm", "-t", "--network", "none", str(rootfs), "sh", "-c", "tty; exit 4"
    )
    assert code == 4
    assert "/dev/pts/0" in output  # a pty of the container's own devpts instance
    code, output = _on_a_terminal(env, "run", "--rm", "--network", "none", str(rootfs), "tty")
    assert "not a tty" in output
    started = pyhost(
        env, "run", "-d", "--name", "termtarget", "--network", "none", str(rootfs), "sleep", "60"
    )
    assert started.returncode == 0, started.stderr
    code, output = _on_a_terminal(env, "exec", "-t", "termtarget", "sh", "-c", "tty; exit 6")
    assert code == 6
    assert "/dev/pts/0" in output  # exec's pty comes from the container's devpts too
    assert pyhost(env, "rm", "-f", "termtarget").returncode == 0


def test_inspect_reports_a_pyhost_container(env: dict[str, str], rootfs: Path) -> None:
    started = pyhost(
        env,
        "run",
        "-d",
        "--name",
        "seen",
        "--network",
        "none",
        "-m",
        "32m",
        "--pids-limit",
        "50",
        str(rootfs),
        "sleep",
        "60",
    )
    assert started.returncode == 0, started.stderr
    rec = record(env, "seen")
    result = pyhost(env, "inspect", "seen", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["target"]["container"]["runtime"] == "pyhost"
    assert report["target"]["pid"] == rec["pid"]
    assert report["cgroups"]["memory"]["limit"] == 32 << 20
    assert report["cgroups"]["pids"]["limit"] == 50
    assert report["cgroups"]["findings"] == []  # the kernel applies what was asked
    assert report["security"]["cap_eff"] == DOCKER_DEFAULT_CAPS
    assert report["security"]["caps_added"] == []
    assert report["network"]["mode"] == "none"
    components = report["components"]
    assert components["runtime"] == {
        "name": "pyhost",
        "version": None,
        "pid": rec["supervisor_pid"],
    }
    assert components["dockerd"] is None and components["shim"] is None
    verdicts = {t: v["shared_with_host"] for t, v in report["namespaces"]["types"].items()}
    assert not any(verdicts[t] for t in ("mnt", "uts", "ipc", "pid", "net"))
    assert pyhost(env, "rm", "-f", "seen").returncode == 0
    after = pyhost(env, "inspect", "seen")
    assert after.returncode == 2


NOBODY = 65534


def as_nobody(base: Path, *args: str, **kw: Any) -> Any:
    """pyhost run as an unprivileged user: the system python3 with this checkout on its path
    (the venv's interpreter may sit in a home directory that user cannot enter)."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(base),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYHOST_STATE_ROOT": str(base / "state"),
        "PYHOST_DATA_ROOT": str(base / "data"),
    }
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "/usr/bin/python3",
            "-m",
            "pyhost",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=base,
        **kw,
    )


@pytest.fixture
def nobody_home(rootfs: Path) -> Iterator[Path]:
    import shutil
    import tempfile

    if not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"):
        pytest.skip("needs /usr/bin/python3 and setpriv (util-linux)")
    base = Path(tempfile.mkdtemp(prefix="pyhost-rootless-"))
    try:
        os.chmod(base, 0o755)
        subprocess.run(["cp", "-a", str(rootfs), str(base / "rootfs")], check=True)
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(base)], check=True)
        yield base
    finally:
        as_nobody(base, "prune")
        shutil.rmtree(base, ignore_errors=True)


def test_rootless_run_in_a_user_namespace(nobody_home: Path) -> None:
    rootfs = str(nobody_home / "rootfs")
    result = as_nobody(
        nobody_home,
        "run",
        "--rm",
        rootfs,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; grep -E '^Cap(Eff|Bnd)' /proc/self/status;"
        " echo made > /made; ls /dev | tr '\\n' ' '",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "0"  # root inside ...
    assert lines[1].split() == ["0", str(NOBODY), "1"]  # ... the caller outside
    assert f"CapEff:\t{DOCKER_DEFAULT_CAPS}" in lines
    assert {"null", "zero", "tty", "pts", "shm"} <= set(lines[-1].split())
    kept = as_nobody(nobody_home, "run", "--name", "kept", rootfs, "sh", "-c", "echo hi > /f")
    assert kept.returncode == 0, kept.stderr
    upper = next((nobody_home / "data" / "containers").iterdir()) / "upper" / "f"
    assert upper.stat().st_uid == NOBODY  # files it writes belong to the caller
    assert as_nobody(nobody_home, "rm", "kept").returncode == 0
    assert not list((nobody_home / "data" / "containers").iterdir())
    assert as_nobody(nobody_home, "run", "--rm", rootfs, "sh", "-c", "exit 9").returncode == 9


def test_rootless_refuses_what_needs_root(nobody_home: Path) -> None:
    rootfs = str(nobody_home / "rootfs")
    for flags, message in (
        (["--memory", "64m"], "resource limits need root"),
        (["--network", "bridge"], "--network bridge and -p need root"),
        (["-u", "app"], "a rootless container maps only your own uid"),
    ):
        result = as_nobody(nobody_home, "run", "--rm", *flags, rootfs, "true")
        assert result.returncode in (2, 125), result.stderr
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_signals_to_pyhost_reach_the_container(env: dict[str, str], rootfs: Path) -> None:
    proc = subprocess.Popen(
        [
            *PYHOST,
            "run",
            "--rm",
            "--name",
            "trapper",
            "--network",
            "none",
            str(rootfs),
            "sh",
            "-c",
            'trap "echo caught; exit 3" TERM; echo armed; while :; do sleep 0.1; done',
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "armed\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 3
    assert proc.stdout.read() == "caught\n"


def test_port_held_by_another_program_is_refused(env: dict[str, str], rootfs: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = pyhost(env, "run", "--rm", "-p", f"127.0.0.1:{port}:80", str(rootfs), "true")
    assert result.returncode == 2
    assert f"port 127.0.0.1:{port}/tcp is already in use" in result.stderr


@pytest.fixture
def subordinate_ids() -> Iterator[None]:
    """Give the unprivileged user a subordinate id range for the test, then take it back."""
    import shutil

    if not (shutil.which("newuidmap") and shutil.which("newgidmap")):
        pytest.skip("newuidmap/newgidmap missing (apt-get install uidmap)")
    saved = {}
    for path in (Path("/etc/subuid"), Path("/etc/subgid")):
        saved[path] = path.read_text() if path.exists() else None
        path.write_text((saved[path] or "") + "nobody:100000:65536\n")
    try:
        yield
    finally:
        for path, text in saved.items():
            if text is None:
                path.unlink()
            else:
                path.write_text(text)


def test_rootless_with_subordinate_ranges(nobody_home: Path, subordinate_ids: None) -> None:
    rootfs = str(nobody_home / "rootfs")
    result = as_nobody(
        nobody_home, "run", "--rm", "-u", "app", rootfs, "sh", "-c", "id; cat /proc/self/uid_map"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)"
    assert [line.split() for line in lines[1:]] == [
        ["0", str(NOBODY), "1"],
        ["1", "100000", "65536"],
    ]


RUN_IMAGE = "pyhost-run-test/app:1"
RUN_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "sh", "-c", "echo doomed > /etc/doomed && mkdir -p /srv/app"]
RUN ["/bin/busybox", "rm", "/etc/doomed"]
ENV GREETING=hello-from-image
WORKDIR /srv/app
USER app
CMD ["/bin/sh", "-c", "echo $GREETING $(pwd) $(id -un); ls /etc/doomed 2>&1 || true"]
"""


@pytest.fixture(scope="module")
def image_tar(
    docker_engine: Any, rootfs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A multi-layer image built FROM scratch on the run's dockerd (a file deleted in an
    upper layer: a whiteout), saved with `docker save`; the Docker image is removed after."""
    ctx = tmp_path_factory.mktemp("app-ctx")
    subprocess.run(["cp", "-a", str(rootfs), str(ctx / "rootfs")], check=True)
    (ctx / "Dockerfile").write_text(RUN_DOCKERFILE)
    docker_engine.images.build(path=str(ctx), tag=RUN_IMAGE, rm=True, forcerm=True)
    try:
        tar = ctx / "app.tar"
        subprocess.run(["docker", "save", "-o", str(tar), RUN_IMAGE], check=True)
        yield tar
    finally:
        docker_engine.images.remove(RUN_IMAGE, force=True)


@pytest.mark.parametrize("overlay", [True, False], ids=["overlay", "copy"])
def test_run_a_loaded_image_with_its_config(
    env: dict[str, str], image_tar: Path, overlay: bool
) -> None:
    loaded = pyhost(env, "load", "-i", str(image_tar))
    assert loaded.returncode == 0, loaded.stderr
    run_env = env if overlay else {**env, "PYHOST_NO_OVERLAY": "1"}
    result = pyhost(run_env, "run", "--rm", "--network", "none", RUN_IMAGE)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "hello-from-image /srv/app app"  # ENV, WORKDIR, USER and CMD
    assert "No such file or directory" in lines[1]  # the whiteout hides the lower file
    other = pyhost(
        env,
        "run",
        "--rm",
        "--network",
        "none",
        "-u",
        "root",
        "-e",
        "GREETING=hi",
        RUN_IMAGE,
        "sh",
        "-c",
        "echo $GREETING $(id -u)",
    )
    assert other.stdout == "hi 0\n"
    kept = pyhost(env, "run", "--name", "user", "--network", "none", RUN_IMAGE, "true")
    assert kept.returncode == 0, kept.stderr
    busy = pyhost(env, "rmi", RUN_IMAGE)
    assert busy.returncode == 2
    assert "in use by a container" in busy.stderr
    assert pyhost(env, "rm", "user").returncode == 0
    assert pyhost(env, "rmi", RUN_IMAGE).returncode == 0
    missing = pyhost(env, "run", "--rm", "pyhost-run-test/ap:1", "true")
    assert missing.returncode == 2
    assert "no image" in missing.stderr


def test_device_cgroup_allows_only_dockers_nodes(env: dict[str, str], rootfs: Path) -> None:
    """mknod is allowed (as in Docker), but opening a disk it made is refused by the
    devices cgroup; /dev/null works."""
    result = pyhost(
        env,
        "run",
        "--rm",
        "--network",
        "none",
        str(rootfs),
        "sh",
        "-c",
        "mknod /tmp/disk b 8 0 && echo made; head -c1 /tmp/disk 2>&1; "
        "echo x > /dev/null && echo null-ok; cat /sys/fs/cgroup/devices/devices.list",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "made"
    assert "Operation not permitted" in lines[1]
    assert lines[2] == "null-ok"
    # the container's own list, as its cgroup shows it: Docker's, and nothing else
    docker_list = """c *:* m
b *:* m
c 1:3 rwm
c 1:5 rwm
c 1:7 rwm
c 1:8 rwm
c 1:9 rwm
c 5:0 rwm
c 5:1 rwm
c 5:2 rwm
c 136:* rwm"""
    assert sorted(lines[3:]) == sorted(docker_list.splitlines())


def test_network_none_is_a_new_namespace_with_loopback_up(
    env: dict[str, str], rootfs: Path
) -> None:
    """Only lo, up, and a server on 127.0.0.1 inside answers from inside; each container has
    its own namespace (pyhost makes it on a thread while it starts: runtime/netns.py)."""
    script = (
        "cat /sys/class/net/lo/flags; ls /sys/class/net; readlink /proc/self/ns/net; "
        "nc -l -p 7000 -e echo pong & sleep 0.2; nc 127.0.0.1 7000 </dev/null"
    )
    other = pyhost(
        env, "run", "-d", "--name", "other", "--network", "none", str(rootfs), "sleep", "30"
    )
    assert other.returncode == 0, other.stderr
    other_ns = os.readlink(f"/proc/{record(env, 'other')['pid']}/ns/net")
    result = pyhost(env, "run", "--rm", "--network", "none", str(rootfs), "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    flags, links, ns, answer = result.stdout.split()
    assert int(flags, 16) & 0x1, "lo is down"
    assert links == "lo" and answer == "pong"
    assert ns not in (os.readlink("/proc/self/ns/net"), other_ns)
    assert pyhost(env, "rm", "-f", "other").returncode == 0


def test_host_network_shares_the_hosts_namespace(env: dict[str, str], rootfs: Path) -> None:
    started = pyhost(
        env, "run", "-d", "--name", "hostnet", "--network", "host", str(rootfs), "sleep", "60"
    )
    assert started.returncode == 0, started.stderr
    pid = record(env, "hostnet")["pid"]
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
    assert os.stat(f"/proc/{pid}/ns/uts").st_ino != os.stat("/proc/self/ns/uts").st_ino
    ps = json.loads(pyhost(env, "ps", "--json").stdout)
    row = next(r for r in ps["containers"] if r["name"] == "hostnet")
    assert "net" in row["findings"]  # shared with the host: a finding, as for Docker's
    assert pyhost(env, "rm", "-f", "hostnet").returncode == 0


def _zombies(env: dict[str, str], name: str) -> int:
    out = pyhost(env, "exec", name, "ps", "-o", "stat").stdout.split()
    return sum(1 for s in out if s.startswith("Z"))


@pytest.mark.parametrize("init", [False, True], ids=["no-init", "init"])
def test_init_reaps_orphans(env: dict[str, str], rootfs: Path, init: bool) -> None:
    flags = ["--init"] if init else []
    started = pyhost(
        env,
        "run",
        "-d",
        "--name",
        "reaper",
        "--network",
        "none",
        *flags,
        str(rootfs),
        "sh",
        "-c",
        "(sleep 0.2 &); exec sleep 60",
    )
    assert started.returncode == 0, started.stderr
    time.sleep(1.0)
    # the orphaned sleep 0.2 ended: only an init that reaps removes its zombie
    assert _zombies(env, "reaper") == (0 if init else 1)
    assert pyhost(env, "rm", "-f", "reaper").returncode == 0


def test_logs_follow_until_the_end_and_ps_all(env: dict[str, str], rootfs: Path) -> None:
    started = pyhost(
        env,
        "run",
        "-d",
        "--name",
        "talker",
        "--network",
        "none",
        str(rootfs),
        "sh",
        "-c",
        "for i in 1 2 3; do echo line $i; sleep 0.3; done; exit 4",
    )
    assert started.returncode == 0, started.stderr
    followed = pyhost(env, "logs", "-f", "talker", timeout=30)
    assert followed.stdout == "line 1\nline 2\nline 3\n"  # returned once the container ended
    rec = wait_for(lambda: (r := record(env, "talker"))["status"] == "exited" and r)
    assert rec["exit_code"] == 4
    running = json.loads(pyhost(env, "ps", "--json").stdout)["containers"]
    assert "talker" not in [r["name"] for r in running]
    every = json.loads(pyhost(env, "ps", "-a", "--json").stdout)["containers"]
    row = next(r for r in every if r["name"] == "talker")
    assert (row["runtime"], row["state"], row["pid"]) == ("pyhost", "exited", None)
    assert pyhost(env, "rm", "talker").returncode == 0
