"""Provision one host: facts, then only the changes still needed, then verify.

`provision_host` is a plain function over a `pyhost.connection.Connection` (which wraps a
Fabric connection), usable from a user's own fabfile. In check mode it reads facts, fetches
and verifies the key, and resolves versions in a throw-away apt state under /tmp, but changes
nothing on the host.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyhost.connection import Connection
from pyhost.errors import CommandFailed, HostError, PyhostError, UnreachableError
from pyhost.inventory import PyhostSettings
from pyhost.provision import apt
from pyhost.provision.facts import (
    APT_PROXY,
    CONFLICTING,
    DAEMON_JSON,
    DOCKER_KEY_ID,
    DOCKER_PACKAGES,
    DOCKER_PROXY,
    KEYRING,
    SOURCES_DIR,
    HostFacts,
    gather,
)
from pyhost.provision.files import render, unified_diff, write_file
from pyhost.provision.openpgp import InvalidKey, primary_fingerprint
from pyhost.provision.versions import resolve, upstream

PINNED = ("docker-ce", "docker-ce-cli")
HELD = ("docker-ce", "docker-ce-cli", "containerd.io")
SERVICES = ("containerd", "docker")


@dataclass
class Change:
    step: str
    summary: str
    diff: str = ""


@dataclass
class HostReport:
    host: str
    status: str = "ok"  # ok | changed | failed | unreachable
    changes: list[Change] = field(default_factory=list)
    ok: int = 0  # steps that ran without failing
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    os: str | None = None
    docker_version: str | None = None
    seconds: float = 0.0


Progress = Callable[[str, str], None]  # (host, what is happening now)


class _Run:
    """The state of one host's run; each method is one step."""

    def __init__(
        self,
        conn: Connection,
        settings: PyhostSettings,
        *,
        check: bool,
        report: HostReport,
        progress: Progress | None,
    ) -> None:
        self.conn = conn
        self.s = settings
        self.check = check
        self.report = report
        self.progress = progress
        self.facts: HostFacts
        self.repo_url = ""
        self.key: bytes | None = None  # verified key content when it must be (re)written
        self.sources_path = ""
        self.sources: bytes = b""
        self.repo_changed = False
        self.installed_now = False
        self.will_install = False  # check mode: the packages step would install something

    # -- helpers -------------------------------------------------------------------------

    def step(self, name: str) -> None:
        if self.progress:
            self.progress(self.conn.name, name)

    def change(self, step: str, summary: str, diff: str = "") -> None:
        self.report.changes.append(Change(step, summary, diff))

    def waited(self, seconds: float) -> None:
        if seconds >= 1:
            self.report.notes.append(f"waited {seconds:.0f} s for apt's lock (another apt ran)")

    def run(self, command: str, **kw: object) -> str:
        return self.conn.run(command, sudo=True, **kw).stdout  # type: ignore[arg-type]

    # -- steps ---------------------------------------------------------------------------

    def gather(self) -> None:
        self.step("facts")
        repo = self.s.docker_repo_url or "download.docker.com"
        self.facts = gather(self.conn, (repo, "download.docker.com"))
        f = self.facts
        self.report.os = f.pretty_name
        if f.distro is None or not f.codename:
            raise HostError(
                self.conn.name,
                f"unsupported OS: {f.pretty_name}",
                hint="pyhost installs Docker CE on Debian, Ubuntu and their derivatives",
            )
        if not f.arch:
            raise HostError(self.conn.name, "dpkg is missing: not a Debian-family host")
        if not f.systemd:
            raise HostError(
                self.conn.name,
                "systemd is not running, so Docker's services cannot be started",
                hint="pyhost provisions hosts booted with systemd",
            )
        self.repo_url = self.s.docker_repo_url or f"https://download.docker.com/linux/{f.distro}"
        self.report.ok += 1

    def legacy(self) -> None:
        """Old key files and repository files: the cause of 'Conflicting values for Signed-By'."""
        self.step("legacy repository files")
        name = "docker.sources" if self.s.docker_repo_format == "deb822" else "docker.list"
        self.sources_path = f"{SOURCES_DIR}/{name}"
        stale = [p for p in self.facts.repo_files if p != self.sources_path]
        for path in stale:
            if path == "/etc/apt/sources.list":
                raise HostError(
                    self.conn.name,
                    "/etc/apt/sources.list names Docker's repository",
                    hint="remove that line; pyhost keeps Docker's repository in "
                    f"{self.sources_path}",
                )
            self.change(
                "legacy", f"remove {path}", unified_diff(path, self.facts.repo_files[path], None)
            )
        for path in self.facts.legacy_keys:
            self.change("legacy", f"remove old key {path}")
        if self.facts.apt_key_has_docker:
            self.change("legacy", f"remove Docker's key {DOCKER_KEY_ID} from apt-key")
        if not self.check:
            doomed = stale + self.facts.legacy_keys
            if doomed:
                self.run("rm -f -- " + " ".join(shlex.quote(p) for p in doomed))
            if self.facts.apt_key_has_docker:
                self.run(f"apt-key del {DOCKER_KEY_ID}")
        self.repo_changed |= bool(stale or self.facts.legacy_keys or self.facts.apt_key_has_docker)
        self.report.ok += 1

    def _proxy_values(self) -> dict[str, object]:
        no_proxy = self.s.no_proxy or ""
        return {
            "http_proxy": self.s.http_proxy,
            "https_proxy": self.s.https_proxy,
            "no_proxy": no_proxy,
            "direct": [
                h.strip() for h in no_proxy.split(",") if re.fullmatch(r"[\w.-]+", h.strip())
            ],
        }

    def _proxied(self) -> bool:
        return bool(self.s.http_proxy or self.s.https_proxy)

    def _sync_file(
        self, step: str, path: str, current: bytes | None, wanted: bytes | None, *, mode: int
    ) -> bool:
        """Make ``path`` hold ``wanted`` (None: absent); True when it changed."""
        if current == wanted:
            return False
        verb = "remove" if wanted is None else "write"
        self.change(step, f"{verb} {path}", _redact(unified_diff(path, current, wanted)))
        if not self.check:
            if wanted is None:
                self.run(f"rm -f {shlex.quote(path)}")
            else:
                self.run(f"install -d -m 0755 {shlex.quote(path.rpartition('/')[0])}")
                write_file(self.conn, path, wanted, mode=mode)
        return True

    def apt_proxy(self) -> None:
        """apt's proxy, before anything is downloaded (the key is fetched through apt)."""
        if not self._proxied() and self.facts.apt_proxy is None:
            return
        self.step("apt proxy")
        wanted = (
            render("apt-proxy.conf.j2", **self._proxy_values()).encode()
            if self._proxied()
            else None
        )
        # 0640: the URL may carry a password; apt reads its configuration as root
        self.repo_changed |= self._sync_file(
            "proxy", APT_PROXY, self.facts.apt_proxy, wanted, mode=0o640
        )
        self.report.ok += 1

    def docker_proxy(self) -> None:
        """dockerd's proxy as a systemd drop-in; Docker restarted (and checked) on a change."""
        if not self._proxied() and self.facts.docker_proxy is None:
            return
        self.step("docker proxy")
        wanted = (
            render("http-proxy.conf.j2", **self._proxy_values()).encode()
            if self._proxied()
            else None
        )
        changed = self._sync_file(
            "proxy", DOCKER_PROXY, self.facts.docker_proxy, wanted, mode=0o640
        )
        if changed and not self.check:
            self.run("systemctl daemon-reload")
            if not self._restart_docker():
                raise HostError(
                    self.conn.name,
                    "Docker did not restart with the new proxy settings",
                    hint="see journalctl -u docker on the host",
                )
        self.report.ok += 1

    def key_file(self) -> None:
        self.step("key")
        want = self.s.docker_key_fingerprint
        current = self.facts.keyring
        if current is not None:
            try:
                if primary_fingerprint(current) == want:
                    self.report.ok += 1
                    return
            except InvalidKey:
                pass
        url = self.s.docker_key_url or f"{self.repo_url}/gpg"
        fetched = self._download(url)
        try:
            got = primary_fingerprint(fetched)
        except InvalidKey as e:
            raise HostError(self.conn.name, f"{url} is not an OpenPGP key: {e.message}") from e
        if got != want:
            raise HostError(
                self.conn.name,
                f"the key at {url} has fingerprint {_spaced(got)}, not the expected "
                f"{_spaced(want)}; nothing was installed",
                hint="if this is your mirror's own key, set pyhost_docker_key_fingerprint",
            )
        self.key = fetched
        self.change("key", f"install {KEYRING} (fingerprint {_spaced(got)})")
        if not self.check:
            self.run("install -d -m 0755 /etc/apt/keyrings")
            write_file(self.conn, KEYRING, fetched, mode=0o644)
        self.repo_changed = True
        self.report.ok += 1

    def _download(self, url: str) -> bytes:
        """Fetch a small file on the host with apt's own HTTP client (apt's proxy settings)."""
        import base64

        q = shlex.quote(url)
        script = (
            'tmp=$(mktemp -d) && trap \'rm -rf "$tmp"\' EXIT && chmod 0755 "$tmp" && '
            f'/usr/lib/apt/apt-helper download-file {q} "$tmp/file" >/dev/null && '
            'base64 -w0 "$tmp/file"'
        )
        result = self.conn.run(script, sudo=True, check=False, timeout=120)
        if result.exit_code != 0:
            reason = (result.stdout + result.stderr).strip().splitlines()
            raise HostError(
                self.conn.name,
                f"cannot download {url}: {reason[-1] if reason else 'unknown error'}",
            )
        return base64.b64decode(result.stdout.strip())

    def repository(self) -> None:
        self.step("repository")
        template = (
            "docker.sources.j2" if self.s.docker_repo_format == "deb822" else "docker.list.j2"
        )
        self.sources = render(
            template,
            repo_url=self.repo_url,
            codename=self.facts.codename,
            channel=self.s.docker_channel,
            arch=self.facts.arch,
            keyring=KEYRING,
        ).encode()
        current = self.facts.repo_files.get(self.sources_path)
        if current != self.sources:
            self.change(
                "repository",
                f"write {self.sources_path}",
                unified_diff(self.sources_path, current, self.sources),
            )
            if not self.check:
                write_file(self.conn, self.sources_path, self.sources, mode=0o644)
            self.repo_changed = True
        self.report.ok += 1

    def packages(self) -> None:
        self.step("packages")
        f = self.facts
        wanted = list(self.s.docker_packages)
        missing = [p for p in wanted if p not in f.packages]
        pins: dict[str, str] = {}
        version = self.s.docker_version
        if version:
            for pkg in PINNED:
                have = f.packages.get(pkg)
                if have is None or not _same_version(have, version):
                    pins[pkg] = version
        if not missing and not pins:
            self.report.ok += 1
            return
        if not self.check and self.repo_changed:
            self._update()
        available = self._available() if pins else []
        target = {pkg: resolve(v, available, package=pkg) for pkg, v in pins.items()}
        downgrade = False
        from debian.debian_support import Version

        for pkg, full in target.items():
            have = f.packages.get(pkg)
            if have is not None and Version(have) > Version(full):
                if not self.s.docker_allow_downgrade:
                    raise HostError(
                        self.conn.name,
                        f"{pkg} {have} is installed, newer than the pinned {full}",
                        hint="set pyhost_docker_allow_downgrade: true to downgrade",
                    )
                downgrade = True
        install = [
            f"{p}={target[p]}" if p in target else p for p in dict.fromkeys(missing + list(target))
        ]
        remove = [p for p in CONFLICTING if p in f.packages]
        parts = []
        for p in dict.fromkeys(missing + list(target)):
            have = f.packages.get(p)
            to = target.get(p, "newest")
            parts.append(f"{p} {to}" + (f" (from {have})" if have else ""))
        summary = "install " + ", ".join(parts)
        if remove:
            summary += "; remove conflicting " + ", ".join(remove)
        self.change("packages", summary)
        self.will_install = True
        if self.check:
            self.report.ok += 1
            return
        options = ["--allow-downgrades"] if downgrade else []
        if f.held & set(wanted):
            options.append("--allow-change-held-packages")
        self.waited(apt.wait_for_locks(self.conn, self.s.apt_lock_timeout))
        result = self.conn.run(
            apt.apt_get(
                self.s.apt_lock_timeout, "install", *options, *install, *(f"{p}-" for p in remove)
            ),
            sudo=True,
            check=False,
            timeout=1800,
        )
        if result.exit_code != 0:
            errors = [x[2:].strip() for x in result.stderr.splitlines() if x.startswith("E:")]
            why = errors[0] if errors else result.stderr.strip()[-200:]
            raise HostError(self.conn.name, f"apt-get install failed: {why}")
        self.installed_now = True
        self.report.ok += 1

    def _update(self) -> None:
        self.waited(apt.update(self.conn, self.s.apt_lock_timeout))
        self.change("apt", "apt-get update")
        self.repo_changed = False

    def _available(self) -> list[str]:
        """docker-ce versions the repository carries, newest first."""
        if self.check:
            return self._available_sandboxed()
        versions = apt.available_versions(self.conn, "docker-ce")
        if not versions:  # lists older than the repository file: read them anew once
            self._update()
            versions = apt.available_versions(self.conn, "docker-ce")
        return versions

    def _available_sandboxed(self) -> list[str]:
        """Check mode: ask the repository through apt with a private state under /tmp."""
        import base64

        key = self.key or self.facts.keyring or b""
        sources = self.sources.replace(KEYRING.encode(), b"@DIR@/docker.asc")
        private = (
            '-o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" '
            '-o Dir::Etc::SourceList="$dir/docker.list" -o Dir::Etc::SourceParts=/dev/null '
            "-o Dir::State::status=/dev/null -o APT::Sandbox::User=root "
            "-o Debug::NoLocking=1"
        )
        line = _one_line_source(sources.decode(), self.s.docker_repo_format)
        script = (
            "dir=$(mktemp -d) && trap 'rm -rf \"$dir\"' EXIT && "
            'mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" && '
            'base64 -d > "$dir/docker.asc" && '
            f'printf "%s\\n" {shlex.quote(line)} | sed "s|@DIR@|$dir|" > "$dir/docker.list" && '
            f"apt-get -q {private} update >&2 && apt-cache {private} madison docker-ce"
        )
        stdin = base64.b64encode(key).decode() + "\n"
        result = self.conn.run(script, sudo=True, check=False, timeout=300, stdin=stdin)
        if result.exit_code != 0:
            tail = result.stderr.strip().splitlines()
            raise HostError(
                self.conn.name,
                f"cannot read the repository: {tail[-1] if tail else 'apt-get update failed'}",
            )
        from pyhost.provision.versions import parse_madison

        return parse_madison(result.stdout)

    def hold(self) -> None:
        if not self.s.docker_hold:
            return
        self.step("hold")
        missing = [
            p
            for p in HELD
            if p not in self.facts.held
            and (p in self.facts.packages or self.installed_now or self.check)
        ]
        if missing:
            self.change("hold", "apt-mark hold " + " ".join(missing))
            if not self.check:
                self.run("apt-mark hold " + " ".join(missing))
        self.report.ok += 1

    def remove(self, *, purge: bool) -> None:
        """``--state absent``: packages, repository files and key go; data stays unless purge."""
        self.step("remove")
        f = self.facts
        installed = [p for p in DOCKER_PACKAGES if p in f.packages]
        files = [*f.repo_files, *f.legacy_keys]
        if f.keyring is not None:
            files.append(KEYRING)
        if installed:
            verb = "purge" if purge else "remove"
            self.change("remove", f"{verb} {', '.join(installed)}")
            if not self.check:
                if f.held & set(installed):
                    self.run("apt-mark unhold " + " ".join(sorted(f.held & set(installed))))
                self.waited(apt.wait_for_locks(self.conn, self.s.apt_lock_timeout))
                result = self.conn.run(
                    apt.apt_get(self.s.apt_lock_timeout, verb, *installed),
                    sudo=True,
                    check=False,
                    timeout=900,
                )
                if result.exit_code != 0:
                    errors = [
                        x[2:].strip() for x in result.stderr.splitlines() if x.startswith("E:")
                    ]
                    raise HostError(
                        self.conn.name,
                        f"apt-get {verb} failed: "
                        + (errors[0] if errors else result.stderr.strip()[-200:]),
                    )
        for path in files:
            self.change("remove", f"remove {path}")
        if files and not self.check:
            self.run("rm -f -- " + " ".join(shlex.quote(p) for p in files))
        data = ("/var/lib/docker", "/var/lib/containerd", "/etc/docker")
        if purge:
            present = self.conn.run(
                "for d in " + " ".join(data) + '; do [ -e "$d" ] && echo "$d"; done',
                sudo=True,
                check=False,
            ).stdout.split()
            for path in present:
                self.change("remove", f"remove {path}")
            if present and not self.check:
                # contents first, staying on each directory's own filesystem (it may be a
                # mount point, which rmdir cannot remove: then the empty mount stays)
                paths = " ".join(shlex.quote(p) for p in present)
                self.run(
                    f'for d in {paths}; do find "$d" -mindepth 1 -xdev -delete && '
                    '{ rmdir "$d" 2>/dev/null || true; }; done',
                    timeout=900,
                )
        elif installed:
            self.report.notes.append("/var/lib/docker was kept (--purge removes it)")
        self.report.ok += 1

    def daemon(self) -> None:
        """daemon.json: validated, written with a backup, Docker restarted, rolled back if sick."""
        if not self.s.docker_daemon:
            return
        self.step("daemon.json")
        import json

        wanted = (json.dumps(self.s.docker_daemon, indent=2, sort_keys=True) + "\n").encode()
        current = self.facts.daemon_json
        if current == wanted:
            self.report.ok += 1
            return
        if "hosts" in self.s.docker_daemon and " -H " in f" {self.facts.dockerd_command} ":
            raise HostError(
                self.conn.name,
                "pyhost_docker_daemon sets hosts, but docker.service already passes -H to "
                "dockerd, which then refuses to start",
                hint="drop hosts from pyhost_docker_daemon, or override the unit's ExecStart",
            )
        self.change("daemon", f"write {DAEMON_JSON}", unified_diff(DAEMON_JSON, current, wanted))
        self._validate_daemon_json(wanted)
        if self.check:
            self.report.ok += 1
            return
        backup = f"{DAEMON_JSON}.pyhost-backup"
        self.run("install -d -m 0755 /etc/docker")
        if current is not None:
            write_file(self.conn, backup, current, mode=0o644)
        write_file(self.conn, DAEMON_JSON, wanted, mode=0o644)
        if self._restart_docker():
            self.report.ok += 1
            return
        why = self._last_dockerd_error()
        if current is not None:
            self.run(f"mv -f {backup} {DAEMON_JSON}")
        else:
            self.run(f"rm -f {DAEMON_JSON}")
        healthy = self._restart_docker()
        raise HostError(
            self.conn.name,
            f"dockerd rejected the new daemon.json ({why}); the previous configuration was "
            + (
                "restored and Docker is running again"
                if healthy
                else "restored, but Docker did not come back: see journalctl -u docker"
            ),
        )

    def _validate_daemon_json(self, content: bytes) -> None:
        """``dockerd --validate`` (Docker 23 and newer) before the file replaces the old one."""
        script = (
            'tmp=$(mktemp) && trap \'rm -f "$tmp"\' EXIT && cat > "$tmp" && '
            'command -v dockerd >/dev/null && dockerd --validate --config-file "$tmp" 2>&1'
        )
        result = self.conn.run(script, sudo=True, stdin=content.decode(), check=False, timeout=60)
        out = result.stdout.strip()
        if result.exit_code == 0 or "unknown flag" in out or not out:
            return  # valid, or a dockerd too old to validate: the restart check decides
        raise HostError(
            self.conn.name,
            f"dockerd rejects pyhost_docker_daemon: {out.splitlines()[-1]}",
            hint="fix the option in the inventory; nothing was changed",
        )

    def _restart_docker(self) -> bool:
        """Restart Docker and wait (bounded) until its API answers; False if it does not."""
        script = (
            "systemctl reset-failed docker.service docker.socket 2>/dev/null; "
            "systemctl restart docker.service || exit 1; "
            "i=0; while [ $i -lt 60 ]; do "
            "docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && exit 0; "
            "sleep 0.5; i=$((i+1)); done; exit 1"
        )
        return self.conn.run(script, sudo=True, check=False, timeout=120).exit_code == 0

    def _last_dockerd_error(self) -> str:
        out = self.conn.run(
            "journalctl -u docker.service -n 20 --no-pager -o cat 2>/dev/null",
            sudo=True,
            check=False,
        ).stdout
        lines = [x for x in out.splitlines() if "unable to configure" in x or "error" in x.lower()]
        return (lines[-1] if lines else "it did not start").strip()[:300]

    def services(self) -> None:
        self.step("services")
        if self.installed_now:
            states = {}
            for name in SERVICES:
                out = self.conn.run(
                    f"systemctl is-active {name}.service; systemctl is-enabled {name}.service",
                    sudo=True,
                    check=False,
                ).stdout.split()
                states[name] = (out[0] if out else "unknown", out[1] if len(out) > 1 else "unknown")
        else:
            states = self.facts.services
        todo = [n for n in SERVICES if states.get(n) != ("active", "enabled")]
        if self.check and self.will_install:
            todo = []  # the packages' own scripts enable and start them
        if todo:
            self.change("services", "enable and start " + ", ".join(f"{n}.service" for n in todo))
            if not self.check:
                self.run(
                    "systemctl enable --now " + " ".join(f"{n}.service" for n in todo), timeout=180
                )
        self.report.ok += 1

    def users(self) -> None:
        if not self.s.docker_users:
            return
        self.step("docker group")
        members = set(self.facts.docker_group or [])
        for user in self.s.docker_users:
            if user in members:
                continue
            self.change("users", f"add {user} to the docker group")
            self.report.notes.append(f"{user} must log in again for the docker group to apply")
            if not self.check:
                exists = self.conn.run(f"id -u {shlex.quote(user)}", check=False)
                if not exists.ok:
                    raise HostError(
                        self.conn.name,
                        f"user {user} does not exist",
                        hint="create it first, or remove it from pyhost_docker_users",
                    )
                self.run(f"usermod -aG docker {shlex.quote(user)}")
        self.report.ok += 1

    def verify(self) -> None:
        if self.check:
            self.report.docker_version = self.facts.server_version
            return
        self.step("verify")
        server = self.facts.server_version
        if self.report.changes or server is None:
            result = self.conn.run(
                "docker version --format '{{.Server.Version}}'", sudo=True, check=False, timeout=60
            )
            server = result.stdout.strip() or None
            if server is None:
                raise HostError(
                    self.conn.name,
                    "Docker does not answer after provisioning",
                    hint="see journalctl -u docker on the host",
                )
        self.report.docker_version = server
        if self.s.docker_version:
            want = (
                upstream(self.s.docker_version)
                if ":" in self.s.docker_version or "-" in self.s.docker_version
                else self.s.docker_version
            )
            have = server.split("+", 1)[0].split("-", 1)[0]
            if have != want:
                raise HostError(self.conn.name, f"Docker answers version {server}, expected {want}")
        self.report.ok += 1


def _redact(text: str) -> str:
    """Hide passwords in proxy URLs (scheme://user:password@host) before anything is shown."""
    return re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


def _same_version(installed: str, wanted: str) -> bool:
    if ":" in wanted or "-" in wanted:
        return installed == wanted
    return upstream(installed) == wanted


def _spaced(fingerprint: str) -> str:
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def _one_line_source(sources: str, fmt: str) -> str:
    """The one-line form of the source, for check mode's private sources.list."""
    if fmt == "list":
        return next(x for x in sources.splitlines() if x.startswith("deb "))
    fields = dict(
        line.split(":", 1)
        for line in sources.splitlines()
        if ":" in line and not line.startswith("#")
    )
    f = {k.strip(): v.strip() for k, v in fields.items()}
    return (
        f"deb [arch={f['Architectures']} signed-by={f['Signed-By']}] "
        f"{f['URIs']} {f['Suites']} {f['Components']}"
    )


def provision_host(
    conn: Connection,
    settings: PyhostSettings,
    *,
    check: bool = False,
    progress: Progress | None = None,
    purge: bool = False,
) -> HostReport:
    """Bring one host to the state ``settings`` describe; never raises for the host's faults.

    Every failure is recorded in the report (``failed`` or ``unreachable``) so that a fleet
    run goes on with the other hosts. With ``docker_state`` absent, Docker is removed
    (``purge`` also deletes /var/lib/docker, /var/lib/containerd and /etc/docker).
    """
    report = HostReport(conn.name)
    start = time.monotonic()
    run = _Run(conn, settings, check=check, report=report, progress=progress)
    try:
        run.gather()
        if settings.docker_state == "absent":
            run.remove(purge=purge)
            return report
        run.legacy()
        run.apt_proxy()
        run.key_file()
        run.repository()
        run.packages()
        run.hold()
        run.daemon()
        run.docker_proxy()
        run.services()
        run.users()
        run.verify()
    except UnreachableError as e:
        report.status, report.error = "unreachable", e.one_line()
    except (HostError, CommandFailed) as e:
        report.status, report.error = "failed", e.one_line()
    except PyhostError as e:
        report.status, report.error = "failed", f"{conn.name}: {e.one_line()}"
    finally:
        if report.status == "ok" and report.error is None:
            report.status = "changed" if report.changes else "ok"
        report.seconds = time.monotonic() - start
    return report
