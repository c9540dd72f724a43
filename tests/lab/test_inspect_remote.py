"""`pyhost ps` and `pyhost inspect` on remote hosts: lab hosts with Docker CE installed by
`pyhost provision`, read over SSH in one round trip each."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from labkit.hosts import MAKE_SLEEP_IMAGE

pytestmark = pytest.mark.lab

MEM_LIMIT = 32 * 1024 * 1024
CONTAINERS = {
    "mem32": "--memory 32m",
    "hostnet": "--network host",
}


@dataclass
class Fleet:
    hosts: list[Any]
    inventory: Path
    work: Path


def write_inventory(path: Path, lab: Any, repo: Any, hosts: dict[str, tuple[str, int]]) -> Path:
    """The lab's inventory (name -> address, port), which may name hosts that do not exist."""
    data = lab.inventory_data([], repo)
    data["all"]["hosts"] = {
        name: {"ansible_host": address, "ansible_port": port}
        for name, (address, port) in hosts.items()
    }
    path.write_text(yaml.safe_dump(data))
    return path


def pyhost(*args: str, stdin: str | None = None, timeout: float = 120) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def as_json(res: Any) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(res.stdout)
    except json.JSONDecodeError:
        raise AssertionError(  # noqa: B904 (the output is the useful part)
            f"no JSON from pyhost (exit {res.returncode}):\n{res.stdout}\n{res.stderr}"
        )
    return data


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def fleet(
    lab: Any, docker_ce_repo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    """Two fresh lab hosts with Docker CE from `pyhost provision`, each running a container
    with a memory limit and one in the host's network namespace."""
    hosts = lab.add_hosts(2)
    try:
        work = tmp_path_factory.mktemp("remote")
        inv = write_inventory(
            work / "inventory.yml",
            lab,
            docker_ce_repo,
            {h.name: (h.address, h.port) for h in hosts},
        )
        res = pyhost(
            "provision", str(inv), "--known-hosts", str(lab.known_hosts), "--json", timeout=900
        )
        assert res.returncode == 0, f"{res.stdout[-3000:]}\n{res.stderr[-2000:]}"
        for host in hosts:
            with lab.ssh(host) as conn:
                conn.run(MAKE_SLEEP_IMAGE, sudo=True, timeout=120)
                for name, flags in CONTAINERS.items():
                    conn.run(
                        f"docker run -d --name {name} {flags} lab/sleep /usr/bin/sleep 3600",
                        sudo=True,
                        timeout=120,
                    )
        yield Fleet(hosts=hosts, inventory=inv, work=work)
    finally:
        lab.remove_hosts(hosts)


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in document["containers"]}


def test_ps_over_an_inventory_reads_every_host_in_parallel(lab: Any, fleet: Fleet) -> None:
    res = pyhost("ps", "-i", str(fleet.inventory), "--known-hosts", str(lab.known_hosts), "--json")
    assert res.returncode == 0, res.stderr
    data = as_json(res)
    assert data["schema"] == "pyhost.ps-fleet/1" and data["exit_status"] == 0
    assert [h["host"] for h in data["hosts"]] == [h.name for h in fleet.hosts]
    for entry, host in zip(data["hosts"], fleet.hosts, strict=True):
        assert (entry["status"], entry["error"]) == ("ok", None), entry
        document = entry["result"]
        assert document["schema"] == "pyhost.ps/1" and document["root"] is True
        assert document["engine"]["available"] is True
        # the lab host's own name: the collector ran there, not here
        assert document["host"] == host.exec("hostname")[1].strip() != socket.gethostname()
        rows = by_name(document)
        assert set(rows) == set(CONTAINERS)
        assert rows["mem32"]["limits"]["memory"]["limit"] == MEM_LIMIT
        assert rows["mem32"]["findings"] == []
        assert "net" in rows["hostnet"]["findings"]
        assert rows["hostnet"]["limits"]["memory"]["limit"] is None
    # the same in people's words: a heading and a table for each host
    res = pyhost("ps", "-i", str(fleet.inventory), "--known-hosts", str(lab.known_hosts))
    assert res.returncode == 0 and res.stderr == "", res.stderr
    for host in fleet.hosts:
        assert host.name in res.stdout
    assert res.stdout.count("mem32") == 2 and res.stdout.count("32.0MiB") == 2


def test_inspect_one_container_on_one_host(lab: Any, fleet: Fleet) -> None:
    host = fleet.hosts[1]
    where = f"lab@{host.address}:{host.port}"
    login = ("--ssh-key", str(lab.key_file), "--known-hosts", str(lab.known_hosts), "-K")
    res = pyhost("inspect", "mem32", "-H", where, *login, "--json", stdin=lab.sudo_password + "\n")
    assert res.returncode == 0, res.stderr
    data = as_json(res)
    assert data["schema"] == "pyhost.inspect/1"
    assert data["host"] == host.exec("hostname")[1].strip()
    assert data["target"]["container"]["name"] == "mem32" and data["target"]["running"]
    assert data["cgroups"]["memory"]["limit"] == MEM_LIMIT
    assert data["network"]["mode"] != "host"
    # the host-network container's finding, in people's words
    res = pyhost("inspect", "hostnet", "-H", where, *login, stdin=lab.sudo_password + "\n")
    assert res.returncode == 0, res.stderr
    assert "net namespace shared with the host" in res.stdout
    # one host without an inventory: the plain pyhost.ps/1 document
    res = pyhost("ps", "-H", where, *login, "--json", stdin=lab.sudo_password + "\n")
    assert res.returncode == 0, res.stderr
    data = as_json(res)
    assert data["schema"] == "pyhost.ps/1" and set(by_name(data)) == set(CONTAINERS)


def test_remote_errors_are_one_line(lab: Any, fleet: Fleet) -> None:
    host = fleet.hosts[0]
    where = f"lab@{host.address}:{host.port}"
    login = ("--ssh-key", str(lab.key_file), "--known-hosts", str(lab.known_hosts))
    res = pyhost("inspect", "nope", "-H", where, *login, "-K", stdin=lab.sudo_password + "\n")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert f"no container 'nope' on {where}" in res.stderr and "mem32" not in res.stdout
    res = pyhost("ps", "-H", where, *login, "-K", stdin="not the password\n")
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"pyhost: error: sudo refused on {where}: sudo:")
    assert "not the password" not in res.stderr
    res = pyhost("ps", "-H", where, *login)  # no password at all
    assert res.returncode == 1 and f"sudo refused on {where}" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_an_unreachable_host_is_reported_and_the_others_listed(
    lab: Any, docker_ce_repo: Any, fleet: Fleet
) -> None:
    hosts = {h.name: (h.address, h.port) for h in fleet.hosts}
    hosts["closed"] = ("127.0.0.1", closed_port())
    inv = write_inventory(fleet.work / "with-closed.yml", lab, docker_ce_repo, hosts)
    res = pyhost("ps", "-i", str(inv), "--known-hosts", str(lab.known_hosts), "--json")
    assert res.returncode == 4, res.stderr
    statuses = {h["host"]: h["status"] for h in as_json(res)["hosts"]}
    assert statuses == {
        fleet.hosts[0].name: "ok",
        fleet.hosts[1].name: "ok",
        "closed": "unreachable",
    }
    closed = next(h for h in as_json(res)["hosts"] if h["host"] == "closed")
    assert closed["result"] is None and "cannot connect to 127.0.0.1:" in closed["error"]
    res = pyhost("ps", "-i", str(inv), "--known-hosts", str(lab.known_hosts))
    assert res.returncode == 4
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("pyhost: error: closed: ")
    assert res.stdout.count("mem32") == 2


def test_an_unknown_host_key_is_refused_in_one_line(lab: Any, fleet: Fleet) -> None:
    host = fleet.hosts[0]
    user_known = Path("~/.ssh/known_hosts").expanduser()
    if user_known.is_file() and f"[{host.address}]:{host.port}" in user_known.read_text():
        pytest.skip("~/.ssh/known_hosts knows this lab host")
    empty = fleet.work / "empty_known_hosts"
    empty.write_text("")
    where = f"lab@{host.address}:{host.port}"
    res = pyhost("ps", "-H", where, "--ssh-key", str(lab.key_file), "--known-hosts", str(empty))
    assert res.returncode == 4 and res.stderr.count("\n") == 1, res.stderr
    assert f"the SSH host key of {host.address}:{host.port} is not in known_hosts" in res.stderr
    assert "--accept-new-host-keys" in res.stderr and res.stdout == ""


def test_a_host_without_python3_is_one_line(lab: Any, fleet: Fleet) -> None:
    host = fleet.hosts[0]
    pythons = "/usr/bin/python3 /usr/local/bin/python3"
    hide = f"for p in {pythons}; do if [ -e $p ]; then mv $p $p.hidden; fi; done"
    show = f"for p in {pythons}; do if [ -e $p.hidden ]; then mv $p.hidden $p; fi; done"
    assert host.exec(hide)[0] == 0
    assert host.exec("command -v python3")[0] != 0
    try:
        res = pyhost(
            "inspect",
            "mem32",
            "-H",
            f"root@{host.address}:{host.port}",
            "--ssh-key",
            str(lab.key_file),
            "--known-hosts",
            str(lab.known_hosts),
        )
    finally:
        host.exec(show)
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    where = f"root@{host.address}:{host.port}"
    assert res.stderr.startswith(f"pyhost: error: python3 is required on {where}")
    assert host.exec("python3 --version")[0] == 0


def test_inspect_over_an_inventory(lab: Any, fleet: Fleet) -> None:
    login = ("--known-hosts", str(lab.known_hosts))
    res = pyhost("inspect", "mem32", "-i", str(fleet.inventory), *login, "--json")
    assert res.returncode == 0, res.stderr
    data = as_json(res)
    assert data["schema"] == "pyhost.inspect-fleet/1" and data["exit_status"] == 0
    assert [h["host"] for h in data["hosts"]] == [h.name for h in fleet.hosts]
    for entry in data["hosts"]:
        assert entry["status"] == "ok", entry
        assert entry["result"]["schema"] == "pyhost.inspect/1"
        assert entry["result"]["cgroups"]["memory"]["limit"] == MEM_LIMIT
    one = fleet.hosts[0].name
    res = pyhost("inspect", "hostnet", "-i", str(fleet.inventory), "--limit", one, *login)
    assert res.returncode == 0, res.stderr
    assert f"== {one}" in res.stdout and fleet.hosts[1].name not in res.stdout
    assert "net namespace shared with the host" in res.stdout
    res = pyhost("inspect", "nope", "-i", str(fleet.inventory), *login)
    assert res.returncode == 1
    assert res.stderr.count("no container 'nope'") == len(fleet.hosts), res.stderr


def test_ssh_config_supplies_what_the_inventory_leaves_out(
    lab: Any, docker_ce_repo: Any, fleet: Fleet, tmp_path: Path
) -> None:
    """Ansible honours ~/.ssh/config; so does pyhost: a host known only by its alias there
    (HostName, Port, User and IdentityFile all from the config) is reached."""
    host = fleet.hosts[0]
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host lab-alias\n  HostName {host.address}\n  Port {host.port}\n  User lab\n"
        f"  IdentityFile {lab.key_file}\n"
    )
    inv = tmp_path / "inventory.yml"
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {"lab-alias": {}},
                    "vars": {"ansible_become_password": lab.sudo_password},
                }
            }
        )
    )
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyhost",
            "ps",
            "-i",
            str(inv),
            "--known-hosts",
            str(lab.known_hosts),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(home)},
    )
    assert res.returncode == 0, res.stderr
    [entry] = as_json(res)["hosts"]
    assert entry["status"] == "ok", entry
    assert entry["result"]["host"] == host.exec("hostname")[1].strip()
