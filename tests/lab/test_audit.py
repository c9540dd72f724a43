"""`pyhost audit` on real hosts: two lab hosts with Docker CE from `pyhost provision`, one
put into good states and one into deliberately bad ones, each running real containers.

Every check the bad states trip is shown to fail on the bad host and to pass on the good
one; the reports are checked against their formats; the flags (shards and merge, baseline,
user checks with testinfra's host) and the exit codes are exercised end to end.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from labkit.hosts import MAKE_SLEEP_IMAGE
from labkit.report_formats import validate_junit, validate_sarif

pytestmark = pytest.mark.lab

RUN = "docker run -d --name {name} {flags} lab/sleep /usr/bin/sleep 3600"
GOOD_CONTAINERS = {
    "hardened": "--memory 32m --cpus 0.5 --pids-limit 50 --read-only --user 1000 "
    "--cap-drop ALL --security-opt no-new-privileges --health-cmd /usr/bin/true "
    "--restart on-failure:3 -p 127.0.0.1:8080:80",
}
BAD_CONTAINERS = {
    "privileged": "--privileged",
    "sockmount": "-v /var/run/docker.sock:/var/run/docker.sock --memory 32m",
    "hostnet": "--network host --memory 32m",
    "nolimits": "",
}
GOOD_DAEMON = {
    "icc": False,
    "live-restore": True,
    "no-new-privileges": True,
    "log-opts": {"max-size": "10m", "max-file": "3"},
}
BAD_DAEMON = {"icc": True}  # and no live-restore
# (check, container on the bad host) -> the bad state it shows
BAD_STATES = {
    ("5.5", "privileged"): "privileged container",
    ("5.4", "privileged"): "privileged container",
    ("5.32", "sockmount"): "docker.sock mounted",
    ("5.10", "hostnet"): "host network",
    ("5.11", "nolimits"): "no limits",
    ("5.12", "nolimits"): "no limits",
    ("5.29", "nolimits"): "no limits",
    ("3.16", None): "socket mode 666",
    ("2.15", None): "daemon.json without live-restore",
    ("2.2", None): "icc on",
}


@dataclass
class AuditLab:
    good: Any
    bad: Any
    inventory: Path
    work: Path
    lab: Any


def pyhost(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def inventory(lab: Any, repo: Any, hosts: dict[str, dict[str, Any]], path: Path) -> Path:
    data = lab.inventory_data([], repo)
    data["all"]["hosts"] = hosts
    path.write_text(yaml.safe_dump(data))
    return path


def start_containers(lab: Any, host: Any, containers: dict[str, str]) -> None:
    with lab.ssh(host) as conn:
        conn.run(MAKE_SLEEP_IMAGE, sudo=True, timeout=120)
        for name, flags in containers.items():
            res = conn.run(RUN.format(name=name, flags=flags), sudo=True, timeout=120, check=False)
            if not res.ok and flags == "--privileged":
                # where the lab's bounding set lacks a capability, runc refuses
                # --privileged; every capability the host has is the same to the kernel
                conn.run(f"docker rm -f {name}", sudo=True, timeout=60, check=False)
                conn.run(
                    RUN.format(name=name, flags="--cap-add ALL --cap-drop SYS_RESOURCE"),
                    sudo=True,
                    timeout=120,
                )
            elif not res.ok:
                raise AssertionError(f"{host.name}: docker run {name}: {res.stderr}")


@pytest.fixture(scope="module")
def audit_lab(
    lab: Any, docker_ce_repo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuditLab]:
    good, bad = lab.add_hosts(2)
    try:
        work = tmp_path_factory.mktemp("audit")
        inv = inventory(
            lab,
            docker_ce_repo,
            {
                "good": {
                    "ansible_host": good.address,
                    "ansible_port": good.port,
                    "pyhost_docker_daemon": GOOD_DAEMON,
                },
                "bad": {
                    "ansible_host": bad.address,
                    "ansible_port": bad.port,
                    "pyhost_docker_daemon": BAD_DAEMON,
                },
            },
            work / "inventory.yml",
        )
        res = pyhost("provision", str(inv), "--known-hosts", str(lab.known_hosts), timeout=900)
        assert res.returncode == 0, f"{res.stdout[-3000:]}\n{res.stderr[-2000:]}"
        start_containers(lab, good, GOOD_CONTAINERS)
        start_containers(lab, bad, BAD_CONTAINERS)
        code, out = bad.exec("chmod 666 /var/run/docker.sock && stat -c %a /var/run/docker.sock")
        assert code == 0 and out.strip() == "666", out
        yield AuditLab(good=good, bad=bad, inventory=inv, work=work, lab=lab)
    finally:
        lab.remove_hosts([good, bad])


def run_audit(al: AuditLab, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return pyhost(
        "audit",
        str(al.inventory),
        "--known-hosts",
        str(al.lab.known_hosts),
        *args,
        timeout=timeout,
    )


def as_json(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(res.stdout)
    except json.JSONDecodeError:
        raise AssertionError(  # noqa: B904 (the output is what helps)
            f"no JSON (exit {res.returncode}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
        )
    return data


def by_key(doc: dict[str, Any], host: str) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(r["check"], r["container"]): r for r in doc["results"] if r["host"] == host}


@pytest.fixture(scope="module")
def full_run(audit_lab: AuditLab) -> dict[str, Any]:
    res = run_audit(audit_lab, "--format", "json")
    assert res.returncode == 1, res.stderr  # the bad host fails
    return as_json(res)


def test_every_bad_state_fails_on_the_bad_host_and_passes_on_the_good_one(
    full_run: dict[str, Any],
) -> None:
    assert [h["status"] for h in full_run["hosts"]] == ["ok", "ok"]
    good, bad = by_key(full_run, "good"), by_key(full_run, "bad")
    for (check, name), state in BAD_STATES.items():
        found = bad[(check, name)]
        assert found["result"] == "fail", (check, name, state, found)
        assert found["evidence"], found
        on_good = [r for (c, n), r in good.items() if c == check]
        assert on_good, f"{check} did not run on the good host"
        for r in on_good:
            assert r["result"] == "pass", (check, state, r)


def test_kernel_truth_is_the_evidence(full_run: dict[str, Any]) -> None:
    bad = by_key(full_run, "bad")
    net = bad[("5.10", "hostnet")]["evidence"]
    assert "net namespace shared with the host (inode compare): True" in net
    sock = bad[("5.32", "sockmount")]
    assert "docker.sock" in sock["message"]
    assert any(e.startswith("CapEff: ") for e in bad[("5.5", "privileged")]["evidence"])
    assert "mode 0666" in bad[("3.16", None)]["message"]
    limits = by_key(full_run, "good")[("5.11", "hardened")]["evidence"]
    assert any("33554432" in e for e in limits), limits
    # the lab hosts keep /var/lib/docker on a volume: a partition of its own
    assert by_key(full_run, "good")[("1.1.1", None)]["result"] == "pass"


def test_junit_and_sarif_reports_follow_their_formats(audit_lab: AuditLab) -> None:
    junit, sarif = audit_lab.work / "audit.xml", audit_lab.work / "audit.sarif"
    res = run_audit(
        audit_lab, "--format", "table", "--report", f"junit:{junit}", "--report", f"sarif:{sarif}"
    )
    assert res.returncode == 1, res.stderr
    assert "FAIL" in res.stdout and "bad/privileged" in res.stdout
    root = validate_junit(junit.read_text())
    names = [c.get("name") for c in root.iter("testcase")]
    assert "test_5_10_host_net[bad/hostnet]" in names
    log = json.loads(sarif.read_text())
    validate_sarif(log)
    failing = {(r["ruleId"], r["properties"]["host"]) for r in log["runs"][0]["results"]}
    assert ("5.32", "bad") in failing and ("5.32", "good") not in failing


def test_shards_merge_into_the_full_run(audit_lab: AuditLab, full_run: dict[str, Any]) -> None:
    paths = []
    for k in (1, 2):
        out = audit_lab.work / f"shard-{k}.json"
        res = run_audit(audit_lab, "--shard", f"{k}/2", "--format", "json", "--output", str(out))
        assert res.returncode in (0, 1), res.stderr
        paths.append(str(out))
    shards = [json.loads(Path(p).read_text()) for p in paths]
    assert sorted(h["host"] for s in shards for h in s["hosts"]) == ["bad", "good"]
    assert all(len(s["hosts"]) == 1 for s in shards)
    res = pyhost("audit", "merge", *paths, "--format", "json")
    assert res.returncode == 1, res.stderr
    merged = as_json(res)

    def key(doc: dict[str, Any]) -> set[tuple[str, str, str | None, str]]:
        # X.2 compares versions across the hosts a run sees: one per shard here
        return {
            (r["check"], r["host"], r["container"], r["result"])
            for r in doc["results"]
            if r["check"] != "X.2"
        }

    assert key(merged) == key(full_run)


def test_a_baseline_waives_the_bad_host_and_an_expired_waiver_fails_again(
    audit_lab: AuditLab, full_run: dict[str, Any]
) -> None:
    future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    fails = sorted(
        {(r["check"], r["container"]) for r in full_run["results"] if r["result"] == "fail"},
        key=str,
    )
    lines = ["waivers:"] + [
        f"  - {{check: '{c}', host: '*', container: '{n or '*'}', reason: lab, expires: {future}}}"
        for c, n in fails
    ]
    baseline = audit_lab.work / "waivers.yml"
    baseline.write_text("\n".join(lines) + "\n")
    res = run_audit(audit_lab, "--baseline", str(baseline), "--format", "json")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    doc = as_json(res)
    assert doc["summary"]["waived"] == doc["summary"]["fail"] > 0
    baseline.write_text(
        baseline.read_text().replace(future, "2020-01-01", 1)  # the first one expired
    )
    res = run_audit(audit_lab, "--baseline", str(baseline), "--format", "json")
    assert res.returncode == 1
    baseline.write_text("waivers:\n  - {check: '5.100', reason: x, expires: 2030-01-01}\n")
    res = run_audit(audit_lab, "--baseline", str(baseline))
    assert res.returncode == 2 and "unknown check id '5.100' (did you mean 5.10" in res.stderr


def test_user_checks_get_testinfra_host_over_the_verified_connection(
    audit_lab: AuditLab,
) -> None:
    checks = audit_lab.work / "org-checks"
    checks.mkdir(exist_ok=True)
    (checks / "test_org.py").write_text(
        "from pyhost.audit import check\n\n\n"
        "@check('ORG.1', 'daemon.json exists', severity='low', remediation='provision')\n"
        "def test_daemon_json(host, facts, evidence):\n"
        "    f = host.file('/etc/docker/daemon.json')\n"
        "    evidence.add('testinfra sees', f.exists)\n"
        "    evidence.add('hostname', host.check_output('hostname'))\n"
        "    evidence.require(f.exists, 'no daemon.json')\n"
        "    evidence.require('live-restore' in f.content_string or facts.name == 'bad',\n"
        "                     'good host without live-restore')\n"
    )
    res = run_audit(audit_lab, "--checks", str(checks), "--format", "json")
    doc = as_json(res)
    org = {r["host"]: r for r in doc["results"] if r["check"] == "ORG.1"}
    assert {h: r["result"] for h, r in org.items()} == {"good": "pass", "bad": "pass"}, [
        (r["message"], r["evidence"]) for r in org.values()
    ]
    assert "testinfra sees: True" in org["good"]["evidence"]
    assert doc["checks"]["ORG.1"]["remediation"] == "provision"
    (checks / "test_broken.py").write_text("from pyhost.audit import check\nimport nope_nope\n")
    res = run_audit(audit_lab, "--checks", str(checks))
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert f"{checks}/test_broken.py:2" in res.stderr and "nope_nope" in res.stderr


def test_an_unreachable_host_is_an_error_and_the_others_are_audited(
    audit_lab: AuditLab, docker_ce_repo: Any
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hosts = yaml.safe_load(audit_lab.inventory.read_text())["all"]["hosts"]
    hosts["gone"] = {"ansible_host": "127.0.0.1", "ansible_port": port}
    inv = inventory(audit_lab.lab, docker_ce_repo, hosts, audit_lab.work / "with-gone.yml")
    res = pyhost(
        "audit", str(inv), "--known-hosts", str(audit_lab.lab.known_hosts), "--format", "json"
    )
    doc = as_json(res)
    assert res.returncode == 1  # the bad host's failures come first
    status = {h["host"]: h["status"] for h in doc["hosts"]}
    assert status == {"good": "ok", "bad": "ok", "gone": "unreachable"}
    gone = [r for r in doc["results"] if r["host"] == "gone"]
    assert gone and {r["result"] for r in gone} == {"error"}
    assert "cannot connect to 127.0.0.1" in gone[0]["message"]
    res = pyhost(
        "audit",
        str(inv),
        "--limit",
        "gone",
        "--known-hosts",
        str(audit_lab.lab.known_hosts),
    )
    assert res.returncode == 4, res.stdout + res.stderr
    assert "gone: unreachable" in res.stdout


# ------------------------------------------------- docker-bench's false positives, for real

REMAP_DAEMON_JSON = (
    '{"userns-remap":"default","live-restore":true,\n'
    '  "icc":false, "no-new-privileges":true,"log-opts":{"max-size":"10m"},\n'
    '"labels":["icc=true","live-restore=false"]}\n'
)
REMAP_CONTAINERS = {
    # paths that only look like /dev and /etc (docker-bench #212 matched them by pattern)
    "lookalike": "-v /devices-data:/data -v /etc-backup:/backup --memory 32m",
}


@pytest.fixture(scope="module")
def remap_host(audit_lab: AuditLab, docker_ce_repo: Any) -> Iterator[tuple[Any, Path]]:
    """A host whose daemon.json is written by hand (compact, keys in any order, decoy
    labels) and turns on userns-remap: its data root moves to /var/lib/docker/<uid>.<gid>."""
    lab = audit_lab.lab
    (host,) = lab.add_hosts(1)
    try:
        inv = inventory(
            lab,
            docker_ce_repo,
            {"remap": {"ansible_host": host.address, "ansible_port": host.port}},
            audit_lab.work / "remap.yml",
        )
        res = pyhost("provision", str(inv), "--known-hosts", str(lab.known_hosts), timeout=900)
        assert res.returncode == 0, f"{res.stdout[-3000:]}\n{res.stderr[-2000:]}"
        # A kernel mounts a proc in a new user namespace only where no path of /proc is
        # covered, and a sysfs likewise: lift the lab host's masked and read-only paths.
        code, out = host.exec(
            'for m in $(awk \'$2 ~ "^/(proc|sys)/" && $2 !~ "^/sys/fs/cgroup" {print $2}\' '
            "/proc/self/mounts | sort -r); do "
            'umount -l "$m"; done; '
            "mkdir -p /devices-data /etc-backup && printf '%s' \"$J\" > /etc/docker/daemon.json"
            " && systemctl restart docker && docker info --format '{{.DockerRootDir}}'",
            J=REMAP_DAEMON_JSON,
        )
        root = out.strip().splitlines()[-1] if out.strip() else ""
        if code != 0 or not root.startswith("/var/lib/docker/"):
            pytest.skip(f"dockerd with userns-remap does not run in a lab host here: {out}")
        start_containers(lab, host, REMAP_CONTAINERS)
        yield host, inv, root.rsplit("/", 1)[1].split(".")[0]
    finally:
        lab.remove_hosts([host])


def test_no_false_positives_under_userns_remap_and_hand_written_daemon_json(
    audit_lab: AuditLab, remap_host: tuple[Any, Path, str]
) -> None:
    _, inv, uid = remap_host
    res = pyhost(
        "audit", str(inv), "--known-hosts", str(audit_lab.lab.known_hosts), "--format", "json"
    )
    doc = as_json(res)
    got = by_key(doc, "remap")
    # #394/#462: the partition check looks at the configured data root, not at
    # /var/lib/docker/<uid>.<gid> (a directory on the same volume)
    assert got[("1.1.1", None)]["result"] == "pass", got[("1.1.1", None)]
    # #537: daemon.json parsed, whatever its layout; the decoy labels are not settings
    for check in ("2.2", "2.9", "2.13", "2.14", "2.15"):
        assert got[(check, None)]["result"] == "pass", got[(check, None)]
    # #212: /devices-data and /etc-backup are not /dev and /etc
    assert got[("5.6", "lookalike")]["result"] == "pass", got[("5.6", "lookalike")]
    # root inside the container is the remapped uid on the host: kernel truth, not
    # Config.User (empty here)
    root = got[("4.1", "lookalike")]
    assert root["result"] == "pass", root
    assert f"effective uid on the host (/proc/PID/status): {uid}" in root["evidence"], root
    # with user namespaces on, sharing the host's is a finding, and this one does not
    assert got[("5.31", "lookalike")]["result"] == "pass", got[("5.31", "lookalike")]
