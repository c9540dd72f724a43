"""`pyhost provision` against lab hosts and the lab's Docker CE repository, end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab

OLD, NEW = "20.10.24", "20.10.25"


@pytest.fixture(scope="module")
def hosts(lab: Any) -> Iterator[list[Any]]:
    """Fresh lab hosts for this module (the session's hosts are used by other tests)."""
    new = lab.add_hosts(4)
    yield new
    lab.remove_hosts(new)


def inventory(tmp_path: Path, lab: Any, repo: Any, hosts: list[Any], **pyhost_vars: Any) -> Path:
    return lab.write_inventory(tmp_path / "inventory.yml", hosts, repo, **pyhost_vars)


def provision_text(
    lab: Any, inv: Path, *args: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`pyhost provision INV` as a user runs it, with the lab's known_hosts."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pyhost",
            "provision",
            str(inv),
            "--known-hosts",
            str(lab.known_hosts),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def provision(lab: Any, inv: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    res = provision_text(lab, inv, "--json", *args)
    try:
        data = json.loads(res.stdout)
    except json.JSONDecodeError:
        raise AssertionError(  # noqa: B904 (the output is the useful part)
            f"no JSON from pyhost (exit {res.returncode}):\n{res.stdout}\n{res.stderr}"
        )
    return res.returncode, data, res.stderr


def by_host(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["host"]: h for h in data["hosts"]}


def state_of(host: Any) -> str:
    """What a check run must leave as it was: apt's configuration and the package list."""
    _, out = host.exec(
        "find /etc/apt /etc/docker -xdev -type f -exec md5sum {} + 2>/dev/null | sort; "
        "dpkg-query -W -f='${Package} ${Version}\\n' | md5sum; ls -la /var/lib/apt/lists | md5sum"
    )
    return out


def server_version(host: Any) -> str:
    _, out = host.exec("docker version --format '{{.Server.Version}}'")
    return out.strip()


def test_check_mode_on_fresh_hosts_plans_and_changes_nothing(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    before = [state_of(h) for h in hosts[:2]]
    inv = inventory(tmp_path, lab, docker_ce_repo, hosts[:2], pyhost_docker_version=OLD)
    code, data, _ = provision(lab, inv, "--check")
    assert code == 0, data
    assert data["check"] is True
    for report in data["hosts"]:
        assert report["status"] == "changed", report
        summaries = " | ".join(c["summary"] for c in report["changes"])
        assert "install /etc/apt/keyrings/docker.asc" in summaries
        assert "write /etc/apt/sources.list.d/docker.sources" in summaries
        # the version was resolved against the repository itself, in check mode too
        assert f"docker-ce 5:{OLD}-1~debian.12~bookworm" in summaries
    assert [state_of(h) for h in hosts[:2]] == before


def test_provision_three_hosts_then_a_rerun_changes_nothing(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    three = hosts[:3]
    inv = inventory(
        tmp_path, lab, docker_ce_repo, three, pyhost_docker_version=OLD, pyhost_docker_users=["lab"]
    )
    code, data, _ = provision(lab, inv, "--forks", "3")
    assert code == 0, data
    for host in three:
        report = by_host(data)[host.name]
        assert report["status"] == "changed", report
        assert report["docker_version"].startswith(f"{OLD}+")
        assert server_version(host).startswith(f"{OLD}+")
        assert host.exec("systemctl is-active docker containerd")[1].split() == ["active"] * 2
        assert "docker" in host.exec("id -nG lab")[1].split()
        sources = host.exec("cat /etc/apt/sources.list.d/docker.sources")[1]
        assert "Signed-By: /etc/apt/keyrings/docker.asc" in sources
        assert host.exec("stat -c %a /etc/apt/keyrings/docker.asc")[1].strip() == "644"
    code, data, _ = provision(lab, inv, "--forks", "3")
    assert code == 0
    assert [(h["status"], h["changes"]) for h in data["hosts"]] == [("ok", [])] * 3
    # and the provisioned Docker runs containers: an image made from the host's own binaries
    host = three[0]
    code, out = host.exec(
        "tar -C / -ch usr/bin/true usr/bin/false lib/x86_64-linux-gnu/libc.so.6 "
        "lib64/ld-linux-x86-64.so.2 | docker import - lab/true >/dev/null && "
        "docker run --rm lab/true /usr/bin/true && ! docker run --rm lab/true /usr/bin/false"
    )
    assert code == 0, out


def test_pin_upgrade_and_a_downgrade_only_when_allowed(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    host = hosts[0]  # provisioned with OLD by the test above
    if not server_version(host).startswith(OLD):
        pytest.skip("needs the host provisioned by the previous test")
    code, data, _ = provision(
        lab, inventory(tmp_path, lab, docker_ce_repo, [host], pyhost_docker_version=NEW)
    )
    assert code == 0, data
    assert server_version(host).startswith(f"{NEW}+")
    code, data, _ = provision(
        lab, inventory(tmp_path, lab, docker_ce_repo, [host], pyhost_docker_version=OLD)
    )
    assert code == 1
    assert "newer than the pinned" in by_host(data)[host.name]["error"]
    assert server_version(host).startswith(f"{NEW}+")  # untouched, still running
    code, data, _ = provision(
        lab,
        inventory(
            tmp_path,
            lab,
            docker_ce_repo,
            [host],
            pyhost_docker_version=OLD,
            pyhost_docker_allow_downgrade=True,
        ),
    )
    assert code == 0, data
    assert server_version(host).startswith(f"{OLD}+")


def test_a_version_the_repository_lacks_names_the_nearest(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    code, data, _ = provision(
        lab, inventory(tmp_path, lab, docker_ce_repo, [hosts[1]], pyhost_docker_version="20.10.2")
    )
    assert code == 1
    error = by_host(data)[hosts[1].name]["error"]
    assert "docker-ce 20.10.2 is not in the repository" in error
    assert NEW in error and OLD in error


def test_a_wrong_key_stops_the_host_before_apt_trusts_it(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    host = hosts[3]
    inv = inventory(tmp_path, lab, docker_ce_repo, [host])
    text = inv.read_text().replace(
        docker_ce_repo.fingerprint, "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
    )
    inv.write_text(text)
    code, data, _ = provision(lab, inv)
    assert code == 1
    error = by_host(data)[host.name]["error"]
    assert "not the expected 9DC8 5822 9FC7 DD38 854A E2D8 8D81 803C 0EBF CD88" in error
    assert host.exec("test -e /etc/apt/keyrings/docker.asc")[0] != 0
    assert host.exec("test -e /etc/apt/sources.list.d/docker.sources")[0] != 0


def test_an_unreachable_host_does_not_stop_the_others(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    import socket

    inv = inventory(tmp_path, lab, docker_ce_repo, [hosts[2]])
    data = yaml.safe_load(inv.read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        data["all"]["hosts"]["gone"] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": s.getsockname()[1],
        }
        inv.write_text(yaml.safe_dump(data, sort_keys=False))
        code, result, _ = provision(lab, inv)
    assert code == 4
    assert by_host(result)["gone"]["status"] == "unreachable"
    assert "cannot connect" in by_host(result)["gone"]["error"]
    assert by_host(result)[hosts[2].name]["status"] in ("ok", "changed")


def test_old_repo_files_are_removed_and_a_held_apt_lock_is_waited_out(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    """The 'Conflicting values set for option Signed-By' trap, and unattended-upgrades."""
    host = hosts[3]  # nothing installed yet (the wrong-key test refused it)
    host.exec(
        "echo 'deb [signed-by=/usr/share/keyrings/docker-archive-keyring.gpg] "
        f"{lab.repo_url}{docker_ce_repo.url_path} bookworm stable' "
        "> /etc/apt/sources.list.d/docker.list && "
        "cp /etc/apt/keyrings/../trusted.gpg.d/debian-archive-bookworm-stable.asc "
        "/usr/share/keyrings/docker-archive-keyring.gpg 2>/dev/null || "
        "echo old > /usr/share/keyrings/docker-archive-keyring.gpg"
    )
    # hold dpkg's frontend lock for 15 s, as unattended-upgrades does on a fresh VM
    host.container.exec_run(
        [
            "python3",
            "-c",
            "import fcntl,time; f=open('/var/lib/dpkg/lock-frontend','w'); "
            "fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(6)",
        ],
        detach=True,
    )
    code, data, _ = provision(lab, inventory(tmp_path, lab, docker_ce_repo, [host]))
    report = by_host(data)[host.name]
    assert code == 0, report["error"]
    summaries = [c["summary"] for c in report["changes"]]
    assert "remove /etc/apt/sources.list.d/docker.list" in summaries
    assert "remove old key /usr/share/keyrings/docker-archive-keyring.gpg" in summaries
    assert any("waited" in note and "apt's lock" in note for note in report["notes"]), (
        report["notes"],
        report["seconds"],
    )
    code, out = host.exec("apt-get update 2>&1")
    assert code == 0 and "Conflicting" not in out and "E:" not in out
    assert host.exec("ls /etc/apt/sources.list.d")[1].split() == ["docker.sources"]


def test_daemon_json_is_applied_and_a_rejected_one_is_rolled_back(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    """The lab's dockerd is 20.10, which has no `dockerd --validate` (Docker 23+): pyhost's
    validation step answers "cannot validate" here, so a bad option is caught by the restart
    check and rolled back. The --validate path itself cannot be exercised in this lab."""
    host = hosts[2]  # Docker installed by the three-host test
    if not server_version(host):
        pytest.skip("needs the host provisioned by the three-host test")
    good = {"log-driver": "json-file", "log-opts": {"max-size": "10m"}, "live-restore": True}
    inv = inventory(tmp_path, lab, docker_ce_repo, [host], pyhost_docker_daemon=good)
    code, data, _ = provision(lab, inv, "--diff")
    assert code == 0, by_host(data)[host.name]["error"]
    assert json.loads(host.exec("cat /etc/docker/daemon.json")[1]) == good
    assert host.exec("stat -c '%a %U' /etc/docker/daemon.json")[1].strip() == "644 root"
    info = host.exec("docker info --format '{{.LoggingDriver}} {{.LiveRestoreEnabled}}'")[1]
    assert info.split() == ["json-file", "true"]  # the running dockerd took it
    code, data, _ = provision(lab, inv)
    assert code == 0 and by_host(data)[host.name]["changes"] == []

    bad = {**good, "no-such-option": 1}
    code, data, _ = provision(
        lab, inventory(tmp_path, lab, docker_ce_repo, [host], pyhost_docker_daemon=bad)
    )
    assert code == 1
    error = by_host(data)[host.name]["error"]
    assert "dockerd rejected the new daemon.json" in error and "no-such-option" in error
    assert "restored and Docker is running again" in error
    assert json.loads(host.exec("cat /etc/docker/daemon.json")[1]) == good
    assert host.exec("systemctl is-active docker")[1].strip() == "active"
    assert server_version(host).startswith(f"{OLD}+")


def test_state_absent_removes_docker_and_keeps_its_data_unless_purged(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    host = hosts[3]  # Docker installed by the legacy-files test
    if not server_version(host):
        pytest.skip("needs the host provisioned by the legacy-files test")
    inv = inventory(tmp_path, lab, docker_ce_repo, [host])
    before = state_of(host)
    code, data, _ = provision(lab, inv, "--state", "absent", "--check")
    assert code == 0 and state_of(host) == before
    assert any("remove docker-ce" in c["summary"] for c in by_host(data)[host.name]["changes"])
    code, data, _ = provision(lab, inv, "--state", "absent")
    assert code == 0, by_host(data)[host.name]["error"]
    installed = host.exec(
        "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' docker-ce containerd.io"
    )
    assert "ii" not in installed[1]
    assert host.exec("ls /etc/apt/sources.list.d/")[1].split() == []
    assert host.exec("test -e /etc/apt/keyrings/docker.asc")[0] != 0
    assert host.exec("test -d /var/lib/docker/overlay2")[0] == 0  # data kept
    assert "/var/lib/docker was kept (--purge removes it)" in by_host(data)[host.name]["notes"]
    code, data, _ = provision(lab, inv, "--state", "absent", "--purge")
    assert code == 0, by_host(data)[host.name]["error"]
    assert host.exec("ls -A /var/lib/docker")[1].strip() == ""
    code, data, _ = provision(lab, inv, "--state", "absent")
    assert code == 0 and by_host(data)[host.name]["changes"] == []


def test_a_rolling_run_stops_after_a_failed_batch(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    inv = inventory(tmp_path, lab, docker_ce_repo, hosts[:3])
    data = yaml.safe_load(inv.read_text())
    first = hosts[0].name
    data["all"]["hosts"][first]["pyhost_docker_key_fingerprint"] = "0" * 40
    inv.write_text(yaml.safe_dump(data, sort_keys=False))
    code, result, _ = provision(lab, inv, "--check", "--serial", "1")
    assert code == 1
    reports = by_host(result)
    assert reports[first]["status"] == "failed"
    for host in hosts[1:3]:
        assert reports[host.name]["status"] == "skipped"
        assert "1 of 1 host(s) in the previous batch failed" in reports[host.name]["error"]
        assert reports[host.name]["changes"] == []
    # with room for failures, the other batches run
    code, result, _ = provision(lab, inv, "--check", "--serial", "1", "--max-fail-percent", "100")
    assert code == 1
    assert [r["status"] for r in result["hosts"]][1:] == ["ok", "ok"]  # provisioned before


def test_proxies_for_apt_and_dockerd_without_showing_the_password(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    host = hosts[1]  # Docker installed by the three-host test
    if not server_version(host):
        pytest.skip("needs the host provisioned by the three-host test")
    # nothing listens there: apt must reach the lab repository directly (no_proxy), and
    # dockerd only needs the setting to start
    proxy = "http://puller:s3cret-pw@127.0.0.1:3128"
    inv = inventory(
        tmp_path,
        lab,
        docker_ce_repo,
        [host],
        pyhost_http_proxy=proxy,
        pyhost_https_proxy=proxy,
        pyhost_no_proxy="repo.lab,localhost",
    )
    res = provision_text(lab, inv, "--diff", timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "s3cret-pw" not in res.stdout + res.stderr
    assert "puller:***@127.0.0.1:3128" in res.stdout  # the diff, redacted
    env = host.exec("systemctl show docker -p Environment --value")[1]
    assert f"HTTP_PROXY={proxy}" in env and "NO_PROXY=repo.lab,localhost" in env
    assert host.exec("stat -c %a /etc/apt/apt.conf.d/95pyhost-proxy")[1].strip() == "640"
    assert (
        'Acquire::http::Proxy::repo.lab "DIRECT";'
        in host.exec("cat /etc/apt/apt.conf.d/95pyhost-proxy")[1]
    )
    assert host.exec("apt-get update")[0] == 0  # the repository still answers, directly
    assert host.exec("systemctl is-active docker")[1].strip() == "active"
    code, data, _ = provision(lab, inv)
    assert code == 0 and by_host(data)[host.name]["changes"] == []
    # and removing the proxy variables removes the files
    code, data, _ = provision(lab, inventory(tmp_path, lab, docker_ce_repo, [host]))
    assert code == 0
    assert host.exec("test -e /etc/apt/apt.conf.d/95pyhost-proxy")[0] != 0
    assert "HTTP_PROXY" not in host.exec("systemctl show docker -p Environment --value")[1]


def test_a_host_that_dies_mid_run_is_unreachable_and_the_other_goes_on(
    lab: Any, docker_ce_repo: Any, tmp_path: Path
) -> None:
    import threading

    doomed, survivor = lab.add_hosts(2)
    try:
        inv = inventory(tmp_path, lab, docker_ce_repo, [doomed, survivor])

        # stop the doomed host once its packages are being installed (bounded wait)
        def kill_when_installing() -> None:
            for _ in range(300):
                if doomed.exec("pgrep -x dpkg || pgrep -x apt-get")[0] == 0:
                    break
                threading.Event().wait(0.1)
            doomed.container.kill()

        killer = threading.Thread(target=kill_when_installing, daemon=True)
        killer.start()
        code, data, _ = provision(lab, inv, "--forks", "2")
        killer.join(timeout=60)
        assert code == 4, [(h["status"], h["error"]) for h in data["hosts"]]
        assert by_host(data)[doomed.name]["status"] == "unreachable"
        assert by_host(data)[survivor.name]["status"] == "changed"
        assert server_version(survivor)
    finally:
        lab.remove_hosts([doomed, survivor])


def test_sudo_refused_is_one_clear_line(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    inv = inventory(tmp_path, lab, docker_ce_repo, [hosts[0]])
    inv.write_text(inv.read_text().replace(lab.sudo_password, "wrong-password"))
    res = provision_text(lab, inv, "--check", timeout=300)
    assert res.returncode == 1
    assert "sudo" in res.stdout and "wrong-password" not in res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr


def test_steps_run_on_a_users_own_fabric_connection(
    lab: Any, docker_ce_repo: Any, hosts: list[Any]
) -> None:
    """The fabfile use: provision_host over a Fabric Connection the user made."""
    import fabric
    import paramiko

    from pyhost.connection import SSHConnection
    from pyhost.inventory import PyhostSettings
    from pyhost.provision.host import provision_host

    host = hosts[0]
    conn = fabric.Connection(
        host.address,
        user="lab",
        port=host.port,
        connect_kwargs={"key_filename": str(lab.key_file), "look_for_keys": False},
    )
    conn.client.load_host_keys(str(lab.known_hosts))
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    settings = PyhostSettings(
        docker_repo_url=f"{lab.repo_url}{docker_ce_repo.url_path}",
        docker_key_fingerprint=docker_ce_repo.fingerprint,
    )
    wrapped = SSHConnection.from_fabric(conn, become_password=lab.sudo_password)
    with wrapped:
        report = provision_host(wrapped, settings, check=True)
    assert report.status == "ok", report.error
    assert report.docker_version


def test_a_repository_with_a_bad_signature_stops_the_host(
    lab: Any, docker_ce_repo: Any, tmp_path: Path
) -> None:
    """Docker's key is right, but the repository's InRelease was altered after signing: apt
    must refuse it, pyhost must say so in one line, and install nothing from it."""
    repo = docker_ce_repo
    served = repo.root / "tampered"
    dist = served / repo.url_path.strip("/") / "dists" / repo.codename
    dist.mkdir(parents=True)
    try:
        orig = repo.base / "dists" / repo.codename
        shutil.copy(repo.key_file, served / repo.url_path.strip("/") / "gpg")
        for name in ("Release", "Release.gpg"):
            shutil.copy(orig / name, dist / name)
        text = (orig / "InRelease").read_text()
        assert "\nLabel: Docker CE\n" in text
        (dist / "InRelease").write_text(text.replace("\nLabel: Docker CE\n", "\nLabel: Evil\n"))
        [host] = lab.add_hosts(1)
        try:
            inv = inventory(tmp_path, lab, repo, [host])
            data = yaml.safe_load(inv.read_text())
            url = data["all"]["vars"]["pyhost_docker_repo_url"]
            data["all"]["vars"]["pyhost_docker_repo_url"] = url.replace(
                repo.url_path, "/tampered" + repo.url_path
            )
            inv.write_text(yaml.safe_dump(data))
            code, result, _ = provision(lab, inv)
            assert code == 1
            error = by_host(result)[host.name]["error"]
            assert "\n" not in error
            assert "signature" in error.lower() or "not signed" in error, error
            assert host.exec("dpkg-query -W docker-ce")[0] != 0  # nothing installed
            text_run = provision_text(lab, inv)
            assert text_run.returncode == 1
            assert "Traceback" not in text_run.stderr
        finally:
            lab.remove_hosts([host])
    finally:
        shutil.rmtree(served, ignore_errors=True)


def test_ansible_become_false_is_honoured(
    lab: Any, docker_ce_repo: Any, hosts: list[Any], tmp_path: Path
) -> None:
    """Written `ansible_become: false` means no sudo: a non-root login cannot install Docker,
    so the host fails in one line and nothing on it changes."""
    host = hosts[3]
    before = state_of(host)
    inv = inventory(tmp_path, lab, docker_ce_repo, [host], ansible_become=False)
    code, data, _ = provision(lab, inv)
    assert code == 1
    error = by_host(data)[host.name]["error"]
    assert "ansible_become is false" in error and "set ansible_become: true" in error
    assert state_of(host) == before
