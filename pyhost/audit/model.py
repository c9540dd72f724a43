"""What a check is (its metadata), what it found (a result), and the helpers checks use."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

SEVERITIES = ("high", "medium", "low", "info")
RESULTS = ("pass", "fail", "warn", "skip", "error")
SCOPES = ("host", "container")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CheckMeta:
    """A check's identity and advice; ``id`` follows the CIS Docker Benchmark v1.6.0
    numbering where the benchmark has the check, ``X.n`` where it does not."""

    id: str
    title: str
    severity: str = "medium"
    rationale: str = ""
    remediation: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "rationale": self.rationale,
            "remediation": self.remediation,
        }


def check(
    id: str,
    title: str,
    *,
    severity: str = "medium",
    rationale: str = "",
    remediation: str = "",
) -> Callable[[F], F]:
    """Declare a pytest test function as an audit check.

    >>> @check("ORG.1", "No container runs from an image tagged latest", severity="low")
    ... def test_no_latest(container, evidence): ...
    """
    if not _ID.fullmatch(id):
        raise ValueError(f"check id {id!r}: use letters, digits, dots, dashes")
    if severity not in SEVERITIES:
        raise ValueError(f"check {id}: severity {severity!r} is not one of {SEVERITIES}")

    def mark(fn: F) -> F:
        fn.pyhost_check = CheckMeta(id, title, severity, rationale, remediation)  # type: ignore[attr-defined]
        return fn

    return mark


class CheckWarning(Exception):
    """Raised by ``Evidence.warn``: the check needs a person's review (result ``warn``)."""


@dataclass
class Evidence:
    """What a check saw, recorded for the report: ``evidence.add("CapEff", "000001ff...")``."""

    items: list[str] = field(default_factory=list)

    def add(self, what: str, value: object = None) -> None:
        self.items.append(what if value is None else f"{what}: {value}")

    def require(self, condition: object, message: str) -> None:
        """Fail with ``message`` unless ``condition`` holds."""
        if not condition:
            self.fail(message)

    def fail(self, message: str) -> NoReturn:
        """The check failed (result ``fail``): pytest's failure without a traceback, which
        says nothing a reader needs and costs more to format than the check to run."""
        import pytest

        pytest.fail(message, pytrace=False)

    def warn(self, message: str) -> NoReturn:
        raise CheckWarning(message)


@dataclass
class Result:
    """One check on one host (and container)."""

    check: str
    host: str
    container: str | None
    result: str
    message: str = ""
    evidence: list[str] = field(default_factory=list)
    waived: dict[str, str] | None = None
    nodeid: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "host": self.host,
            "container": self.container,
            "result": self.result,
            "message": self.message,
            "evidence": self.evidence,
            "waived": self.waived,
            "nodeid": self.nodeid,
        }

    @property
    def counts(self) -> bool:
        """Whether this result makes the audit fail (a failure or an error, not waived)."""
        return self.result in ("fail", "error") and self.waived is None
