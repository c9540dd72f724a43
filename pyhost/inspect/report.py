"""Human output of the inspector, with rich (imported only when a table is shown)."""

from __future__ import annotations

import sys
from typing import Any


def human_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" or size >= 100 else f"{size:.1f}{unit}"
        size /= 1024
    return f"{value}B"


def _limit(usage: int | None, limit: int | None, fmt: Any = str) -> str:
    used = fmt(usage) if usage is not None else "?"
    return f"{used}/{fmt(limit) if limit is not None else '-'}"


def flags(row: dict[str, Any]) -> list[str]:
    sec = row.get("security") or {}
    out = []
    if sec.get("privileged"):
        out.append("privileged")
    elif sec.get("caps_added"):
        out.append("+" + ",".join(sec["caps_added"]))
    if row.get("docker_sock"):
        out.append("docker.sock")
    if sec.get("seccomp") == "disabled":
        out.append("no-seccomp")
    return out


def note(text: str) -> None:
    """One plain line on stderr: never wrapped, so scripts can grep it."""
    print(f"pyhost: note: {text}", file=sys.stderr)


def print_ps(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    engine = data["engine"]
    if not engine["available"]:
        note(engine["error"])
    table = Table(box=None, header_style="bold", pad_edge=False)
    show_runtime = any(row.get("runtime") == "pyhost" for row in data["containers"])
    if show_runtime:
        table.add_column("RUNTIME", no_wrap=True)
    for column in ("NAME", "IMAGE", "PID", "SHARED NS", "MEMORY", "CPUS", "PIDS", "FLAGS"):
        # the image gives way first on a narrow terminal; flags fold rather than vanish
        table.add_column(
            column,
            no_wrap=column not in ("SHARED NS", "FLAGS"),
            overflow="fold" if column in ("SHARED NS", "FLAGS") else "ellipsis",
            max_width=16 if column == "IMAGE" else None,
            min_width=10 if column == "FLAGS" else len(column),
        )
    unknown = False
    for row in data["containers"]:
        # only what is shared beyond Docker's defaults; --json lists every namespace
        shared = Text(" ".join(row.get("findings", [])), style="bold red")
        if row.get("namespaces_unknown") and row.get("pid"):
            unknown = True
            shared.append("?", style="yellow")
        limits = row.get("limits") or {}
        mem = limits.get("memory") or {}
        cpu = limits.get("cpu") or {}
        pids = limits.get("pids") or {}
        running = row.get("pid") is not None
        table.add_row(
            *([row.get("runtime", "docker")] if show_runtime else []),
            row["name"],
            row["image"],
            str(row["pid"]) if running else row["state"],
            shared,
            _limit(mem.get("usage"), mem.get("limit"), human_bytes) if running else "",
            (f"{cpu['cpus']:g}" if cpu.get("cpus") else "-") if running else "",
            _limit(pids.get("current"), pids.get("limit")) if running else "",
            Text(" ".join(flags(row)), style="bold red"),
        )
    if data["containers"]:
        console.print(table)
    else:
        where = "" if engine["available"] else " that pyhost can see"
        console.print(f"no running containers{where} on {data['host']}")
    if unknown:
        note("'?' marks namespaces only root can compare; run as root")
    sys.stdout.flush()
