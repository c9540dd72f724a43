"""The contract of `pyhost inspect --json`, schema "pyhost.inspect/1".

Scripts read these keys. Every key of the top level and of each section is pinned here as a
literal: renaming or removing one fails this test and needs "pyhost.inspect/2". Adding a
key is compatible: add it here too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pyhost.inspect.collect import inspection, storage
from pyhost.inspect.collect.engine import Engine

pytestmark = pytest.mark.unit

TOP = {
    "schema",
    "host",
    "root",
    "cgroup_version",
    "namespace_reference",
    "target",
    "engine",
    "namespaces",
    "cgroups",
    "storage",
    "network",
    "security",
    "processes",
    "components",
    "findings",
    "notes",
}
EVERY_SECTION = {"available", "reason", "findings"}
SECTIONS = {
    "namespaces": {"reference", "nspid", "types"},
    "cgroups": {
        "version",
        "driver",
        "path",
        "controllers",
        "memory",
        "cpu",
        "pids",
        "cpuset",
        "io",
    },
    "storage": {
        "driver",
        "docker_root",
        "source",
        "image_id",
        "layers",
        "container_layer",
        "rootfs",
        "mounts",
    },
    "network": {
        "mode",
        "engine_mode",
        "netns",
        "shared_with",
        "interfaces",
        "gateway",
        "addresses_source",
        "engine_networks",
        "ports",
    },
    "security": {
        "cap_eff",
        "capabilities",
        "caps_added",
        "caps_dropped",
        "privileged",
        "seccomp",
        "seccomp_filters",
        "apparmor",
        "no_new_privs",
        "readonly_rootfs",
        "uid_map",
        "gid_map",
        "user_namespace",
        "docker_sock",
        "verdict",
    },
    "processes": {"pid_namespace", "scope", "count", "truncated", "tree"},
    "components": {
        "docker_cli",
        "dockerd",
        "containerd",
        "shim",
        "runtime",
        "process",
        "chain",
    },
}
TARGET = {"kind", "query", "pid", "running", "container"}
CONTAINER = {
    "id",
    "name",
    "image",
    "image_id",
    "status",
    "exit_code",
    "started_at",
    "finished_at",
    "command",
}
ENGINE = {
    "socket",
    "available",
    "error",
    "version",
    "api_version",
    "root_dir",
    "storage_driver",
    "cgroup_driver",
}
NAMESPACE = {"inode", "device", "shared_with_host", "verdict", "expected", "shared_with"}
NS_TYPES = {"mnt", "uts", "ipc", "pid", "net", "user", "cgroup", "time"}
MEMORY = {"limit", "usage", "peak", "swap_limit", "oom_kills"}
CPU_V1 = {"quota", "period", "cpus", "shares", "throttled", "throttled_usec"}
CPU_V2 = {"quota", "period", "cpus", "weight", "throttled", "throttled_usec"}
PIDS = {"limit", "current"}
CPUSET = {"cpus", "effective_cpus", "mems", "effective_mems"}
IO = {"limits", "weight"}
IO_LIMIT = {"device", "name", "rbps", "wbps", "riops", "wiops"}
LAYER = {"index", "diff_id", "chain_id", "cache_id", "dir", "exists", "size"}
CONTAINER_LAYER = {
    "mount_id",
    "init_id",
    "upper_dir",
    "upper_exists",
    "upper_size",
    "upper_files",
    "upper_truncated",
    "merged_dir",
    "merged_mounted",
}
ROOTFS = {"fstype", "source", "readonly", "lower_dirs", "upper_dir", "work_dir"}
MOUNT = {
    "destination",
    "kind",
    "fstype",
    "source",
    "host_path",
    "volume",
    "readonly",
    "propagation",
}
INTERFACE = {
    "name",
    "ifindex",
    "iflink",
    "mac",
    "mtu",
    "state",
    "rx_bytes",
    "rx_packets",
    "tx_bytes",
    "tx_packets",
    "addresses",
    "host_peer",
}
HOST_PEER = {"name", "ifindex", "driver", "master", "mac"}
PORT = {"container_port", "protocol", "host_ip", "host_port"}
ENGINE_NETWORK = {"network_id", "ip", "gateway", "mac"}
PROCESS = {"pid", "container_pid", "nspid", "ppid", "depth", "comm", "state", "uid", "cmdline"}
COMPONENT = {"pid", "ppid", "comm", "exe", "version"}
CHAIN = {"pid", "comm", "role"}
FINDING = {"section", "text"}


def test_the_module_declares_the_pinned_keys() -> None:
    assert inspection.SCHEMA == "pyhost.inspect/1"
    assert set(inspection.TOP_KEYS) == TOP
    assert {k: set(v) for k, v in inspection.SECTION_KEYS.items()} == SECTIONS


@pytest.fixture(scope="module")
def this_process() -> dict[str, Any]:
    """A real inspection of the test process (no engine), through JSON and back."""
    data = inspection.inspect_pid(os.getpid(), engine=Engine("/nonexistent/docker.sock"))
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result


def test_top_level_and_every_section(this_process: dict[str, Any]) -> None:
    assert set(this_process) == TOP
    assert this_process["schema"] == "pyhost.inspect/1"
    assert set(this_process["target"]) == TARGET
    assert set(this_process["engine"]) == ENGINE
    for name, keys in SECTIONS.items():
        assert set(this_process[name]) == keys | EVERY_SECTION, name
        stub = inspection.unavailable(name, "not running")
        assert set(stub) == keys | EVERY_SECTION, name
    assert all(set(f) == FINDING for f in this_process["findings"])


def test_nested_keys_of_a_process(this_process: dict[str, Any]) -> None:
    ns = this_process["namespaces"]["types"]
    assert set(ns) == NS_TYPES and all(set(v) == NAMESPACE for v in ns.values())
    cg = this_process["cgroups"]
    assert set(cg["memory"]) == MEMORY and set(cg["pids"]) == PIDS
    assert set(cg["cpu"]) == (CPU_V1 if cg["version"] == 1 else CPU_V2)
    assert set(cg["cpuset"]) == CPUSET and set(cg["io"]) == IO
    assert all(set(row) == INTERFACE for row in this_process["network"]["interfaces"])
    assert all(set(row) == PROCESS for row in this_process["processes"]["tree"])
    comp = this_process["components"]
    assert all(set(c) == CHAIN for c in comp["chain"])
    assert set(comp["process"]) == COMPONENT
    assert set(comp["runtime"]) == {"name", "version", "pid"}
    assert all(set(m) == MOUNT for m in this_process["storage"]["mounts"])
    assert set(this_process["storage"]["rootfs"]) == ROOTFS


def test_nested_keys_of_a_container(tmp_path: Path) -> None:
    """The Docker-only parts, on a fake Docker root and Docker's config."""
    from test_inspect_storage import CID, IMAGE, fake_root

    root = fake_root(tmp_path)
    config = {"Id": CID, "Image": IMAGE, "Mounts": [{"Type": "bind", "Destination": "/x"}]}
    got = storage.section(pid=None, config=config, root=str(root), driver="overlay2")
    assert all(set(layer) == LAYER for layer in got["layers"])
    assert set(got["container_layer"]) == CONTAINER_LAYER
    assert all(set(m) == MOUNT for m in got["mounts"])

    ctx = inspection.Context(pid=None, config=config, known={}, version=None, info=None)
    assert set(inspection.target_block("container", "x", ctx)["container"]) == CONTAINER


def test_nested_keys_of_network_and_components(tmp_path: Path) -> None:
    from pyhost.inspect.collect import cgroups, components, network

    settings = {
        "NetworkSettings": {
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "80"}]},
            "Networks": {"bridge": {"IPAddress": "172.17.0.2", "IPPrefixLen": 16}},
        }
    }
    assert all(set(p) == PORT for p in network.ports(settings))
    assert all(set(n) == ENGINE_NETWORK for n in network.engine_networks(settings).values())
    veth = tmp_path / "class" / "net" / "veth0"
    veth.mkdir(parents=True)
    (veth / "ifindex").write_text("9\n")
    assert set(network.host_peer(9, str(tmp_path)) or {}) == HOST_PEER
    assert set(cgroups._io_row("254:0", "/sys")) == IO_LIMIT
    from pyhost.inspect.collect.proctable import Proc

    assert set(components.describe(Proc(1, 0, "init", 0), "/proc") or {}) == COMPONENT


def test_a_recorded_container_report_keeps_the_contract() -> None:
    """A real container's report (tests/unit/data/inspect/container.json) has every key."""
    data = json.loads((Path(__file__).parent / "data" / "inspect" / "container.json").read_text())
    assert set(data) == TOP and set(data["target"]) == TARGET
    assert set(data["target"]["container"]) == CONTAINER
    for name, keys in SECTIONS.items():
        assert set(data[name]) == keys | EVERY_SECTION, name
    st = data["storage"]
    assert all(set(layer) == LAYER for layer in st["layers"])
    assert set(st["container_layer"]) == CONTAINER_LAYER and set(st["rootfs"]) == ROOTFS
    assert all(set(m) == MOUNT for m in st["mounts"])
    net = data["network"]
    assert all(set(i) == INTERFACE for i in net["interfaces"])
    peers = [i["host_peer"] for i in net["interfaces"] if i["host_peer"]]
    assert peers and all(set(p) == HOST_PEER for p in peers)
    assert net["ports"] and all(set(p) == PORT for p in net["ports"])
    assert all(set(n) == ENGINE_NETWORK for n in net["engine_networks"].values())
    assert all(set(f) == FINDING for f in data["findings"])
    comp = data["components"]
    assert all(set(comp[k]) == COMPONENT for k in ("dockerd", "containerd", "shim", "process"))
    assert set(comp["docker_cli"]) == {"path", "version"}
