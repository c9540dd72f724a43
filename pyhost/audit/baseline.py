"""Waivers: known findings a team accepts for a while, kept in a YAML file.

    waivers:
      - check: "5.10"
        host: "edge-*"            # fnmatch pattern; default "*"
        container: "node-exporter*"  # default "*" (host checks have no container)
        reason: "needs the host's network to see every interface"
        expires: 2027-03-31       # required: a waiver that has expired fails again

A top-level list is accepted too. A bad entry is a usage error with its line; an unknown
check id names the nearest known one.
"""

from __future__ import annotations

import datetime
import difflib
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhost.errors import InventoryError, UsageError

KEYS = ("check", "host", "container", "reason", "expires")


class BaselineError(InventoryError):
    """A baseline file that cannot be used (file and line in the message)."""


@dataclass(frozen=True)
class Waiver:
    check: str
    host: str
    container: str
    reason: str
    expires: datetime.date
    line: int
    today: datetime.date = field(default_factory=datetime.date.today, compare=False)

    @property
    def expired(self) -> bool:
        return self.expires < self.today

    def matches(self, check: str, host: str, container: str | None) -> bool:
        return (
            check == self.check
            and fnmatch.fnmatchcase(host, self.host)
            and fnmatch.fnmatchcase(container or "", self.container if container else "*")
        )


@dataclass
class Baseline:
    path: str
    waivers: list[Waiver]

    def match(self, check: str, host: str, container: str | None) -> Waiver | None:
        """The first unexpired waiver that matches, else the first expired one."""
        found = [w for w in self.waivers if w.matches(check, host, container)]
        live = [w for w in found if not w.expired]
        chosen = live or found
        return chosen[0] if chosen else None

    def unknown_ids(self, known: Mapping[str, object]) -> str | None:
        for w in self.waivers:
            if w.check not in known:
                near = difflib.get_close_matches(w.check, list(known), n=1, cutoff=0.5)
                hint = f" (did you mean {near[0]}?)" if near else ""
                return f"{self.path}:{w.line}: unknown check id {w.check!r}{hint}"
        return None


def _date(value: Any, path: str, line: int) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BaselineError(
        f"expires {value!r} is not a date", path=path, line=line, hint="write YYYY-MM-DD"
    )


def load_baseline(path: str, *, today: datetime.date | None = None) -> Baseline:
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"--baseline {path}: {e.strerror or e}") from e
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise BaselineError(f"not valid YAML: {e.problem}", path=path, line=line) from e
    if root is None:
        return Baseline(path, [])
    if isinstance(root, yaml.MappingNode):
        entries = [v for k, v in root.value if k.value == "waivers"]
        others = [k for k, _ in root.value if k.value != "waivers"]
        if others:
            raise BaselineError(
                f"unknown key {others[0].value!r}",
                path=path,
                line=others[0].start_mark.line + 1,
                hint="the file holds `waivers:`, a list",
            )
        root = entries[0] if entries else yaml.SequenceNode("tag:yaml.org,2002:seq", [])
    if not isinstance(root, yaml.SequenceNode):
        raise BaselineError(
            "the baseline is a list of waivers", path=path, line=root.start_mark.line + 1
        )
    waivers = []
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise BaselineError("a waiver is a mapping (check, host, ...)", path=path, line=line)
        data: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for k, v in node.value:
            if k.value not in KEYS:
                near = difflib.get_close_matches(str(k.value), KEYS, n=1)
                raise BaselineError(
                    f"unknown key {k.value!r} in a waiver",
                    path=path,
                    line=k.start_mark.line + 1,
                    hint=f"did you mean {near[0]}?" if near else f"keys: {', '.join(KEYS)}",
                )
            data[k.value] = yaml.safe_load(yaml.serialize(v))
            lines[k.value] = k.start_mark.line + 1
        for key in ("check", "reason", "expires"):
            if data.get(key) in (None, ""):
                raise BaselineError(f"the waiver has no {key}", path=path, line=line)
        for key in ("check", "host", "container", "reason"):
            if key in data and not isinstance(data[key], (str, int, float)):
                raise BaselineError(f"{key} must be text", path=path, line=lines[key])
        waivers.append(
            Waiver(
                check=str(data["check"]),
                host=str(data.get("host") or "*"),
                container=str(data.get("container") or "*"),
                reason=str(data["reason"]),
                expires=_date(data["expires"], path, lines["expires"]),
                line=line,
                today=today or datetime.date.today(),
            )
        )
    return Baseline(path, waivers)
