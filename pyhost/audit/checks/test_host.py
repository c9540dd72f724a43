"""Section 1 of the CIS Docker Benchmark (host configuration), and fleet policy."""

from __future__ import annotations

from collections import Counter

import pytest

from pyhost.audit.checks._helpers import need_engine, version_tuple
from pyhost.audit.facts import HostFacts
from pyhost.audit.model import Evidence, check


@check(
    "X.1",
    "Ensure Docker is installed and its daemon answers",
    severity="high",
    rationale="A host meant to run containers without a working engine fails its workload, "
    "and none of the other checks can be made.",
    remediation="Install Docker CE (pyhost provision) and start it: systemctl enable --now docker.",
)
def test_x_1_docker_running(facts: HostFacts, evidence: Evidence) -> None:
    raw = facts.raw or {}
    dockerds = raw.get("dockerd") or []
    evidence.add("docker CLI", raw.get("docker_cli") or "absent")
    evidence.add("dockerd processes", ", ".join(str(d["pid"]) for d in dockerds) or "none")
    evidence.add("engine", facts.engine.get("socket") or facts.engine.get("error"))
    evidence.require(dockerds, "no dockerd process runs")
    evidence.require(
        facts.engine.get("available"), f"the engine does not answer: {facts.engine.get('error')}"
    )


@check(
    "1.2.2",
    "Ensure that the version of Docker is up to date",
    severity="medium",
    rationale="Old releases carry known vulnerabilities that later releases fix.",
    remediation="Upgrade Docker (pyhost_docker_version, then pyhost provision); the "
    "minimum is pyhost_audit_min_docker_version.",
)
def test_1_2_2_minimum_version(facts: HostFacts, evidence: Evidence) -> None:
    need_engine(facts)
    version = facts.docker_version or ""
    minimum = facts.policy.get("min_docker_version")
    evidence.add("server version", version)
    if not minimum:
        pytest.skip("no minimum version set (inventory variable pyhost_audit_min_docker_version)")
    evidence.add("minimum", minimum)
    evidence.require(
        version_tuple(version) >= version_tuple(minimum),
        f"Docker {version} is older than the minimum {minimum}",
    )


@check(
    "X.2",
    "Ensure every host of the fleet runs the same Docker version",
    severity="low",
    rationale="Mixed versions behave differently (defaults, security fixes) and hide "
    "hosts a rolling upgrade missed.",
    remediation="Pin one version for the fleet with pyhost_docker_version and provision.",
)
def test_x_2_same_version(facts: HostFacts, evidence: Evidence) -> None:
    need_engine(facts)
    versions = {h: v for h, v in facts.fleet_versions.items() if v}
    counts = Counter(versions.values())
    evidence.add("versions in the fleet", ", ".join(f"{v} x{n}" for v, n in counts.items()))
    if len(versions) < 2:
        pytest.skip("only one host with Docker in this audit")
    # the most common version; on a tie the newest
    common = max(counts, key=lambda v: (counts[v], version_tuple(v)))
    mine = facts.docker_version
    evidence.require(mine == common, f"this host runs {mine}; most of the fleet runs {common}")


@check(
    "1.1.1",
    "Ensure a separate partition for containers has been created",
    severity="medium",
    rationale="Docker's data root fills up with images, layers and logs; on the root "
    "filesystem that can stop the whole host.",
    remediation="Mount a filesystem of its own at the data root (/var/lib/docker).",
)
def test_1_1_1_partition(facts: HostFacts, evidence: Evidence) -> None:
    raw = facts.raw or {}
    daemon = facts.daemon
    # The configured data root, not /info's DockerRootDir: under userns-remap that is
    # /var/lib/docker/<uid>.<gid>, a directory inside the partition, not a mount point.
    root = daemon.get("data-root", None).value
    if root is None and facts.rootless:
        root = facts.info.get("DockerRootDir")
    root = str(root or "/var/lib/docker")
    mount = (raw.get("mounts") or {}).get(root)
    evidence.add("data root", root)
    if facts.userns_remap:
        evidence.add("userns-remap", f"engine root {facts.info.get('DockerRootDir')}")
    if mount is None:
        pytest.skip(f"{root} could not be resolved on this host")
    evidence.add("mounted at", f"{mount['point']} ({mount['fstype']} {mount['source']})")
    evidence.require(
        mount["point"].rstrip("/") == mount["resolved"].rstrip("/"),
        f"{root} is on the filesystem mounted at {mount['point']}, not on its own",
    )


@check(
    "1.1.2",
    "Ensure only trusted users are allowed to control Docker daemon",
    severity="high",
    rationale="Members of the docker group can run privileged containers: they are root "
    "on the host.",
    remediation="Remove untrusted users from the docker group (gpasswd -d USER docker); list "
    "the trusted ones in pyhost_docker_users.",
)
def test_1_1_2_docker_group(facts: HostFacts, evidence: Evidence) -> None:
    group = (facts.raw or {}).get("docker_group")
    if group is None:
        pytest.skip("there is no docker group on this host")
    members = sorted(set(group["members"]) | set(group["primary"]))
    trusted = set(facts.policy.get("trusted_users") or ())
    evidence.add("docker group members", ", ".join(members) or "none")
    evidence.add("trusted (pyhost_docker_users)", ", ".join(sorted(trusted)) or "none")
    others = [m for m in members if m not in trusted]
    if others:
        evidence.warn(f"review the docker group's members: {', '.join(others)}")
