"""Network: the netns read from outside, on recorded /proc/PID/net files and a fake sysfs."""

from __future__ import annotations

import ipaddress
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from pyhost.inspect.collect import network

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "inspect" / "net"


def write_link(base: Path, name: str, ifindex: int, iflink: int, mac: str) -> None:
    d = base / name
    d.mkdir(parents=True)
    for attr, value in (
        ("ifindex", ifindex),
        ("iflink", iflink),
        ("address", mac),
        ("mtu", 1500),
        ("operstate", "up"),
    ):
        (d / attr).write_text(f"{value}\n")


@pytest.fixture
def trees(tmp_path: Path) -> dict[str, str]:
    """proc/7 (a bridge container) with its sysfs, and the host's sysfs with its veth peer."""
    proc = tmp_path / "proc"
    shutil.copytree(DATA, proc / "7" / "net")
    inner = proc / "7" / "root" / "sys" / "class" / "net"
    write_link(inner, "eth0", 108, 109, "02:42:ac:11:00:02")
    write_link(inner, "lo", 1, 1, "00:00:00:00:00:00")
    host = tmp_path / "sys" / "class" / "net"
    write_link(host, "docker0", 5, 5, "02:42:09:d1:10:cf")
    write_link(host, "vethb53d088", 109, 108, "3e:12:36:80:a6:b3")
    (host / "vethb53d088" / "master").symlink_to("../docker0")
    return {"proc": str(proc), "sysfs": str(tmp_path / "sys")}


def test_addresses_come_from_the_kernels_tables() -> None:
    assert network.local_ipv4((DATA / "fib_trie").read_text()) == ["127.0.0.1", "172.17.0.2"]
    table = network.routes((DATA / "route").read_text())
    assert [(str(r["network"]), r["gateway"]) for r in table] == [
        ("0.0.0.0/0", "172.17.0.1"),
        ("172.17.0.0/16", None),
    ]
    assert network.assign_ipv4(["127.0.0.1", "172.17.0.2", "10.9.9.9"], table) == {
        "lo": ["127.0.0.1/8"],
        "eth0": ["172.17.0.2/16"],
        "?": ["10.9.9.9/32"],
    }
    assert network.ipv6((DATA / "if_inet6").read_text()) == {
        "lo": ["::1/128"],
        "eth0": ["fe80::42:aff:fe11:2/64"],
    }


def test_address_text_is_ipaddress_text() -> None:
    rng = random.Random(4)
    samples = [
        bytes(16),
        bytes(15) + b"\1",
        b"\xfe\x80" + bytes(14),
        bytes(10) + b"\xff\xff" + bytes(4),
    ]
    for _ in range(1000):
        # few distinct groups, so that runs of zero groups of every length and place occur
        samples.append(b"".join(rng.choice([b"\0\0", b"\0\1", b"\xab\0"]) for _ in range(8)))
    for packed in samples:
        assert network.ipv6_text(packed) == str(ipaddress.IPv6Address(packed)), packed.hex()
    for _ in range(600):
        value = rng.getrandbits(32)
        text = str(ipaddress.IPv4Address(value))
        assert network.ipv4_text(value) == text and network.ipv4_int(text) == value
        length = rng.randint(0, 32)
        net = ipaddress.IPv4Network((value, length), strict=False)
        assert str(network.IPv4Net(value, length)) == str(net)
        assert network.prefix_of(int(net.netmask)) == length
        if 0 < length < 32:  # 0.0.0.0 and 255.255.255.255 are netmasks first
            assert network.prefix_of(int(net.hostmask)) == length
        probe = rng.getrandbits(32)
        assert (probe in network.IPv4Net(value, length)) == (ipaddress.IPv4Address(probe) in net)
    for bad in ("1.2.3", "1.2.3.256", "a.b.c.d", "1..2.3"):
        with pytest.raises(ValueError):
            network.ipv4_int(bad)
    with pytest.raises(ValueError):
        network.prefix_of(0xFF00FF00)


def section(trees: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    net = {"shared_with_host": False, "inode": 4026532184, "shared_with": []}
    args: dict[str, Any] = {"net": net, "owner": None, "config": None, "peer_lookup": True}
    args.update(kwargs)
    args.update(trees)
    return network.section(7, **args)


def test_eth0s_peer_is_the_host_interface_with_its_iflink(trees: dict[str, str]) -> None:
    got = section(trees)
    assert got["mode"] == "own" and got["gateway"] == "172.17.0.1"
    eth0, lo = got["interfaces"]
    assert (eth0["name"], eth0["ifindex"], eth0["iflink"]) == ("eth0", 108, 109)
    assert eth0["addresses"] == ["172.17.0.2/16", "fe80::42:aff:fe11:2/64"]
    assert eth0["rx_bytes"] == 876 and eth0["rx_packets"] == 10
    peer = eth0["host_peer"]
    assert peer["name"] == "vethb53d088" and peer["master"] == "docker0"
    assert peer["driver"] is None  # no such interface on this machine for SIOCETHTOOL
    assert lo["host_peer"] is None and lo["addresses"] == ["127.0.0.1/8", "::1/128"]


def test_no_peer_lookup_outside_the_hosts_netns(trees: dict[str, str]) -> None:
    got = section(trees, peer_lookup=False)
    assert got["interfaces"][0]["host_peer"] is None


def test_a_sysfs_of_another_netns_is_not_trusted(trees: dict[str, str]) -> None:
    inner = Path(trees["proc"]) / "7" / "root" / "sys" / "class" / "net"
    write_link(inner, "wlan0", 3, 3, "aa:bb:cc:dd:ee:ff")
    eth0 = section(trees)["interfaces"][0]
    assert eth0["ifindex"] is None and eth0["host_peer"] is None
    assert eth0["addresses"] == ["172.17.0.2/16", "fe80::42:aff:fe11:2/64"]


@pytest.mark.parametrize(
    ("shared", "names", "owner", "mode"),
    [
        (True, ["eth0", "lo"], None, "host"),
        (False, ["lo"], None, "none"),
        (False, ["eth0", "lo"], "web", "container:web"),
        (False, ["eth0", "lo"], None, "own"),
    ],
)
def test_mode(shared: bool, names: list[str], owner: str | None, mode: str) -> None:
    assert network.mode(shared, names, owner) == mode


def test_ports_and_engine_addresses(trees: dict[str, str]) -> None:
    config = {
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkSettings": {
            "Ports": {
                "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
                "9000/tcp": None,
            },
            "Networks": {
                "bridge": {
                    "NetworkID": "196a65e30d2b" + "0" * 52,
                    "IPAddress": "172.17.0.2",
                    "IPPrefixLen": 16,
                    "Gateway": "172.17.0.1",
                    "MacAddress": "02:42:ac:11:00:02",
                }
            },
        },
    }
    got = section(trees, config=config)
    assert got["engine_mode"] == "bridge"
    assert got["ports"] == [
        {"container_port": 53, "protocol": "udp", "host_ip": "127.0.0.1", "host_port": 5353},
        {"container_port": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host_port": 8080},
    ]
    assert got["engine_networks"]["bridge"]["ip"] == "172.17.0.2/16"
    assert got["engine_networks"]["bridge"]["network_id"] == "196a65e30d2b"
    assert got["findings"] == ["port 80/tcp published on every host address (0.0.0.0:8080)"]


def test_ethtool_of_a_missing_interface_is_none() -> None:
    assert network.ethtool_driver("no-such-if0") is None


def test_ethtool_driver_is_the_kernels_for_a_device_with_a_driver() -> None:
    base = Path("/sys/class/net")
    devices = {
        p.name: (p / "device" / "driver").resolve().name
        for p in sorted(base.iterdir())
        if (p / "device" / "driver").exists()
    }
    if not devices:
        pytest.skip("no network device with a driver link in /sys/class/net")
    for name, driver in devices.items():
        assert network.ethtool_driver(name) == driver
    assert network.ethtool_driver("no-such-if0") is None
