"""Provisioning's pure parts on recorded data: versions, facts, templates, keys, variables."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from pyhost.errors import InventoryError
from pyhost.inventory import load_inventory
from pyhost.provision.facts import parse_facts
from pyhost.provision.files import render, unified_diff
from pyhost.provision.openpgp import InvalidKey, primary_fingerprint
from pyhost.provision.versions import VersionNotAvailable, parse_madison, resolve, upstream

pytestmark = pytest.mark.unit

UBUNTU = [
    "5:28.4.0-1~ubuntu.24.04~noble",
    "5:27.3.1-1~ubuntu.24.04~noble",
    "5:27.3.0-1~ubuntu.24.04~noble",
    "5:24.0.9-1~ubuntu.24.04~noble",
    "5:24.0.0-1~ubuntu.24.04~noble",
]


@pytest.mark.parametrize(
    ("apt_version", "expected"),
    [
        ("5:27.3.1-1~ubuntu.24.04~noble", "27.3.1"),
        ("5:20.10.18~3-0~ubuntu-jammy", "20.10.18"),
        ("5:20.10.24-1~debian.12~bookworm", "20.10.24"),
        ("1.7.27-1", "1.7.27"),
    ],
)
def test_upstream_version(apt_version: str, expected: str) -> None:
    assert upstream(apt_version) == expected


def test_resolve_matches_exactly_never_by_prefix() -> None:
    assert resolve("27.3.1", UBUNTU) == "5:27.3.1-1~ubuntu.24.04~noble"
    assert resolve("5:24.0.0-1~ubuntu.24.04~noble", UBUNTU) == "5:24.0.0-1~ubuntu.24.04~noble"
    # get.docker.com's VERSION=24.0 matched "24.04" in the suffix and installed 28.4
    with pytest.raises(VersionNotAvailable) as err:
        resolve("24.0", UBUNTU)
    assert "24.0.9" in err.value.message and "24.0.0" in err.value.message
    assert "28.4.0" not in err.value.message.split("nearest available:")[0]


def test_a_missing_version_names_the_nearest() -> None:
    with pytest.raises(VersionNotAvailable, match=r"docker-ce 27\.3\.2 is not in the repository"):
        resolve("27.3.2", UBUNTU)
    with pytest.raises(VersionNotAvailable, match="none at all"):
        resolve("27.3.1", [])


def test_parse_madison() -> None:
    out = (
        " docker-ce | 5:20.10.25-1~debian.12~bookworm | http://repo.lab:8080/linux/debian "
        "bookworm/stable amd64 Packages\n"
        " docker-ce | 5:20.10.24-1~debian.12~bookworm | http://repo.lab:8080/linux/debian "
        "bookworm/stable amd64 Packages\n"
    )
    assert parse_madison(out) == [
        "5:20.10.25-1~debian.12~bookworm",
        "5:20.10.24-1~debian.12~bookworm",
    ]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_parse_facts_of_a_linux_mint_host_with_an_old_docker_list() -> None:
    recorded = "\n".join(
        [
            "@@os-release",
            'NAME="Linux Mint"',
            'VERSION="22 (Wilma)"',
            "ID=linuxmint",
            'ID_LIKE="ubuntu debian"',
            'PRETTY_NAME="Linux Mint 22"',
            "VERSION_CODENAME=wilma",
            "UBUNTU_CODENAME=noble",
            "@@arch",
            "arm64",
            "@@packages",
            "docker.io\t24.0.7-0ubuntu4\tii ",
            "runc\t1.1.12-0ubuntu3\tii ",
            "containerd\t\tun ",
            "@@holds",
            "@@keyring",
            "",
            "@@repo-files",
            "/etc/apt/sources.list.d/docker.list\t" + b64("deb https://download.docker.com x\n"),
            "@@legacy-keys",
            "/usr/share/keyrings/docker-archive-keyring.gpg",
            "@@apt-key",
            "yes",
            "@@systemd",
            "yes",
            "@@services",
            "containerd active enabled",
            "docker inactive disabled",
            "@@docker-group",
            "docker:x:998:alice,bob",
            "@@server-version",
            "@@end",
        ]
    )
    facts = parse_facts(recorded)
    assert facts.distro == "ubuntu"
    assert facts.codename == "noble"  # UBUNTU_CODENAME, not Mint's own "wilma"
    assert facts.arch == "arm64"
    assert facts.packages == {"docker.io": "24.0.7-0ubuntu4", "runc": "1.1.12-0ubuntu3"}
    assert facts.keyring is None and facts.server_version is None
    assert list(facts.repo_files) == ["/etc/apt/sources.list.d/docker.list"]
    assert facts.legacy_keys == ["/usr/share/keyrings/docker-archive-keyring.gpg"]
    assert facts.apt_key_has_docker and facts.systemd
    assert facts.services["docker"] == ("inactive", "disabled")
    assert facts.docker_group == ["alice", "bob"]


def test_facts_from_a_script_that_did_not_finish_are_refused() -> None:
    with pytest.raises(ValueError, match="did not finish"):
        parse_facts("@@os-release\nID=debian\n")


def test_templates_render_deb822_and_one_line_forms() -> None:
    values = {
        "repo_url": "https://download.docker.com/linux/ubuntu",
        "codename": "noble",
        "channel": "stable",
        "arch": "amd64",
        "keyring": "/etc/apt/keyrings/docker.asc",
    }
    deb822 = render("docker.sources.j2", **values)
    assert "Types: deb\nURIs: https://download.docker.com/linux/ubuntu\nSuites: noble\n" in deb822
    assert deb822.endswith("Signed-By: /etc/apt/keyrings/docker.asc\n")
    line = render("docker.list.j2", **values).splitlines()[-1]
    assert line == (
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] "
        "https://download.docker.com/linux/ubuntu noble stable"
    )
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("docker.sources.j2", repo_url="x")  # a missing value never renders as ""
    assert unified_diff("/f", b"a\n", b"b\n").splitlines()[2:] == ["@@ -1 +1 @@", "-a", "+b"]


def test_fingerprints_agree_with_gpg(tmp_path: Path) -> None:
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    if not keyring.exists():
        pytest.skip("Debian's archive keyring is not installed here")
    shown = subprocess.run(
        ["gpg", "--show-keys", "--with-colons", str(keyring)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first = next(line.split(":")[9] for line in shown.splitlines() if line.startswith("fpr"))
    assert primary_fingerprint(keyring.read_bytes()) == first
    armoured = subprocess.run(
        ["gpg", "--enarmor"], input=keyring.read_bytes(), capture_output=True, check=True
    ).stdout
    assert primary_fingerprint(armoured.replace(b"ARMORED FILE", b"PUBLIC KEY BLOCK")) == first
    with pytest.raises(InvalidKey):
        primary_fingerprint(b"<html>404 Not Found</html>")


def test_pyhost_variables_are_checked_with_file_and_line(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "all:\n  vars:\n    pyhost_docker_version: '27.3.1'\n  hosts:\n    a:\n"
        "      pyhost_docker_hold: yes\n      pyhost_docker_users: [alice, bob]\n"
    )
    host = load_inventory(inv).select(None)[0]
    assert host.pyhost.docker_version == "27.3.1"
    assert host.pyhost.docker_hold is True and host.pyhost.docker_users == ("alice", "bob")
    assert host.pyhost.docker_key_fingerprint == "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
    for text, line, words in [
        (
            "all:\n  hosts:\n    a:\n      pyhost_docker_verison: '1'\n",
            4,
            "did you mean pyhost_docker_version",
        ),
        ("all:\n  hosts:\n    a:\n      pyhost_docker_version: 27.3\n", 4, "quote it"),
        (
            "all:\n  vars:\n    pyhost_docker_repo_format: yaml\n  hosts:\n    a:\n",
            3,
            "valid values: deb822, list",
        ),
        (
            "all:\n  hosts:\n    a:\n      pyhost_docker_key_fingerprint: 0EBFCD88\n",
            4,
            "40-hex-digit",
        ),
    ]:
        inv.write_text(text)
        with pytest.raises(InventoryError) as err:
            load_inventory(inv)
        assert f"{inv}:{line}:" in err.value.one_line() and words in err.value.one_line()


def test_the_live_table_and_the_recap() -> None:
    from rich.console import Console

    from pyhost.cli.provision_output import Printer
    from pyhost.provision.host import Change, HostReport

    printer = Printer(["web1", "web2", "db1"], diff=True, check=False)
    printer.console = Console(width=100, record=True, force_terminal=False)
    printer.progress("web1", "packages")
    printer.progress("web2", "changed")
    live = Console(width=100, record=True)
    live.print(printer._table())
    table = live.export_text()
    assert "1/3 hosts done" in table
    assert [line.split()[:2] for line in table.splitlines()[2:]] == [
        ["web1", "packages"],
        ["web2", "changed"],
        ["db1", "waiting"],
    ]
    printer.finish(
        [
            HostReport(
                "web1",
                status="changed",
                ok=5,
                changes=[Change("repository", "write /etc/apt/x", "--- a\n+++ b\n")],
            ),
            HostReport("web2", status="unreachable", error="web2: cannot connect"),
        ]
    )
    text = printer.console.export_text()
    assert "  did: write /etc/apt/x\n--- a\n+++ b\n" in text
    assert "web1 : ok=5 changed=1 unreachable=0 failed=0 skipped=0" in text
    assert "web2 : ok=0 changed=0 unreachable=1 failed=0 skipped=0" in text
