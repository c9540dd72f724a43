"""Provision many hosts at once: one worker per host up to ``forks``; every host's result.

One bad host never hides the others: each host's failure or unreachability is in its own
report, and the exit status is computed from all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import Any

from pyhost.connection import SSHConnection, connect
from pyhost.errors import ExitStatus, PyhostError, UnreachableError
from pyhost.inventory import Host
from pyhost.provision.host import HostReport, Progress, provision_host

SCHEMA = "pyhost.provision/1"


def _one(
    host: Host,
    check: bool,
    ssh: dict[str, Any],
    progress: Progress | None,
    state: str | None,
    purge: bool,
) -> HostReport:
    try:
        conn = connect(host, **ssh) if host.ansible_connection == "ssh" else connect(host)
        if isinstance(conn, SSHConnection):
            conn.open()
        if host.become_refused and not conn.is_root:
            conn.close()
            raise PyhostError(
                f"{host.name}: ansible_become is false, but installing Docker needs root and "
                "this connection is not root",
                hint="set ansible_become: true (pyhost then uses sudo), or connect as root",
            )
    except UnreachableError as e:
        if progress:
            progress(host.name, "unreachable")
        return HostReport(host.name, status="unreachable", error=e.one_line())
    except PyhostError as e:
        if progress:
            progress(host.name, "failed")
        return HostReport(host.name, status="failed", error=e.one_line())
    settings = host.pyhost if state is None else replace(host.pyhost, docker_state=state)
    with conn:
        report = provision_host(conn, settings, check=check, progress=progress, purge=purge)
    if progress:
        progress(host.name, report.status)
    return report


def provision_fleet(
    hosts: Sequence[Host],
    *,
    check: bool = False,
    forks: int = 10,
    known_hosts: str | None = None,
    accept_new_host_keys: bool = False,
    progress: Progress | None = None,
    state: str | None = None,
    purge: bool = False,
    serial: int | None = None,
    max_fail_percent: float | None = None,
) -> list[HostReport]:
    """Every host's report, in inventory order. ``state`` overrides pyhost_docker_state.

    With ``serial``, hosts go in batches of that many (a rolling change); when more than
    ``max_fail_percent`` of a batch fails or is unreachable, the remaining hosts are not
    touched and are reported ``skipped``.
    """
    ssh = {"known_hosts": known_hosts, "accept_new_host_key": accept_new_host_keys}
    size = serial or len(hosts) or 1
    reports: list[HostReport] = []
    with ThreadPoolExecutor(max_workers=max(1, min(forks, size))) as pool:
        for start in range(0, len(hosts), size):
            batch = hosts[start : start + size]
            futures = [
                pool.submit(_one, host, check, ssh, progress, state, purge) for host in batch
            ]
            done = [future.result() for future in futures]
            reports += done
            bad = sum(r.status in ("failed", "unreachable") for r in done)
            limit = 0.0 if max_fail_percent is None and serial else max_fail_percent
            if limit is not None and bad and 100.0 * bad / len(done) > limit:
                rest = hosts[start + size :]
                why = (
                    f"not run: {bad} of {len(done)} host(s) in the previous batch failed, "
                    f"more than the allowed {limit:g}%"
                )
                reports += [HostReport(h.name, status="skipped", error=why) for h in rest]
                for h in rest:
                    if progress:
                        progress(h.name, "skipped")
                break
    return reports


def exit_status(reports: Sequence[HostReport]) -> int:
    """1 when a host failed (or was skipped after failures), else 4 when one was
    unreachable, else 0."""
    if any(r.status in ("failed", "skipped") for r in reports):
        return ExitStatus.FAILURE
    if any(r.status == "unreachable" for r in reports):
        return ExitStatus.UNREACHABLE
    return ExitStatus.OK


def recap_line(report: HostReport) -> str:
    """Ansible's recap: ``host : ok= changed= unreachable= failed= skipped=``."""
    changed = len(report.changes) if report.status != "failed" else 0
    return (
        f"{report.host} : ok={report.ok} changed={changed} "
        f"unreachable={int(report.status == 'unreachable')} "
        f"failed={int(report.status == 'failed')} "
        f"skipped={int(report.status == 'skipped')}"
    )


def as_json(reports: Sequence[HostReport], *, check: bool) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "check": check,
        "hosts": [asdict(r) for r in reports],
        "exit_status": int(exit_status(reports)),
    }
