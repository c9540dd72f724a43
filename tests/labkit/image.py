"""The lab base image: a debootstrapped Debian bookworm with systemd and sshd.

Built once and reused while its tag exists. The tag carries a hash of the recipe, so a change
to the recipe builds a new image instead of silently reusing an old one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SUITE = "bookworm"
PACKAGES = (
    "openssh-server",
    "sudo",
    "systemd",
    "systemd-sysv",
    "python3",
    "iproute2",
    "procps",
    "iptables",
    "gnupg",
    "ca-certificates",
    # as on a real server: lets non-root users ask systemd (systemctl is-active ...)
    "dbus",
    # dockerd of the lab's Docker CE packages links against it
    "libdevmapper1.02.1",
)
LAB_USER = "lab"
LAB_UID = 1000

# Generated at first boot, so that every lab host has its own host keys.
HOSTKEYS_UNIT = """\
[Unit]
Description=Generate this host's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

# Units that only make sense on a real machine.
MASKED_UNITS = (
    "getty@tty1.service",
    "console-getty.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-modules-load.service",
    "systemd-remount-fs.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "systemd-firstboot.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
)


def recipe_tag() -> str:
    """The image's tag: a hash of this file, which holds the whole recipe."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"pyhost-lab/{SUITE}-systemd:{digest}"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (never hard-coded)."""
    candidates: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        candidates += re.findall(r"^URIs:\s*(\S+)", path.read_text(), flags=re.M)
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.is_file():
            candidates += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", path.read_text(), flags=re.M)
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise RuntimeError("no Debian mirror found in /etc/apt/sources.list(.d)")


def why_no_image_build() -> str | None:
    if shutil.which("debootstrap") is None:
        return "debootstrap is missing (apt-get install debootstrap)"
    return None


def _unmount_below(root: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mnt in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        subprocess.run(["umount", "-l", mnt], check=False)


def _customize(root: Path) -> None:
    def chroot(*args: str) -> None:
        subprocess.run(["chroot", str(root), *args], check=True)

    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    unit = root / "etc/systemd/system/ssh-hostkeys.service"
    unit.write_text(HOSTKEYS_UNIT)
    unit.chmod(0o644)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "ssh-hostkeys.service"
    if not link.is_symlink():
        link.symlink_to("/etc/systemd/system/ssh-hostkeys.service")
    for name in MASKED_UNITS:
        target = root / "etc/systemd/system" / name
        if target.exists() or target.is_symlink():
            target.unlink()
        target.symlink_to("/dev/null")
    chroot(
        "useradd",
        "--create-home",
        "--uid",
        str(LAB_UID),
        "--shell",
        "/bin/bash",
        "--groups",
        "sudo",
        LAB_USER,
    )
    for home, owner in ((root / "root", 0), (root / "home" / LAB_USER, LAB_UID)):
        ssh = home / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        os.chown(ssh, owner, owner)
    # Lab hosts reach nothing but the lab: no Debian sources, only the lab's own repository.
    for path in [root / "etc/apt/sources.list", *(root / "etc/apt/sources.list.d").glob("*")]:
        if path.is_file():
            path.unlink()
    # apt looks up SRV records (_http._tcp.<host>) through DNS before it connects, even for
    # names in /etc/hosts; Docker's DNS forwards them to servers this sandbox cannot reach,
    # and each lookup waits 10 s. No repository of the lab needs SRV records.
    (root / "etc/apt/apt.conf.d/99pyhost-lab").write_text('Acquire::EnableSrvRecords "false";\n')
    (root / "etc/hostname").write_text("lab\n")
    machine_id = root / "etc/machine-id"
    machine_id.write_text("")


def ensure_base_image(client: Any, *, workdir: Path | None = None) -> str:
    """Return the tag of the lab base image, building it when it does not exist yet."""
    import docker.errors

    tag = recipe_tag()
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    problem = why_no_image_build()
    if problem:
        raise RuntimeError(problem)
    build = Path(tempfile.mkdtemp(prefix="pyhost-lab-rootfs-", dir=workdir or "/var/tmp"))
    try:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(build / "root"),
                debian_mirror(),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _unmount_below(build / "root")
        _customize(build / "root")
        tarball = build / "rootfs.tar"
        subprocess.run(
            [
                "tar",
                "-C",
                str(build / "root"),
                "--numeric-owner",
                "--xattrs",
                "-cf",
                str(tarball),
                ".",
            ],
            check=True,
        )
        repo, _, version = tag.partition(":")
        # from a file, not a stream: the SDK streams with chunked encoding, which older
        # engines reject for imports
        client.api.import_image_from_file(
            str(tarball),
            repository=repo,
            tag=version,
            changes=['CMD ["/lib/systemd/systemd"]', "ENV container=docker"],
        )
        client.images.get(tag)
        # older recipes' images only take space now
        for image in client.images.list(name=repo):
            if tag not in image.tags:
                client.images.remove(image.id, force=True)
        return tag
    finally:
        _unmount_below(build / "root")
        shutil.rmtree(build, ignore_errors=True)
