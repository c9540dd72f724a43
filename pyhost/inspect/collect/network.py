"""A process's network namespace, read from outside it: interfaces, addresses, veth peers.

Nothing enters the namespace. ``/proc/PID/net/*`` shows the process's network namespace;
``/proc/PID/root/sys/class/net`` shows it too when the process's sysfs was mounted in that
namespace (as runc does), which is checked against ``/proc/PID/net/dev``. A container's
``eth0`` has ``iflink`` = the ``ifindex`` of its veth peer on the host, and the peer's
``master`` is the bridge (docker0, or br-<network id[:12]>).

Addresses are worked out with plain integers rather than the ipaddress module (~3 ms to
import, and it pulls in functools and re); the text is the same as ipaddress writes.
"""

from __future__ import annotations

import os

from .fs import read_bytes
from .fs import read_text as _read

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

SIOCETHTOOL = 0x8946
ETHTOOL_GDRVINFO = 0x00000003
RTF_GATEWAY = 0x2


def net_dev(pid: int | str, proc: str = "/proc") -> dict[str, dict[str, int]]:
    """Interfaces of the process's netns with byte and packet counters (/proc/PID/net/dev)."""
    lines = read_bytes(f"{proc}/{pid}/net/dev", records=True).decode().splitlines()[2:]
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


IPV4_ALL = (1 << 32) - 1


class IPv4Net:
    """An IPv4 network: ``address`` (an int, host bits cleared) and ``prefixlen``."""

    __slots__ = ("address", "prefixlen")

    def __init__(self, address: int, prefixlen: int) -> None:
        self.prefixlen = prefixlen
        self.address = address & self.mask

    @property
    def mask(self) -> int:
        return IPV4_ALL ^ (IPV4_ALL >> self.prefixlen)

    def __contains__(self, address: int) -> bool:
        return address & self.mask == self.address

    def __str__(self) -> str:
        return f"{ipv4_text(self.address)}/{self.prefixlen}"

    def __repr__(self) -> str:
        return f"IPv4Net({self})"


def ipv4_text(address: int) -> str:
    return ".".join(str(address >> shift & 255) for shift in (24, 16, 8, 0))


def ipv4_int(text: str) -> int:
    """A dotted-quad address as an int; ValueError when it is not one."""
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and p.isascii() and int(p) < 256 for p in parts):
        raise ValueError(f"not an IPv4 address: {text!r}")
    return int(parts[0]) << 24 | int(parts[1]) << 16 | int(parts[2]) << 8 | int(parts[3])


def prefix_of(mask: int) -> int:
    """The prefix length of a netmask (or, as ipaddress accepts, of a host mask)."""
    for candidate in (mask, mask ^ IPV4_ALL):
        length = 32 - (candidate ^ IPV4_ALL).bit_length()
        if candidate == IPV4_ALL ^ (IPV4_ALL >> length):
            return length
    raise ValueError(f"not a netmask: {ipv4_text(mask)}")


def _hex_ipv4(text: str) -> int:
    """/proc/net/route writes addresses as host-endian (little-endian) hex."""
    return int.from_bytes(int(text, 16).to_bytes(4, "little"), "big")


def routes(text: str) -> list[dict[str, Any]]:
    """IPv4 routes from /proc/PID/net/route."""
    out = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        network = IPv4Net(_hex_ipv4(f[1]), prefix_of(_hex_ipv4(f[7])))
        out.append(
            {
                "iface": f[0],
                "network": network,
                "gateway": ipv4_text(_hex_ipv4(f[2])) if int(f[3], 16) & RTF_GATEWAY else None,
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
        addr = ipv4_int(text)
        shown = ipv4_text(addr)
        if addr >> 24 == 127:
            result.setdefault("lo", []).append(f"{shown}/8")
            continue
        covering = [r for r in table if r["gateway"] is None and addr in r["network"]]
        covering = [r for r in covering if r["network"].prefixlen > 0]
        if not covering:
            result.setdefault("?", []).append(f"{shown}/32")
            continue
        best = max(covering, key=lambda r: r["network"].prefixlen)
        result.setdefault(best["iface"], []).append(f"{shown}/{best['network'].prefixlen}")
    return result


def ipv6_text(packed: bytes) -> str:
    """An IPv6 address as ipaddress writes it: lower-case hex, the longest run of two or
    more zero groups (the first of equals) written "::"."""
    groups = [f"{packed[i] << 8 | packed[i + 1]:x}" for i in range(0, 16, 2)]
    best_at, best_len, run_at, run_len = -1, 0, -1, 0
    for index, group in enumerate(groups):
        if group != "0":
            run_at, run_len = -1, 0
            continue
        if run_at < 0:
            run_at = index
        run_len += 1
        if run_len > best_len:
            best_at, best_len = run_at, run_len
    if best_len < 2:
        return ":".join(groups)
    head = ":".join(groups[:best_at])
    tail = ":".join(groups[best_at + best_len :])
    return f"{head}::{tail}"


def ipv6(text: str) -> dict[str, list[str]]:
    """Interface -> "addr/prefix" from /proc/PID/net/if_inet6."""
    result: dict[str, list[str]] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 6:
            packed = bytes.fromhex(f[0])
            if len(packed) != 16:
                raise ValueError(f"not an IPv6 address: {f[0]!r}")
            result.setdefault(f[5], []).append(f"{ipv6_text(packed)}/{int(f[2], 16)}")
    return result


def addresses(pid: int | str, proc: str = "/proc") -> tuple[dict[str, list[str]], str | None]:
    """(interface -> addresses, default gateway) read from the kernel's tables."""
    base = f"{proc}/{pid}/net"
    table = routes(_read(f"{base}/route", records=True) or "")
    v4 = assign_ipv4(local_ipv4(_read(f"{base}/fib_trie", records=True) or ""), table)
    for name, addrs in ipv6(_read(f"{base}/if_inet6", records=True) or "").items():
        v4.setdefault(name, []).extend(addrs)
    gateway = next(
        (r["gateway"] for r in table if r["gateway"] and not r["network"].prefixlen), None
    )
    return v4, gateway


def _c_buffer(size: int) -> tuple[Any, int]:
    """A zeroed writable buffer of ``size`` bytes and its address, for a pointer that an
    ioctl writes through. From ``_ctypes`` (~1 ms to load) rather than ``array``, whose
    import pulls in collections.abc (~5 ms); ``array`` where ``_ctypes`` is missing."""
    try:
        import _ctypes
    except ImportError:  # pragma: no cover - a Python built without ctypes
        import array

        fallback = array.array("B", bytes(size))
        return fallback, fallback.buffer_info()[0]

    class Byte(_ctypes._SimpleCData):  # type: ignore[type-arg]
        _type_ = "B"

    buf = (Byte * size)()
    return buf, _ctypes.addressof(buf)


def ethtool_driver(name: str) -> str | None:
    """The driver of a host interface (veth, bridge, virtio_net) via SIOCETHTOOL."""
    import _socket  # the socket module imports enum: ~10 ms
    import fcntl
    import sys

    info, address = _c_buffer(4 + 192)  # struct ethtool_drvinfo: cmd, driver[32], ...
    for index, byte in enumerate(ETHTOOL_GDRVINFO.to_bytes(4, sys.byteorder)):
        info[index] = byte
    pointer = address.to_bytes(8 if sys.maxsize > 2**32 else 4, sys.byteorder)
    ifreq = (name.encode()[:15].ljust(16, b"\0") + pointer).ljust(40, b"\0")  # struct ifreq
    try:
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
        finally:
            sock.close()
    except OSError:
        return None
    return bytes(info)[4:36].split(b"\0", 1)[0].decode(errors="replace") or None


def host_peer(iflink: int, sysfs: str = "/sys") -> dict[str, Any] | None:
    """The host interface whose ifindex is ``iflink``, its driver and its bridge."""
    base = f"{sysfs}/class/net"
    try:
        names = sorted(os.listdir(base))
    except OSError:
        names = []
    for name in names:
        if _read(f"{base}/{name}/ifindex") != str(iflink):
            continue
        master = None
        try:
            master = os.path.basename(os.readlink(f"{base}/{name}/master"))
        except OSError:
            pass
        return {
            "name": name,
            "ifindex": iflink,
            "driver": ethtool_driver(name),
            "master": master,
            "mac": _read(f"{base}/{name}/address"),
        }
    return None


def interfaces(
    pid: int | str,
    proc: str,
    sysfs: str,
    peer_lookup: bool,
    addrs: dict[str, list[str]],
) -> list[dict[str, Any]]:
    """Each interface of the netns with counters, links, addresses and the host peer
    (``addrs``: the addresses, where they were read already)."""
    counters = net_dev(pid, proc)
    links = sys_links(f"{proc}/{pid}/root/sys/class/net")
    if set(links) != set(counters):
        links = {}  # that sysfs belongs to another network namespace: do not trust it
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
    addrs, gateway = addresses(pid, proc)
    rows = interfaces(pid, proc, sysfs, peer_lookup, addrs)
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
