"""The pytest plugin that turns gathered facts into parametrised checks and results.

Each test function that asks for ``container`` runs once per running container of every
reachable host; one that asks only for ``facts`` or ``host`` runs once per host. Fixtures:

- ``facts``: the host's `HostFacts` (an unreachable host makes the check an ``error``);
- ``container``: the `ContainerFacts` of one container;
- ``host``: a testinfra ``Host`` for that inventory host, on the SSH connection the facts
  came over (its host key verified) or on the local backend;
- ``evidence``: where a check records what it saw (`Evidence`).

Every item's outcome becomes a `Result`: pass, fail (``evidence.require``/``fail``,
an AssertionError or pytest.fail), warn
(``evidence.warn``), skip, or error (any other exception, or a fixture that failed). The
baseline's waivers are applied here: a waived failure is reported as skipped to pytest (so
JUnit readers do not fail the build) and as ``fail`` with ``waived`` in pyhost's reports.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pyhost.audit.facts import ContainerFacts, HostFacts
from pyhost.audit.model import CheckMeta, CheckWarning, Evidence, Result

if TYPE_CHECKING:
    from pyhost.audit.baseline import Baseline


@dataclass(frozen=True)
class Target:
    host: str
    container: str | None = None

    def __str__(self) -> str:
        return self.host if self.container is None else f"{self.host}/{self.container}"


class HostUnreachable(Exception):
    """The host's facts could not be gathered; every check on it is an error."""


_ITEM_KEY = pytest.StashKey[dict[str, Any]]()


def meta_of(item: pytest.Item) -> CheckMeta:
    fn = getattr(item, "function", None)
    meta = getattr(fn, "pyhost_check", None)
    if isinstance(meta, CheckMeta):
        return meta
    name = getattr(fn, "__name__", item.name)
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    return CheckMeta(f"custom.{name.removeprefix('test_')}", doc[0] if doc else name)


class AuditPlugin:
    """Registered with ``pytest.main(plugins=[...])``; holds the facts and the results."""

    def __init__(self, facts: Sequence[HostFacts], baseline: Baseline | None = None) -> None:
        self.host_facts = {f.name: f for f in facts}
        self.order = [f.name for f in facts]
        self.baseline = baseline
        self.results: list[Result] = []
        self.checks: dict[str, CheckMeta] = {}
        self.collect_errors: list[str] = []
        self.usage_error: str | None = None
        self._testinfra: dict[str, Any] = {}

    # ------------------------------------------------------------------ parametrising

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        names = metafunc.fixturenames
        if "container" in names:
            targets = [
                Target(f.name, c.name)
                for f in (self.host_facts[n] for n in self.order)
                for c in f.containers
                if f.ok
            ]
        elif {"facts", "host"} & set(names):
            targets = [Target(n) for n in self.order]
        else:
            return
        if not targets:
            # say why in JUnit, rather than pytest's "got empty parameter set"
            reason = "no running container on the audited hosts"
            if "container" not in names:
                reason = "no host answered"
            metafunc.parametrize(
                "pyhost_target",
                [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                ids=["none"],
            )
            return
        metafunc.parametrize("pyhost_target", targets, ids=[str(t) for t in targets])

    @pytest.fixture
    def pyhost_target(self, request: pytest.FixtureRequest) -> Target:
        target: Target = request.param
        return target

    @pytest.fixture
    def facts(self, pyhost_target: Target) -> HostFacts:
        found = self.host_facts[pyhost_target.host]
        if not found.ok:
            raise HostUnreachable(found.error or f"{found.name}: no facts")
        return found

    @pytest.fixture
    def container(self, pyhost_target: Target, facts: HostFacts) -> ContainerFacts:
        for c in facts.containers:
            if c.name == pyhost_target.container:
                return c
        raise LookupError(f"no container {pyhost_target.container} on {facts.name}")

    @pytest.fixture
    def evidence(self, request: pytest.FixtureRequest) -> Evidence:
        found = Evidence()
        request.node.stash[_ITEM_KEY] = {"evidence": found}
        return found

    @pytest.fixture
    def host(self, facts: HostFacts) -> Any:
        """testinfra's Host for this inventory host (paramiko backend on pyhost's verified
        SSH connection, or the local backend)."""
        if facts.name not in self._testinfra:
            self._testinfra[facts.name] = testinfra_host(facts)
        return self._testinfra[facts.name]

    # ------------------------------------------------------------------ collection

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(describe_collect_error(report))

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        for item in items:
            meta = meta_of(item)
            known = self.checks.get(meta.id)
            if known is not None and known.title != meta.title:
                self.usage_error = f"check id {meta.id} is used by two checks: {item.nodeid}"
            self.checks[meta.id] = meta
        if self.baseline is not None:
            problem = self.baseline.unknown_ids(self.checks)
            if problem:
                self.usage_error = problem
        if self.usage_error or self.collect_errors:
            items[:] = []

    # ------------------------------------------------------------------ results

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when == "teardown":
            return report
        if report.when == "setup" and report.passed:
            return report
        meta = meta_of(item)
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("pyhost_target") if callspec is not None else None
        if not isinstance(target, Target):
            return report
        evidence: Evidence | None = item.stash.get(_ITEM_KEY, {}).get("evidence")
        result = Result(
            check=meta.id,
            host=target.host,
            container=target.container,
            result="pass",
            evidence=list(evidence.items) if evidence else [],
            nodeid=item.nodeid,
        )
        excinfo = call.excinfo
        if report.skipped and excinfo is not None:
            result.result = "skip"
            result.message = str(getattr(excinfo.value, "msg", excinfo.value))
        elif excinfo is not None and excinfo.errisinstance(CheckWarning):
            result.result = "warn"
            result.message = str(excinfo.value)
            report.outcome = "passed"
            report.longrepr = None
        elif (
            excinfo is not None
            and report.when == "call"
            and excinfo.errisinstance((AssertionError, pytest.fail.Exception))
        ):
            result.result = "fail"
            result.message = str(excinfo.value).splitlines()[0] if str(excinfo.value) else ""
        elif excinfo is not None:
            result.result = "error"
            result.message = f"{type(excinfo.value).__name__}: {excinfo.value}"
            if excinfo.errisinstance(HostUnreachable):
                result.message = str(excinfo.value)
        if self.baseline is not None and result.result in ("fail", "warn"):
            waiver = self.baseline.match(result.check, result.host, result.container)
            if waiver is not None:
                if waiver.expired:
                    result.evidence.append(f"waiver expired on {waiver.expires}: {waiver.reason}")
                else:
                    result.waived = {"reason": waiver.reason, "expires": str(waiver.expires)}
                    path, line = item.location[0], (item.location[1] or 0) + 1
                    report.outcome = "skipped"
                    report.longrepr = (
                        path,
                        line,
                        f"waived until {waiver.expires}: {waiver.reason} ({result.message})",
                    )
        item.user_properties.extend(
            [
                ("check", meta.id),
                ("severity", meta.severity),
                ("host", target.host),
                ("container", target.container or ""),
                ("result", result.result + (" (waived)" if result.waived else "")),
                ("evidence", " | ".join(result.evidence)),
            ]
        )
        self.results.append(result)
        return report


# ---------------------------------------------------------------------- testinfra


def testinfra_host(facts: HostFacts) -> Any:
    """A testinfra Host on the connection the facts came over."""
    import testinfra
    from testinfra.backend.paramiko import ParamikoBackend

    from pyhost.connection import SSHConnection

    conn = facts.connection
    if isinstance(conn, SSHConnection):
        fabric_conn = conn._open()  # already open: the facts came over it
        t = conn.target
        backend = ParamikoBackend(f"{fabric_conn.user}@{t.address}:{fabric_conn.port}")
        # the client whose host key pyhost verified; testinfra's own would accept any key
        backend.__dict__["client"] = fabric_conn.client
        return testinfra.host.Host(backend)
    return testinfra.get_host("local://")


# ---------------------------------------------------------------------- errors

_FILE_LINE = re.compile(r"^(\S+\.py):(\d+):", re.MULTILINE)
_SYNTAX = re.compile(r'File "([^"]+)", line (\d+)')


def describe_collect_error(report: pytest.CollectReport) -> str:
    """A check file that does not import: its file and line, and the error."""
    text = str(report.longrepr)
    where = report.nodeid or "?"
    found = _FILE_LINE.findall(text) + _SYNTAX.findall(text)
    name = where.rpartition("/")[2]
    mine = [(path, line) for path, line in found if path.endswith("/" + name) or path == name]
    if mine or found:
        path, line = (mine or found)[-1]
        # pytest shows paths relative to where it runs; the user wants the file itself
        where = f"{os.path.abspath(path)}:{line}"
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    last = errors[-1] if errors else (text.strip().splitlines() or ["?"])[-1]
    return f"{where}: {last}"
