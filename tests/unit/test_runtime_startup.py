"""The pieces `pyhost run` uses instead of heavier standard modules, on the real kernel."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pyhost.runtime import grace, spec
from pyhost.runtime.images import catalog
from pyhost.runtime.stdlite import remove_tree, signal, suppress


def test_suppress_swallows_only_what_it_names() -> None:
    with suppress(FileNotFoundError):
        os.stat("/nonexistent/pyhost")
    with pytest.raises(ZeroDivisionError), suppress(OSError):
        _ = 1 / 0


def test_signal_numbers_are_the_kernels() -> None:
    assert (signal.SIGKILL, signal.SIGTERM, signal.SIGCHLD) == (9, 15, 17)


def test_remove_tree_removes_links_never_their_targets(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "file").write_text("x")
    (tree / "dirlink").symlink_to(outside)
    (tree / "a" / "filelink").symlink_to(outside / "keep")
    os.mkfifo(tree / "fifo")
    remove_tree(str(tree))
    assert not tree.exists()
    assert (outside / "keep").read_text() == "precious"


def test_remove_tree_empties_directories_without_permissions(tmp_path: Path) -> None:
    tree = tmp_path / "bundle"
    locked = tree / "work" / "work"
    locked.mkdir(parents=True)
    (locked / "inner").mkdir()
    os.chmod(locked / "inner", 0)
    os.chmod(locked, 0)
    remove_tree(str(tree))
    assert not tree.exists()


def test_remove_tree_of_nothing_is_quiet(tmp_path: Path) -> None:
    remove_tree(str(tmp_path / "missing"))
    remove_tree(str(tmp_path / "missing" / "deeper"))


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("web", True),
        ("a", True),
        ("web-1.blue_2", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
        ("-web", False),
        ("_web", False),
        ("web/1", False),
        ("wéb", False),
        ("web\n", False),
    ],
)
def test_container_names_follow_dockers_rule(name: str, ok: bool) -> None:
    assert spec.valid_name(name) is ok


def test_exact_names_only_where_normalisation_could_not_differ() -> None:
    names = {
        "busybox:latest": "sha256:aa",
        "busybox:1.36": "sha256:bb",
        "localhost:5000/ns/app:latest": "sha256:cc",
    }
    assert catalog.exact_name(names, "busybox") == "sha256:aa"
    assert catalog.exact_name(names, "busybox:1.36") == "sha256:bb"
    assert catalog.exact_name(names, "localhost:5000/ns/app") == "sha256:cc"
    # left to ImageStore.resolve and its full reference rules
    assert catalog.exact_name(names, "docker.io/library/busybox") is None
    assert catalog.exact_name(names, "busybox@sha256:" + "0" * 64) is None
    assert catalog.exact_name(names, "aa") is None
    assert catalog.exact_name(names, "") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="moving a process between cgroups needs root")
def test_grace_period_thread_leaves_this_process_where_it_was() -> None:
    """The thread moves this process into its own cgroup (a no-op), then stops once told."""
    before = Path("/proc/self/cgroup").read_text()
    grace.start()
    time.sleep(0.03)
    tasks = [t for t in os.listdir("/proc/self/task") if int(t) != threading.get_native_id()]
    threads_running = len(tasks) + 1
    blocked = [
        int(line.split()[1], 16)
        for t in tasks
        for line in Path(f"/proc/self/task/{t}/status").read_text().splitlines()
        if line.startswith("SigBlk:")
    ]
    # no signal may land on the thread (the supervisor holds SIGTERM back while it starts)
    assert any(mask & (1 << (15 - 1)) and mask & (1 << (2 - 1)) for mask in blocked)
    grace.used()
    deadline = time.monotonic() + 1
    while len(os.listdir("/proc/self/task")) >= threads_running > 1:
        assert time.monotonic() < deadline, "the thread did not stop"
        time.sleep(0.005)
    assert Path("/proc/self/cgroup").read_text() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="the cgroup files are read as root in the lab")
def test_own_cgroup_without_the_mount_table_is_the_mount_tables() -> None:
    """The guessed cgroup.procs (where systemd and Docker mount the hierarchies) is the one
    the mount table names, and it lists this process."""
    guessed = grace.own_procs()
    assert guessed is not None
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path.rstrip("/")
    assert guessed == grace._from_mount_table(own)
    assert str(os.getpid()) in Path(guessed).read_text().split()


def test_background_work_overlaps_and_reports(tmp_path: Path) -> None:
    from pyhost.runtime.stdlite import Background

    (tmp_path / "tree" / "a").mkdir(parents=True)
    job = Background(remove_tree, str(tmp_path / "tree"))
    assert job.wait(timeout=5)
    assert job.error is None
    assert not (tmp_path / "tree").exists()
    failing = Background(os.rmdir, str(tmp_path / "missing"))
    assert failing.wait(timeout=5)
    assert isinstance(failing.error, FileNotFoundError)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a network namespace needs root")
def test_prepared_network_namespace_is_new_with_loopback_up() -> None:
    """netns.prepare's thread makes a namespace for the container; this process (every
    thread of it) stays in the host's, and the namespace's loopback is up."""
    from pyhost.runtime import linux, netns

    host = os.stat("/proc/self/ns/net").st_ino
    assert netns.take() is None  # nothing prepared
    netns.prepare()
    fd = netns.take(timeout=5)
    assert fd is not None
    try:
        assert os.fstat(fd).st_ino != host
        for task in os.listdir("/proc/self/task"):
            with suppress(FileNotFoundError):  # the thread may just be ending
                assert os.stat(f"/proc/self/task/{task}/ns/net").st_ino == host
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                linux.setns(fd, linux.CLONE_NEWNET)
                linux.unshare(linux.CLONE_NEWNS)
                linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
                linux.mount("sysfs", "/sys", "sysfs")  # shows the namespace that mounts it
                links = " ".join(sorted(os.listdir("/sys/class/net")))
                flags = Path("/sys/class/net/lo/flags").read_text().strip()
                os.write(w, f"{links} {flags}".encode())
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        out = os.read(r, 1000).decode().split()
        os.close(r)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        assert out[0] == "lo" and len(out) == 2 and int(out[1], 16) & 0x1
    finally:
        os.close(fd)
