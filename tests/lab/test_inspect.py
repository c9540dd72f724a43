"""`pyhost inspect` against real containers of the test run's dockerd (cgroup v1, overlay2).

Each test checks what a user would check by hand: the namespaces by inode, the limit in the
cgroup file, the layer directories on disk, the veth peer on the bridge, the processes.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit.fastpath import HEAVY, inspect_fast
from labkit.hosts import lab_labels

pytestmark = pytest.mark.lab

MiB = 1024 * 1024
ISOLATED = ("mnt", "uts", "ipc", "pid", "net")


def pyhost_inspect(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyhost", "inspect", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def inspect_json(*args: str) -> dict[str, Any]:
    res = pyhost_inspect(*args, "--json")
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    assert data["schema"] == "pyhost.inspect/1"
    return data


def ppid_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


@pytest.fixture(scope="module")
def tag() -> str:
    return secrets.token_hex(3)


@pytest.fixture(scope="module")
def containers(docker_engine: Any, lab_image: str, tag: str) -> Iterator[dict[str, Any]]:
    """A default container with a small process tree, its network's guest, a host-network
    one, a stopped one."""
    labels = lab_labels(f"inspect-{tag}")
    made: dict[str, Any] = {}

    def run(key: str, command: list[str], **kwargs: Any) -> Any:
        made[key] = docker_engine.containers.run(
            lab_image, command, name=f"inspect-{key}-{tag}", detach=True, labels=labels, **kwargs
        )
        return made[key]

    try:
        default = run("default", ["sh", "-c", "sleep 600 & sleep 600"], mem_limit="64m")
        run("guest", ["sleep", "600"], network_mode=f"container:{default.id}")
        run("hostnet", ["sleep", "600"], network_mode="host")
        run("stopped", ["true"]).wait(timeout=30)
        for container in made.values():
            container.reload()
        yield made
    finally:
        for container in made.values():
            container.remove(force=True)


@pytest.fixture(scope="module")
def default(containers: dict[str, Any]) -> dict[str, Any]:
    return inspect_json(containers["default"].name)


def test_a_default_container_is_isolated_where_docker_isolates(
    containers: dict[str, Any], default: dict[str, Any]
) -> None:
    assert default["target"]["pid"] == containers["default"].attrs["State"]["Pid"]
    types = default["namespaces"]["types"]
    for kind in ISOLATED:
        assert types[kind]["verdict"] == "isolated", kind
        assert types[kind]["expected"] is True, kind
    for kind in ("user", "time", "cgroup"):  # Docker's defaults on cgroup v1
        assert types[kind]["shared_with_host"] is True, kind
        assert types[kind]["expected"] is True, kind
    assert not [f for f in default["findings"] if "shared with the host" in f["text"]]
    assert default["namespaces"]["nspid"][-1] == 1
    # the inode is the one the kernel shows for the container's process
    pid = default["target"]["pid"]
    assert types["net"]["inode"] == os.stat(f"/proc/{pid}/ns/net").st_ino


def test_host_network_is_a_finding(containers: dict[str, Any]) -> None:
    data = inspect_json(containers["hostnet"].name)
    assert data["namespaces"]["types"]["net"]["verdict"] == "shared with host"
    assert data["namespaces"]["types"]["net"]["expected"] is False
    assert {"section": "namespaces", "text": "net namespace shared with the host"} in data[
        "findings"
    ]
    assert data["network"]["mode"] == "host"
    human = pyhost_inspect(containers["hostnet"].name, env={**os.environ, "COLUMNS": "200"})
    assert human.returncode == 0, human.stderr
    assert "net namespace shared with the host" in human.stdout


def test_a_network_guest_shares_its_hosts_namespace(containers: dict[str, Any]) -> None:
    guest = inspect_json(containers["guest"].name)
    net = guest["namespaces"]["types"]["net"]
    assert net["shared_with"] == [containers["default"].name]
    assert net["verdict"] == "isolated"  # not the host's: the other container's
    assert guest["network"]["mode"] == f"container:{containers['default'].name}"
    assert guest["namespaces"]["types"]["pid"]["shared_with"] == []
    # and from the other side
    owner = inspect_json(containers["default"].name)
    assert owner["namespaces"]["types"]["net"]["shared_with"] == [containers["guest"].name]
    assert owner["network"]["mode"] == "own"


def test_memory_limit_is_read_from_the_cgroup(default: dict[str, Any]) -> None:
    cg = default["cgroups"]
    assert cg["version"] == 1 and cg["driver"] == "cgroupfs"
    assert cg["memory"]["limit"] == 64 * MiB == 67108864
    path = f"/sys/fs/cgroup/memory{cg['path']}/memory.limit_in_bytes"
    assert int(Path(path).read_text()) == 67108864
    assert cg["cpuset"]["effective_cpus"]


def test_the_layer_chain_leads_to_directories_on_disk(
    docker_engine: Any, containers: dict[str, Any], default: dict[str, Any]
) -> None:
    st = default["storage"]
    assert st["driver"] == "overlay2" and st["source"] == "layerdb"
    diff_ids = docker_engine.images.get(containers["default"].image.id).attrs["RootFS"]["Layers"]
    assert len(st["layers"]) == len(diff_ids)
    assert [layer["diff_id"] for layer in st["layers"]] == diff_ids
    last = st["layers"][-1]
    assert Path(f"/var/lib/docker/overlay2/{last['cache_id']}").is_dir() and last["exists"]
    layer = st["container_layer"]
    assert Path(layer["upper_dir"]).is_dir() and layer["merged_mounted"] is True
    assert st["rootfs"]["upper_dir"] == layer["upper_dir"]


def test_chain_ids_match_dockers_own_layerdb(docker_engine: Any, lab_image: str, tag: str) -> None:
    """A two-layer image: every chain id pyhost computes names a layerdb entry."""
    dockerfile = f"FROM {lab_image}\nRUN echo {tag} > /second-layer\n".encode()
    image, _ = docker_engine.images.build(
        fileobj=io.BytesIO(dockerfile), labels=lab_labels(f"inspect-{tag}"), rm=True
    )
    container = None
    try:
        container = docker_engine.containers.create(
            image.id, ["true"], name=f"inspect-layers-{tag}", labels=lab_labels(f"inspect-{tag}")
        )
        data = inspect_json(container.name)
        layers = data["storage"]["layers"]
        assert len(layers) == len(image.attrs["RootFS"]["Layers"]) >= 2
        assert layers[0]["chain_id"] == layers[0]["diff_id"]
        for layer in layers:
            assert layer["cache_id"], layer  # layerdb/sha256/<chain id>/cache-id exists
            assert layer["exists"] and layer["size"] is not None
        assert layers[1]["chain_id"] != layers[1]["diff_id"]
    finally:
        if container is not None:
            container.remove(force=True)
        docker_engine.images.remove(image.id, force=True)


def test_eth0s_host_peer_is_a_veth_on_docker0(
    containers: dict[str, Any], default: dict[str, Any]
) -> None:
    net = default["network"]
    eth0 = next(i for i in net["interfaces"] if i["name"] == "eth0")
    peer = eth0["host_peer"]
    assert peer is not None and peer["driver"] == "veth" and peer["master"] == "docker0"
    assert int(Path(f"/sys/class/net/{peer['name']}/ifindex").read_text()) == eth0["iflink"]
    settings = containers["default"].attrs["NetworkSettings"]["Networks"]["bridge"]
    assert f"{settings['IPAddress']}/{settings['IPPrefixLen']}" in eth0["addresses"]
    assert net["gateway"] == settings["Gateway"]


def test_a_file_written_in_the_container_shows_in_the_upper_dir(
    containers: dict[str, Any],
) -> None:
    before = inspect_json(containers["guest"].name)["storage"]["container_layer"]["upper_size"]
    code, out = containers["guest"].exec_run(["sh", "-c", "head -c 1048576 /dev/zero > /mib"])
    assert code == 0, out
    after = inspect_json(containers["guest"].name)["storage"]["container_layer"]
    assert after["upper_size"] - before >= MiB and after["upper_files"] >= 1


def test_the_process_tree_shows_host_and_container_pids(default: dict[str, Any]) -> None:
    procs = default["processes"]
    assert procs["scope"] == "pid namespace" and procs["count"] == 3
    tree = procs["tree"]
    assert tree[0]["container_pid"] == 1 and tree[0]["cmdline"][:2] == ["sh", "-c"]
    assert [p["depth"] for p in tree] == [0, 1, 1]
    assert all(p["cmdline"] == ["sleep", "600"] for p in tree[1:])
    assert all(p["ppid"] == tree[0]["pid"] and p["container_pid"] > 1 for p in tree[1:])
    assert all(p["nspid"] == [p["pid"], p["container_pid"]] for p in tree)


def test_components_chain_reaches_the_shim_above_the_container(
    default: dict[str, Any],
) -> None:
    comp = default["components"]
    pid = default["target"]["pid"]
    assert comp["shim"]["pid"] == ppid_of(pid)
    assert comp["shim"]["exe"].endswith("containerd-shim-runc-v2")
    assert [c["role"] for c in comp["chain"][:2]] == ["process", "containerd-shim"]
    assert comp["dockerd"]["pid"] > 0 and comp["dockerd"]["version"]
    assert comp["containerd"]["pid"] > 0
    assert Path(f"/proc/{comp['dockerd']['pid']}/comm").read_text().strip() == "dockerd"


def test_pid_of_this_test_process_shows_it_shares_the_hosts_namespaces() -> None:
    data = inspect_json("--pid", str(os.getpid()))
    assert data["target"]["kind"] == "process" and data["target"]["container"] is None
    types = data["namespaces"]["types"]
    assert all(types[kind]["shared_with_host"] is True for kind in ISOLATED)
    texts = [f["text"] for f in data["findings"]]
    assert "net namespace shared with the host" in texts
    assert data["storage"]["layers"] is None and data["storage"]["docker_root"] is None
    assert any("not a Docker container" in line for line in data["notes"])
    assert any(p["pid"] == os.getpid() for p in data["processes"]["tree"])


def test_unknown_name_exits_2_naming_a_near_match(containers: dict[str, Any]) -> None:
    name = containers["default"].name
    res = pyhost_inspect(name[:-1] + "x")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert name in res.stderr


def test_stopped_container_shows_what_can_be_known(containers: dict[str, Any]) -> None:
    res = pyhost_inspect(containers["stopped"].name, "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["target"]["running"] is False and data["target"]["pid"] is None
    assert any("is not running" in line for line in data["notes"])
    assert data["namespaces"]["available"] is False
    assert data["storage"]["available"] and data["storage"]["layers"]
    human = pyhost_inspect(containers["stopped"].name)
    assert human.returncode == 0
    assert "is not running" in human.stderr


def test_inspect_json_imports_nothing_heavy_with_or_without_a_cache(
    containers: dict[str, Any], tmp_path: Path
) -> None:
    """The structural guard of the start-up budget (bench/inspect_bench.py): on the fast
    command line, `inspect NAME --json` imports no argparse, json, re, enum, socket..."""
    name = containers["default"].name
    kept = str(tmp_path / "cache")
    cold, cold_modules = inspect_fast(name, XDG_CACHE_HOME=kept, HOME=str(tmp_path))
    warm, warm_modules = inspect_fast(name, XDG_CACHE_HOME=kept, HOME=str(tmp_path))
    assert sorted(HEAVY & cold_modules) == [] and sorted(HEAVY & warm_modules) == []
    assert cold["target"]["container"]["id"] == containers["default"].id
    # what the engine and the docker CLI say of themselves: the same, asked or kept
    assert warm["engine"] == cold["engine"]
    for part in ("docker_cli", "dockerd", "containerd", "runtime"):
        assert warm["components"][part] == cold["components"][part], part


def test_the_kept_engine_answers_are_the_engines(
    docker_engine: Any, containers: dict[str, Any], tmp_path: Path
) -> None:
    from pyhost.inspect.collect import cache

    name = containers["default"].name
    kept = tmp_path / "cache" / "pyhost"  # $XDG_CACHE_HOME/pyhost
    kept.mkdir(parents=True)
    # an entry under another key (another dockerd): ignored, and replaced
    stale = {"key": ["elsewhere"], "version": {"Version": "0.0"}, "info": {}}
    (kept / "engine.json").write_text(json.dumps(stale))
    data, _ = inspect_fast(name, XDG_CACHE_HOME=str(kept.parent), HOME=str(tmp_path))
    version, info = docker_engine.version(), docker_engine.info()
    assert data["engine"]["version"] == version["Version"]
    assert data["engine"]["cgroup_driver"] == info["CgroupDriver"]
    entry = json.loads((kept / "engine.json").read_text())
    assert entry["key"] != stale["key"]
    assert {"version": entry["version"], "info": entry["info"]} == cache.engine_subset(
        version, info
    )
    # the key names this engine's dockerd: its pid is in it, and it is stable
    assert data["components"]["dockerd"]["pid"] in entry["key"]
    data, _ = inspect_fast(name, XDG_CACHE_HOME=str(kept.parent), HOME=str(tmp_path))
    assert json.loads((kept / "engine.json").read_text())["key"] == entry["key"]
    assert data["components"]["containerd"]["version"] == next(
        c["Version"] for c in version["Components"] if c["Name"] == "containerd"
    )
