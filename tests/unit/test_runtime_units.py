"""The runtime's pure parts: flags to a spec, capabilities, the seccomp program, users."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pyhost.errors import ExitStatus
from pyhost.runtime import capabilities, seccomp, spec, users
from pyhost.runtime.errors import RunError, RunUsageError

pytestmark = pytest.mark.unit


def test_docker_default_capabilities_mask() -> None:
    caps = capabilities.resolve([], [])
    assert len(caps) == 14
    assert f"{capabilities.mask(caps):016x}" == "00000000a80425fb"


def test_cap_add_drop_follow_docker_rules() -> None:
    assert capabilities.resolve(["NET_ADMIN"], ["ALL"]) == {"NET_ADMIN"}
    assert "CHOWN" not in capabilities.resolve([], ["cap_chown"])
    assert capabilities.resolve(["ALL"], []) == frozenset(capabilities.BITS)
    with pytest.raises(RunUsageError) as err:
        capabilities.resolve(["NET_ADMN"], [])
    assert err.value.one_line() == "unknown capability 'NET_ADMN' (did you mean NET_ADMIN?)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64m", 64 << 20),
        ("1g", 1 << 30),
        ("512k", 512 << 10),
        ("1048576", 1 << 20),
        ("1.5m", 1572864),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert spec.parse_size(text, "--memory") == expected


def test_limits_follow_docker_defaults_and_refuse_nonsense() -> None:
    limits = spec.parse_limits("64m", None, "0.5", None, None, 100)
    assert limits.memory == 64 << 20
    assert limits.memory_swap == 128 << 20  # as much swap as memory, Docker's default
    assert limits.cpus == 0.5
    with pytest.raises(RunUsageError, match="below the minimum"):
        spec.parse_limits("1m", None, None, None, None, None)
    with pytest.raises(RunUsageError, match="at least --memory"):
        spec.parse_limits("64m", "32m", None, None, None, None)
    with pytest.raises(RunUsageError, match="--memory-swap needs --memory"):
        spec.parse_limits(None, "64m", None, None, None, None)
    with pytest.raises(RunUsageError, match="cpuset"):
        spec.parse_limits(None, None, None, None, "0-999", None)


def test_ports_volumes_tmpfs() -> None:
    port = spec.parse_port("127.0.0.1:8080:80/udp")
    assert (port.host_ip, port.host_port, port.container_port, port.proto) == (
        "127.0.0.1",
        8080,
        80,
        "udp",
    )
    assert spec.parse_port("8080:80").host_ip == "0.0.0.0"
    for bad in ("80", "1.2.3:80:80", "0:80", "8080:80/sctp", "[::1]:80:80"):
        with pytest.raises(RunUsageError):
            spec.parse_port(bad)
    vol = spec.parse_volume("/srv/data:/data:ro")
    assert (vol.source, vol.target, vol.readonly) == ("/srv/data", "/data", True)
    for bad in ("data:/data", "/a:relative", "/a:/", "/a:/b:rx"):
        with pytest.raises(RunUsageError):
            spec.parse_volume(bad)
    assert spec.parse_tmpfs("/run:size=64m,mode=1777").options == "size=64m,mode=1777"
    with pytest.raises(RunUsageError):
        spec.parse_tmpfs("/run:uid=0;rm -rf")


def test_env_file_and_merge(tmp_path: Path) -> None:
    f = tmp_path / "env"
    f.write_text("# comment\nA=1\n\nB=two words\n")
    env = spec.parse_env(["C=3", "A=override"], [str(f)])
    merged = spec.merge_env(["PATH=/bin", "A=image"], env)
    assert merged == ["PATH=/bin", "A=override", "B=two words", "C=3"]
    f.write_text("BAD LINE=1\n")
    with pytest.raises(RunUsageError, match=r"env:1: invalid variable line"):
        spec.parse_env([], [str(f)])


def test_seccomp_program_blocks_and_lifts() -> None:
    if not seccomp.supported():
        pytest.skip(f"no syscall table for {os.uname().machine}")
    default = seccomp.blocked_syscalls(frozenset())
    assert {"mount", "unshare", "setns", "kexec_load", "bpf", "keyctl"} <= set(default)
    assert "mount" not in seccomp.blocked_syscalls(frozenset({"SYS_ADMIN"}))
    prog = seccomp.program(frozenset())
    assert prog[-2] == (0x06, 0, 0, 0x7FFF0000)  # allow everything else
    assert prog[-1] == (0x06, 0, 0, 0x00050000 | errno.EPERM)
    blocked = 0
    for index, row in enumerate(prog[4:], start=4):  # after the architecture check
        if row[0] == 0x15 and row[1] > 0:
            assert prog[index + 1 + row[1]] == prog[-1]  # every blocked number -> EPERM
            blocked += 1
    assert blocked == len(default)
    assert len(prog) < 256  # classic BPF jump offsets are 8 bits


def test_users_resolve_names_numbers_and_groups(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    group = tmp_path / "group"
    passwd.write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    group.write_text("root:x:0:\napp:x:1000:\nextra:x:2000:app,other\n")
    app = users.resolve("app", str(passwd), str(group))
    assert (app.uid, app.gid, app.groups) == (1000, 1000, (1000, 2000))
    assert users.resolve("1234:extra", str(passwd), str(group)).gid == 2000
    assert users.resolve("1234", str(passwd), str(group)).uid == 1234
    with pytest.raises(RunError, match="unable to find user bob") as err:
        users.resolve("bob", str(passwd), str(group))
    assert err.value.exit_status == ExitStatus.RUN_FAILED


@pytest.mark.parametrize(
    ("path", "value", "setting"),
    [
        ("kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=1"),
        ("user/max_user_namespaces", "0", "user.max_user_namespaces=15000"),
        ("kernel/apparmor_restrict_unprivileged_userns", "1", "apparmor_restrict_unprivileged"),
    ],
)
def test_rootless_names_the_setting_that_forbids_it(
    tmp_path: Path, path: str, value: str, setting: str
) -> None:
    from pyhost.runtime.containers import userns_problem

    assert userns_problem(str(tmp_path)) is None
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text(value + "\n")
    problem = userns_problem(str(tmp_path))
    assert problem is not None and setting in problem
