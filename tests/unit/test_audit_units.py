"""`pyhost audit` on recorded facts: the checks, the daemon's settings, baselines, shards,
the reports (JSON contract, SARIF 2.1.0 and JUnit structure) and the command line.

The facts are data (what the collector returns for a good and a bad host); the checks run
through pytest in-process exactly as `pyhost audit` runs them.
"""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from labkit.report_formats import validate_junit, validate_sarif

from pyhost.audit import report
from pyhost.audit.baseline import BaselineError, load_baseline
from pyhost.audit.facts import HostFacts, daemon_config
from pyhost.audit.runner import run_checks
from pyhost.audit.shard import parse_shard, shard
from pyhost.cli.main import main
from pyhost.errors import UsageError

pytestmark = pytest.mark.unit

DEFAULT_CAPS = "00000000a80425fb"
HOST_BND = "000001ffffffffff"


def stat(path: str, mode: int, user: str = "root", group: str = "root", kind: str = "file"):
    uid = 0 if user == "root" else 1000
    gid = {"root": 0, "docker": 999}.get(group, 1000)
    return {
        "path": path,
        "type": kind,
        "mode": mode,
        "uid": uid,
        "gid": gid,
        "user": user,
        "group": group,
        "target": None,
    }


def container(name: str, **changes: Any) -> dict[str, Any]:
    """A hardened container, as the collector reports it; ``changes`` make it worse."""
    c: dict[str, Any] = {
        "id": (name * 64)[:64],
        "name": name,
        "image": "app:1",
        "state": "running",
        "pid": 4242,
        "error": None,
        "config": {
            "Id": "x",
            "Name": f"/{name}",
            "HostConfig": {
                "Privileged": False,
                "NetworkMode": "bridge",
                "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                "CapAdd": None,
            },
            "Config": {"User": "1000", "Healthcheck": {"Test": ["CMD", "true"]}},
            "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}},
            "Mounts": [],
        },
        "kernel": {
            "namespaces": {
                "mnt": False,
                "uts": False,
                "ipc": False,
                "pid": False,
                "net": False,
                "user": False,
                "cgroup": True,
                "time": True,
            },
            "security": {
                "cap_eff": "0000000000000000",
                "privileged": False,
                "caps_added": [],
                "caps_dropped": [],
                "seccomp": "filter",
                "seccomp_filters": 1,
                "no_new_privs": True,
                "apparmor": "docker-default (enforce)",
                "readonly_rootfs": True,
                "uid_map": [[0, 100000, 65536]],
                "user_namespace": True,
                "docker_sock": False,
            },
            "limits": {
                "version": 2,
                "memory": {"limit": 64 << 20},
                "cpu": {"quota": 50000, "period": 100000, "weight": 100},
                "pids": {"limit": 100},
            },
            "mounts": [
                {
                    "destination": "/data",
                    "kind": "volume",
                    "host_path": "/var/lib/docker/100000.100000/volumes/d/_data",
                    "readonly": False,
                    "propagation": "private",
                }
            ],
            "ids": {"uid": 101000, "gid": 101000},
        },
    }
    for path, value in changes.items():
        node = c
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return c


def good_host(name: str = "h1", version: str = "27.3.1") -> dict[str, Any]:
    daemon_json = {
        "icc": False,
        "live-restore": True,
        "no-new-privileges": True,
        "userns-remap": "default",
        "log-opts": {"max-size": "10m"},
    }
    return {
        "schema": "pyhost.audit-facts/1",
        "host": name,
        "root": True,
        "cgroup_version": 2,
        "namespace_reference": "pid 1",
        "dockerd": [{"pid": 10, "uid": 0, "argv": ["/usr/bin/dockerd", "-H", "fd://"]}],
        "daemon_json": {
            "path": "/etc/docker/daemon.json",
            "exists": True,
            "text": json.dumps(daemon_json, indent=4),
            "error": None,
        },
        "files": {
            "/etc/docker": stat("/etc/docker", 0o755, kind="directory"),
            "/etc/default/docker": stat("/etc/default/docker", 0o644),
            "/etc/docker/daemon.json": stat("/etc/docker/daemon.json", 0o644),
            "/var/run/docker.sock": stat("/var/run/docker.sock", 0o660, "root", "docker", "socket"),
        },
        "units": {
            "docker.service": stat("/lib/systemd/system/docker.service", 0o644),
            "docker.socket": stat("/lib/systemd/system/docker.socket", 0o644),
        },
        "sockets": ["/var/run/docker.sock"],
        "docker_group": {"name": "docker", "gid": 999, "members": [], "primary": []},
        "mounts": {
            "/var/lib/docker": {
                "path": "/var/lib/docker",
                "resolved": "/var/lib/docker",
                "point": "/var/lib/docker",
                "fstype": "ext4",
                "source": "/dev/vdb",
                "dev": "254:16",
                "exists": True,
            },
            "/var/lib/docker/100000.100000": {
                "path": "/var/lib/docker/100000.100000",
                "resolved": "/var/lib/docker/100000.100000",
                "point": "/var/lib/docker",
                "fstype": "ext4",
                "source": "/dev/vdb",
                "dev": "254:16",
                "exists": True,
            },
        },
        "engine": {
            "socket": "/var/run/docker.sock",
            "available": True,
            "error": None,
            "version": {"Version": version},
            "info": {
                "DockerRootDir": "/var/lib/docker/100000.100000",
                "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin", "name=userns"],
                "LoggingDriver": "json-file",
                "RegistryConfig": {
                    "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"],
                    "IndexConfigs": {"docker.io": {"Secure": True}},
                },
                "LiveRestoreEnabled": True,
                "Swarm": {"LocalNodeState": "inactive"},
            },
        },
        "containers": [container("web")],
        "docker_cli": "/usr/bin/docker",
        "rootless_sockets": [],
        "cap_bnd": HOST_BND,
    }


def bad_host(name: str = "bad") -> dict[str, Any]:
    """The lab's bad states: a privileged container, docker.sock mounted, host network, no
    limits; socket mode 666, daemon.json without live-restore."""
    raw = good_host(name)
    raw["files"]["/var/run/docker.sock"]["mode"] = 0o666
    raw["daemon_json"]["text"] = json.dumps({"icc": True})
    raw["engine"]["info"]["LiveRestoreEnabled"] = False
    raw["engine"]["info"]["SecurityOptions"] = ["name=seccomp,profile=builtin"]
    bad = container(
        "evil",
        kernel__security__cap_eff="000001ffffffffff",
        kernel__security__privileged=True,
        kernel__security__caps_added=["SYS_ADMIN", "NET_ADMIN"],
        kernel__security__docker_sock=True,
        kernel__namespaces__net=True,
        kernel__limits__memory={"limit": None},
        kernel__limits__cpu={"quota": None, "weight": 100},
        kernel__limits__pids={"limit": None},
        config__HostConfig__Privileged=True,
        config__HostConfig__NetworkMode="host",
    )
    bad["kernel"]["mounts"].append(
        {
            "destination": "/var/run/docker.sock",
            "kind": "bind",
            "host_path": "/run/docker.sock",
            "readonly": False,
            "propagation": "private",
        }
    )
    raw["containers"] = [bad]
    return raw


def audit(*raws: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    facts = [HostFacts(r["host"], raw=r) for r in raws]
    versions = {f.name: f.docker_version for f in facts}
    for f in facts:
        f.fleet_versions = versions
    plugin, _output, _status = run_checks(facts, **kwargs)
    return report.document(
        results=plugin.results,
        checks=plugin.checks,
        hosts=[{"host": f.name, "status": "ok", "error": None} for f in facts],
        started="2026-11-29T00:00:00+00:00",
        duration=0.1,
        inventory="inventory.yml",
        shard=None,
    )


def results(doc: dict[str, Any], host: str | None = None) -> dict[tuple[str, str | None], str]:
    return {
        (r["check"], r["container"]): r["result"]
        for r in doc["results"]
        if host is None or r["host"] == host
    }


# ------------------------------------------------------------------------- the checks

BAD_STATES = {
    ("5.5", "evil"),
    ("5.4", "evil"),
    ("5.32", "evil"),
    ("5.10", "evil"),
    ("5.11", "evil"),
    ("5.12", "evil"),
    ("5.29", "evil"),
    ("3.16", None),
    ("2.15", None),
    ("2.2", None),
}


def test_a_good_host_passes_every_check() -> None:
    doc = audit(good_host())
    got = results(doc)
    assert {k: v for k, v in got.items() if v not in ("pass", "skip")} == {}
    skipped = {k for k, v in got.items() if v == "skip"}
    # no version policy set; one host in the fleet; no docker.socket-less skips
    assert skipped == {("1.2.2", None), ("X.2", None)}
    assert doc["exit_status"] == 0
    assert len(doc["checks"]) >= 40


def test_the_bad_states_fail_on_the_bad_host() -> None:
    doc = audit(bad_host())
    got = results(doc)
    for key in BAD_STATES:
        assert got[key] == "fail", (key, got[key])
    assert doc["exit_status"] == 1
    evil = {r["check"]: r for r in doc["results"] if r["container"] == "evil"}
    assert "CapEff: 000001ffffffffff" in evil["5.5"]["evidence"]
    assert evil["5.10"]["message"] == "the container shares the host's net namespace"
    sock = next(r for r in doc["results"] if r["check"] == "3.16")
    assert "mode 0666: bits 0006 beyond 0660" in sock["message"]


def test_modes_are_compared_as_bits_not_numbers() -> None:
    raw = good_host()
    raw["files"]["/etc/docker/daemon.json"]["mode"] = 0o606  # 606 < 644, but o+w
    raw["units"]["docker.service"]["mode"] = 0o600  # stricter: fine
    got = results(audit(raw))
    assert got[("3.18", None)] == "fail" and got[("3.2", None)] == "pass"


def test_partition_check_under_userns_remap_is_not_a_false_positive() -> None:
    """docker-bench #394/#462: the data root moves to /var/lib/docker/<uid>.<gid> under
    userns-remap; the partition is still /var/lib/docker's."""
    got = results(audit(good_host()))
    assert got[("1.1.1", None)] == "pass"
    raw = good_host()
    raw["mounts"]["/var/lib/docker"]["point"] = "/"
    assert results(audit(raw))[("1.1.1", None)] == "fail"


def test_mount_paths_are_compared_by_component_not_by_pattern() -> None:
    """docker-bench #212: a pattern match flags /devices, /etcd-data, /usr-local... ."""
    raw = good_host()
    mounts = raw["containers"][0]["kernel"]["mounts"]
    for path in ("/devices", "/etcd-data", "/srv/etc", "/var/lib/dev", "/usrdata"):
        mounts.append(
            {
                "destination": "/x" + path,
                "kind": "bind",
                "host_path": path,
                "readonly": False,
                "propagation": "private",
            }
        )
    mounts.append(
        {
            "destination": "/certs",
            "kind": "bind",
            "host_path": "/etc/ssl",
            "readonly": True,
            "propagation": "private",
        }
    )
    assert results(audit(raw))[("5.6", "web")] == "pass"
    mounts.append(
        {
            "destination": "/host-etc",
            "kind": "bind",
            "host_path": "/etc",
            "readonly": False,
            "propagation": "shared",
        }
    )
    got = results(audit(raw))
    assert got[("5.6", "web")] == "fail" and got[("5.20", "web")] == "fail"


def test_daemon_json_is_parsed_not_searched() -> None:
    """docker-bench #537: grep on daemon.json misses compact or re-ordered keys and finds
    keys inside other values."""
    raw = good_host()
    raw["daemon_json"]["text"] = (
        '{"labels":["icc=false","live-restore"],"userns-remap":"default",'
        '"no-new-privileges":true,"log-opts":{"max-size":"10m"}}'
    )
    got = results(audit(raw))
    assert got[("2.2", None)] == "fail"  # "icc=false" in a label is not the setting
    assert got[("2.14", None)] == "pass"  # compact JSON is read
    raw["daemon_json"]["text"] = '{"icc": false,'  # broken: an error, never a pass
    got = results(audit(raw))
    assert got[("2.2", None)] == "error" and got[("2.14", None)] == "error"


def test_daemon_flags_beat_defaults_in_every_form() -> None:
    raw = good_host()
    raw["dockerd"][0]["argv"] = [
        "dockerd",
        "--icc=false",
        "--live-restore",
        "--insecure-registry",
        "10.0.0.5:5000",
        "-H",
        "tcp://0.0.0.0:2375",
    ]
    raw["daemon_json"]["text"] = "{}"
    daemon = daemon_config(raw)
    assert daemon.boolean("icc", True).value is False
    assert daemon.boolean("live-restore", False).value is True
    assert daemon.many("insecure-registry", json_key="insecure-registries").value == [
        "10.0.0.5:5000"
    ]
    got = results(audit(raw))
    assert got[("2.2", None)] == "pass"
    assert got[("2.5", None)] == "fail" and got[("2.7", None)] == "fail"


def test_loopback_insecure_registry_is_dockers_default_not_a_finding() -> None:
    assert results(audit(good_host()))[("2.5", None)] == "pass"


def test_privileged_means_every_capability_the_host_has() -> None:
    # an engine older than the kernel grants up to AUDIT_READ (bit 37), not BPF (39)
    raw = good_host()
    c = raw["containers"][0]["kernel"]["security"]
    c["cap_eff"] = "0000003fffffffff"
    assert results(audit(raw))[("5.5", "web")] == "fail"
    c["cap_eff"] = "0000000000200000"  # SYS_ADMIN alone: 5.4, not 5.5
    c["caps_added"] = ["SYS_ADMIN"]
    got = results(audit(raw))
    assert got[("5.5", "web")] == "pass" and got[("5.4", "web")] == "fail"


def test_ports_and_restart_policy() -> None:
    raw = good_host()
    cfg = raw["containers"][0]["config"]
    cfg["NetworkSettings"]["Ports"] = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "80"}]}
    cfg["HostConfig"]["RestartPolicy"] = {"Name": "always", "MaximumRetryCount": 0}
    cfg["Config"]["Healthcheck"] = {"Test": ["NONE"]}
    got = results(audit(raw))
    assert got[("5.8", "web")] == "fail" and got[("5.14", "web")] == "fail"
    assert got[("5.15", "web")] == "fail" and got[("4.6", "web")] == "fail"


def test_root_in_a_user_namespace_is_not_root_on_the_host() -> None:
    raw = good_host()
    raw["containers"][0]["config"]["Config"]["User"] = ""
    assert results(audit(raw))[("4.1", "web")] == "pass"  # uid 101000 on the host
    raw["containers"][0]["kernel"]["ids"]["uid"] = 0
    assert results(audit(raw))[("4.1", "web")] == "fail"


def test_rootless_docker_skips_root_owned_files_and_counts_as_userns() -> None:
    raw = good_host()
    raw["dockerd"][0]["uid"] = 1000
    raw["engine"]["info"]["SecurityOptions"] = ["name=seccomp,profile=builtin", "name=rootless"]
    got = results(audit(raw))
    assert got[("2.9", None)] == "pass"
    assert got[("3.15", None)] == "skip" and got[("3.17", None)] == "skip"


def test_version_policy_and_fleet_consistency() -> None:
    a, b, c = good_host("a", "27.3.1"), good_host("b", "27.3.1"), good_host("c", "26.1.4")
    doc = audit(a, b, c)
    assert results(doc, "c")[("X.2", None)] == "fail"
    assert results(doc, "a")[("X.2", None)] == "pass"
    facts = [HostFacts(r["host"], raw=r, policy={"min_docker_version": "27.0"}) for r in (a, c)]
    plugin, _, _ = run_checks(facts)
    by = {(r.host, r.check): r.result for r in plugin.results}
    assert by[("a", "1.2.2")] == "pass" and by[("c", "1.2.2")] == "fail"


def test_docker_group_members_are_reviewed_unless_trusted() -> None:
    raw = good_host()
    raw["docker_group"]["members"] = ["alice", "mallory"]
    facts = [HostFacts("h1", raw=raw, policy={"trusted_users": ["alice"]})]
    plugin, _, _ = run_checks(facts)
    found = next(r for r in plugin.results if r.check == "1.1.2")
    assert found.result == "warn" and "mallory" in found.message and "alice" not in found.message


def test_an_unreachable_host_is_an_error_and_the_others_go_on() -> None:
    down = HostFacts("down", error="down: cannot connect to 10.0.0.9:22", status="unreachable")
    plugin, _, _ = run_checks([down, HostFacts("h1", raw=good_host())])
    mine = [r for r in plugin.results if r.host == "down"]
    assert mine and all(r.result == "error" for r in mine)
    assert "cannot connect" in mine[0].message
    others = [r for r in plugin.results if r.host == "h1"]
    assert {r.result for r in others} <= {"pass", "skip"}
    hosts = [
        {"host": "down", "status": "unreachable", "error": "x"},
        {"host": "h1", "status": "ok", "error": None},
    ]
    assert report.exit_status(plugin.results, hosts) == 4


# ------------------------------------------------------------------- user checks


def test_user_checks_get_facts_host_and_containers(tmp_path: Path) -> None:
    (tmp_path / "test_org.py").write_text(
        "from pyhost.audit import check\n"
        "@check('ORG.1', 'Images are pinned', severity='low')\n"
        "def test_pinned(container, evidence):\n"
        "    evidence.add('image', container.raw['image'])\n"
        "    evidence.require(container.raw['image'].endswith(':1'), 'not pinned')\n"
        "@check('ORG.2', 'testinfra answers')\n"
        "def test_testinfra(host, facts, evidence, request):\n"
        "    evidence.add('facts host', facts.name)\n"
        "    # pyhost's host fixture, not testinfra's own plugin (which would parametrise)\n"
        "    assert request.config.pluginmanager.get_plugin('pytest11.testinfra') is None\n"
        "    assert type(host.backend).__name__ == 'LocalBackend'\n"
        "    assert host.run('echo hi').stdout.strip() == 'hi'\n"
        "def test_plain_assert(facts):\n"
        "    '''Docker is 27'''\n"
        "    assert facts.docker_version.startswith('26'), 'not 26'\n"
    )
    doc = audit(good_host(), checks=[str(tmp_path)])
    got = results(doc)
    assert got[("ORG.1", "web")] == "pass" and got[("ORG.2", None)] == "pass"
    assert got[("custom.plain_assert", None)] == "fail"
    assert doc["checks"]["custom.plain_assert"]["title"] == "Docker is 27"


def test_a_check_file_that_does_not_import_names_its_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "test_broken.py"
    bad.write_text("import os\n\nimport no_such_module_here\n")
    with pytest.raises(UsageError) as e:
        audit(good_host(), checks=[str(tmp_path)])
    assert f"{bad}:3" in e.value.message and "no_such_module_here" in e.value.message
    bad.write_text("def test_x(:\n    pass\n")
    with pytest.raises(UsageError) as e:
        audit(good_host(), checks=[str(tmp_path)])
    assert "test_broken.py:1" in e.value.message and "SyntaxError" in e.value.message


# --------------------------------------------------------------------------- baseline


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_a_waiver_clears_a_failure_until_it_expires(tmp_path: Path) -> None:
    future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    past = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    text = (
        "waivers:\n"
        f"  - {{check: '5.10', host: 'b*', container: 'ev*', reason: needs it, "
        f"expires: {future}}}\n"
        f"  - {{check: '3.16', host: '*', reason: legacy, expires: {past}}}\n"
    )
    baseline = load_baseline(write(tmp_path / "b.yml", text))
    doc = audit(bad_host(), baseline=baseline)
    by = {(r["check"], r["container"]): r for r in doc["results"]}
    assert by[("5.10", "evil")]["result"] == "fail"
    assert by[("5.10", "evil")]["waived"] == {"reason": "needs it", "expires": future}
    assert by[("3.16", None)]["waived"] is None  # expired: fails again
    assert any("waiver expired" in e for e in by[("3.16", None)]["evidence"])
    assert doc["summary"]["waived"] == 1
    # every other failure waived: exit 0
    fails = {(r["check"], r["container"]) for r in doc["results"] if r["result"] == "fail"}
    entries = "".join(
        f"  - {{check: '{c}', container: '{ctr or '*'}', reason: ok, expires: {future}}}\n"
        for c, ctr in sorted(fails, key=str)
    )
    baseline = load_baseline(write(tmp_path / "all.yml", "waivers:\n" + entries))
    assert audit(bad_host(), baseline=baseline)["exit_status"] == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("waivers:\n  - check: '5.5'\n    reason: x\n", "b.yml:2: the waiver has no expires"),
        (
            "waivers:\n  - check: '5.5'\n    reason: x\n    expires: soon\n",
            "b.yml:4: expires 'soon' is not a date",
        ),
        (
            "waivers:\n  - check: '5.5'\n    reasn: x\n    expires: 2030-01-01\n",
            "b.yml:3: unknown key 'reasn' in a waiver",
        ),
        ("waivers:\n  - [1, 2]\n", "b.yml:2: a waiver is a mapping"),
        ("waivers: [\n", "b.yml:2: not valid YAML"),
    ],
)
def test_a_bad_baseline_entry_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(BaselineError) as e:
        load_baseline(write(tmp_path / "b.yml", text))
    assert expected in e.value.one_line()


def test_an_unknown_check_id_in_the_baseline_names_the_nearest(tmp_path: Path) -> None:
    path = write(tmp_path / "b.yml", "- {check: '5.100', reason: x, expires: 2030-01-01}\n")
    with pytest.raises(UsageError) as e:
        audit(good_host(), baseline=load_baseline(path))
    assert "b.yml:1: unknown check id '5.100' (did you mean 5.10" in e.value.message


# ----------------------------------------------------------------------------- shards


def test_shards_split_the_hosts_deterministically() -> None:
    names = [f"web-{i:02d}" for i in range(10)]
    parts = [shard(names, k, 3) for k in (1, 2, 3)]
    assert sorted(n for p in parts for n in p) == sorted(names)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert shard(list(reversed(names)), 1, 3) == list(reversed(parts[0]))
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(UsageError):
            parse_shard(bad)


# ----------------------------------------------------------------------------- reports

JSON_TOP = {
    "schema",
    "pyhost_version",
    "started",
    "duration_s",
    "shard",
    "inventory",
    "checks",
    "hosts",
    "results",
    "summary",
    "exit_status",
    "timings",
}
JSON_RESULT = {"check", "host", "container", "result", "message", "evidence", "waived", "nodeid"}
JSON_CHECK = {"id", "title", "severity", "rationale", "remediation"}


def test_the_json_report_keeps_its_contract() -> None:
    doc = json.loads(report.dumps(audit(good_host(), bad_host())))
    assert set(doc) == JSON_TOP and doc["schema"] == "pyhost.audit/1"
    assert all(set(r) == JSON_RESULT for r in doc["results"])
    assert all(set(c) == JSON_CHECK for c in doc["checks"].values())
    assert set(doc["summary"]) == {"pass", "fail", "warn", "skip", "error", "waived"}
    assert {r["result"] for r in doc["results"]} <= {"pass", "fail", "warn", "skip", "error"}
    assert all(c["severity"] in ("high", "medium", "low", "info") for c in doc["checks"].values())
    assert all(c["rationale"] and c["remediation"] for c in doc["checks"].values())


def test_sarif_follows_the_210_structure(tmp_path: Path) -> None:
    future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    baseline = load_baseline(
        write(tmp_path / "b.yml", f"- {{check: '5.10', reason: lab, expires: {future}}}\n")
    )
    doc = audit(good_host(), bad_host(), baseline=baseline)
    log = json.loads(report.dumps(report.sarif(doc)))
    validate_sarif(log)
    results_ = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results_} >= {"5.5", "5.32", "5.10", "3.16", "2.15"}
    waived = [r for r in results_ if r["ruleId"] == "5.10"]
    assert waived[0]["suppressions"][0]["kind"] == "external"
    assert all(r["properties"]["host"] == "bad" for r in results_)


def test_merged_junit_follows_the_conventions() -> None:
    doc = audit(good_host(), bad_host())
    root = validate_junit(report.junit(doc))
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(doc["results"])
    failure = next(c for c in cases if c.find("failure") is not None)
    assert failure.find("properties/property[@name='check']") is not None


def test_merge_combines_shards_and_refuses_the_same_host_twice(tmp_path: Path) -> None:
    a = audit(good_host("a"))
    b = audit(bad_host("b"))
    a["hosts"] = [{"host": "a", "status": "ok", "error": None}]
    b["hosts"] = [{"host": "b", "status": "ok", "error": None}]
    merged = report.merge([("a.json", a), ("b.json", b)])
    assert [h["host"] for h in merged["hosts"]] == ["a", "b"]
    assert len(merged["results"]) == len(a["results"]) + len(b["results"])
    assert merged["exit_status"] == 1
    with pytest.raises(UsageError, match=r"host a is in a\.json too"):
        report.merge([("a.json", a), ("again.json", a)])
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    out = tmp_path / "m.sarif"
    rc = main(["audit", "merge", str(pa), str(pb), "--format", "sarif", "--output", str(out)])
    assert rc == 1
    validate_sarif(json.loads(out.read_text()))
    junit_out = tmp_path / "m.xml"
    assert (
        main(["audit", "merge", str(pa), "--report", f"junit:{junit_out}", "-o", "/dev/null"]) == 0
    )
    validate_junit(junit_out.read_text())


def test_table_lists_findings_first(capsys: pytest.CaptureFixture[str]) -> None:
    report.print_table(audit(bad_host()))
    out = capsys.readouterr().out
    assert out.index("FAIL") < out.index("1 host(s)")
    assert "5.32" in out and "bad/evil" in out


# ----------------------------------------------------------------------------- CLI


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["audit", "--shard", "3/2"]) == 2
    assert "--shard '3/2'" in capsys.readouterr().err
    assert main(["audit", "--report", "pdf:x.pdf"]) == 2
    assert main(["audit", "merge"]) == 2
    assert main(["audit", "--checks", str(tmp_path / "nope")]) == 2
    assert main(["audit", "merge", str(tmp_path / "none.json")]) == 2


def test_pyhost_help_does_not_import_pytest_or_testinfra() -> None:
    code = (
        "import sys; from pyhost.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('pytest', 'testinfra', '_pytest', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_junit_report_of_a_run_is_pytests(tmp_path: Path) -> None:
    path = tmp_path / "j.xml"
    facts = [HostFacts("h1", raw=good_host()), HostFacts("bad", raw=bad_host())]
    plugin, _, _ = run_checks(facts, junit=str(path))
    root = validate_junit(path.read_text())
    assert root.find("testsuite").get("name") == "pyhost-audit"
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(plugin.results)
    priv = next(c for c in cases if "test_5_5_privileged[bad/evil]" in c.get("name"))
    assert priv.find("failure") is not None
    props = {p.get("name"): p.get("value") for p in priv.findall("properties/property")}
    assert props["check"] == "5.5" and props["severity"] == "high" and props["result"] == "fail"
    assert "CapEff: 000001ffffffffff" in props["evidence"]


def test_facts_are_not_changed_by_the_checks() -> None:
    raw = good_host()
    before = copy.deepcopy(raw)
    audit(raw)
    assert raw == before


def test_the_shipped_example_baseline_loads_and_names_real_checks() -> None:
    """inventory/audit-waivers.yml is what users copy: it must load, and every check id in
    it must be one pyhost's checks declare."""
    import re as re_

    from pyhost.audit.baseline import load_baseline

    root = Path(__file__).parents[2]
    baseline = load_baseline(str(root / "inventory" / "audit-waivers.yml"))
    assert len(baseline.waivers) == 2
    declared = set()
    for module in (root / "pyhost" / "audit" / "checks").glob("test_*.py"):
        declared |= set(re_.findall(r'@check\(\s*"([^"]+)"', module.read_text()))
    assert declared, "no @check declarations found"
    assert baseline.unknown_ids(dict.fromkeys(declared)) is None
