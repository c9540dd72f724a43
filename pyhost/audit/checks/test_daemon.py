"""Section 2 of the CIS Docker Benchmark: the daemon's configuration.

Read from the running dockerd's command line and daemon.json together (a flag and the same
key in daemon.json cannot both be set: dockerd refuses to start), and from the engine's own
answer where it has one (live restore, user namespaces, registries, the log driver).
daemon.json is parsed as JSON, never searched with patterns: keys in any order or layout,
and a file that does not parse is an error, not a pass.
"""

from __future__ import annotations

import pytest

from pyhost.audit.checks._helpers import need_engine
from pyhost.audit.facts import DaemonConfig, HostFacts
from pyhost.audit.model import Evidence, check

REMOTE_LOG_DRIVERS = {
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
}
LOOPBACK_CIDRS = {"127.0.0.0/8", "::1/128"}


def _daemon(facts: HostFacts, evidence: Evidence) -> DaemonConfig:
    raw = facts.raw or {}
    if not raw.get("dockerd"):
        pytest.skip("no dockerd runs on this host")
    daemon = facts.daemon
    evidence.add("dockerd", " ".join(daemon.argv))
    if daemon.json_error:
        raise RuntimeError(daemon.json_error)
    return daemon


@check(
    "2.2",
    "Ensure network traffic is restricted between containers on the default bridge",
    severity="medium",
    rationale="With icc on, every container on docker0 can reach every other one's ports.",
    remediation='Set "icc": false in daemon.json (or dockerd --icc=false) and restart Docker; '
    "link containers on user-defined networks instead.",
)
def test_2_2_icc(facts: HostFacts, evidence: Evidence) -> None:
    setting = _daemon(facts, evidence).boolean("icc", True)
    evidence.add("icc", setting)
    evidence.require(setting.value is False, f"inter-container communication is on: {setting}")


@check(
    "2.5",
    "Ensure insecure registries are not used",
    severity="high",
    rationale="Images from a registry without TLS can be replaced in transit.",
    remediation='Remove "insecure-registries" from daemon.json (--insecure-registry) and '
    "give the registry a certificate.",
)
def test_2_5_insecure_registries(facts: HostFacts, evidence: Evidence) -> None:
    daemon = _daemon(facts, evidence)
    configured = daemon.many("insecure-registry", json_key="insecure-registries").value
    registry = facts.info.get("RegistryConfig") or {}
    cidrs = [c for c in registry.get("InsecureRegistryCIDRs") or [] if c not in LOOPBACK_CIDRS]
    names = [
        name
        for name, index in (registry.get("IndexConfigs") or {}).items()
        if isinstance(index, dict) and index.get("Secure") is False
    ]
    found = sorted(set(configured) | set(cidrs) | set(names))
    evidence.add("insecure registries (loopback is Docker's default)", ", ".join(found) or "none")
    evidence.require(not found, f"insecure registries are allowed: {', '.join(found)}")


@check(
    "2.7",
    "Ensure TLS authentication for Docker daemon is configured",
    severity="high",
    rationale="A TCP socket without TLS client verification gives root on the host to anyone "
    "who can reach the port.",
    remediation="Use --tlsverify with --tlscacert, --tlscert and --tlskey (or the same keys "
    "in daemon.json) for every tcp:// host, or listen on the unix socket only.",
)
def test_2_7_tls(facts: HostFacts, evidence: Evidence) -> None:
    daemon = _daemon(facts, evidence)
    hosts = list(daemon.many("host", json_key="hosts", short="-H").value)
    tcp = [h for h in hosts if h.startswith("tcp://")]
    evidence.add("listens on", ", ".join(hosts) or "the default unix socket")
    if not tcp:
        return
    verify = daemon.boolean("tlsverify", False)
    files = {k: daemon.get(k).value for k in ("tlscacert", "tlscert", "tlskey")}
    evidence.add("tlsverify", verify)
    evidence.add("certificates", ", ".join(f"{k}={v}" for k, v in files.items()))
    missing = [k for k, v in files.items() if not v]
    evidence.require(
        verify.value is True and not missing,
        f"{', '.join(tcp)} without TLS client verification"
        + (f" (missing {', '.join(missing)})" if missing else ""),
    )


@check(
    "2.9",
    "Enable user namespace support",
    severity="medium",
    rationale="Without user namespaces, root in a container is root on the host.",
    remediation='Set "userns-remap": "default" in daemon.json, or run Docker rootless.',
)
def test_2_9_userns(facts: HostFacts, evidence: Evidence) -> None:
    need_engine(facts)
    daemon = _daemon(facts, evidence)
    evidence.add("security options", ", ".join(facts.info.get("SecurityOptions") or []))
    evidence.add("userns-remap", daemon.get("userns-remap"))
    evidence.require(
        facts.userns_remap or facts.rootless,
        "containers' root is the host's root (no userns-remap, not rootless)",
    )


@check(
    "2.13",
    "Ensure container logs are rotated or shipped off the host",
    severity="low",
    rationale="json-file logs grow without limit by default and fill the data root.",
    remediation='Set "log-opts": {"max-size": "10m", "max-file": "3"} in daemon.json, or use '
    'the "local" driver or a remote one (journald, syslog, fluentd...).',
)
def test_2_13_log_rotation(facts: HostFacts, evidence: Evidence) -> None:
    daemon = _daemon(facts, evidence)
    driver = str(facts.info.get("LoggingDriver") or daemon.get("log-driver", "json-file").value)
    evidence.add("log driver", driver)
    if driver in REMOTE_LOG_DRIVERS or driver in ("local", "none"):
        return
    opts = dict(daemon.json.get("log-opts") or {})
    for value in daemon.flag("log-opt"):
        key, _, val = value.partition("=")
        opts[key] = val
    evidence.add("log-opts", opts or "none")
    evidence.require(
        driver != "json-file" or "max-size" in opts,
        "json-file logs are never rotated (no max-size in log-opts)",
    )


@check(
    "2.14",
    "Ensure containers are restricted from acquiring new privileges",
    severity="medium",
    rationale="setuid binaries inside a container can raise a process's privileges unless "
    "no_new_privs is set.",
    remediation='Set "no-new-privileges": true in daemon.json and restart Docker.',
)
def test_2_14_no_new_privileges(facts: HostFacts, evidence: Evidence) -> None:
    setting = _daemon(facts, evidence).boolean("no-new-privileges", False)
    evidence.add("no-new-privileges", setting)
    evidence.require(setting.value is True, f"no-new-privileges is not the default: {setting}")


@check(
    "2.15",
    "Ensure live restore is enabled",
    severity="medium",
    rationale="Without live restore, restarting or upgrading dockerd stops every container.",
    remediation='Set "live-restore": true in daemon.json and reload Docker.',
)
def test_2_15_live_restore(facts: HostFacts, evidence: Evidence) -> None:
    daemon = _daemon(facts, evidence)
    configured = daemon.boolean("live-restore", False)
    evidence.add("configured", configured)
    running = facts.info.get("LiveRestoreEnabled")
    if running is not None:
        evidence.add("engine /info LiveRestoreEnabled", running)
        if facts.info.get("Swarm", {}).get("LocalNodeState") == "active":
            pytest.skip("live restore does not apply to swarm mode")
        evidence.require(running is True, "live restore is off in the running engine")
        return
    evidence.require(configured.value is True, f"live restore is off: {configured}")
