"""Lab hosts: containers running systemd and sshd, reachable only on 127.0.0.1.

Every object the lab creates (containers, network, volumes) carries the label
``pyhost.lab=<run id>`` so that teardown, and the next run after a killed one, can find it.
"""

from __future__ import annotations

import io
import os
import secrets
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.image import LAB_UID, LAB_USER

LABEL = "pyhost.lab"
OWNER = "pyhost.lab.pid"  # the test process that made it: alive means still in use
REPO_NAME = "repo.lab"
REPO_PORT = 8080


# A `lab/sleep` image made inside a lab host from its own sleep and true binaries and
# their libraries (Docker installed there): nothing is pulled from anywhere.
MAKE_SLEEP_IMAGE = (
    "cd / && tar -ch usr/bin/sleep usr/bin/true "
    "$(ldd /usr/bin/sleep | grep -o '/[^ ]*' | sed 's|^/||' | sort -u) "
    "| docker import - lab/sleep"
)


@dataclass
class LabHost:
    name: str
    container: Any  # docker Container
    port: int  # SSH, published on 127.0.0.1
    address: str = "127.0.0.1"

    def exec(self, command: str, **env: str) -> tuple[int, str]:
        """Run a command inside the host through Docker (out of band, not SSH)."""
        code, out = self.container.exec_run(["/bin/sh", "-c", command], environment=env)
        return code, out.decode(errors="replace")


@dataclass
class Lab:
    """One test run's lab: a network, a key pair, known_hosts, hosts and the repo server."""

    client: Any
    image: str
    workdir: Path
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    network: Any = None
    hosts: list[LabHost] = field(default_factory=list)
    created: int = 0  # hosts made so far: names stay unique after removals
    repo_container: Any = None
    repo_ip: str = ""
    repo_url: str = ""  # as the lab hosts see it
    sudo_password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)

    @property
    def key_file(self) -> Path:
        return self.workdir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def labels(self) -> dict[str, str]:
        return lab_labels(self.run_id)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"pyhost-lab-{self.run_id}",
                "-f",
                str(self.key_file),
            ],
            check=True,
        )
        self.known_hosts.write_text("")
        self.known_hosts.chmod(0o600)
        # No masquerading: lab hosts can reach each other and answer on their published
        # ports, but cannot send traffic off this machine.
        self.network = self.client.networks.create(
            f"pyhost-lab-{self.run_id}",
            driver="bridge",
            labels=self.labels,
            options={"com.docker.network.bridge.enable_ip_masquerade": "false"},
        )

    def add_hosts(self, count: int, *, timeout: float = 90.0) -> list[LabHost]:
        """Start ``count`` new hosts in parallel and wait until each answers over SSH."""
        first = self.created + 1
        self.created += count
        new = [self._create_host(first + i) for i in range(count)]
        self.hosts += new
        deadline = time.monotonic() + timeout
        for host in new:
            self._wait_booted(host, deadline)
        return new

    def inventory_data(self, hosts: list[LabHost], repo: Any, **variables: Any) -> dict[str, Any]:
        """An Ansible-style inventory of ``hosts`` that reaches them as the lab user over SSH
        and points pyhost at the lab's Docker CE repository (``repo``) and its key."""
        return {
            "all": {
                "vars": {
                    "ansible_user": LAB_USER,
                    "ansible_ssh_private_key_file": str(self.key_file),
                    "ansible_become_password": self.sudo_password,
                    "pyhost_docker_repo_url": f"{self.repo_url}{repo.url_path}",
                    "pyhost_docker_key_fingerprint": repo.fingerprint,
                    **variables,
                },
                "hosts": {
                    h.name: {"ansible_host": h.address, "ansible_port": h.port} for h in hosts
                },
            }
        }

    def ssh(self, host: LabHost, *, user: str = LAB_USER, **overrides: Any) -> Any:
        """A pyhost SSH connection to ``host`` as the lab user (key, known_hosts, sudo)."""
        from pyhost.connection import SSHConnection, SSHTarget

        target = SSHTarget(
            name=host.name,
            address=host.address,
            port=host.port,
            user=user,
            key_file=str(self.key_file),
            known_hosts=str(self.known_hosts),
            become_password=self.sudo_password,
        )
        for key, value in overrides.items():
            setattr(target, key, value)
        return SSHConnection(target)

    def write_inventory(
        self, path: Path, hosts: list[LabHost], repo: Any, **variables: Any
    ) -> Path:
        import yaml

        path.write_text(
            yaml.safe_dump(self.inventory_data(hosts, repo, **variables), sort_keys=False)
        )
        return path

    def remove_hosts(self, hosts: list[LabHost]) -> None:
        """Remove hosts (and their /var/lib/docker volumes) before the lab ends."""
        for host in hosts:
            mounts = [m.get("Name") for m in host.container.attrs.get("Mounts", [])]
            host.container.remove(force=True, v=True)
            for name in mounts:
                if name:
                    self.client.volumes.get(name).remove(force=True)
            self.hosts.remove(host)

    def _create_host(self, index: int) -> LabHost:
        name = f"pyhost-lab-{self.run_id}-h{index}"
        volume = self.client.volumes.create(f"{name}-docker", labels=self.labels)
        container = self.client.containers.create(
            self.image,
            command=["/lib/systemd/systemd"],
            name=name,
            hostname=f"h{index}",
            labels=self.labels,
            detach=True,
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            cgroupns="host",
            tmpfs={"/run": "", "/run/lock": "", "/tmp": ""},
            volumes={
                "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                volume.name: {"bind": "/var/lib/docker", "mode": "rw"},
            },
            ports={"22/tcp": ("127.0.0.1", None)},
            network=self.network.name,
            stop_signal="SIGRTMIN+3",
            # The repository's name in /etc/hosts: resolved without DNS, whose queries for
            # the missing AAAA record would wait for upstream servers this sandbox lacks.
            extra_hosts={REPO_NAME: self.repo_ip} if self.repo_ip else None,
        )
        container.put_archive("/", self._authorized_keys_tar())
        container.start()
        container.reload()
        port = int(container.ports["22/tcp"][0]["HostPort"])
        return LabHost(name=name, container=container, port=port)

    def _authorized_keys_tar(self) -> bytes:
        pub = (self.key_file.with_suffix(".pub")).read_bytes()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for path, uid in (("root/.ssh", 0), (f"home/{LAB_USER}/.ssh", LAB_UID)):
                info = tarfile.TarInfo(f"{path}/authorized_keys")
                info.size, info.mode, info.uid, info.gid = len(pub), 0o600, uid, uid
                tar.addfile(info, io.BytesIO(pub))
        return buf.getvalue()

    def _wait_booted(self, host: LabHost, deadline: float) -> None:
        state = ""
        while time.monotonic() < deadline:
            code, out = host.exec("systemctl is-system-running")
            state = out.strip()
            if state in ("running", "degraded") and host.exec("systemctl is-active ssh")[0] == 0:
                break
            time.sleep(0.3)
        else:
            raise RuntimeError(f"{host.name} did not boot (systemd says {state!r})")
        code, _ = host.exec(
            f"printf '%s:%s\\n' {LAB_USER} \"$PW\" | chpasswd", PW=self.sudo_password
        )
        if code != 0:
            raise RuntimeError(f"{host.name}: could not set the sudo password")
        # Record the host keys read through Docker (a trusted channel), not by a blind scan.
        code, out = host.exec("cat /etc/ssh/ssh_host_*_key.pub")
        if code != 0:
            raise RuntimeError(f"{host.name}: no SSH host keys")
        with self.known_hosts.open("a") as fh:
            for line in out.splitlines():
                kind, key = line.split()[:2]
                fh.write(f"[{host.address}]:{host.port} {kind} {key}\n")
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host.address, host.port), timeout=2) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{host.name}: sshd does not answer on 127.0.0.1:{host.port}")

    def serve_repo(self, root: Path) -> None:
        """Serve a directory (the Docker CE repository) over HTTP on the lab network."""
        self.repo_container = self.client.containers.run(
            self.image,
            command=["python3", "-m", "http.server", str(REPO_PORT), "--directory", "/srv/repo"],
            name=f"pyhost-lab-{self.run_id}-repo",
            labels=self.labels,
            detach=True,
            volumes={str(root): {"bind": "/srv/repo", "mode": "ro"}},
            ports={f"{REPO_PORT}/tcp": ("127.0.0.1", None)},
            network=self.network.name,
        )
        self.repo_container.reload()
        networks = self.repo_container.attrs["NetworkSettings"]["Networks"]
        self.repo_ip = networks[self.network.name]["IPAddress"]
        port = int(self.repo_container.ports[f"{REPO_PORT}/tcp"][0]["HostPort"])
        self.repo_url = f"http://{REPO_NAME}:{REPO_PORT}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the lab repository server did not start")

    def teardown(self) -> list[str]:
        """Remove everything this run created; returns what could not be removed."""
        return remove_labelled(self.client, {LABEL: self.run_id})


def lab_labels(run_id: str) -> dict[str, str]:
    """Labels for everything a test run makes: its run id and the pid that owns it."""
    return {LABEL: run_id, OWNER: str(os.getpid())}


def _orphaned(item: Any) -> bool:
    labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
    pid = labels.get(OWNER, "")
    return not (pid.isdigit() and Path(f"/proc/{pid}").exists())


def objects_of(client: Any, labels: dict[str, str]) -> dict[str, list[Any]]:
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    return {
        "container": client.containers.list(all=True, filters=filters),
        "network": client.networks.list(filters=filters),
        "volume": client.volumes.list(filters=filters),
    }


def remove_orphans(client: Any) -> list[str]:
    """Remove what killed earlier runs left (their owner process is gone); not live runs'."""
    filters = {"label": [LABEL]}
    removed = []
    for container in client.containers.list(all=True, filters=filters):
        if _orphaned(container):
            container.remove(force=True, v=True)
            removed.append(container.name)
    for collection in (client.networks, client.volumes):
        for item in collection.list(filters=filters):
            if _orphaned(item):
                item.remove()
                removed.append(item.name)
    return removed


def remove_labelled(client: Any, labels: dict[str, str]) -> list[str]:
    """Remove the containers, networks and volumes that carry ``labels``."""
    selector = [f"{k}={v}" for k, v in labels.items()]
    filters = {"label": selector}
    left: list[str] = []
    for container in client.containers.list(all=True, filters=filters):
        try:
            container.remove(force=True, v=True)
        except Exception as e:
            left.append(f"container {container.name}: {e}")
    for network in client.networks.list(filters=filters):
        try:
            network.remove()
        except Exception as e:
            left.append(f"network {network.name}: {e}")
    for volume in client.volumes.list(filters=filters):
        try:
            volume.remove(force=True)
        except Exception as e:
            left.append(f"volume {volume.name}: {e}")
    for kind, found in (
        ("container", client.containers.list(all=True, filters=filters)),
        ("network", client.networks.list(filters=filters)),
        ("volume", client.volumes.list(filters=filters)),
    ):
        left += [f"{kind} {item.name} (still there)" for item in found]
    return left
