"""Docker CE's apt repository (download.docker.com/linux/debian), reproduced locally.

``build_docker_ce_repo(root)`` lays out ``root/linux/debian`` like the real repository: the
armoured key at ``gpg``, signed ``dists/<codename>/{Release,InRelease,Release.gpg}``, the
indexes in ``dists/<codename>/stable/binary-<arch>/`` and the .deb files in
``dists/<codename>/pool/stable/<arch>/``. Each call signs with a freshly generated key.

containerd.io, docker-ce-cli and docker-ce re-pack the real binaries of Debian's containerd,
runc, docker.io and tini packages installed on this machine, two versions each.
docker-buildx-plugin and docker-compose-plugin are stand-ins: no real buildx or compose
binaries exist here, so each ships a small shell script that speaks the CLI plugin protocol.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AptRepo", "build_docker_ce_repo", "missing_tools"]

MAINTAINER = "pyhost lab <lab@pyhost.invalid>"
KEY_UID = "pyhost lab repository <lab@pyhost.invalid>"
# rsa4096 (what Docker uses) took 1.6-2.5 s to generate on the lab machine: within budget.
KEY_ALGO = "rsa4096"
URL_PATH = "/linux/debian"
COMPONENT = "stable"
_GPG = ("gpg", "--batch", "--no-tty", "--quiet")

_DEBIAN_RELEASES = {
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}

# Executables needed to build the repository -> Debian package that provides them.
_TOOLS = {
    "apt-ftparchive": "apt-utils",
    "gpg": "gnupg",
    "gpgconf": "gnupg",
    "dpkg": "dpkg",
    "dpkg-deb": "dpkg",
}

_SYSTEMD = Path("/lib/systemd/system")
# Files re-packed from this machine -> Debian package that provides them.
_SOURCES = {
    Path("/usr/bin/containerd"): "containerd",
    Path("/usr/bin/containerd-shim-runc-v2"): "containerd",
    Path("/usr/bin/ctr"): "containerd",
    _SYSTEMD / "containerd.service": "containerd",
    Path("/usr/sbin/runc"): "runc",
    Path("/usr/bin/docker"): "docker.io",
    Path("/usr/sbin/dockerd"): "docker.io",
    Path("/usr/sbin/docker-proxy"): "docker.io",
    _SYSTEMD / "docker.service": "docker.io",
    _SYSTEMD / "docker.socket": "docker.io",
    Path("/usr/bin/docker-init"): "docker.io",  # symlink to tini-static, from tini
}

# Version strings compiled into Debian's binaries. The second version of each package gets
# the first's binaries with this string replaced byte for byte by an equally long one, so that
# `docker version` / `containerd --version` on a provisioned lab host tell which package
# version is installed. Same length keeps Go's string headers (pointer, length) valid.
# Occurrences preceded by "-" are build paths (docker.io-20.10.24+dfsg1/_build/...): kept.
_DOCKER_BUILT = b"20.10.24+dfsg1"
_CONTAINERD_BUILT = b"1.6.20~ds1"
_DOCKER_UPSTREAM = ("20.10.24", "20.10.25")
_CONTAINERD_UPSTREAM = ("1.6.20", "1.6.21")
_BUILDX_UPSTREAM = "0.17.1"
_COMPOSE_UPSTREAM = "2.29.7"


@dataclass(frozen=True)
class AptRepo:
    """A built repository; serve ``root`` over HTTP, apt's URI is ``http://HOST:PORT/url_path``."""

    root: Path
    base: Path
    url_path: str
    codename: str
    arch: str
    fingerprint: str
    key_file: Path
    versions: dict[str, list[str]]


@dataclass(frozen=True)
class _File:
    """One file of a package: ``src`` (symlinks followed, ``patch`` applied) or ``data``."""

    dest: str
    mode: int
    src: Path | None = None
    data: bytes | None = None
    patch: tuple[bytes, bytes] | None = None


@dataclass(frozen=True)
class _Package:
    name: str
    version: str
    fields: dict[str, str]
    description: str
    files: list[_File]
    scripts: dict[str, str] = field(default_factory=dict)


def missing_tools() -> list[str]:
    """What this machine lacks to build the repository (empty when nothing), for skip messages."""
    missing = [f"{tool} ({pkg})" for tool, pkg in _TOOLS.items() if shutil.which(tool) is None]
    missing += [f"{path} ({pkg})" for path, pkg in _SOURCES.items() if not path.exists()]
    return missing


def build_docker_ce_repo(root: Path, *, codename: str = "bookworm") -> AptRepo:
    """Build Docker CE's apt repository at ``root/linux/debian``, signed with a new key."""
    if codename not in _DEBIAN_RELEASES:
        raise ValueError(f"unknown Debian codename {codename!r}")
    missing = missing_tools()
    if missing:
        raise RuntimeError(
            "cannot build the Docker CE apt repository, missing: " + ", ".join(missing)
        )
    root = Path(root).resolve()
    base = root / URL_PATH.strip("/")
    dist = base / "dists" / codename
    arch = _run(["dpkg", "--print-architecture"]).strip()
    pool = dist / "pool" / COMPONENT / arch
    binary = dist / COMPONENT / f"binary-{arch}"
    for directory in (pool, binary):
        directory.mkdir(parents=True, exist_ok=True)

    packages = _packages(codename)
    with (
        _throwaway_gnupg() as gpg_env,
        tempfile.TemporaryDirectory(prefix=".aptrepo-stage-", dir=root) as stage,
        ThreadPoolExecutor(max_workers=4) as executor,
    ):
        key_job = executor.submit(_generate_key, gpg_env)  # gpg-agent works while debs build
        deb_jobs = [executor.submit(_build_deb, pkg, arch, Path(stage), pool) for pkg in packages]
        for job in deb_jobs:
            job.result()
        _write_indexes(base, dist, pool, binary, codename, arch)
        fingerprint = key_job.result()
        _sign(dist, base / "gpg", fingerprint, gpg_env)

    versions: dict[str, list[str]] = {}
    for pkg in packages:
        versions.setdefault(pkg.name, []).append(pkg.version)
    return AptRepo(
        root=root,
        base=base,
        url_path=URL_PATH,
        codename=codename,
        arch=arch,
        fingerprint=fingerprint,
        key_file=base / "gpg",
        versions=versions,
    )


def _write_indexes(
    base: Path, dist: Path, pool: Path, binary: Path, codename: str, arch: str
) -> None:
    """Packages, Packages.gz and the (unsigned) Release."""
    packages_text = _run(["apt-ftparchive", "packages", str(pool.relative_to(base))], cwd=base)
    (binary / "Packages").write_text(packages_text)
    with gzip.GzipFile(binary / "Packages.gz", "wb", compresslevel=9, mtime=0) as gz:
        gz.write(packages_text.encode())
    release_options = {
        "Origin": "Docker",
        "Label": "Docker CE",
        "Suite": codename,
        "Codename": codename,
        "Architectures": arch,
        "Components": COMPONENT,
        "SHA512": "false",
    }
    release_cmd = ["apt-ftparchive"]
    for key, value in release_options.items():
        release_cmd += ["-o", f"APT::FTPArchive::Release::{key}={value}"]
    (dist / "Release").write_text(_run([*release_cmd, "release", "."], cwd=dist))


def _run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


@contextmanager
def _throwaway_gnupg() -> Iterator[dict[str, str]]:
    """Environment for gpg with a temporary GNUPGHOME, removed (agent killed) afterwards."""
    home = tempfile.mkdtemp(prefix="aptrepo-gnupg-")  # short path: gpg-agent's socket lives here
    env = {k: v for k, v in os.environ.items() if k != "GPG_AGENT_INFO"}
    env["GNUPGHOME"] = home
    try:
        yield env
    finally:
        subprocess.run(
            ["gpgconf", "--kill", "all"], env=env, capture_output=True, timeout=30, check=False
        )
        shutil.rmtree(home, ignore_errors=True)


def _generate_key(env: dict[str, str]) -> str:
    """Generate the signing key; returns its fingerprint."""
    _run(
        [*_GPG, "--passphrase", "", "--quick-gen-key", KEY_UID, KEY_ALGO, "sign", "never"], env=env
    )
    listing = _run([*_GPG, "--with-colons", "--list-secret-keys"], env=env)
    return next(line.split(":")[9] for line in listing.splitlines() if line[:4] == "fpr:").upper()


def _sign(dist: Path, key_file: Path, fingerprint: str, env: dict[str, str]) -> None:
    """Write ``dist``'s InRelease and Release.gpg, export the public key to ``key_file``."""
    signer = [*_GPG, "--yes", "--local-user", fingerprint, "--digest-algo", "SHA512"]
    release = str(dist / "Release")
    _run([*signer, "--clearsign", "--output", str(dist / "InRelease"), release], env=env)
    _run(
        [*signer, "--armor", "--detach-sign", "--output", str(dist / "Release.gpg"), release],
        env=env,
    )
    key_file.write_text(_run([*_GPG, "--armor", "--export", fingerprint], env=env))
    key_file.chmod(0o644)


def _build_deb(pkg: _Package, arch: str, stage: Path, out_dir: Path) -> Path:
    """Stage ``pkg`` under ``stage`` and build it uncompressed into ``out_dir``."""
    upstream_version = pkg.version.split(":", 1)[-1]
    tree = stage / f"{pkg.name}_{upstream_version}"
    installed_kib = 0
    for item in pkg.files:
        path = tree / item.dest.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if item.src is not None and item.patch is not None:
            path.write_bytes(_patched(item.src, *item.patch))
        elif item.src is not None:
            shutil.copyfile(item.src, path)
        else:
            path.write_bytes(item.data or b"")
        path.chmod(item.mode)
        installed_kib += -(-path.stat().st_size // 1024)
    control_dir = tree / "DEBIAN"
    control_dir.mkdir(parents=True)
    for name, text in pkg.scripts.items():
        (control_dir / name).write_text(text)
        (control_dir / name).chmod(0o755)
    fields = {
        "Package": pkg.name,
        "Version": pkg.version,
        "Architecture": arch,
        "Maintainer": MAINTAINER,
        "Installed-Size": str(installed_kib),
        **pkg.fields,
        "Section": "admin",
        "Priority": "optional",
    }
    control = "".join(f"{key}: {value}\n" for key, value in fields.items())
    (control_dir / "control").write_text(control + f"Description: {pkg.description}\n")
    (control_dir / "control").chmod(0o644)
    for directory in (tree, *(p for p in tree.rglob("*") if p.is_dir())):
        directory.chmod(0o755)
    deb = out_dir / f"{pkg.name}_{upstream_version}_{arch}.deb"
    _run(["dpkg-deb", "--root-owner-group", "-Znone", "--build", str(tree), str(deb)])
    shutil.rmtree(tree)
    return deb


def _patched(src: Path, old: bytes, new: bytes) -> bytes:
    """``src``'s bytes with each ``old`` not preceded by "-" replaced by ``new`` (same length)."""
    assert len(old) == len(new)
    data = bytearray(src.read_bytes())
    count = 0
    at = data.find(old)
    while at != -1:
        if at == 0 or data[at - 1] != ord("-"):
            data[at : at + len(old)] = new
            count += 1
        at = data.find(old, at + len(old))
    if count == 0:
        raise RuntimeError(f"{src}: version string {old.decode()} not found; Debian updated it?")
    return bytes(data)


def _binary(dest: str, src: Path, patch: tuple[bytes, bytes] | None) -> _File:
    return _File(dest, 0o755, src=src, patch=patch)


def _docker_service() -> bytes:
    """Debian's docker.service, with Docker CE's ExecStart (dockerd is in /usr/bin)."""
    lines = []
    for line in (_SYSTEMD / "docker.service").read_text().splitlines():
        if line.startswith("EnvironmentFile="):  # Debian's /etc/default/docker: not in Docker CE
            continue
        if line.startswith("ExecStart="):
            line = (
                "ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"
            )
        lines.append(line)
    if (
        "ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"
        not in lines
    ):
        raise RuntimeError("Debian's docker.service has no ExecStart line")
    return ("\n".join(lines) + "\n").encode()


def _plugin(command: str, upstream: str, version_line: str) -> bytes:
    metadata = (
        '{"SchemaVersion":"0.1.0","Vendor":"pyhost lab",'
        f'"Version":"v{upstream}","ShortDescription":"lab stand-in"}}'
    )
    return (
        "#!/bin/sh\n"
        f"# docker-{command}: pyhost lab stand-in for the Docker CLI plugin (not the real one).\n"
        'if [ "$1" = docker-cli-plugin-metadata ]; then\n'
        f"\tprintf '%s\\n' '{metadata}'\n"
        "\texit 0\n"
        "fi\n"
        f"echo '{version_line}'\n"
    ).encode()


# Maintainer scripts. Like Docker's own packages (dh_installsystemd's "|| true"), a service
# that fails to start does not fail the package's configuration: the installer checks it.
_CONTAINERD_POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
\tsystemctl daemon-reload
\tif [ -n "$2" ]; then
\t\tsystemctl try-restart containerd.service || echo "containerd.io: restart failed" >&2
\tfi
\tsystemctl enable --now containerd.service || echo "containerd.io: start failed" >&2
fi
exit 0
"""

_CONTAINERD_PRERM = """\
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
\tsystemctl disable --now containerd.service || true
fi
exit 0
"""

_DOCKER_POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ]; then
\tgetent group docker >/dev/null || groupadd -r docker
\tif [ -d /run/systemd/system ]; then
\t\tsystemctl daemon-reload
\t\tif [ -n "$2" ]; then
\t\t\t# upgrade: run the new dockerd
\t\t\tsystemctl try-restart docker.service || echo "docker-ce: restart failed" >&2
\t\tfi
\t\tsystemctl enable --now containerd.service docker.socket docker.service \\
\t\t\t|| echo "docker-ce: start failed (journalctl -u docker.service)" >&2
\tfi
fi
exit 0
"""

_DOCKER_PRERM = """\
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
\tsystemctl disable --now docker.service docker.socket || true
fi
exit 0
"""


def _packages(codename: str) -> list[_Package]:
    """Every package of the repository, oldest version of each first."""
    suffix = f"-1~debian.{_DEBIAN_RELEASES[codename]}~{codename}"
    containerd_unit = _File(
        "/lib/systemd/system/containerd.service", 0o644, src=_SYSTEMD / "containerd.service"
    )
    docker_units = [
        _File("/lib/systemd/system/docker.service", 0o644, data=_docker_service()),
        _File("/lib/systemd/system/docker.socket", 0o644, src=_SYSTEMD / "docker.socket"),
    ]
    packages: list[_Package] = []
    for index, upstream in enumerate(_CONTAINERD_UPSTREAM):
        patch = None if index == 0 else (_CONTAINERD_BUILT, f"{upstream}~ds1".encode())
        packages.append(
            _Package(
                name="containerd.io",
                version=f"{upstream}-1",
                fields={
                    "Depends": "libseccomp2",
                    "Provides": "containerd, runc",
                    "Conflicts": "containerd, runc",
                    "Replaces": "containerd, runc",
                    "Homepage": "https://containerd.io",
                },
                description=(
                    "An open and reliable container runtime\n"
                    " pyhost lab build: Debian's containerd and runc binaries"
                    f" (containerd labelled {upstream}~ds1)."
                ),
                files=[
                    _binary("/usr/bin/containerd", Path("/usr/bin/containerd"), patch),
                    _binary(
                        "/usr/bin/containerd-shim-runc-v2",
                        Path("/usr/bin/containerd-shim-runc-v2"),
                        patch,
                    ),
                    _binary("/usr/bin/ctr", Path("/usr/bin/ctr"), patch),
                    _binary("/usr/bin/runc", Path("/usr/sbin/runc"), None),
                    containerd_unit,
                ],
                scripts={"postinst": _CONTAINERD_POSTINST, "prerm": _CONTAINERD_PRERM},
            )
        )
    for index, upstream in enumerate(_DOCKER_UPSTREAM):
        patch = None if index == 0 else (_DOCKER_BUILT, f"{upstream}+dfsg1".encode())
        packages.append(
            _Package(
                name="docker-ce-cli",
                version=f"5:{upstream}{suffix}",
                fields={
                    "Conflicts": "docker.io, docker-doc",
                    "Replaces": "docker.io, docker-doc",
                    "Homepage": "https://www.docker.com",
                },
                description=(
                    "Docker CLI: the open-source application container engine\n"
                    " pyhost lab build: Debian's docker client"
                    f" (reports {upstream}+dfsg1)."
                ),
                files=[_binary("/usr/bin/docker", Path("/usr/bin/docker"), patch)],
            )
        )
        packages.append(
            _Package(
                name="docker-ce",
                version=f"5:{upstream}{suffix}",
                fields={
                    "Depends": "containerd.io (>= 1.6.4), docker-ce-cli, iptables, "
                    "libdevmapper1.02.1",
                    "Conflicts": "docker.io, docker-engine",
                    "Replaces": "docker.io, docker-engine",
                    "Homepage": "https://www.docker.com",
                },
                description=(
                    "Docker: the open-source application container engine\n"
                    " pyhost lab build: Debian's dockerd, docker-proxy and tini"
                    f" (reports {upstream}+dfsg1)."
                ),
                files=[
                    _binary("/usr/bin/dockerd", Path("/usr/sbin/dockerd"), patch),
                    _binary("/usr/bin/docker-proxy", Path("/usr/sbin/docker-proxy"), None),
                    _binary("/usr/bin/docker-init", Path("/usr/bin/docker-init").resolve(), None),
                    *docker_units,
                ],
                scripts={"postinst": _DOCKER_POSTINST, "prerm": _DOCKER_PRERM},
            )
        )
    plugins = (
        ("buildx", _BUILDX_UPSTREAM, f"github.com/docker/buildx v{_BUILDX_UPSTREAM} pyhost-lab"),
        ("compose", _COMPOSE_UPSTREAM, f"Docker Compose version v{_COMPOSE_UPSTREAM}"),
    )
    for command, upstream, version_line in plugins:
        packages.append(
            _Package(
                name=f"docker-{command}-plugin",
                version=f"{upstream}{suffix}",
                fields={
                    "Enhances": "docker-ce-cli",
                    "Homepage": f"https://github.com/docker/{command}",
                },
                description=(
                    f"Docker {command} CLI plugin (pyhost lab stand-in)\n"
                    " A shell script answering the CLI plugin metadata call and"
                    " printing its version."
                ),
                files=[
                    _File(
                        f"/usr/libexec/docker/cli-plugins/docker-{command}",
                        0o755,
                        data=_plugin(command, upstream, version_line),
                    )
                ],
            )
        )
    return packages
