"""The inspector's other readers (process table, namespaces, processes, security,
components), the container lookup, and what happens when a process exits mid-inspection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyhost.inspect.collect import (
    components,
    inspection,
    namespaces,
    processes,
    proctable,
    security,
)
from pyhost.inspect.collect.engine import Engine
from pyhost.inspect.collect.proctable import Proc

pytestmark = pytest.mark.unit

A, B = "a" * 64, "b" * 64
HOST: dict[str, tuple[int, int] | None] = {
    kind: (4, 4026531800 + i) for i, kind in enumerate(namespaces.NS_TYPES)
}


def stat_line(pid: int, comm: str, ppid: int, start: int) -> str:
    rest = ["S", str(ppid)] + ["0"] * 17 + [str(start)] + ["0"] * 30
    return f"{pid} ({comm}) {' '.join(rest)}\n"


def test_stat_survives_parentheses_in_comm(tmp_path: Path) -> None:
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "stat").write_text(stat_line(9, "we(ird) )name", 3, 777))
    assert proctable.read_stat(9, str(tmp_path)) == (3, "we(ird) )name", 777)


def test_container_ids_from_cgroup_paths(tmp_path: Path) -> None:
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / "cgroup").write_text(
        f"4:memory:/docker/{A}/docker/{B}\n0::/system.slice/docker-{A}.scope\n"
    )
    assert proctable.container_ids(5, str(tmp_path)) == (A, B)
    entry = Proc(5, 1, "sh", 0, {}, (A, B))
    assert entry.container({A: "outer"}) == A  # the inner one is another engine's
    assert entry.container({A: "outer", B: "inner"}) == B
    assert proctable.container_ids(6, str(tmp_path)) == ()


def proc(number: int, ppid: int, ident: str | None, start: int = 0, **ns: int) -> Proc:
    """A process in the host's namespaces but for those given as type=inode."""
    ids = dict(HOST)
    ids.update({kind: (4, inode) for kind, inode in ns.items()})
    return Proc(number, ppid, f"p{number}", start, ids, (ident,) if ident else ())


def test_sharing_containers_names_others_in_private_namespaces_only() -> None:
    table = {
        10: proc(10, 1, A, net=1, pid=2),
        11: proc(11, 1, B, net=1, pid=3),  # --network container:A
        12: proc(12, 1, None, net=1),  # a host process that joined (nsenter): not a container
    }
    known = {A: "web", B: "sidecar"}
    got = proctable.sharing_containers(table, table[10].ns, A, known, HOST)
    assert got["net"] == ["sidecar"] and got["pid"] == []
    assert got["user"] == []  # the host's: every container shares it, not listed


def test_sharers_are_looked_for_below_containerd_shims_only_where_one_runs() -> None:
    def shim(number: int) -> Proc:
        return Proc(number, 1, "containerd-shim", 0, dict(HOST), ())

    table = {
        20: shim(20),
        21: proc(21, 20, A, net=1, pid=2),  # A's init, below its shim
        22: proc(22, 21, A, net=1, pid=2),  # a child of it
        30: shim(30),
        31: proc(31, 30, B, net=1, pid=3),  # B: --network container:A
        32: proc(32, 31, B, net=1, pid=3),
        40: proc(40, 1, B, net=1),  # in B's cgroup but not below a shim: not looked at
    }
    got = proctable.container_candidates(table)
    assert sorted(p.pid for p in got) == [21, 22, 31, 32]
    shares = proctable.sharing_containers(table, table[21].ns, A, {A: "web", B: "side"}, HOST)
    assert shares["net"] == ["side"] and shares["pid"] == []
    no_shims = {pid: entry for pid, entry in table.items() if entry.comm != "containerd-shim"}
    assert sorted(p.pid for p in proctable.container_candidates(no_shims)) == sorted(no_shims)


def test_namespace_verdicts_and_findings() -> None:
    shared = namespaces.describe("net", HOST["net"], HOST["net"], 1, [])
    assert shared["verdict"] == "shared with host" and shared["expected"] is False
    user = namespaces.describe("user", HOST["user"], HOST["user"], 1, [])
    assert user["expected"] is True
    cg_v2 = namespaces.describe("cgroup", HOST["cgroup"], HOST["cgroup"], 2, [])
    assert cg_v2["expected"] is False  # v2: Docker makes a private cgroup namespace
    unknown = namespaces.describe("ipc", None, HOST["ipc"], 1, [])
    assert unknown["verdict"] == "unknown" and unknown["expected"] is None
    isolated = namespaces.describe("net", (4, 1), HOST["net"], 1, ["db"])
    types = {"net": shared, "user": user, "ipc": isolated}
    assert namespaces.findings(types) == [
        "net namespace shared with the host",
        "ipc namespace shared with container db",
    ]


def test_process_tree_is_depth_first_with_exec_roots() -> None:
    members = [proc(30, 20, A), proc(21, 20, A), proc(20, 5, A), proc(40, 7, A), proc(31, 21, A)]
    order = [(p.pid, depth) for p, depth in processes.tree(members)]
    assert order == [(20, 0), (21, 1), (31, 2), (30, 1), (40, 0)]
    assert len(processes.tree(members, limit=2)) == 2


def test_process_rows_from_a_fake_proc(tmp_path: Path) -> None:
    d = tmp_path / "20"
    d.mkdir()
    (d / "status").write_text(
        "Name:\tsh\nState:\tS (sleeping)\nUid:\t1000\t1000\t1000\t1000\nNSpid:\t20\t1\n"
    )
    (d / "cmdline").write_bytes(b"sh\0-c\0sleep 600 & sleep 600\0")
    row = processes.row(proc(20, 5, A), 0, str(tmp_path))
    assert row["container_pid"] == 1 and row["nspid"] == [20, 1] and row["uid"] == 1000
    assert row["cmdline"] == ["sh", "-c", "sleep 600 & sleep 600"] and row["state"] == "S"
    gone = processes.row(proc(21, 5, A), 0, str(tmp_path))
    assert gone["cmdline"] == ["[p21]"] and gone["container_pid"] == 21


def fake_status(tmp_path: Path, **fields: str) -> str:
    d = tmp_path / "3"
    d.mkdir(exist_ok=True)
    base = {
        "CapEff": "00000000a80425fb",
        "Seccomp": "2",
        "Seccomp_filters": "1",
        "NoNewPrivs": "0",
    }
    base.update(fields)
    (d / "status").write_text("".join(f"{k}:\t{v}\n" for k, v in base.items()))
    (d / "uid_map").write_text("         0          0 4294967295\n")
    (d / "gid_map").write_text("         0     100000      65536\n")
    (d / "mountinfo").write_text("1 0 0:39 / / ro,relatime - overlay overlay rw\n")
    attr = d / "attr" / "apparmor"
    attr.mkdir(parents=True, exist_ok=True)
    (attr / "current").write_text("docker-default (enforce)\n")
    (d / "attr" / "current").write_text("system_u:system_r:container_t:s0\n")  # not AppArmor's
    return str(tmp_path)


def test_security_of_a_hardened_container(tmp_path: Path) -> None:
    got = security.section(3, fake_status(tmp_path, CapEff="00000000a80425fa"))
    assert got["caps_dropped"] == ["CHOWN"] and len(got["capabilities"]) == 13
    assert got["seccomp"] == "filter" and got["seccomp_filters"] == 1
    assert got["apparmor"] == "docker-default (enforce)"
    assert got["readonly_rootfs"] is True
    assert got["uid_map"] == [[0, 0, 4294967295]] and got["gid_map"] == [[0, 100000, 65536]]
    assert got["user_namespace"] is False
    assert got["verdict"] == "hardened" and got["findings"] == []


def test_security_of_a_privileged_container(tmp_path: Path) -> None:
    root = fake_status(tmp_path, CapEff="000001ffffffffff", Seccomp="0")
    (tmp_path / "3" / "attr" / "apparmor" / "current").write_text("unconfined\n")
    got = security.section(3, root)
    assert got["privileged"] is True and got["verdict"] == "privileged"
    assert got["findings"] == [
        "privileged: every capability is effective",
        "no seccomp filter (seccomp=unconfined)",
        "AppArmor: unconfined",
    ]


def test_components_find_dockerd_containerd_and_the_shim(tmp_path: Path) -> None:
    other_pidns: dict[str, tuple[int, int] | None] = {"pid": (4, 99)}
    table = {
        1: Proc(1, 0, "systemd", 0, {"pid": HOST["pid"]}),
        50: Proc(50, 1, "dockerd", 1, {"pid": HOST["pid"]}),
        51: Proc(51, 50, "containerd", 2, {"pid": HOST["pid"]}),
        60: Proc(60, 1, "containerd-shim", 3, {"pid": HOST["pid"]}),
        61: Proc(61, 60, "sleep", 4, {"pid": (4, 5)}),
        70: Proc(70, 1, "dockerd", 5, other_pidns),  # a lab host's own dockerd
    }
    version = {"Version": "20.10.24", "Components": [{"Name": "containerd", "Version": "1.6.20"}]}
    got = components.section(61, table, host_pidns=HOST["pid"], version=version, proc=str(tmp_path))
    assert got["dockerd"]["pid"] == 50 and got["dockerd"]["version"] == "20.10.24"
    assert got["containerd"]["pid"] == 51 and got["containerd"]["version"] == "1.6.20"
    assert got["shim"]["pid"] == 60 and got["process"]["pid"] == 61
    assert [(c["pid"], c["role"]) for c in got["chain"]] == [
        (61, "process"),
        (60, "containerd-shim"),
        (1, "init"),
    ]
    assert got["findings"] == []
    lone = components.section(1, table, host_pidns=HOST["pid"], version=None, proc=str(tmp_path))
    assert lone["shim"] is None and lone["findings"]


def summaries(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"Id": ident, "Names": [f"/{name}"]} for ident, name in pairs]


LISTED = summaries(("ab12" + "0" * 60, "web-1"), ("ab34" + "0" * 60, "web-2"), (A, "db"))


@pytest.mark.parametrize("query", ["web-1", "/web-1", "ab12", "ab12" + "0" * 60])
def test_resolve_by_name_id_or_unique_prefix(query: str) -> None:
    assert inspection.resolve(query, LISTED)["Id"].startswith("ab12")


def test_resolve_prefers_an_exact_name_over_an_id_prefix() -> None:
    listed = [*LISTED, {"Id": "f" * 64, "Names": ["/ab"]}]
    assert inspection.resolve("ab", listed)["Id"] == "f" * 64


def test_ambiguous_prefix_lists_the_matches() -> None:
    with pytest.raises(inspection.TargetError) as e:
        inspection.resolve("ab", LISTED)
    assert "2 container ids" in e.value.message
    assert "web-1 (ab1200000000)" in e.value.message and "web-2" in e.value.message


def test_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(inspection.TargetError) as e:
        inspection.resolve("web1", LISTED)
    assert e.value.hint == "did you mean: web-1, web-2"
    with pytest.raises(inspection.TargetError) as e:
        inspection.resolve("zzzz", LISTED)
    assert e.value.hint is not None and "pyhost ps --all" in e.value.hint


def context(pid: int | None) -> inspection.Context:
    return inspection.Context(pid=pid, config=None, known={}, version=None, info=None)


def test_a_process_that_exits_mid_inspection_makes_the_rest_unavailable(tmp_path: Path) -> None:
    ctx = context(999_999_999)
    ctx.proc = str(tmp_path)  # the process is gone from this /proc

    def vanished() -> dict[str, Any]:
        raise ProcessLookupError(3, "No such process")

    got = inspection.run_section("cgroups", ctx, vanished)
    assert got["available"] is False and got["reason"] == inspection.GONE and ctx.gone
    later = inspection.run_section("security", ctx, lambda: {"never": "called"})
    assert later["reason"] == inspection.GONE and set(later) >= {"cap_eff", "verdict"}
    result = inspection.finish({"target": {"container": None, "running": True}, "notes": []}, ctx)
    assert result["target"]["running"] is False
    assert "exited during the inspection (pid 999999999 is gone)" in result["notes"][0]


def test_unreadable_file_says_run_as_root() -> None:
    def denied() -> dict[str, Any]:
        raise PermissionError(13, "Permission denied", "/proc/1/ns/net")

    got = inspection.run_section("namespaces", context(os.getpid()), denied)
    assert got["reason"] == "/proc/1/ns/net: permission denied (run as root)"


def test_not_running_sections(tmp_path: Path) -> None:
    got = inspection.run_section("network", context(None), lambda: {})
    assert got == {
        "available": False,
        "reason": "not running",
        **dict.fromkeys(inspection.SECTION_KEYS["network"]),
        "findings": [],
    }


def test_inspect_this_process_without_docker(tmp_path: Path) -> None:
    data = inspection.inspect_pid(os.getpid(), engine=Engine(str(tmp_path / "docker.sock")))
    assert data["engine"]["available"] is False and "does not exist" in data["engine"]["error"]
    assert data["target"] == {
        "kind": "process",
        "query": str(os.getpid()),
        "pid": os.getpid(),
        "running": True,
        "container": None,
    }
    assert data["processes"]["available"] and data["security"]["available"]
    assert any(p["pid"] == os.getpid() for p in data["processes"]["tree"])
    assert data["storage"]["layers"] is None
    assert all(f["section"] in inspection.PROCESS_FINDINGS for f in data["findings"])


def test_no_such_pid() -> None:
    with pytest.raises(inspection.TargetError, match="no process 0"):
        inspection.inspect_pid(0)


def pyhost(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["inspect"], 2, "name one container"),
        (["inspect", "x", "--pid", "1"], 2, "name one container"),
        (["inspect", ""], 2, "name one container"),
        (["inspect", "--pid", "2147483647"], 2, "no process 2147483647"),
        (["inspect", "x", "-H", "host:0"], 2, "port must be 1 to 65535"),
    ],
)
def test_cli_bad_input_is_one_line(argv: list[str], code: int, words: str) -> None:
    res = pyhost(*argv)
    assert res.returncode == code
    assert res.stderr.count("\n") == 1 and words in res.stderr, res.stderr


def test_cli_without_docker_container_fails_pid_works(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    res = pyhost("inspect", "web-1", DOCKER_HOST=f"unix://{sock}")
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert str(sock) in res.stderr
    res = pyhost("inspect", "--pid", str(os.getpid()), DOCKER_HOST=f"unix://{sock}")
    assert res.returncode == 0, res.stderr
    assert "not a Docker container" in res.stderr and "namespaces" in res.stdout


def test_net_owner_is_the_container_that_started_first() -> None:
    ctx = context(11)
    ctx.known = {A: "web", B: "sidecar"}
    ctx.table = {10: proc(10, 1, A, start=5, net=1), 11: proc(11, 1, B, start=9, net=1)}
    ctx.config = {"Id": B}
    assert inspection.net_owner(ctx, (4, 1)) == "web"
    ctx.config = {"Id": A}
    assert inspection.net_owner(ctx, (4, 1)) is None


def kernel_stat_line(pid: int, comm: str, ppid: int, flags: int) -> str:
    rest = ["S", str(ppid), "0", "0", "0", "0", str(flags)] + ["0"] * 12 + ["7"] + ["0"] * 30
    return f"{pid} ({comm}) {' '.join(rest)}\n"


def test_scan_leaves_kernel_threads_out_when_asked(tmp_path: Path) -> None:
    kthread = proctable.PF_KTHREAD
    for pid, comm, ppid, flags in [
        (1, "init", 0, 0),
        (2, "kthreadd", 0, kthread),
        (3, "kworker/0:0", 2, kthread),
        (9, "sleep", 1, 0),
    ]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(kernel_stat_line(pid, comm, ppid, flags))
    (tmp_path / "2" / "task" / "2").mkdir(parents=True)
    (tmp_path / "2" / "task" / "2" / "children").write_text("3 ")
    full = proctable.scan(str(tmp_path))
    assert sorted(full) == [1, 2, 3, 9]
    assert [p for p, e in sorted(full.items()) if e.kernel] == [2, 3]
    assert sorted(proctable.scan(str(tmp_path), kernel=False)) == [1, 9]
    # pid 2 that is not kthreadd (a pid namespace of its own): nothing is left out
    (tmp_path / "2" / "stat").write_text(kernel_stat_line(2, "sh", 1, 0))
    assert sorted(proctable.scan(str(tmp_path), kernel=False)) == [1, 2, 3, 9]


def test_kthreadds_children_are_kernel_threads() -> None:
    listed = proctable.kernel_threads()
    if not listed:
        pytest.skip("pid 2 is not kthreadd here, or its children cannot be read")
    full = proctable.scan()
    assert all(full[int(pid)].kernel for pid in listed if int(pid) in full)
    slim = proctable.scan(kernel=False)
    assert 1 in slim and os.getpid() in slim and 2 not in slim
    assert not {int(pid) for pid in listed} & set(slim)


def test_namespace_inode_from_the_link_is_the_stat_inode() -> None:
    for kind in namespaces.NS_TYPES:
        ident = namespaces.ns_id("self", kind)
        if ident is not None:
            assert namespaces.ns_inode("self", kind) == ident[1]
    assert namespaces.ns_inode(999_999_999, "net") is None


def test_v1_hierarchies_from_a_parsed_table_match_the_mount_table_reader(
    tmp_path: Path,
) -> None:
    """On a recorded v1 table (co-mounted, elsewhere, a subtree, a cgroup2 beside them), and on
    this host's, whatever its version."""
    from pyhost.inspect.collect import cgroups as collect_cgroups
    from pyhost.inspect.collect import mountinfo

    text = (
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
        "31 25 0:27 / /cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
        "32 25 0:28 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
        "33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    (tmp_path / "mountinfo").write_text(text)
    recorded = collect_cgroups.v1_mounts_of(mountinfo.parse(text))
    assert recorded == collect_cgroups.v1_mounts(str(tmp_path / "mountinfo"))
    assert recorded["memory"] == ("/cgroup/memory", "/")
    assert recorded["cpu"] == recorded["cpuacct"] == ("/sys/fs/cgroup/cpu,cpuacct", "/")
    assert recorded["pids"] == ("/sys/fs/cgroup/pids", "/docker/abc")
    table = mountinfo.read("self")
    assert collect_cgroups.v1_mounts_of(table) == collect_cgroups.v1_mounts("/proc/self/mountinfo")
