"""The lab's copy of Docker CE's apt repository, checked with this machine's own apt and gpg.

apt runs with a private configuration (APT_CONFIG, no system parts): its lists, caches and
status live in temporary directories, and every apt call asserts that nothing under the
system's /etc/apt, /var/lib/apt and /var/cache/apt changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from labkit.aptrepo import AptRepo

pytestmark = pytest.mark.lab

TIMEOUT = 60
SYSTEM_APT = (Path("/etc/apt"), Path("/var/lib/apt"), Path("/var/cache/apt"))
CHECKED = ("containerd.io", "docker-ce-cli", "docker-ce")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(directory: Path) -> Iterator[int]:
    """Serve ``directory`` on 127.0.0.1 (a free port, yielded) from a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def snapshot() -> dict[str, tuple[int, int, int]]:
    """Mode, size and mtime of everything under the system's apt directories."""
    state = {}
    for top in SYSTEM_APT:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in (*dirnames, *filenames):
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                state[path] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


def run(*cmd: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT, **kwargs
    )


class PrivateApt:
    """This machine's apt, reading and writing only under ``workdir``."""

    def __init__(self, workdir: Path, uri: str, repo: AptRepo, signed_by: Path) -> None:
        self.workdir = workdir
        self.codename = repo.codename
        for sub in ("lists/partial", "cache/archives/partial", "state", "trusted.gpg.d", "log"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        (workdir / "status").touch()
        sources = workdir / "docker.sources"
        sources.write_text(
            "Types: deb\n"
            f"URIs: {uri}\n"
            f"Suites: {repo.codename}\n"
            "Components: stable\n"
            f"Architectures: {repo.arch}\n"
            f"Signed-By: {signed_by}\n"
        )
        settings = {
            # no system configuration at all: APT_CONFIG is read first and turns it off
            "Dir::Etc::Main": "/dev/null",
            "Dir::Etc::Parts": "/dev/null",
            "Dir::Etc::SourceList": sources,
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::Etc::Preferences": "/dev/null",
            "Dir::Etc::PreferencesParts": "/dev/null",
            "Dir::Etc::Trusted": workdir / "trusted.gpg",
            "Dir::Etc::TrustedParts": workdir / "trusted.gpg.d",
            "Dir::State": workdir / "state",
            "Dir::State::Lists": workdir / "lists",
            "Dir::State::status": workdir / "status",
            "Dir::Cache": workdir / "cache",
            "Dir::Log": workdir / "log",
            # the _apt user cannot enter pytest's 0700 temporary directories
            "APT::Sandbox::User": "root",
            "Acquire::Languages": "none",
            "Acquire::Retries": "0",
            "Acquire::http::Timeout": "10",
            "Acquire::http::Proxy::127.0.0.1": "DIRECT",
        }
        conf = workdir / "apt.conf"
        conf.write_text("".join(f'{key} "{value}";\n' for key, value in settings.items()))
        self.env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.env.update(APT_CONFIG=str(conf), LC_ALL="C.UTF-8", DEBIAN_FRONTEND="noninteractive")

    def __call__(self, *cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        before = snapshot()
        proc = run(*cmd, env=self.env, cwd=cwd)
        after = snapshot()
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, f"{cmd} changed the system's apt state: {changed[:10]}"
        return proc

    def policy(self, *packages: str) -> tuple[dict[str, list[str]], dict[str, str]]:
        """Versions in each package's version table, and each package's candidate."""
        proc = self("apt-cache", "policy", *packages)
        assert proc.returncode == 0, proc.stderr
        tables: dict[str, list[str]] = {}
        candidates: dict[str, str] = {}
        current = ""
        for line in proc.stdout.splitlines():
            if not line.startswith(" ") and line.endswith(":"):
                current = line[:-1]
                tables[current] = []
            elif line.startswith("  Candidate: "):
                candidates[current] = line.split(": ", 1)[1]
            elif match := re.fullmatch(r" {5}(?:\*\*\* )?(\S+) -?\d+", line):
                tables[current].append(match.group(1))
        return tables, candidates


@pytest.fixture(scope="module")
def repo(docker_ce_repo: AptRepo) -> AptRepo:
    """The run's repository (built once per session by the conftest fixture)."""
    return docker_ce_repo


@pytest.fixture(scope="module")
def repo_uri(repo: AptRepo) -> Iterator[str]:
    with serving(repo.root) as port:
        yield f"http://127.0.0.1:{port}{repo.url_path}"


@pytest.fixture(scope="module")
def apt(
    repo: AptRepo, repo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PrivateApt, subprocess.CompletedProcess[str]]:
    """A private apt that trusts the repository's key, and its ``apt-get update``."""
    private = PrivateApt(tmp_path_factory.mktemp("apt"), repo_uri, repo, repo.key_file)
    return private, private("apt-get", "update")


def gpg_home(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    return {**os.environ, "GNUPGHOME": str(home)}


def kill_agent(env: dict[str, str]) -> None:
    run("gpgconf", "--kill", "all", env=env)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def deb(repo: AptRepo, name: str, version: str) -> Path:
    pool = repo.base / "dists" / repo.codename / "pool" / "stable" / repo.arch
    path = pool / f"{name}_{version.split(':', 1)[-1]}_{repo.arch}.deb"
    assert path.is_file(), sorted(p.name for p in pool.iterdir())
    return path


def test_apt_get_update_accepts_the_signed_repository(
    apt: tuple[PrivateApt, subprocess.CompletedProcess[str]], repo_uri: str
) -> None:
    private, update = apt
    output = update.stdout + update.stderr
    assert update.returncode == 0, output
    assert "NO_PUBKEY" not in output
    assert "not signed" not in output
    assert not [line for line in output.splitlines() if line.startswith(("W:", "E:"))], output
    assert f"Get:1 {repo_uri} {private.codename} InRelease" in output
    assert any(p.name.endswith("_InRelease") for p in (private.workdir / "lists").iterdir())


def test_apt_cache_policy_lists_every_version(
    apt: tuple[PrivateApt, subprocess.CompletedProcess[str]], repo: AptRepo
) -> None:
    private, _ = apt
    tables, candidates = private.policy(*repo.versions)
    assert set(tables) == set(repo.versions)
    for name in CHECKED:
        assert len(repo.versions[name]) == 2
    for name, versions in repo.versions.items():
        assert sorted(tables[name]) == sorted(versions), name
        assert candidates[name] == versions[-1], name


def test_apt_get_download_fetches_the_pool_files(
    apt: tuple[PrivateApt, subprocess.CompletedProcess[str]], repo: AptRepo, tmp_path: Path
) -> None:
    """Filename: paths, sizes and hashes in Packages agree with what is served."""
    private, _ = apt
    cli = repo.versions["docker-ce-cli"][-1]
    proc = private(
        "apt-get", "download", f"docker-ce-cli={cli}", "docker-compose-plugin", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (compose,) = repo.versions["docker-compose-plugin"]
    expected = [deb(repo, "docker-ce-cli", cli), deb(repo, "docker-compose-plugin", compose)]
    got = sorted(tmp_path.glob("*.deb"))
    assert [p.name.split("_")[0] for p in got] == ["docker-ce-cli", "docker-compose-plugin"]
    for downloaded, served in zip(got, expected, strict=True):
        assert sha256(downloaded) == sha256(served)


@pytest.mark.parametrize("attack", ["foreign key", "tampered InRelease"])
def test_apt_refuses_the_repository_without_a_valid_signature(
    attack: str, repo: AptRepo, repo_uri: str, tmp_path: Path
) -> None:
    signed_by = repo.key_file
    expected = "BADSIG"
    with ExitStack() as stack:
        uri = repo_uri
        if attack == "foreign key":
            env = gpg_home(tmp_path)
            stack.callback(kill_agent, env)
            uid = "someone else <else@pyhost.invalid>"
            gen = run(
                "gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", env=env
            )
            assert gen.returncode == 0, gen.stderr
            signed_by = tmp_path / "foreign.asc"
            signed_by.write_text(run("gpg", "--armor", "--export", env=env).stdout)
            assert "BEGIN PGP PUBLIC KEY BLOCK" in signed_by.read_text()
            expected = "NO_PUBKEY"
        else:
            copy = tmp_path / "tampered"
            dist = copy / repo.url_path.strip("/") / "dists" / repo.codename
            dist.mkdir(parents=True)
            orig = repo.base / "dists" / repo.codename
            for name in ("Release", "Release.gpg"):
                shutil.copy(orig / name, dist / name)
            (dist / "stable").symlink_to(orig / "stable")
            (dist / "pool").symlink_to(orig / "pool")
            text = (orig / "InRelease").read_text()
            assert "\nLabel: Docker CE\n" in text
            (dist / "InRelease").write_text(text.replace("\nLabel: Docker CE\n", "\nLabel: Evil\n"))
            port = stack.enter_context(serving(copy))
            uri = f"http://127.0.0.1:{port}{repo.url_path}"
        private = PrivateApt(tmp_path / "apt", uri, repo, signed_by)
        update = private("apt-get", "update")
    output = update.stdout + update.stderr
    assert update.returncode != 0, output
    assert expected in output
    assert f"The repository '{uri} {repo.codename} InRelease' is not signed." in output
    tables, candidates = private.policy(*CHECKED)
    assert not any(tables.values()), tables
    assert not candidates


def test_published_key_has_the_returned_fingerprint(repo: AptRepo, tmp_path: Path) -> None:
    assert repo.key_file == repo.base / "gpg"
    assert re.fullmatch(r"[0-9A-F]{40}", repo.fingerprint)
    env = gpg_home(tmp_path)
    try:
        shown = run("gpg", "--batch", "--show-keys", "--with-colons", repo.key_file, env=env)
        assert shown.returncode == 0, shown.stderr
        records = [line.split(":") for line in shown.stdout.splitlines()]
        assert [r[9] for r in records if r[0] == "fpr"] == [repo.fingerprint]
        assert [r[9] for r in records if r[0] == "uid"] == [
            "pyhost lab repository <lab@pyhost.invalid>"
        ]
        # Release.gpg: a valid detached signature over Release by that key
        keyring = tmp_path / "keyring.gpg"
        dearmor = run("gpg", "--batch", "--dearmor", "-o", keyring, repo.key_file, env=env)
        assert dearmor.returncode == 0, dearmor.stderr
        dist = repo.base / "dists" / repo.codename
        verify = run(
            "gpgv", "--status-fd", "1", "--keyring", keyring, dist / "Release.gpg", dist / "Release"
        )
        assert verify.returncode == 0, verify.stderr
        assert f"VALIDSIG {repo.fingerprint}" in verify.stdout
    finally:
        kill_agent(env)


def test_release_file_is_like_dockers(repo: AptRepo) -> None:
    dist = repo.base / "dists" / repo.codename
    release = (dist / "Release").read_text()
    fields = dict(re.findall(r"^(\S+): (.+)$", release, re.MULTILINE))
    assert fields["Origin"] == "Docker"
    assert fields["Label"] == "Docker CE"
    assert fields["Suite"] == fields["Codename"] == repo.codename
    assert fields["Architectures"] == repo.arch
    assert fields["Components"] == "stable"
    assert "Date" in fields
    for index in ("Packages", "Packages.gz"):
        data = (dist / "stable" / f"binary-{repo.arch}" / index).read_bytes()
        path = f"stable/binary-{repo.arch}/{index}"
        for algo in ("md5", "sha1", "sha256"):
            line = f" {hashlib.new(algo, data).hexdigest()} {len(data):>16} {path}\n"
            assert line in release, (algo, path)


def test_docker_ce_package_contents_and_versions(repo: AptRepo, tmp_path: Path) -> None:
    old, new = repo.versions["docker-ce"]
    package = deb(repo, "docker-ce", old)
    info = run("dpkg-deb", "-I", package)
    assert info.returncode == 0, info.stderr
    assert (
        " Depends: containerd.io (>= 1.6.4), docker-ce-cli, iptables, libdevmapper1.02.1\n"
        in info.stdout
    )
    assert " Maintainer: pyhost lab <lab@pyhost.invalid>\n" in info.stdout
    fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", package], stdout=subprocess.PIPE)
    listing = run("tar", "tv", stdin=fsys.stdout)
    assert fsys.stdout is not None
    fsys.stdout.close()
    assert fsys.wait(timeout=TIMEOUT) == 0
    assert listing.returncode == 0, listing.stderr
    modes = {line.split()[-1]: line.split()[:2] for line in listing.stdout.splitlines()}
    for binary in ("dockerd", "docker-proxy", "docker-init"):
        assert modes[f"./usr/bin/{binary}"] == ["-rwxr-xr-x", "root/root"]
    for unit in ("docker.service", "docker.socket"):
        assert modes[f"./lib/systemd/system/{unit}"] == ["-rw-r--r--", "root/root"]

    # Each package version's binaries report their own version.
    for name, binary, versions, pattern in (
        ("docker-ce", "dockerd", (old, new), "Docker version {}+dfsg1, build "),
        ("docker-ce-cli", "docker", repo.versions["docker-ce-cli"], "Docker version {}+dfsg1, "),
        ("containerd.io", "containerd", repo.versions["containerd.io"], " {}~ds1 "),
    ):
        for version in versions:
            tree = tmp_path / f"{name}_{version}"
            extract = run("dpkg-deb", "-x", deb(repo, name, version), tree)
            assert extract.returncode == 0, extract.stderr
            upstream = re.sub(r"^\d+:|-[^-]*$", "", version)
            reported = run(tree / "usr/bin" / binary, "--version")
            assert reported.returncode == 0, reported.stderr
            assert pattern.format(upstream) in reported.stdout, (version, reported.stdout)
            if not (name == "docker-ce" and version == new):  # its unit is read below
                shutil.rmtree(tree)  # ~70 MB each: pytest keeps three runs' tmp dirs

    unit = (tmp_path / f"docker-ce_{new}/lib/systemd/system/docker.service").read_text()
    assert (
        "\nExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n"
        in unit
    )
    control = tmp_path / "control"
    assert run("dpkg-deb", "-e", package, control).returncode == 0
    for script in ("postinst", "prerm"):
        assert (control / script).stat().st_mode & 0o777 == 0o755
        assert run("sh", "-n", control / script).returncode == 0
    postinst = (control / "postinst").read_text()
    assert "getent group docker >/dev/null || groupadd -r docker" in postinst
    shutil.rmtree(tmp_path / f"docker-ce_{new}")


@pytest.mark.parametrize("name", ["docker-buildx-plugin", "docker-compose-plugin"])
def test_plugin_stand_ins_answer_the_cli_plugin_protocol(
    name: str, repo: AptRepo, tmp_path: Path
) -> None:
    (version,) = repo.versions[name]
    assert run("dpkg-deb", "-x", deb(repo, name, version), tmp_path).returncode == 0
    command = name.removesuffix("-plugin")
    plugin = tmp_path / "usr/libexec/docker/cli-plugins" / command
    metadata = run(plugin, "docker-cli-plugin-metadata")
    assert metadata.returncode == 0
    upstream = version.split("-", 1)[0]
    assert json.loads(metadata.stdout) == {
        "SchemaVersion": "0.1.0",
        "Vendor": "pyhost lab",
        "Version": f"v{upstream}",
        "ShortDescription": "lab stand-in",
    }
    assert f"v{upstream}" in run(plugin, command.split("-")[1], "version").stdout
