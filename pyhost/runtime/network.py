"""Container networks: none (loopback only), host, and bridge.

bridge: a ``pyhost0`` Linux bridge holding the gateway address of a subnet (10.99.0.0/24, or
PYHOST_BRIDGE_SUBNET), one veth pair per container (eth0 inside), MASQUERADE for the subnet
and DNAT for ``-p``. Links and addresses go through pyroute2 (netlink); NAT through
iptables-save and iptables-restore --noflush, one of each per change (Docker runs one iptables
command per rule; each costs ~5 ms here). Every rule carries an ``-m comment`` naming its owner, so
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


def _tool(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError as e:
        raise RunError(
            f"bridge networking needs the {argv[0]} command (iptables)", hint="or --network none"
        ) from e


def saved_rules() -> dict[str, list[str]]:
    """The rules of the nat and filter tables, as iptables-save prints them ("-A ..." lines):
    one command for what -S per table and -C per rule took several (each ~5 ms here)."""
    result = _tool(["iptables-save"])
    if result.returncode != 0:
        raise RunError(f"iptables-save: {result.stderr.strip()}")
    tables: dict[str, list[str]] = {"nat": [], "filter": []}
    current: list[str] | None = None
    for line in result.stdout.splitlines():
        if line.startswith("*"):
            current = tables.get(line[1:])
        elif current is not None and line.startswith("-A "):
            current.append(line)
    return tables


def restore(commands: dict[str, list[str]]) -> None:
    """Apply "-A/-I/-D CHAIN ..." lines per table in one iptables-restore, leaving every other
    rule as it is (--noflush); all or none of them take effect."""
    text = "".join(
        f"*{table}\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"
        for table, lines in commands.items()
        if lines
    )
    if not text:
        return
    result = _tool(["iptables-restore", "-w", "5", "--noflush"], stdin=text)
    if result.returncode != 0:
        raise RunError(f"iptables-restore: {result.stderr.strip()}")


def _tagged(line: str, tag: str) -> bool:
    return f'--comment "{tag}"' in line or f"--comment {tag} " in line + " "


def remove_rules(*tags: str) -> int:
    """Delete every rule whose comment is exactly one of ``tags`` in the filter and nat
    tables (one iptables-save, one iptables-restore)."""
    deletes = {
        table: ["-D " + line[3:] for line in lines if any(_tagged(line, t) for t in tags)]
        for table, lines in saved_rules().items()
    }
    try:
        restore(deletes)
    except RunError:
        # one rule went meanwhile (another pyhost's prune): the batch is all or nothing, so
        # delete the rest one by one, each allowed to be gone already
        import shlex

        for table, lines in deletes.items():
            for line in lines:
                _tool(["iptables", "-w", "5", "-t", table, *shlex.split(line)])
    return sum(len(lines) for lines in deletes.values())


def pyhost_tags() -> set[str]:
    """Every ``pyhost:...`` comment in the nat and filter tables."""
    import re

    tags: set[str] = set()
    for lines in saved_rules().values():
        tags.update(re.findall(r'--comment "?(pyhost:[0-9a-z]+)"?', "\n".join(lines)))
    return tags


def _rule(chain: str, tag: str, *rule: str, insert: bool = False) -> str:
    """One restore line: append (or insert at the top of) ``chain``, with pyhost's comment.
    Every word is an address, port, name or flag: none holds a space or a quote."""
    spec = " ".join([*rule, "-m", "comment", "--comment", tag])
    return f"{'-I' if insert else '-A'} {chain} {spec}"


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
        commands = _bridge_rules(self.net)
        tag = container_tag(self.container_id)  # new: none of its rules can exist yet
        for p in self.ports:
            target = f"{self.address}:{p.container_port}"
            match = ["-p", p.proto, "--dport", str(p.host_port)]
            if p.host_ip != ANY_IP:
                match = ["-d", p.host_ip, *match]
            dnat = ("-j", "DNAT", "--to-destination", target)
            commands["nat"].append(_rule("PREROUTING", tag, *match, *dnat))
            local = (
                match if p.host_ip != ANY_IP else ["-m", "addrtype", "--dst-type", "LOCAL", *match]
            )
            commands["nat"].append(_rule("OUTPUT", tag, *local, *dnat))
        restore(commands)

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
        tags = [container_tag(self.container_id)] + ([BRIDGE_TAG] if last else [])
        remove_rules(*tags)
        delete_link(self.host_veth)
        if last:
            delete_link(BRIDGE)


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


def _ensure_bridge(ipr: Any, net: ipaddress.IPv4Network, gateway: str) -> int:
    found = ipr.link_lookup(ifname=BRIDGE)
    if found:
        return int(found[0])
    ipr.link("add", ifname=BRIDGE, kind="bridge")
    index = int(ipr.link_lookup(ifname=BRIDGE)[0])
    ipr.addr("add", index=index, address=gateway, prefixlen=net.prefixlen)
    ipr.link("set", index=index, state="up")
    return index


def _bridge_rules(net: ipaddress.IPv4Network) -> dict[str, list[str]]:
    """Forwarding and NAT for the subnet, as restore lines for those not there yet;
    127.0.0.1 publishing needs route_localnet."""
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("1")
    with open(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet", "w") as f:
        f.write("1")
    sub = str(net)
    wanted = {
        "nat": [
            _rule("POSTROUTING", BRIDGE_TAG, "-s", sub, "!", "-o", BRIDGE, "-j", "MASQUERADE"),
            _rule("POSTROUTING", BRIDGE_TAG, "-s", "127.0.0.0/8", "-o", BRIDGE, "-j", "MASQUERADE"),
        ],
        "filter": [
            _rule("FORWARD", BRIDGE_TAG, "-i", BRIDGE, "-j", "ACCEPT", insert=True),
            _rule("FORWARD", BRIDGE_TAG, "-o", BRIDGE, "-j", "ACCEPT", insert=True),
        ],
    }
    saved = saved_rules()
    commands: dict[str, list[str]] = {"nat": [], "filter": []}
    for table, lines in wanted.items():
        present = [line for line in saved[table] if _tagged(line, BRIDGE_TAG)]
        if len(present) == len(lines):
            continue  # the bridge's running containers set them up
        # none, or a killed pyhost's half: replace them all
        commands[table] += ["-D " + line[3:] for line in present] + lines
    return commands


def allocate(used: set[str]) -> str:
    net = subnet()
    gateway = net.network_address + 1
    for host in net.hosts():
        if host != gateway and str(host) not in used:
            return str(host)
    raise RunError(f"no free address left in {net}", hint="set a larger PYHOST_BRIDGE_SUBNET")
