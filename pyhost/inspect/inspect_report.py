"""Human output of ``pyhost inspect``: one rich panel per section, a line per finding.

rich is imported only when something is rendered (``print_inspect``): the collector and
``--json`` never pay for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhost.inspect.report import human_bytes, note

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table


def _table(*columns: str) -> Table:
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _pairs(rows: list[tuple[str, str]]) -> Table:
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    return table


def _short(digest: str | None, n: int = 12) -> str:
    return digest.split(":", 1)[-1][:n] if digest else "-"


def _or(value: Any, default: str = "-") -> str:
    return default if value is None else str(value)


def namespaces(sec: dict[str, Any]) -> list[RenderableType]:
    table = _table("TYPE", "INODE", "VERDICT", "DOCKER DEFAULT", "SHARED WITH")
    for kind, entry in sec["types"].items():
        verdict = entry["verdict"]
        style = "bold red" if entry["expected"] is False else ""
        expected = {True: "yes", False: "NO", None: "?"}[entry["expected"]]
        table.add_row(
            kind,
            _or(entry["inode"]),
            f"[{style}]{verdict}[/]" if style else verdict,
            expected,
            ", ".join(entry["shared_with"]) or "-",
        )
    nspid = " -> ".join(str(p) for p in sec["nspid"] or [])
    host = "PID 1" if sec["reference"] == "pid 1" else "pyhost itself (PID 1's links unreadable)"
    return [table, _pairs([("NSpid", f"{nspid} (host first)"), ("host is", host)])]


def _mem(m: dict[str, Any]) -> str:
    return (
        f"{human_bytes(m['usage'])} of {human_bytes(m['limit']) if m['limit'] else 'no limit'}"
        f", peak {human_bytes(m['peak'])}, swap limit {human_bytes(m['swap_limit'])}"
        f", oom kills {_or(m['oom_kills'])}"
    )


def _cpu(c: dict[str, Any]) -> str:
    cpus = f"{c['cpus']:g} cpus ({c['quota']}/{c['period']} us)" if c.get("cpus") else "no quota"
    share = f"shares {c['shares']}" if "shares" in c else f"weight {_or(c.get('weight'))}"
    return f"{cpus}, {share}, throttled {_or(c['throttled'])} times"


def _io(io: dict[str, Any]) -> str:
    rows = []
    for r in io["limits"]:
        limits = ", ".join(f"{k} {r[k]}" for k in ("rbps", "wbps", "riops", "wiops") if r[k])
        rows.append(f"{r['name'] or r['device']}: {limits}")
    return "; ".join(rows) or "no throttle"


def cgroups(sec: dict[str, Any]) -> list[RenderableType]:
    cpuset = sec["cpuset"]
    pids = sec["pids"]
    return [
        _pairs(
            [
                ("version", f"v{sec['version']}, driver {_or(sec['driver'], 'none (root)')}"),
                ("path", sec["path"]),
                ("memory", _mem(sec["memory"])),
                ("cpu", _cpu(sec["cpu"])),
                ("pids", f"{_or(pids['current'], '?')} of {_or(pids['limit'], 'no limit')}"),
                (
                    "cpuset",
                    f"cpus {_or(cpuset['cpus'], 'all')} (effective "
                    f"{_or(cpuset['effective_cpus'])}), mems {_or(cpuset['mems'], 'all')}",
                ),
                ("io", _io(sec["io"])),
            ]
        )
    ]


def _layers(sec: dict[str, Any]) -> Table:
    table = _table("#", "CHAIN ID", "CACHE ID", "SIZE", "DIR")
    for layer in sec["layers"] or []:
        where = "exists" if layer["exists"] else "[bold red]missing[/]"
        table.add_row(
            str(layer["index"]),
            _short(layer["chain_id"]),
            _short(layer["cache_id"]),
            human_bytes(layer["size"]),
            f"{layer['dir']} ({where})",
        )
    return table


def _moved(sec: dict[str, Any], mount: dict[str, Any]) -> bool:
    """For a process outside Docker, only mounts it sees elsewhere than the host does."""
    return sec["docker_root"] is not None or mount["host_path"] != mount["destination"]


def _mounts(sec: dict[str, Any]) -> Table:
    table = _table("DESTINATION", "KIND", "HOST SOURCE", "MODE")
    for m in sec["mounts"]:
        if m["kind"] == "system" or not _moved(sec, m):
            continue
        mode = ("ro" if m["readonly"] else "rw") + f", {m['propagation']}"
        table.add_row(m["destination"], m["kind"], _or(m["host_path"], m["source"]), mode)
    return table


def storage(sec: dict[str, Any]) -> list[RenderableType]:
    out: list[RenderableType] = []
    rows = [("driver", _or(sec["driver"])), ("docker root", _or(sec["docker_root"]))]
    if sec["docker_root"] is None:
        rows.append(("layers", "not a Docker container"))
    elif sec["layers"] is not None:
        rows.append(("layers", f"{len(sec['layers'])}, from {sec['source']}"))
    layer = sec["container_layer"]
    if layer:
        truncated = "+ (walk stopped early)" if layer["upper_truncated"] else ""
        rows.append(("upper dir", layer["upper_dir"]))
        rows.append(
            (
                "written",
                f"{human_bytes(layer['upper_size'])}{truncated}, {layer['upper_files']} files",
            )
        )
        if layer["merged_dir"]:
            mounted = "" if layer["merged_mounted"] else " (not mounted)"
            rows.append(("merged dir", layer["merged_dir"] + mounted))
    if sec["rootfs"]:
        root = sec["rootfs"]
        rows.append(("rootfs", f"{root['fstype']}, {'read-only' if root['readonly'] else 'rw'}"))
    out.append(_pairs(rows))
    if sec["layers"]:
        out.append(_layers(sec))
    if any(m["kind"] != "system" and _moved(sec, m) for m in sec["mounts"]):
        out.append(_mounts(sec))
    return out


def _peer(iface: dict[str, Any]) -> str:
    peer = iface["host_peer"]
    if not peer:
        return "-"
    return f"{peer['name']} ({_or(peer['driver'], '?')}) on {_or(peer['master'], 'no bridge')}"


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def network(sec: dict[str, Any]) -> list[RenderableType]:
    rows = [("mode", f"{sec['mode']} (Docker's config: {_or(sec['engine_mode'])})")]
    rows.append(
        ("netns", f"{_or(sec['netns'])}, shared with {', '.join(sec['shared_with']) or '-'}")
    )
    rows.append(("gateway", _or(sec["gateway"])))
    ports = [
        f"{_host(p['host_ip'])}:{p['host_port']}->{p['container_port']}/{p['protocol']}"
        for p in sec["ports"]
    ]
    rows.append(("ports", ", ".join(ports) or "-"))
    table = _table("IFACE", "ADDRESSES", "MAC", "IFINDEX/IFLINK", "HOST PEER")
    for i in sec["interfaces"]:
        table.add_row(
            i["name"],
            " ".join(i["addresses"]) or "-",
            _or(i["mac"]),
            f"{_or(i['ifindex'], '?')}/{_or(i['iflink'], '?')}",
            _peer(i),
        )
    return [_pairs(rows), table]


def security(sec: dict[str, Any]) -> list[RenderableType]:
    caps = f"{sec['cap_eff']}: {len(sec['capabilities'])} capabilities"
    if sec["caps_added"]:
        caps += f", added {', '.join(sec['caps_added'])}"
    if sec["caps_dropped"]:
        caps += f", dropped {', '.join(sec['caps_dropped'])}"
    maps = "none (host ids)" if not sec["user_namespace"] else str(sec["uid_map"])
    return [
        _pairs(
            [
                ("verdict", sec["verdict"]),
                ("CapEff", caps),
                ("seccomp", f"{sec['seccomp']} ({sec['seccomp_filters']} filters)"),
                ("AppArmor", _or(sec["apparmor"], "none (no AppArmor on this kernel)")),
                ("no_new_privs", "yes" if sec["no_new_privs"] else "no"),
                ("rootfs", "read-only" if sec["readonly_rootfs"] else "writable"),
                ("user namespace", maps),
            ]
        )
    ]


def processes(sec: dict[str, Any]) -> list[RenderableType]:
    table = _table("PID", "IN CONTAINER", "UID", "COMMAND")
    for p in sec["tree"]:
        table.add_row(
            str(p["pid"]),
            str(p["container_pid"]),
            _or(p["uid"]),
            "  " * p["depth"] + " ".join(p["cmdline"]),
        )
    out: list[RenderableType] = [table]
    if sec["scope"] == "descendants":
        out.append("the host's pid namespace: only this process and its descendants")
    if sec["truncated"]:
        out.append(f"showing the first {len(sec['tree'])} of {sec['count']}")
    return out


def _component(entry: dict[str, Any] | None, extra: str = "") -> str:
    if not entry:
        return "-"
    version = f" {entry['version']}" if entry.get("version") else ""
    return f"pid {entry['pid']}{version} ({_or(entry['exe'], entry['comm'])}){extra}"


def components(sec: dict[str, Any]) -> list[RenderableType]:
    cli = sec["docker_cli"]
    runtime = sec["runtime"]
    chain = " <- ".join(f"{c['pid']} {c['comm']}" for c in sec["chain"])
    if runtime["name"] == "pyhost":  # pyhost run: no Docker in the chain
        supervisor = f"pid {runtime['pid']}" if runtime["pid"] else "gone"
        return [
            _pairs(
                [
                    ("runtime", f"pyhost run, its supervisor {supervisor}"),
                    ("process", _component(sec["process"])),
                    ("ppid chain", chain or "-"),
                ]
            )
        ]
    return [
        _pairs(
            [
                ("docker CLI", f"{cli['version']} ({cli['path']})" if cli else "not installed"),
                ("dockerd", _component(sec["dockerd"])),
                ("containerd", _component(sec["containerd"])),
                ("shim", _component(sec["shim"])),
                ("runtime", f"{runtime['name']} {_or(runtime['version'])} (exits once it ran)"),
                ("process", _component(sec["process"])),
                ("ppid chain", chain or "-"),
            ]
        )
    ]


RENDERERS: dict[str, Callable[[dict[str, Any]], list[RenderableType]]] = {
    "namespaces": namespaces,
    "cgroups": cgroups,
    "storage": storage,
    "network": network,
    "security": security,
    "processes": processes,
    "components": components,
}


def _panel(name: str, sec: dict[str, Any]) -> RenderableType:
    from rich.console import Group
    from rich.panel import Panel

    return Panel(Group(*RENDERERS[name](sec)), title=name, title_align="left")


def _header(data: dict[str, Any]) -> str:
    target = data["target"]
    c = target["container"]
    if c:
        what = f"container {c['name']} ({_short(c['id'])}), image {c['image']}"
        state = f"pid {target['pid']}" if target["running"] else "not running"
    else:
        what = f"process {target['pid']}"
        state = "running" if target["running"] else "gone"
    return f"[bold]{what}[/], {state}, on {data['host']}"


def print_inspect(data: dict[str, Any]) -> None:
    """The findings first, one line each ("! net namespace shared with the host"), then
    every section as a panel."""
    from rich.console import Console

    console = Console()
    for line in data["notes"]:
        note(line)
    if data["engine"]["error"]:
        note(data["engine"]["error"])
    console.print(_header(data))
    for finding in data["findings"]:
        console.print(f"[bold red]![/] {finding['text']}", highlight=False)
    missing: dict[str, list[str]] = {}
    for name in RENDERERS:
        sec = data[name]
        if sec["available"]:
            console.print(_panel(name, sec))
        else:
            missing.setdefault(sec["reason"], []).append(name)
    for reason, names in missing.items():
        console.print(f"[yellow]{', '.join(names)}: not available ({reason})[/]", highlight=False)
    if not data["root"]:
        note("some files only root can read; run as root for the whole picture")
    sys.stdout.flush()
