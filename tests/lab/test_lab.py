"""The lab itself: real hosts over SSH with verified host keys, and Docker CE's repository."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from pyhost.connection import SSHConnection
from pyhost.errors import ExitStatus, HostKeyError, UnreachableError

pytestmark = pytest.mark.lab


def test_every_lab_host_runs_commands_over_ssh_with_its_own_verified_key(lab: Any) -> None:
    assert len(lab.hosts) == 3
    seen_keys = set()
    for index, host in enumerate(lab.hosts, start=1):
        with lab.ssh(host) as conn:
            assert conn.run("hostname").stdout.strip() == f"h{index}"
            assert conn.run("id -un").stdout.strip() == "lab"
            # sudo with the become password (sent on stdin, never on the command line)
            assert conn.run("id -u", sudo=True).stdout.strip() == "0"
            assert conn.run("systemctl is-active ssh").stdout.strip() == "active"
        with lab.ssh(host, user="root") as conn:
            assert conn.run("id -u").stdout.strip() == "0"
        seen_keys |= {
            line.split()[2]
            for line in lab.known_hosts.read_text().splitlines()
            if line.startswith(f"[127.0.0.1]:{host.port} ")
        }
    # every host generated its own keys at first boot: none is shared
    assert len(seen_keys) == 3 * len(lab.hosts)


def test_sudo_with_a_wrong_password_fails_without_showing_it(lab: Any) -> None:
    with lab.ssh(lab.hosts[0], become_password="not-the-password") as conn:
        result = conn.run("id -u", sudo=True, check=False)
    assert result.exit_code != 0
    assert "not-the-password" not in result.stdout + result.stderr + result.command


def test_an_unknown_host_key_is_refused(lab: Any, tmp_path: Any) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError, match="not in known_hosts") as err:
        lab.ssh(lab.hosts[0], known_hosts=str(empty)).open()
    assert err.value.exit_status == ExitStatus.UNREACHABLE


def test_a_changed_host_key_is_refused_even_when_first_contact_is_allowed(
    lab: Any, tmp_path: Any
) -> None:
    first, second = lab.hosts[0], lab.hosts[1]
    lines = lab.known_hosts.read_text().splitlines()
    # claim that the first host's address has the second host's keys
    forged = [
        line.replace(f"[127.0.0.1]:{second.port} ", f"[127.0.0.1]:{first.port} ", 1)
        for line in lines
        if line.startswith(f"[127.0.0.1]:{second.port} ")
    ]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(forged) + "\n")
    with pytest.raises(HostKeyError, match="does not match"):
        lab.ssh(first, known_hosts=str(path), accept_new_host_key=True).open()


def test_a_closed_port_is_unreachable(lab: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        host = lab.hosts[0]
        with pytest.raises(UnreachableError, match="cannot connect"):
            lab.ssh(host, port=port, connect_timeout=3).open()


def _configure_repo(conn: SSHConnection, lab: Any, repo: Any, key_path: str) -> None:
    sources = (
        "Types: deb\n"
        f"URIs: {lab.repo_url}{repo.url_path}\n"
        f"Suites: {repo.codename}\n"
        "Components: stable\n"
        f"Architectures: {repo.arch}\n"
        f"Signed-By: {key_path}\n"
    )
    conn.run(
        "install -d -m 0755 /etc/apt/keyrings && "
        f"cat > /etc/apt/sources.list.d/docker.sources <<'EOF'\n{sources}EOF",
        sudo=True,
    )


def test_apt_verifies_the_lab_docker_ce_repository_and_lists_every_version(
    lab: Any, docker_ce_repo: Any
) -> None:
    host = lab.hosts[0]
    with lab.ssh(host) as conn:
        key = docker_ce_repo.key_file.read_text()
        conn.run(
            "install -d -m 0755 /etc/apt/keyrings && "
            "cat > /etc/apt/keyrings/docker.asc && chmod 0644 /etc/apt/keyrings/docker.asc",
            sudo=True,
            stdin=key,
        )
        # the key on the host is the one with the repository's fingerprint
        shown = conn.run("gpg --show-keys --with-colons /etc/apt/keyrings/docker.asc").stdout
        assert f"fpr:::::::::{docker_ce_repo.fingerprint}:" in shown
        _configure_repo(conn, lab, docker_ce_repo, "/etc/apt/keyrings/docker.asc")
        update = conn.run("apt-get update 2>&1", sudo=True)
        assert "NO_PUBKEY" not in update.stdout and "not signed" not in update.stdout
        assert f"{lab.repo_url}{docker_ce_repo.url_path} {docker_ce_repo.codename} InRelease" in (
            update.stdout
        )
        for package in ("docker-ce", "docker-ce-cli", "containerd.io"):
            policy = conn.run(f"apt-cache policy {shlex.quote(package)}").stdout
            for version in docker_ce_repo.versions[package]:
                assert version in policy, f"{package} {version} missing from:\n{policy}"


def test_apt_refuses_the_repository_signed_by_another_key(lab: Any, docker_ce_repo: Any) -> None:
    host = lab.hosts[1]
    with lab.ssh(host) as conn:
        # Debian's own archive key is a real key, but not the one that signed this repository
        _configure_repo(conn, lab, docker_ce_repo, "/usr/share/keyrings/debian-archive-keyring.gpg")
        update = conn.run("apt-get update 2>&1", sudo=True, check=False)
        assert "NO_PUBKEY" in update.stdout or "not signed" in update.stdout, update.stdout
        policy = conn.run("apt-cache policy docker-ce").stdout
        for version in docker_ce_repo.versions["docker-ce"]:
            assert version not in policy
        conn.run("rm -f /etc/apt/sources.list.d/docker.sources", sudo=True)


def test_the_repositorys_docker_ce_really_runs_on_a_lab_host(lab: Any, docker_ce_repo: Any) -> None:
    """Install each docker-ce version from the lab repository: dockerd runs and says which."""
    host = lab.hosts[2]
    with lab.ssh(host) as conn:
        conn.run(
            "install -d -m 0755 /etc/apt/keyrings && cat > /etc/apt/keyrings/docker.asc",
            sudo=True,
            stdin=docker_ce_repo.key_file.read_text(),
        )
        _configure_repo(conn, lab, docker_ce_repo, "/etc/apt/keyrings/docker.asc")
        conn.run("apt-get update -q", sudo=True, timeout=120)
        for version in docker_ce_repo.versions["docker-ce"]:
            upstream = version.split(":", 1)[1].split("-", 1)[0]  # 5:20.10.25-1~... -> 20.10.25
            conn.run(
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades "
                f"docker-ce={version} docker-ce-cli={version} containerd.io",
                sudo=True,
                timeout=300,
            )
            active = conn.run("systemctl is-active docker containerd", check=False).stdout
            assert active.split() == ["active", "active"], active
            server = conn.run(
                "docker version --format '{{.Server.Version}}'", sudo=True, timeout=60
            ).stdout.strip()
            assert server.startswith(f"{upstream}+"), (version, server)
        # and it runs containers: an image made on the host from its own /usr/bin/true
        conn.run(
            "tar -C / -ch usr/bin/true usr/bin/false lib/x86_64-linux-gnu/libc.so.6 "
            "lib64/ld-linux-x86-64.so.2 | docker import - lab/true",
            sudo=True,
            timeout=60,
        )
        assert conn.run("docker run --rm lab/true /usr/bin/true", sudo=True).exit_code == 0
        assert (
            conn.run("docker run --rm lab/true /usr/bin/false", sudo=True, check=False).exit_code
            == 1
        )
