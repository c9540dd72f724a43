"""Section 3 of the CIS Docker Benchmark: owners and modes of Docker's files.

Modes are compared bit by bit: a file is within 0644 when it has no bit that 0644 lacks
(0606 is not, although 606 < 644).
"""

from __future__ import annotations

import pytest

from pyhost.audit.checks._helpers import check_file
from pyhost.audit.facts import HostFacts
from pyhost.audit.model import Evidence, check

RATIONALE_UNIT = "The unit decides how dockerd runs; whoever can write it is root on the host."
RATIONALE_SOCK = "Write access to the Docker socket is root on the host."


def _rootful(facts: HostFacts) -> None:
    if facts.rootless:
        pytest.skip("rootless Docker: its files belong to its user")


def _unit(facts: HostFacts, unit: str) -> dict[str, object] | None:
    found: dict[str, object] | None = ((facts.raw or {}).get("units") or {}).get(unit)
    return found


@check(
    "3.1",
    "Ensure that the docker.service file ownership is set to root:root",
    severity="medium",
    rationale=RATIONALE_UNIT,
    remediation="chown root:root on docker.service",
)
def test_3_1_service_owner(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(
        evidence,
        _unit(facts, "docker.service"),
        user="root",
        groups=("root",),
        what="docker.service",
    )


@check(
    "3.2",
    "Ensure that docker.service file permissions are appropriately set (0644 or stricter)",
    severity="medium",
    rationale=RATIONALE_UNIT,
    remediation="chmod 644 on docker.service",
)
def test_3_2_service_mode(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(evidence, _unit(facts, "docker.service"), max_mode=0o644, what="docker.service")


@check(
    "3.3",
    "Ensure that docker.socket file ownership is set to root:root",
    severity="medium",
    rationale=RATIONALE_UNIT,
    remediation="chown root:root on docker.socket",
)
def test_3_3_socket_unit_owner(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(
        evidence,
        _unit(facts, "docker.socket"),
        user="root",
        groups=("root",),
        what="docker.socket",
    )


@check(
    "3.4",
    "Ensure that docker.socket file permissions are set to 0644 or more restrictive",
    severity="medium",
    rationale=RATIONALE_UNIT,
    remediation="chmod 644 on docker.socket",
)
def test_3_4_socket_unit_mode(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(evidence, _unit(facts, "docker.socket"), max_mode=0o644, what="docker.socket")


@check(
    "3.5",
    "Ensure that the /etc/docker directory ownership is set to root:root",
    severity="medium",
    rationale="/etc/docker holds daemon.json and the TLS keys.",
    remediation="chown root:root /etc/docker",
)
def test_3_5_etc_docker_owner(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(
        evidence, facts.file("/etc/docker"), user="root", groups=("root",), what="/etc/docker"
    )


@check(
    "3.6",
    "Ensure that /etc/docker directory permissions are set to 0755 or more restrictive",
    severity="medium",
    rationale="/etc/docker holds daemon.json and the TLS keys.",
    remediation="chmod 755 /etc/docker",
)
def test_3_6_etc_docker_mode(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(evidence, facts.file("/etc/docker"), max_mode=0o755, what="/etc/docker")


def _sockets(facts: HostFacts) -> list[dict[str, object]]:
    _rootful(facts)
    found = [f for f in (facts.file(p) for p in (facts.raw or {}).get("sockets") or []) if f]
    if not found:
        pytest.skip("no Docker socket on this host")
    return found


@check(
    "3.15",
    "Ensure that the Docker socket file ownership is set to root:docker",
    severity="high",
    rationale=RATIONALE_SOCK,
    remediation="chown root:docker /var/run/docker.sock (systemd's docker.socket sets it)",
)
def test_3_15_docker_sock_owner(facts: HostFacts, evidence: Evidence) -> None:
    for found in _sockets(facts):
        check_file(evidence, found, user="root", groups=("docker", "root"), what="docker.sock")


@check(
    "3.16",
    "Ensure that the Docker socket file permissions are set to 0660 or more restrictive",
    severity="high",
    rationale=RATIONALE_SOCK,
    remediation="chmod 660 /var/run/docker.sock (SocketMode=0660 in docker.socket)",
)
def test_3_16_docker_sock_mode(facts: HostFacts, evidence: Evidence) -> None:
    for found in _sockets(facts):
        check_file(evidence, found, max_mode=0o660, what="docker.sock")


def _daemon_json(facts: HostFacts) -> dict[str, object] | None:
    path = ((facts.raw or {}).get("daemon_json") or {}).get("path") or "/etc/docker/daemon.json"
    return facts.file(str(path))


@check(
    "3.17",
    "Ensure that the daemon.json file ownership is set to root:root",
    severity="medium",
    rationale="daemon.json decides how every container runs.",
    remediation="chown root:root /etc/docker/daemon.json",
)
def test_3_17_daemon_json_owner(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(evidence, _daemon_json(facts), user="root", groups=("root",), what="daemon.json")


@check(
    "3.18",
    "Ensure that daemon.json file permissions are set to 0644 or more restrictive",
    severity="medium",
    rationale="daemon.json decides how every container runs.",
    remediation="chmod 644 /etc/docker/daemon.json",
)
def test_3_18_daemon_json_mode(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(evidence, _daemon_json(facts), max_mode=0o644, what="daemon.json")


@check(
    "3.19",
    "Ensure that the /etc/default/docker file ownership is set to root:root",
    severity="low",
    rationale="/etc/default/docker can pass options to dockerd.",
    remediation="chown root:root /etc/default/docker",
)
def test_3_19_default_owner(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(
        evidence,
        facts.file("/etc/default/docker"),
        user="root",
        groups=("root",),
        what="/etc/default/docker",
    )


@check(
    "3.20",
    "Ensure that the /etc/default/docker file permissions are set to 0644 or more restrictive",
    severity="low",
    rationale="/etc/default/docker can pass options to dockerd.",
    remediation="chmod 644 /etc/default/docker",
)
def test_3_20_default_mode(facts: HostFacts, evidence: Evidence) -> None:
    _rootful(facts)
    check_file(
        evidence, facts.file("/etc/default/docker"), max_mode=0o644, what="/etc/default/docker"
    )
