"""Ground truth for `pyhost inspect`: one container per isolation flag, every verdict and
figure checked against what is known another way.

The other ways: the flags the test used; ``readlink /proc/PID/ns/*`` and ``lsns -J`` against
this test process's own namespaces (the host's); Docker's own view (``HostConfig``,
``GraphDriver.Data``, ``Mounts``, image history); the cgroup v1 files read here directly;
and what the container does (its hostname, a write to a read-only root, a file written into
a volume appearing on the host, a process killed by the OOM killer, a busy loop throttled).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from labkit.hosts import lab_labels

pytestmark = pytest.mark.lab

MiB = 1024 * 1024
NS = ("mnt", "uts", "ipc", "pid", "net", "user", "cgroup", "time")
DOCKER_SHARES = {"user", "cgroup", "time"}  # Docker's defaults on cgroup v1, no userns-remap
DOCKER_ROOT = Path("/var/lib/docker")
# Docker's default capability set, as /proc/PID/status shows it
DEFAULT_CAPEFF = 0x00000000A80425FB
CAP_NET_ADMIN = 12

# container -> (docker SDK arguments, the namespaces the flag shares with the host)
NS_MATRIX: dict[str, tuple[dict[str, Any], set[str]]] = {
    "owner": ({}, set()),  # Docker's defaults; "guest" joins its network
    "pidhost": ({"pid_mode": "host"}, {"pid"}),
    "nethost": ({"network_mode": "host"}, {"net"}),
    "ipchost": ({"ipc_mode": "host"}, {"ipc"}),
    "utshost": ({"uts_mode": "host"}, {"uts"}),
}
LIMITS: dict[str, Any] = {
    "mem_limit": "48m",
    "nano_cpus": 500_000_000,
    "pids_limit": 77,
    "cpuset_cpus": "0",
}
SECURITY: dict[str, dict[str, Any]] = {
    "capdrop": {"cap_drop": ["ALL"]},
    "capadd": {"cap_add": ["NET_ADMIN"]},
    "readonly": {"read_only": True},
    "nnp": {"security_opt": ["no-new-privileges"]},
}
# the image built FROM scratch: three COPY layers of known sizes
SMALL_FILES = {"a.txt": 12_345, "b.bin": 54_321}


def pyhost_inspect_json(name: str) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, "-m", "pyhost", "inspect", name, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    assert data["schema"] == "pyhost.inspect/1"
    return data


def ns_links(pid: int | str) -> dict[str, str]:
    """readlink /proc/PID/ns/*: "net:[4026531840]"."""
    return {kind: os.readlink(f"/proc/{pid}/ns/{kind}") for kind in NS}


def inode(link: str) -> int:
    return int(link.partition("[")[2].rstrip("]"))


def lsns(pid: int) -> dict[str, int]:
    """lsns's view of the process's namespaces. lsns reads every process in /proc and can
    fail when one exits under it (other test runs share this engine): three tries."""
    errors = []
    for _ in range(3):
        res = subprocess.run(
            ["lsns", "-J", "-p", str(pid)], capture_output=True, text=True, timeout=30, check=False
        )
        if res.returncode == 0:
            return {row["type"]: int(row["ns"]) for row in json.loads(res.stdout)["namespaces"]}
        errors.append(res.stderr.strip())
    raise AssertionError(f"lsns -p {pid} failed: {errors}")


def read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def keyed(path: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines())}


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def net_names() -> set[str]:
    return set(os.listdir("/sys/class/net"))


@dataclass
class Lab:
    containers: dict[str, Any] = field(default_factory=dict)
    image: Any = None
    layer_sizes: list[int] = field(default_factory=list)  # the COPY layers, bottom first
    base_layers: int = 0
    volume: Any = None
    bind_dir: Path = Path()
    tag: str = ""

    def pid(self, key: str) -> int:
        return int(self.containers[key].attrs["State"]["Pid"])


def _build_context(ctx: Path, lab_image: str, tag: str) -> tuple[str, list[int], bool]:
    """A Dockerfile with three COPY layers; FROM scratch with a static busybox if there is
    one, else FROM the lab image. The sizes of the three layers' files."""
    ctx.mkdir()
    for i, (name, size) in enumerate(SMALL_FILES.items()):
        (ctx / name).write_bytes(bytes([65 + i]) * (size - len(tag)) + tag.encode())
    if Path("/bin/busybox").is_file():
        shutil.copy("/bin/busybox", ctx / "busybox")
        dockerfile = (
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            "COPY a.txt /a.txt\n"
            "COPY b.bin /data/b.bin\n"
            'CMD ["/bin/busybox", "sleep", "600"]\n'
        )
        sizes = [(ctx / "busybox").stat().st_size, *SMALL_FILES.values()]
        scratch = True
    else:
        (ctx / "c.txt").write_text(tag)
        dockerfile = (
            f"FROM {lab_image}\n"
            "COPY a.txt /a.txt\n"
            "COPY b.bin /data/b.bin\n"
            "COPY c.txt /c.txt\n"
            'CMD ["sleep", "600"]\n'
        )
        sizes = [*SMALL_FILES.values(), len(tag)]
        scratch = False
    (ctx / "Dockerfile").write_text(dockerfile)
    return dockerfile, sizes, scratch


@pytest.fixture(scope="module")
def lab(
    docker_engine: Any, lab_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    tag = secrets.token_hex(3)
    labels = lab_labels(f"truth-{tag}")
    work = tmp_path_factory.mktemp("truth")
    made = Lab(tag=tag)

    def run(key: str, image: str = lab_image, **kwargs: Any) -> None:
        kwargs.setdefault("command", ["sleep", "600"])
        made.containers[key] = docker_engine.containers.run(
            image, name=f"truth-{key}-{tag}", detach=True, labels=labels, **kwargs
        )

    try:
        _, made.layer_sizes, scratch = _build_context(work / "ctx", lab_image, tag)
        made.image, _ = docker_engine.images.build(
            path=str(work / "ctx"), labels=labels, rm=True, forcerm=True
        )
        if not scratch:
            made.base_layers = len(docker_engine.images.get(lab_image).attrs["RootFS"]["Layers"])
        made.volume = docker_engine.volumes.create(f"truth-vol-{tag}", labels=labels)
        made.bind_dir = work / "bind"
        made.bind_dir.mkdir()
        (made.bind_dir / "hello").write_text(tag)

        for key, (kwargs, _) in NS_MATRIX.items():
            run(key, **kwargs)
        run("guest", network_mode=f"container:{made.containers['owner'].id}")
        run("limits", **LIMITS)
        for key, kwargs in SECURITY.items():
            run(key, **kwargs)
        run(
            "mounts",
            volumes={
                made.volume.name: {"bind": "/data", "mode": "rw"},
                str(made.bind_dir): {"bind": "/bind", "mode": "ro"},
            },
        )
        run("layers", made.image.id, command=None)
        run("oom", mem_limit="32m", memswap_limit="32m")
        run("throttle", nano_cpus=100_000_000)
        for container in made.containers.values():
            container.reload()
            assert container.status == "running", container.name
        yield made
    finally:
        for container in made.containers.values():
            container.remove(force=True, v=True)
        if made.volume is not None:
            made.volume.remove(force=True)
        if made.image is not None:
            docker_engine.images.remove(made.image.id, force=True)


@pytest.fixture(scope="module")
def report(lab: Lab) -> Callable[[str], dict[str, Any]]:
    """`pyhost inspect NAME --json`, once per container."""
    cache: dict[str, dict[str, Any]] = {}

    def get(key: str) -> dict[str, Any]:
        if key not in cache:
            cache[key] = pyhost_inspect_json(lab.containers[key].name)
        return cache[key]

    return get


NS_KEYS = [*NS_MATRIX, "guest", "limits", *SECURITY, "mounts", "layers"]


@pytest.mark.parametrize("key", NS_KEYS)
def test_namespace_verdicts_match_the_kernels_links_and_the_flags(
    lab: Lab, report: Callable[[str], dict[str, Any]], key: str
) -> None:
    data = report(key)
    pid = lab.pid(key)
    assert data["target"]["pid"] == pid
    host, mine, listed = ns_links("self"), ns_links(pid), lsns(pid)
    flagged = NS_MATRIX.get(key, ({}, set()))[1]
    others = {k: ns_links(lab.pid(k)) for k in lab.containers if k != key}
    types = data["namespaces"]["types"]
    for kind in NS:
        shared = mine[kind] == host[kind]
        # the ground truth agrees with the flags used...
        assert shared == (kind in DOCKER_SHARES | flagged), (kind, mine[kind], host[kind])
        # ...and pyhost with the ground truth
        entry = types[kind]
        assert entry["inode"] == inode(mine[kind]) == listed[kind], kind
        assert entry["shared_with_host"] is shared, kind
        assert entry["verdict"] == ("shared with host" if shared else "isolated"), kind
        assert entry["expected"] is (shared == (kind in DOCKER_SHARES)), kind
        sharers = [
            lab.containers[k].name
            for k, links in others.items()
            if not shared and links[kind] == mine[kind]
        ]
        assert entry["shared_with"] == sorted(sharers), kind
    texts = {f["text"] for f in data["findings"] if f["section"] == "namespaces"}
    on_host = {t for t in texts if t.endswith("shared with the host")}
    assert on_host == {f"{kind} namespace shared with the host" for kind in flagged}


def test_uts_host_shows_the_hosts_hostname(lab: Lab, report: Callable[..., Any]) -> None:
    code, out = lab.containers["utshost"].exec_run(["hostname"])
    assert code == 0 and out.decode().strip() == socket.gethostname()
    code, out = lab.containers["owner"].exec_run(["hostname"])
    assert out.decode().strip() == lab.containers["owner"].id[:12] != socket.gethostname()
    assert report("utshost")["namespaces"]["types"]["uts"]["verdict"] == "shared with host"
    assert report("owner")["namespaces"]["types"]["uts"]["verdict"] == "isolated"


def test_pid_host_has_no_pid_of_its_own(lab: Lab, report: Callable[..., Any]) -> None:
    pid = lab.pid("pidhost")
    nspid = [int(p) for p in status(pid)["NSpid"].split()]
    assert nspid == [pid]  # one pid namespace level: the host's
    assert report("pidhost")["namespaces"]["nspid"] == nspid
    owner = lab.pid("owner")
    assert report("owner")["namespaces"]["nspid"] == [owner, 1]


def test_network_modes_match_dockers_config_and_the_interfaces(
    lab: Lab, report: Callable[[str], dict[str, Any]]
) -> None:
    owner, guest = lab.containers["owner"], lab.containers["guest"]
    # --network host: the host's stack, the host's interfaces
    before = net_names()
    fresh = pyhost_inspect_json(lab.containers["nethost"].name)
    after = net_names()
    host = fresh["network"]
    assert host["mode"] == "host"
    assert host["engine_mode"] == lab.containers["nethost"].attrs["HostConfig"]["NetworkMode"]
    names = {i["name"] for i in host["interfaces"]}
    assert before & after <= names <= before | after  # veths of other runs may come and go
    assert "uses the host's network stack (--network host)" in {
        f["text"] for f in fresh["findings"]
    }
    # Docker's default: its own namespace on the bridge
    own = report("owner")["network"]
    assert own["mode"] == "own" and own["engine_mode"] == "default"
    settings = owner.attrs["NetworkSettings"]["Networks"]["bridge"]
    eth0 = next(i for i in own["interfaces"] if i["name"] == "eth0")
    assert f"{settings['IPAddress']}/{settings['IPPrefixLen']}" in eth0["addresses"]
    assert eth0["mac"] == settings["MacAddress"]
    assert own["gateway"] == settings["Gateway"]
    # the veth peer, as iproute2 sees the host's links
    links = json.loads(
        subprocess.run(
            ["ip", "-j", "link", "show"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    )
    peer = next(link for link in links if link["ifindex"] == eth0["iflink"])
    assert eth0["host_peer"]["name"] == peer["ifname"]
    assert eth0["host_peer"]["master"] == peer.get("master") == "docker0"
    # a host veth's iflink is an ifindex in a container's namespace: no peer on the host
    assert all(i["host_peer"] is None for i in host["interfaces"])
    # --network container:owner: the owner's namespace, interfaces and addresses
    net = report("guest")["network"]
    assert guest.attrs["HostConfig"]["NetworkMode"] == f"container:{owner.id}"
    assert net["engine_mode"] == f"container:{owner.id}"
    assert net["mode"] == f"container:{owner.name}"
    assert net["netns"] == own["netns"] == inode(ns_links(lab.pid("owner"))["net"])
    assert [(i["name"], i["addresses"], i["mac"]) for i in net["interfaces"]] == [
        (i["name"], i["addresses"], i["mac"]) for i in own["interfaces"]
    ]
    assert net["gateway"] == settings["Gateway"]


def controller_dir(controller: str) -> Path:
    """Where this host mounts a cgroup v1 controller, from the mount table (``cpu`` may be
    its own mount or share one with ``cpuacct``)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = right.split()[:3]
        if fstype == "cgroup" and controller in options.split(","):
            return Path(left.split()[4])
    raise AssertionError(f"no cgroup v1 mount for {controller}")


def _cg(controller: str, container: Any, name: str) -> Path:
    """The file of the container's cgroup (cgroupfs driver: /docker/<id>)."""
    return controller_dir(controller) / "docker" / str(container.id) / name


def propagation(pid: int, target: str) -> str:
    """findmnt's view: "private", "shared", "private,slave"..., in pyhost's words."""
    res = subprocess.run(
        ["findmnt", "-J", "-N", str(pid), "-o", "TARGET,PROPAGATION", target],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    words = set(json.loads(res.stdout)["filesystems"][-1]["propagation"].split(","))
    for word in ("shared", "slave", "unbindable"):
        if word in words:
            return word
    return "private"


def test_limits_match_the_cgroup_files_and_dockers_config(
    lab: Lab, report: Callable[[str], dict[str, Any]]
) -> None:
    c = lab.containers["limits"]
    hc = c.attrs["HostConfig"]
    cg = report("limits")["cgroups"]
    assert cg["version"] == 1 and cg["driver"] == "cgroupfs"
    assert cg["path"] == f"/docker/{c.id}"
    assert cg["controllers"]["memory"] == cg["controllers"]["pids"] == f"/docker/{c.id}"
    assert cg["findings"] == []

    mem = cg["memory"]
    assert (
        mem["limit"]
        == hc["Memory"]
        == 48 * MiB
        == read_int(_cg("memory", c, "memory.limit_in_bytes"))
    )
    memsw = _cg("memory", c, "memory.memsw.limit_in_bytes")
    if memsw.exists():  # swap accounting on: Docker sets twice the memory by default
        assert mem["swap_limit"] == read_int(memsw) == hc["MemorySwap"] == 96 * MiB
    usage = read_int(_cg("memory", c, "memory.usage_in_bytes"))
    assert 0 < mem["usage"] <= mem["limit"] and abs(mem["usage"] - usage) < MiB
    assert mem["usage"] <= mem["peak"] <= mem["limit"]
    assert mem["oom_kills"] == keyed(_cg("memory", c, "memory.oom_control"))["oom_kill"] == 0

    cpu = cg["cpu"]
    assert cpu["quota"] == read_int(_cg("cpu", c, "cpu.cfs_quota_us")) == 50_000
    assert cpu["period"] == read_int(_cg("cpu", c, "cpu.cfs_period_us")) == 100_000
    assert cpu["cpus"] == hc["NanoCpus"] / 1e9 == 0.5
    assert cpu["shares"] == read_int(_cg("cpu", c, "cpu.shares")) == 1024

    assert cg["pids"]["limit"] == hc["PidsLimit"] == read_int(_cg("pids", c, "pids.max")) == 77
    assert cg["pids"]["current"] == read_int(_cg("pids", c, "pids.current")) == 1

    cpuset = cg["cpuset"]
    assert cpuset["cpus"] == hc["CpusetCpus"] == _cg("cpuset", c, "cpuset.cpus").read_text().strip()
    assert cpuset["effective_cpus"] == "0"
    assert cpuset["mems"] == _cg("cpuset", c, "cpuset.mems").read_text().strip()


def test_no_limits_read_as_none(lab: Lab, report: Callable[[str], dict[str, Any]]) -> None:
    c = lab.containers["owner"]
    hc = c.attrs["HostConfig"]
    assert hc["Memory"] == 0 and hc["NanoCpus"] == 0 and not hc["PidsLimit"]
    cg = report("owner")["cgroups"]
    assert read_int(_cg("memory", c, "memory.limit_in_bytes")) >= 1 << 62
    assert cg["memory"]["limit"] is None and cg["memory"]["swap_limit"] is None
    assert read_int(_cg("cpu", c, "cpu.cfs_quota_us")) == -1
    assert cg["cpu"]["quota"] is None and cg["cpu"]["cpus"] is None
    assert _cg("pids", c, "pids.max").read_text().strip() == "max"
    assert cg["pids"]["limit"] is None
    all_cpus = (controller_dir("cpuset") / "cpuset.cpus").read_text().strip()
    assert cg["cpuset"]["cpus"] == cg["cpuset"]["effective_cpus"] == all_cpus


def test_an_oom_kill_inside_a_living_container_is_counted(lab: Lab) -> None:
    c = lab.containers["oom"]
    oom_control = _cg("memory", c, "memory.oom_control")
    assert keyed(oom_control)["oom_kill"] == 0
    assert read_int(_cg("memory", c, "memory.limit_in_bytes")) == 32 * MiB
    # 64 MiB written page by page in a 32 MiB cgroup (no swap beyond it): killed
    code, out = c.exec_run(["timeout", "30", "python3", "-c", "b = b'x' * (64 << 20)"])
    assert code == 137, out
    kills = keyed(oom_control)["oom_kill"]
    assert kills >= 1
    c.reload()
    assert c.status == "running" and c.attrs["State"]["OOMKilled"] is False
    data = pyhost_inspect_json(c.name)
    assert data["cgroups"]["memory"]["oom_kills"] == kills == keyed(oom_control)["oom_kill"]
    assert data["cgroups"]["memory"]["limit"] == 32 * MiB
    assert data["cgroups"]["memory"]["swap_limit"] in (None, 32 * MiB)
    assert data["cgroups"]["memory"]["peak"] >= 30 * MiB  # it did reach the limit


def test_a_busy_loop_over_its_cpu_quota_is_throttled(lab: Lab) -> None:
    c = lab.containers["throttle"]
    stat = _cg("cpu", c, "cpu.stat")
    before = keyed(stat)["nr_throttled"]
    code, out = c.exec_run(["timeout", "2", "sh", "-c", "while :; do :; done"])
    assert code == 124, out  # the loop ran its two seconds and was stopped
    first = keyed(stat)
    data = pyhost_inspect_json(c.name)
    last = keyed(stat)
    cpu = data["cgroups"]["cpu"]
    assert cpu["quota"] == 10_000 and cpu["period"] == 100_000 and cpu["cpus"] == 0.1
    assert first["nr_throttled"] > before
    assert first["nr_throttled"] <= cpu["throttled"] <= last["nr_throttled"]
    assert first["throttled_time"] // 1000 <= cpu["throttled_usec"]
    assert cpu["throttled_usec"] <= last["throttled_time"] // 1000
    # throttled for some time, not just counted (how much depends on the host's load)
    assert cpu["throttled"] > 0 and cpu["throttled_usec"] > 0


SECURITY_TRUTH = {
    # container -> (CapEff from the flags, verdict, caps added, no_new_privs, read-only root)
    "owner": (DEFAULT_CAPEFF, "default", [], False, False),
    "capdrop": (0, "hardened", [], False, False),
    "capadd": (DEFAULT_CAPEFF | 1 << CAP_NET_ADMIN, "weakened", ["NET_ADMIN"], False, False),
    "readonly": (DEFAULT_CAPEFF, "hardened", [], False, True),
    "nnp": (DEFAULT_CAPEFF, "hardened", [], True, False),
}


@pytest.mark.parametrize("key", SECURITY_TRUTH)
def test_security_posture_matches_the_flags_and_proc_status(
    lab: Lab, report: Callable[[str], dict[str, Any]], key: str
) -> None:
    cap_eff, verdict, added, nnp, readonly = SECURITY_TRUTH[key]
    c = lab.containers[key]
    hc = c.attrs["HostConfig"]
    st = status(lab.pid(key))
    sec = report(key)["security"]
    assert int(st["CapEff"], 16) == cap_eff  # the flags did what they say
    assert sec["cap_eff"] == f"{cap_eff:016x}"
    names = sec["capabilities"]
    assert len(names) == bin(cap_eff).count("1")
    assert ("NET_ADMIN" in names) == bool(cap_eff & 1 << CAP_NET_ADMIN)
    assert sec["caps_added"] == added == (hc["CapAdd"] or [])
    assert len(sec["caps_dropped"]) == bin(DEFAULT_CAPEFF & ~cap_eff).count("1")
    if key == "capdrop":
        assert hc["CapDrop"] == ["ALL"] and sec["capabilities"] == []
        assert len(sec["caps_dropped"]) == bin(DEFAULT_CAPEFF).count("1")
    assert sec["privileged"] is False
    assert sec["seccomp"] == "filter" and st["Seccomp"] == "2"
    assert sec["seccomp_filters"] == int(st["Seccomp_filters"]) >= 1
    assert sec["no_new_privs"] is nnp is (st["NoNewPrivs"] == "1")
    assert ("no-new-privileges" in (hc["SecurityOpt"] or [])) is nnp
    assert sec["readonly_rootfs"] is readonly is hc["ReadonlyRootfs"]
    assert sec["user_namespace"] is False and sec["uid_map"] == [[0, 0, 4294967295]]
    assert sec["verdict"] == verdict
    texts = [f["text"] for f in report(key)["findings"] if f["section"] == "security"]
    assert texts == ([f"capabilities beyond Docker's default: {', '.join(added)}"] if added else [])


def test_a_read_only_root_refuses_writes(lab: Lab, report: Callable[..., Any]) -> None:
    code, out = lab.containers["readonly"].exec_run(["touch", "/probe"])
    assert code != 0 and b"Read-only file system" in out
    code, out = lab.containers["owner"].exec_run(["touch", "/probe"])
    assert code == 0, out
    assert report("readonly")["storage"]["rootfs"]["readonly"] is True
    assert report("owner")["storage"]["rootfs"]["readonly"] is False


def test_volume_and_bind_mounts_match_dockers_mounts_and_the_files(
    lab: Lab, report: Callable[[str], dict[str, Any]]
) -> None:
    c = lab.containers["mounts"]
    mounts = {m["destination"]: m for m in report("mounts")["storage"]["mounts"]}
    engine = {m["Destination"]: m for m in c.attrs["Mounts"]}
    assert set(engine) == {"/data", "/bind"}
    for dest, truth in engine.items():
        mine = mounts[dest]
        assert mine["kind"] == truth["Type"], dest
        assert mine["host_path"] == truth["Source"], dest
        assert mine["readonly"] is (not truth["RW"]), dest
        assert mine["propagation"] == propagation(lab.pid("mounts"), dest), dest
    assert mounts["/data"]["volume"] == lab.volume.name == engine["/data"]["Name"]
    assert engine["/data"]["Source"] == f"{DOCKER_ROOT}/volumes/{lab.volume.name}/_data"
    assert mounts["/bind"]["volume"] is None
    assert (
        engine["/bind"]["Propagation"] == "rprivate" and mounts["/bind"]["propagation"] == "private"
    )
    assert mounts["/bind"]["host_path"] == str(lab.bind_dir)
    # the host paths are where the files really are
    code, out = c.exec_run(["sh", "-c", f"echo {lab.tag} > /data/probe && cat /bind/hello"])
    assert code == 0 and out.decode().strip() == lab.tag
    assert Path(mounts["/data"]["host_path"], "probe").read_text().strip() == lab.tag
    code, out = c.exec_run(["touch", "/bind/nope"])
    assert code != 0 and b"Read-only file system" in out


@pytest.mark.parametrize("key", ["owner", "layers"])
def test_overlay_dirs_match_dockers_graph_driver(
    lab: Lab, report: Callable[[str], dict[str, Any]], key: str
) -> None:
    c = lab.containers[key]
    gd = c.attrs["GraphDriver"]
    st = report(key)["storage"]
    assert st["driver"] == gd["Name"] == "overlay2" and st["source"] == "layerdb"
    data = gd["Data"]
    layer = st["container_layer"]
    assert layer["upper_dir"] == st["rootfs"]["upper_dir"] == data["UpperDir"]
    assert st["rootfs"]["work_dir"] == data["WorkDir"]
    assert layer["merged_dir"] == data["MergedDir"]
    assert layer["merged_mounted"] is True and os.path.ismount(data["MergedDir"])
    lowers = data["LowerDir"].split(":")
    assert st["rootfs"]["lower_dirs"] == lowers
    assert lowers[0] == f"{DOCKER_ROOT}/overlay2/{layer['init_id']}/diff"
    assert layer["init_id"] == f"{layer['mount_id']}-init"
    assert [f"{entry['dir']}/diff" for entry in reversed(st["layers"])] == lowers[1:]
    assert all(entry["exists"] and Path(entry["dir"]).is_dir() for entry in st["layers"])


def test_the_scratch_images_layers_match_its_history_and_sizes(
    docker_engine: Any, lab: Lab, report: Callable[[str], dict[str, Any]]
) -> None:
    st = report("layers")["storage"]
    image = docker_engine.images.get(lab.image.id)
    diff_ids = image.attrs["RootFS"]["Layers"]
    assert len(diff_ids) == lab.base_layers + 3
    assert st["image_id"] == image.id
    assert [entry["diff_id"] for entry in st["layers"]] == diff_ids
    assert [entry["index"] for entry in st["layers"]] == list(range(len(diff_ids)))
    sizes = [entry["size"] for entry in st["layers"]]
    # each COPY layer holds one file: its size is that file's
    assert sizes[-3:] == lab.layer_sizes
    history = docker_engine.api.history(image.id)  # newest first
    copies = [h["Size"] for h in reversed(history) if "COPY" in h["CreatedBy"]]
    assert copies == lab.layer_sizes
    assert sum(sizes) == image.attrs["Size"]
    # the container's own layer: nothing written yet
    assert st["container_layer"]["upper_files"] == 0
