"""What `pyhost provision` shows: a live table of hosts while they work (on a terminal),
then each host's changes and Ansible's recap."""

from __future__ import annotations

import threading
import time
from typing import Any

from pyhost.provision.host import HostReport

DONE = ("ok", "changed", "failed", "unreachable", "skipped")
COLOURS = {"ok": "green", "changed": "yellow"}


class Printer:
    def __init__(self, hosts: list[str], *, diff: bool, check: bool) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)
        self.diff = diff
        self.check = check
        self.lock = threading.Lock()
        self.steps: dict[str, str] = dict.fromkeys(hosts, "waiting")
        self.started: dict[str, float] = {}
        self.live: Any = None

    def start(self) -> None:
        """A live table, only for people watching a terminal (logs get the summary only)."""
        if not self.console.is_terminal:
            return
        from rich.live import Live

        self.live = Live(
            console=self.console, refresh_per_second=4, transient=True, get_renderable=self._table
        )
        self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def progress(self, host: str, step: str) -> None:
        with self.lock:
            self.started.setdefault(host, time.monotonic())
            self.steps[host] = step

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("HOST", no_wrap=True)
        table.add_column("NOW")
        table.add_column("TIME", justify="right")
        with self.lock:
            rows = list(self.steps.items())
            started = dict(self.started)
        done = sum(step in DONE for _, step in rows)
        table.title = f"{done}/{len(rows)} hosts done"
        now = time.monotonic()
        for host, step in rows:
            style = COLOURS.get(step, "red") if step in DONE else "dim" if step == "waiting" else ""
            elapsed = f"{now - started[host]:.0f}s" if host in started and step not in DONE else ""
            table.add_row(host, f"[{style}]{step}[/]" if style else step, elapsed)
        return table

    def finish(self, reports: list[HostReport]) -> None:
        from rich.markup import escape

        from pyhost.provision.fleet import recap_line

        out = self.console
        verb = "would" if self.check else "did"
        for r in reports:
            colour = COLOURS.get(r.status, "red")
            head = f"[bold {colour}]{escape(r.host)}[/]: {r.status}"
            if r.os:
                head += f" ({escape(r.os)}"
                head += f", Docker {escape(r.docker_version)})" if r.docker_version else ")"
            out.print(head)
            for change in r.changes:
                out.print(f"  {verb}: {escape(change.summary)}")
                if self.diff and change.diff:
                    out.print(escape(change.diff.rstrip("\n")), style="cyan")
            for note in r.notes:
                out.print(f"  [yellow]note:[/] {escape(note)}")
            if r.error:
                out.print(f"  [red]error:[/] {escape(r.error)}")
        out.print()
        out.print(
            "[bold]PLAY RECAP[/]" + (" (check mode: nothing was changed)" if self.check else "")
        )
        for r in reports:
            out.print(escape(recap_line(r)))
