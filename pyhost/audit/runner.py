"""One audit: gather every host's facts up front, then run the checks with pytest in-process.

pytest runs with pyhost's plugin object (so the facts are gathered once, before pytest,
not per test), its own configuration (the user's pytest.ini or pyproject.toml never
applies), the built-in checks and the ``--checks`` directories. testinfra's own pytest plugin
is not loaded: it would parametrise every test with its ``--hosts`` list; pyhost's plugin
provides testinfra's ``host`` fixture itself, per inventory host.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhost.errors import PyhostError, UsageError

if TYPE_CHECKING:
    from pyhost.audit.baseline import Baseline
    from pyhost.inspect.remote import SSHOptions
    from pyhost.inventory import Host

BUILTIN = Path(__file__).parent / "checks"
CHECK_FILES = "test_*.py check_*.py *_check.py"


@dataclass
class AuditRun:
    document: dict[str, Any]
    pytest_output: str
    pytest_status: int


def host_rows(facts: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "host": f.name,
            "status": f.status,
            "error": f.error,
            "docker_version": f.docker_version,
            "containers": len(f.containers),
        }
        for f in facts
    ]


def check_dirs(dirs: Sequence[str]) -> list[str]:
    out = []
    for d in dirs:
        path = Path(d).expanduser()
        if not path.exists():
            raise UsageError(f"--checks {d}: no such directory or file")
        out.append(str(path.resolve()))
    return out


def pytest_args(paths: Sequence[str], ini: str, junit: str | None) -> list[str]:
    args = [
        str(BUILTIN),
        *paths,
        "-c",
        ini,
        "--rootdir",
        str(BUILTIN.parent),
        "--confcutdir",
        str(BUILTIN),
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:pytest11.testinfra",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
        "-p",
        "no:logging",
        "-p",
        "no:warnings",
        "-p",
        "no:faulthandler",
        "-p",
        "no:doctest",
        "--capture=sys",
        "-q",
        "--no-summary",
        # pytest's own failure report parses each check's source with ast (70 ms a
        # failure); the native traceback reads lines only
        "--tb=native",
        "-o",
        f"python_files={CHECK_FILES}",
        "-o",
        "junit_suite_name=pyhost-audit",
        "-o",
        "junit_logging=no",
        "-W",
        "ignore::DeprecationWarning",
    ]
    if junit:
        args += ["--junitxml", junit]
    return args


def _forget_modules(paths: Sequence[str]) -> None:
    """Drop the user's check modules from sys.modules: a later run in the same process
    (tests, a long-lived caller) must import them afresh, and see a broken one fail."""
    import sys

    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if any(file == p or file.startswith(p.rstrip("/") + "/") for p in paths):
            del sys.modules[name]


def run_checks(
    facts: Sequence[Any],
    *,
    checks: Sequence[str] = (),
    baseline: Baseline | None = None,
    junit: str | None = None,
) -> tuple[Any, str, int]:
    """Run pytest over ``facts``: (the plugin with its results, pytest's output, status)."""
    import pytest

    from pyhost.audit.plugin import AuditPlugin

    plugin = AuditPlugin(facts, baseline)
    out = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="pyhost-audit-") as tmp:
        ini = os.path.join(tmp, "pytest.ini")
        Path(ini).write_text("[pytest]\n")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                status = int(pytest.main(pytest_args(checks, ini, junit), plugins=[plugin]))
            finally:
                _forget_modules(checks)
    if plugin.collect_errors:
        raise UsageError(
            f"a check file does not load: {plugin.collect_errors[0]}",
            hint="fix the file, or leave it out of --checks",
        )
    if plugin.usage_error:
        raise UsageError(plugin.usage_error)
    if status in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        raise PyhostError(
            f"the checks could not run: {lines[-1] if lines else f'pytest exited {status}'}",
            hint="--debug shows pytest's output",
        )
    return plugin, out.getvalue(), status


def run_audit(
    hosts: Sequence[Host],
    *,
    checks: Sequence[str] = (),
    baseline: Baseline | None = None,
    forks: int = 10,
    options: SSHOptions | None = None,
    junit: str | None = None,
    inventory: str | None = None,
    shard: str | None = None,
) -> AuditRun:
    from pyhost.audit import facts as facts_mod
    from pyhost.audit import report

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    paths = check_dirs(checks)
    gathered = facts_mod.gather(hosts, forks=forks, options=options)
    t1 = time.monotonic()
    try:
        plugin, output, status = run_checks(gathered, checks=paths, baseline=baseline, junit=junit)
    finally:
        facts_mod.close_all(gathered)
    doc = report.document(
        results=plugin.results,
        checks=plugin.checks,
        hosts=host_rows(gathered),
        started=started,
        duration=time.monotonic() - t0,
        inventory=inventory,
        shard=shard,
    )
    doc["timings"] = {"gather_s": round(t1 - t0, 3), "checks_s": round(time.monotonic() - t1, 3)}
    return AuditRun(doc, output, status)
