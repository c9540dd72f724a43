"""A process's network namespace, read from outside it: interfaces, addresses, veth peers.

Nothing enters the namespace. ``/proc/PID/net/*`` shows the process's network namespace;
``/proc/PID/root/sys/class/net`` shows it too when the process's sysfs was mounted in that
namespace (as runc does), which is checked against ``/proc/PID/net/dev``. A container's
``eth0`` has ``iflink`` = the ``ifindex`` of its veth peer on the host, and the peer's
``master`` is the bridge (docker0, or br-<network id[:12]>).
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import ipaddress
import os
import socket
import struct

from .fs import read_text as _read

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

SIOCETHTOOL = 0x8946
ETHTOOL_GDRVINFO = 0x00000003
RTF_GATEWAY = 0x2


def net_dev(pid: int | str, proc: str = "/proc") -> dict[str, dict[str, int]]:
    """Interfaces of the process's netns with byte and packet counters (/proc/PID/net/dev)."""
    with open(f"{proc}/{pid}/net/dev") as fh:
        lines = fh.read().splitlines()[2:]
    result = {}
    for line in lines:
        name, _, counters = line.partition(":")
        values = [int(v) for v in counters.split()]
        if len(values) >= 10:
            result[name.strip()] = {
                "rx_bytes": values[0],
                "rx_packets": values[1],
                "tx_bytes": values[8],
                "tx_packets": values[9],
            }
    return result


def link(base: str, name: str) -> dict[str, Any]:
    """ifindex, iflink, MAC address, MTU and state of one interface under a sysfs net dir."""

    def number(attr: str) -> int | None:
        text = _read(f"{base}/{name}/{attr}")
        return int(text) if text and text.isdigit() else None

    return {
        "ifindex": number("ifindex"),
        "iflink": number("iflink"),
        "mac": _read(f"{base}/{name}/address"),
        "mtu": number("mtu"),
        "state": _read(f"{base}/{name}/operstate"),
    }


def sys_links(base: str) -> dict[str, dict[str, Any]]:
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return {}
    return {name: link(base, name) for name in names}


def _hex_ipv4(text: str) -> ipaddress.IPv4Address:
    """/proc/net/route writes addresses as host-endian (little-endian) hex."""
    return ipaddress.IPv4Address(struct.pack("<I", int(text, 16)))


def routes(text: str) -> list[dict[str, Any]]:
    """IPv4 routes from /proc/PID/net/route."""
    out = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        network = ipaddress.IPv4Network(f"{_hex_ipv4(f[1])}/{_hex_ipv4(f[7])}", strict=False)
        out.append(
            {
                "iface": f[0],
                "network": network,
                "gateway": str(_hex_ipv4(f[2])) if int(f[3], 16) & RTF_GATEWAY else None,
            }
        )
    return out


def local_ipv4(fib_trie: str) -> list[str]:
    """The addresses the kernel treats as this host's own: "/32 host LOCAL" in fib_trie."""
    found: list[str] = []
    last = None
    for line in fib_trie.splitlines():
        text = line.strip()
        if text.startswith("|--"):
            last = text[3:].strip()
        elif last and text.startswith("/32 host LOCAL") and last not in found:
            found.append(last)
    return found


def assign_ipv4(addresses: list[str], table: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Interface -> "addr/prefix": each local address goes to the interface whose on-link
    route covers it (the most specific one); loopback addresses go to lo."""
    result: dict[str, list[str]] = {}
    for text in addresses:
        addr = ipaddress.IPv4Address(text)
        if addr.is_loopback:
            result.setdefault("lo", []).append(f"{addr}/8")
            continue
        covering = [r for r in table if r["gateway"] is None and addr in r["network"]]
        covering = [r for r in covering if r["network"].prefixlen > 0]
        if not covering:
            result.setdefault("?", []).append(f"{addr}/32")
            continue
        best = max(covering, key=lambda r: r["network"].prefixlen)
        result.setdefault(best["iface"], []).append(f"{addr}/{best['network'].prefixlen}")
    return result


def ipv6(text: str) -> dict[str, list[str]]:
    """Interface -> "addr/prefix" from /proc/PID/net/if_inet6."""
    result: dict[str, list[str]] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 6:
            addr = ipaddress.IPv6Address(bytes.fromhex(f[0]))
            result.setdefault(f[5], []).append(f"{addr}/{int(f[2], 16)}")
    return result


def addresses(pid: int | str, proc: str = "/proc") -> tuple[dict[str, list[str]], str | None]:
    """(interface -> addresses, default gateway) read from the kernel's tables."""
    base = f"{proc}/{pid}/net"
    table = routes(_read(f"{base}/route") or "")
    v4 = assign_ipv4(local_ipv4(_read(f"{base}/fib_trie") or ""), table)
    for name, addrs in ipv6(_read(f"{base}/if_inet6") or "").items():
        v4.setdefault(name, []).extend(addrs)
    gateway = next(
        (r["gateway"] for r in table if r["gateway"] and not r["network"].prefixlen), None
    )
    return v4, gateway


def ethtool_driver(name: str) -> str | None:
    """The driver of a host interface (veth, bridge, virtio_net) via SIOCETHTOOL."""
    buf = array.array("B", struct.pack("I", ETHTOOL_GDRVINFO) + bytes(192))
    addr, _ = buf.buffer_info()
    ifreq = struct.pack("16sP", name.encode()[:15], addr).ljust(40, b"\0")  # struct ifreq
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    except OSError:
        return None
    return buf.tobytes()[4:36].split(b"\0", 1)[0].decode(errors="replace") or None


def host_peer(iflink: int, sysfs: str = "/sys") -> dict[str, Any] | None:
    """The host interface whose ifindex is ``iflink``, its driver and its bridge."""
    base = f"{sysfs}/class/net"
    for name, attrs in sys_links(base).items():
        if attrs["ifindex"] == iflink:
            master = None
            with contextlib.suppress(OSError):
                master = os.path.basename(os.readlink(f"{base}/{name}/master"))
            return {
                "name": name,
                "ifindex": iflink,
                "driver": ethtool_driver(name),
                "master": master,
                "mac": attrs["mac"],
            }
    return None


def interfaces(pid: int | str, proc: str, sysfs: str, peer_lookup: bool) -> list[dict[str, Any]]:
    """Each interface of the netns with counters, links, addresses and the host peer."""
    counters = net_dev(pid, proc)
    links = sys_links(f"{proc}/{pid}/root/sys/class/net")
    if set(links) != set(counters):
        links = {}  # that sysfs belongs to another network namespace: do not trust it
    addrs, _ = addresses(pid, proc)
    rows = []
    for name in sorted(counters):
        attrs = links.get(name) or dict.fromkeys(("ifindex", "iflink", "mac", "mtu", "state"))
        row: dict[str, Any] = {"name": name, **attrs, **counters[name]}
        row["addresses"] = addrs.get(name, [])
        iflink = attrs["iflink"]
        row["host_peer"] = None
        if peer_lookup and isinstance(iflink, int) and iflink != attrs["ifindex"]:
            row["host_peer"] = host_peer(iflink, sysfs)
        rows.append(row)
    return rows


def mode(shared_with_host: bool | None, names: list[str], owner: str | None) -> str:
    """host, none, own, or container:<name>: the container that made the namespace first."""
    if shared_with_host:
        return "host"
    if owner:
        return f"container:{owner}"
    if names == ["lo"]:
        return "none"
    return "own"


def engine_networks(config: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Docker's view of the container's networks (addresses it assigned)."""
    nets = ((config or {}).get("NetworkSettings") or {}).get("Networks") or {}
    return {
        name: {
            "network_id": (net.get("NetworkID") or "")[:12] or None,
            "ip": f"{net['IPAddress']}/{net.get('IPPrefixLen')}" if net.get("IPAddress") else None,
            "gateway": net.get("Gateway") or None,
            "mac": net.get("MacAddress") or None,
        }
        for name, net in nets.items()
    }


def ports(config: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Published ports (Engine API NetworkSettings.Ports)."""
    published = ((config or {}).get("NetworkSettings") or {}).get("Ports") or {}
    out = []
    for spec, bindings in sorted(published.items()):
        port, _, proto = spec.partition("/")
        for b in bindings or []:
            out.append(
                {
                    "container_port": int(port),
                    "protocol": proto or "tcp",
                    "host_ip": b.get("HostIp") or "0.0.0.0",  # noqa: S104
                    "host_port": int(b["HostPort"]) if b.get("HostPort") else None,
                }
            )
    return out


def findings(result: dict[str, Any]) -> list[str]:
    lines = []
    if result["mode"] == "host":
        lines.append("uses the host's network stack (--network host)")
    for p in result["ports"]:
        if p["host_ip"] in ("0.0.0.0", "::"):  # noqa: S104
            where = f"[{p['host_ip']}]" if ":" in p["host_ip"] else p["host_ip"]
            lines.append(
                f"port {p['container_port']}/{p['protocol']} published on every host address "
                f"({where}:{p['host_port']})"
            )
    return lines


def section(
    pid: int,
    *,
    net: dict[str, Any],
    owner: str | None,
    config: dict[str, Any] | None,
    peer_lookup: bool,
    proc: str = "/proc",
    sysfs: str = "/sys",
) -> dict[str, Any]:
    """Mode, interfaces with addresses and host peers, Docker's addresses and ports.

    ``net`` is the namespaces section's entry for the net namespace; ``peer_lookup`` is
    False where pyhost does not run in the host's network namespace itself.
    """
    rows = interfaces(pid, proc, sysfs, peer_lookup)
    _, gateway = addresses(pid, proc)
    host_config = (config or {}).get("HostConfig") or {}
    result: dict[str, Any] = {
        "mode": mode(net["shared_with_host"], [r["name"] for r in rows], owner),
        "engine_mode": host_config.get("NetworkMode"),
        "netns": net["inode"],
        "shared_with": net["shared_with"],
        "interfaces": rows,
        "gateway": gateway,
        "addresses_source": "kernel: /proc/PID/net/fib_trie, route, if_inet6",
        "engine_networks": engine_networks(config),
        "ports": ports(config),
    }
    result["findings"] = findings(result)
    return result
