"""Container networks: none (loopback only), host, and bridge.

bridge: a ``pyhost0`` Linux bridge holding the gateway address of a subnet (10.99.0.0/24, or
PYHOST_BRIDGE_SUBNET), one veth pair per container (eth0 inside), MASQUERADE for the subnet
and DNAT for ``-p``. Links and addresses go through pyroute2 (netlink); NAT through the
iptables command, as Docker does. Every rule carries an ``-m comment`` naming its owner, so
removal finds exactly pyhost's rules, also those of a supervisor that was killed. The bridge
and its rules go when its last container goes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Any

from pyhost.runtime.errors import RunError, RunUsageError
from pyhost.runtime.launch import Hooks
from pyhost.runtime.spec import ANY_IP, Port

BRIDGE = "pyhost0"
BRIDGE_TAG = "pyhost:bridge"
DEFAULT_SUBNET = "10.99.0.0/24"


def subnet() -> ipaddress.IPv4Network:
    text = os.environ.get("PYHOST_BRIDGE_SUBNET", DEFAULT_SUBNET)
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise RunUsageError(f"PYHOST_BRIDGE_SUBNET {text!r} is not a subnet: {e}") from e
    if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen > 29:
        raise RunUsageError(f"PYHOST_BRIDGE_SUBNET {text!r}: an IPv4 subnet of /29 or larger")
    return net


def container_tag(container_id: str) -> str:
    return f"pyhost:{container_id[:12]}"


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["iptables", "-w", "5", *args], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError as e:
        raise RunError(
            "bridge networking needs the iptables command", hint="or --network none"
        ) from e
    if check and result.returncode != 0:
        raise RunError(f"iptables {' '.join(args)}: {result.stderr.strip()}")
    return result


def remove_rules(tag: str) -> int:
    """Delete every rule whose comment is exactly ``tag`` in the filter and nat tables."""
    removed = 0
    for table in ("nat", "filter"):
        listing = iptables("-t", table, "-S", check=False).stdout.splitlines()
        for line in listing:
            if f'--comment "{tag}"' not in line and f"--comment {tag} " not in line + " ":
                continue
            if not line.startswith("-A "):
                continue
            args = _split_rule(line[3:])
            if iptables("-t", table, "-D", *args, check=False).returncode == 0:
                removed += 1
    return removed


def pyhost_tags() -> set[str]:
    """Every ``pyhost:...`` comment in the nat and filter tables."""
    import re

    tags: set[str] = set()
    for table in ("nat", "filter"):
        listing = iptables("-t", table, "-S", check=False).stdout
        tags.update(re.findall(r'--comment "?(pyhost:[0-9a-z]+)"?', listing))
    return tags


def _split_rule(text: str) -> list[str]:
    import shlex

    return shlex.split(text)


def _add_rule(table: str, chain: str, tag: str, *rule: str, insert: bool = False) -> None:
    spec = [*rule, "-m", "comment", "--comment", tag]
    if iptables("-t", table, "-C", chain, *spec, check=False).returncode == 0:
        return
    iptables("-t", table, "-I" if insert else "-A", chain, *spec)


def check_ports_free(ports: list[Port], taken: set[tuple[str, int, str]]) -> None:
    """Refuse a host port another program or container holds (nothing is created yet)."""
    for port in ports:
        for ip, number, proto in taken:
            if (
                number == port.host_port
                and proto == port.proto
                and (ip == port.host_ip or ANY_IP in (ip, port.host_ip))
            ):
                raise RunUsageError(
                    f"port {port.host_ip}:{port.host_port}/{port.proto} is already published "
                    "by another pyhost container"
                )
        kind = socket.SOCK_STREAM if port.proto == "tcp" else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((port.host_ip, port.host_port))
            except OSError as e:
                raise RunUsageError(
                    f"port {port.host_ip}:{port.host_port}/{port.proto} is already in use "
                    f"({e.strerror})",
                    hint="choose another host port",
                ) from e


@dataclass
class Bridge(Hooks):
    """The bridge side of one container: its address, veth pair and published ports."""

    container_id: str
    address: str
    ports: list[Port] = field(default_factory=list)
    net: ipaddress.IPv4Network = field(default_factory=subnet)

    @property
    def host_veth(self) -> str:
        return f"ph{self.container_id[:11]}"

    @property
    def peer_veth(self) -> str:
        return f"pc{self.container_id[:11]}"

    @property
    def gateway(self) -> str:
        return str(self.net.network_address + 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": "bridge",
            "bridge": BRIDGE,
            "address": self.address,
            "gateway": self.gateway,
            "subnet": str(self.net),
            "veth": self.host_veth,
            "ports": [p.to_json() for p in self.ports],
        }

    def prepare(self) -> None:
        """The bridge, its rules, the veth pair (host end on the bridge), ports published."""
        with iproute() as ipr:
            bridge = _ensure_bridge(ipr, self.net, self.gateway)
            ipr.link("add", ifname=self.host_veth, kind="veth", peer=self.peer_veth)
            host = ipr.link_lookup(ifname=self.host_veth)[0]
            ipr.link("set", index=host, master=bridge, state="up")
        _ensure_bridge_rules(self.net)
        tag = container_tag(self.container_id)
        for p in self.ports:
            target = f"{self.address}:{p.container_port}"
            match = ["-p", p.proto, "--dport", str(p.host_port)]
            if p.host_ip != ANY_IP:
                match = ["-d", p.host_ip, *match]
            _add_rule("nat", "PREROUTING", tag, *match, "-j", "DNAT", "--to-destination", target)
            local = (
                match if p.host_ip != ANY_IP else ["-m", "addrtype", "--dst-type", "LOCAL", *match]
            )
            _add_rule("nat", "OUTPUT", tag, *local, "-j", "DNAT", "--to-destination", target)

    def attach(self, pid: int) -> None:
        with iproute() as ipr:
            peer = ipr.link_lookup(ifname=self.peer_veth)
            if not peer:
                raise RunError(f"the veth {self.peer_veth} vanished before it was attached")
            ipr.link("set", index=peer[0], net_ns_pid=pid)

    def inside(self) -> None:
        with iproute() as ipr:
            index = ipr.link_lookup(ifname=self.peer_veth)[0]
            ipr.link("set", index=index, ifname="eth0")
            ipr.addr("add", index=index, address=self.address, prefixlen=self.net.prefixlen)
            ipr.link("set", index=index, state="up")
            ipr.route("add", dst="0.0.0.0/0", gateway=self.gateway)

    def release(self, *, last: bool) -> None:
        """Remove the container's rules and veth; the bridge too when ``last``."""
        remove_rules(container_tag(self.container_id))
        delete_link(self.host_veth)
        if last:
            remove_bridge()


def iproute() -> Any:
    """A pyroute2 IPRoute (netlink). pyroute2 is one of pyhost's dependencies, but a host with
    a bare python3 may run pyhost from a checkout: say so in one line, not a traceback."""
    try:
        from pyroute2 import IPRoute
    except ImportError as e:
        raise RunError(
            "--network bridge needs the pyroute2 package (netlink), which is not installed",
            hint="pip install pyroute2, or use --network none or host",
        ) from e
    return IPRoute()


def delete_link(name: str) -> None:
    with iproute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            with contextlib.suppress(Exception):
                ipr.link("del", index=found[0])


def remove_bridge() -> None:
    remove_rules(BRIDGE_TAG)
    delete_link(BRIDGE)


def _ensure_bridge(ipr: Any, net: ipaddress.IPv4Network, gateway: str) -> int:
    found = ipr.link_lookup(ifname=BRIDGE)
    if found:
        return int(found[0])
    ipr.link("add", ifname=BRIDGE, kind="bridge")
    index = int(ipr.link_lookup(ifname=BRIDGE)[0])
    ipr.addr("add", index=index, address=gateway, prefixlen=net.prefixlen)
    ipr.link("set", index=index, state="up")
    return index


def _ensure_bridge_rules(net: ipaddress.IPv4Network) -> None:
    """Forwarding and NAT for the subnet; 127.0.0.1 publishing needs route_localnet."""
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("1")
    with open(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet", "w") as f:
        f.write("1")
    sub = str(net)
    _add_rule("nat", "POSTROUTING", BRIDGE_TAG, "-s", sub, "!", "-o", BRIDGE, "-j", "MASQUERADE")
    _add_rule(
        "nat", "POSTROUTING", BRIDGE_TAG, "-s", "127.0.0.0/8", "-o", BRIDGE, "-j", "MASQUERADE"
    )
    _add_rule("filter", "FORWARD", BRIDGE_TAG, "-i", BRIDGE, "-j", "ACCEPT", insert=True)
    _add_rule("filter", "FORWARD", BRIDGE_TAG, "-o", BRIDGE, "-j", "ACCEPT", insert=True)


def allocate(used: set[str]) -> str:
    net = subnet()
    gateway = net.network_address + 1
    for host in net.hosts():
        if host != gateway and str(host) not in used:
            return str(host)
    raise RunError(f"no free address left in {net}", hint="set a larger PYHOST_BRIDGE_SUBNET")
