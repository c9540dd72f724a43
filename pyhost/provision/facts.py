"""Facts about a host, gathered in one round trip: everything provisioning decides on.

One shell script prints sections marked ``@@name``; `parse_facts` turns them into
`HostFacts`. Nothing here changes the host.
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass

from pyhost.connection import Connection

DOCKER_PACKAGES = (
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-buildx-plugin",
    "docker-compose-plugin",
    "docker-ce-rootless-extras",
)
# Distribution packages that conflict with Docker CE's (Docker's install documentation).
CONFLICTING = (
    "docker.io",
    "docker-compose",
    "docker-compose-v2",
    "docker-doc",
    "podman-docker",
    "containerd",
    "runc",
)
KEYRING = "/etc/apt/keyrings/docker.asc"
DAEMON_JSON = "/etc/docker/daemon.json"
APT_PROXY = "/etc/apt/apt.conf.d/95pyhost-proxy"
DOCKER_PROXY = "/etc/systemd/system/docker.service.d/http-proxy.conf"
SOURCES_DIR = "/etc/apt/sources.list.d"
# Where older instructions (Docker's own, the Ansible role's, blog posts) put Docker's key.
LEGACY_KEYS = (
    "/etc/apt/keyrings/docker.gpg",
    "/usr/share/keyrings/docker-archive-keyring.gpg",
    "/usr/share/keyrings/docker.gpg",
    "/usr/share/keyrings/docker.asc",
    "/etc/apt/trusted.gpg.d/docker.gpg",
    "/etc/apt/trusted.gpg.d/docker.asc",
    "/etc/apt/trusted.gpg.d/docker-ce.gpg",
    "/etc/apt/trusted.gpg.d/docker-archive-keyring.gpg",
)
DOCKER_KEY_ID = "0EBFCD88"


def facts_script(repo_urls: tuple[str, ...]) -> str:
    """The shell script that prints every fact in one go (POSIX sh, no bashisms)."""
    packages = " ".join(DOCKER_PACKAGES + CONFLICTING)
    patterns = " ".join(f"-e {shlex.quote(url)}" for url in repo_urls)
    legacy = " ".join(LEGACY_KEYS)
    return f"""
exec 2>/dev/null
echo @@os-release; cat /etc/os-release
echo @@arch; dpkg --print-architecture
echo @@packages
dpkg-query -W -f='${{Package}}\\t${{Version}}\\t${{db:Status-Abbrev}}\\n' {packages}
echo @@holds; apt-mark showhold
echo @@keyring; [ -f {KEYRING} ] && base64 -w0 {KEYRING}; echo
echo @@repo-files
for f in /etc/apt/sources.list {SOURCES_DIR}/*.list {SOURCES_DIR}/*.sources; do
  [ -f "$f" ] && grep -qi {patterns} "$f" && printf '%s\\t%s\\n' "$f" "$(base64 -w0 "$f")"
done
for f in {SOURCES_DIR}/docker.list {SOURCES_DIR}/docker.sources; do
  [ -f "$f" ] && printf '%s\\t%s\\n' "$f" "$(base64 -w0 "$f")"
done
echo @@legacy-keys; for f in {legacy}; do [ -e "$f" ] && echo "$f"; done
echo @@apt-key
command -v apt-key >/dev/null && apt-key list 2>/dev/null | tr -d ' ' | grep -qi {DOCKER_KEY_ID} \
  && echo yes
echo @@systemd; [ -d /run/systemd/system ] && echo yes
echo @@services
for s in containerd docker; do
  printf '%s %s %s\\n' "$s" "$(systemctl is-active $s.service)" "$(systemctl is-enabled $s.service)"
done
echo @@docker-group; getent group docker
echo @@server-version; docker version --format '{{{{.Server.Version}}}}'
echo @@daemon-json; [ -f {DAEMON_JSON} ] && base64 -w0 {DAEMON_JSON}; echo
echo @@apt-proxy; [ -f {APT_PROXY} ] && base64 -w0 {APT_PROXY}; echo
echo @@docker-proxy; [ -f {DOCKER_PROXY} ] && base64 -w0 {DOCKER_PROXY}; echo
echo @@dockerd-command; systemctl show -p ExecStart --value docker.service | head -c 2000; echo
echo @@end
"""


@dataclass
class HostFacts:
    os_release: dict[str, str]
    arch: str
    packages: dict[str, str]  # installed package -> version
    held: set[str]
    keyring: bytes | None
    repo_files: dict[str, bytes]  # path -> content, every apt source naming Docker's repo
    legacy_keys: list[str]
    apt_key_has_docker: bool
    systemd: bool
    services: dict[str, tuple[str, str]]  # name -> (is-active, is-enabled)
    docker_group: list[str] | None  # members; None when the group does not exist
    server_version: str | None
    daemon_json: bytes | None = None
    apt_proxy: bytes | None = None
    docker_proxy: bytes | None = None
    dockerd_command: str = ""  # the unit's ExecStart, to spot -H next to daemon.json's hosts

    @property
    def distro(self) -> str | None:
        """'ubuntu' or 'debian' (derivatives by ID_LIKE), None when neither."""
        ids = [self.os_release.get("ID", ""), *self.os_release.get("ID_LIKE", "").split()]
        for distro in ("ubuntu", "debian"):
            if distro in ids:
                return distro
        return None

    @property
    def codename(self) -> str | None:
        """The release's codename: UBUNTU_CODENAME first, so derivatives (Mint...) work."""
        return (
            self.os_release.get("UBUNTU_CODENAME")
            or self.os_release.get("VERSION_CODENAME")
            or None
        )

    @property
    def pretty_name(self) -> str:
        return self.os_release.get("PRETTY_NAME", self.os_release.get("ID", "unknown OS"))


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = sections.setdefault(line[2:].strip(), [])
        elif current is not None:
            current.append(line)
    return sections


def _os_release(lines: list[str]) -> dict[str, str]:
    result = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            result[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return result


def _file(sections: dict[str, list[str]], name: str) -> bytes | None:
    encoded = "".join(sections.get(name, [])).strip()
    return base64.b64decode(encoded) if encoded else None


def parse_facts(text: str) -> HostFacts:
    s = _sections(text)
    if "end" not in s:
        raise ValueError("the facts script did not finish")
    packages = {}
    for line in s.get("packages", []):
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].strip()[1:2] == "i":  # ii, hi: installed
            packages[parts[0]] = parts[1]
    repo_files = {}
    for line in s.get("repo-files", []):
        path, _, encoded = line.partition("\t")
        if path:
            repo_files[path] = base64.b64decode(encoded)
    keyring = "".join(s.get("keyring", [])).strip()
    group = "".join(s.get("docker-group", [])).strip()
    services = {}
    for line in s.get("services", []):
        parts = line.split()
        if parts:
            services[parts[0]] = (
                parts[1] if len(parts) > 1 else "unknown",
                parts[2] if len(parts) > 2 else "unknown",
            )
    server = "".join(s.get("server-version", [])).strip()
    daemon = "".join(s.get("daemon-json", [])).strip()
    return HostFacts(
        os_release=_os_release(s.get("os-release", [])),
        arch="".join(s.get("arch", [])).strip(),
        packages=packages,
        held={line.strip() for line in s.get("holds", []) if line.strip()},
        keyring=base64.b64decode(keyring) if keyring else None,
        repo_files=repo_files,
        legacy_keys=[line.strip() for line in s.get("legacy-keys", []) if line.strip()],
        apt_key_has_docker="yes" in s.get("apt-key", []),
        systemd="yes" in s.get("systemd", []),
        services=services,
        docker_group=[m for m in group.split(":")[3].split(",") if m] if group else None,
        server_version=server or None,
        daemon_json=base64.b64decode(daemon) if daemon else None,
        apt_proxy=_file(s, "apt-proxy"),
        docker_proxy=_file(s, "docker-proxy"),
        dockerd_command=" ".join(s.get("dockerd-command", [])).strip(),
    )


def gather(conn: Connection, repo_urls: tuple[str, ...]) -> HostFacts:
    """Read the host's facts (as root: docker version needs the socket)."""
    result = conn.run(facts_script(repo_urls), sudo=True, check=False, timeout=120)
    if "@@end" not in result.stdout:
        from pyhost.errors import CommandFailed

        raise CommandFailed(conn.name, "gathering facts", result.exit_code, result.stderr)
    return parse_facts(result.stdout)
