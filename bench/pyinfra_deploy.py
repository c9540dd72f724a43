"""pyinfra deploy doing what `pyhost provision` does on a fresh lab host (for the comparison).

Run by bench/pyinfra_compare.py as ``pyinfra INVENTORY.py bench/pyinfra_deploy.py -y``; the
inventory it writes gives each host its SSH, sudo and host-key data and these values:

- ``docker_key_file``: the repository's armoured signing key, on the controller
- ``docker_key_fingerprint``: the fingerprint that key must have
- ``docker_repo_url``: the repository's URL as the host sees it
- ``docker_channel``: the repository component (``stable``)
- ``docker_version``: the full apt version of docker-ce and docker-ce-cli

Only pyinfra's documented operations and facts; this file is not part of pyhost.
"""

from __future__ import annotations

import io
import subprocess

from pyinfra import host
from pyinfra.facts.deb import DebArch
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt, files, systemd
from pyinfra.operations.util import any_changed

KEYRING = "/etc/apt/keyrings/docker.asc"
SOURCES = "/etc/apt/sources.list.d/docker.sources"
PACKAGES = ("containerd.io", "docker-buildx-plugin", "docker-compose-plugin")


def key_fingerprints(path: str) -> set[str]:
    """The primary key fingerprints in an armoured key file, read with gpg on the controller."""
    out = subprocess.run(
        ["gpg", "--batch", "--show-keys", "--with-colons", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fprs: set[str] = set()
    primary = False
    for line in out.splitlines():
        kind = line.split(":", 1)[0]
        if kind in ("pub", "sub"):
            primary = kind == "pub"
        elif kind == "fpr" and primary:
            fprs.add(line.split(":")[9].upper())
            primary = False
    return fprs


# pyinfra has no operation that checks an OpenPGP fingerprint: check the controller's copy
# of the key here, before anything is sent to the host, and upload exactly that file.
key_file = host.data.docker_key_file
wanted = host.data.docker_key_fingerprint.replace(" ", "").upper()
found = key_fingerprints(key_file)
if wanted not in found:
    raise RuntimeError(f"{key_file}: fingerprint {sorted(found)} is not {wanted}")

key = files.put(
    name="Docker's apt key",
    src=key_file,
    dest=KEYRING,
    user="root",
    group="root",
    mode="644",
)

release = host.get_fact(LinuxDistribution)["release_meta"]
sources = files.put(
    name="Docker's apt source (deb822)",
    src=io.StringIO(
        "# Docker CE's apt repository. Managed by pyinfra.\n"
        "Types: deb\n"
        f"URIs: {host.data.docker_repo_url}\n"
        f"Suites: {release['VERSION_CODENAME']}\n"
        f"Components: {host.data.docker_channel}\n"
        f"Architectures: {host.get_fact(DebArch)}\n"
        f"Signed-By: {KEYRING}\n"
    ),
    dest=SOURCES,
    user="root",
    group="root",
    mode="644",
)

# Only when the repository changed: an unconditional apt.update would report a change (and
# take a round trip to the repository) on every run, which pyhost does not.
apt.update(name="apt update", _if=any_changed(key, sources))

version = host.data.docker_version
apt.packages(
    name="Docker CE packages",
    packages=[f"docker-ce={version}", f"docker-ce-cli={version}", *PACKAGES],
)

for unit in ("containerd", "docker"):
    systemd.service(name=f"{unit} running and enabled", service=unit, running=True, enabled=True)
