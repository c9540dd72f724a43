"""`pyhost run`'s command line read without argparse gives exactly what argparse gives."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from labkit.fastpath import argparse_values

from pyhost.cli.main import _parse_fast

# Command lines the fast path must read itself (the common ones).
FAST = [
    "run busybox",
    "run --rm busybox true",
    "run --rm --network none /tmp/rootfs true",
    "run --rm --network=none ./rootfs sh -c 'echo hi; exit 3'",
    "--debug run --rm img",
    "run --debug -it img sh",
    "run -dit --name web -p 127.0.0.1:8080:80 -p 9090:90/udp web-image",
    "run -e A=1 -eB=2 --env C --env=D=4 --env-file /tmp/e img env",
    "run -m 64m --memory-swap 128m --cpus 0.5 -c 512 --cpuset-cpus 0-1 --pids-limit 20 img",
    "run --pids-limit=7 --cpu-shares=2 img",
    "run -v /a:/b -v /c:/d:ro --tmpfs /run --tmpfs /tmp:size=1m --read-only img",
    "run --cap-add NET_ADMIN --cap-drop ALL --security-opt no-new-privileges img",
    "run --init -u 1000:1000 -w /srv --hostname h --entrypoint /bin/sh img -c 'x'",
    "run --net host img",
    "run img --rm -it -- ls",
    "run --userns host img",
    "run --name x --name y img",
    "run - true",
    "run -ite=X -mx=1 -p80:80 img",
    "run img --rm -- ls",
    "run img sh -c 'a -- b'",
]

# Command lines the fast path leaves to argparse (which reads or refuses them).
SLOW = [
    "run",
    "run --help",
    "run -h",
    "run --na x img",
    "run --memory-swap -1 img",
    "run --network bogus img",
    "run --pids-limit many img",
    "run --rm=yes img",
    "run -- img true",
    "run img -- ls",
    "run -e=B img",
    "run --name",
    "run -e",
    "run -x img",
    "--debug",
    "ps",
]


@pytest.mark.parametrize("line", FAST)
def test_fast_path_reads_what_argparse_reads(line: str) -> None:
    words = shlex.split(line)
    fast = _parse_fast(words)
    assert fast is not None, f"{line!r} fell back to argparse"
    values = dict(vars(fast))
    assert values.pop("execute") is not None
    assert values == argparse_values(words)


@pytest.mark.parametrize("line", SLOW)
def test_everything_else_is_left_toargparse_values(line: str) -> None:
    assert _parse_fast(shlex.split(line)) is None


def test_argparse_still_answers_what_the_fast_path_leaves() -> None:
    assert argparse_values(shlex.split("run --na x --memory-swap -1 img"))["name"] == "x"
    with pytest.raises(SystemExit) as e:
        argparse_values(shlex.split("run --network bogus img"))
    assert e.value.code == 2


def test_run_starts_without_argparse_json_or_re() -> None:
    """The modules a `pyhost run` imports before it acts (-S: the development venv's
    editable-install finder imports re itself). ctypes, struct and fcntl too: the runtime
    calls libc through _ctypes (pyhost.runtime.linux)."""
    code = (
        "import sys; from pyhost.cli.main import _parse_fast; "
        "args = _parse_fast(['run', '--rm', '--network', 'none', '/nonexistent', 'true']); "
        "from pyhost.runtime import containers; "
        "print(sorted({'argparse', 'json', 're', 'enum', 'shutil', 'contextlib', 'signal',"
        " 'typing', 'dataclasses', 'pathlib', 'ctypes', 'struct', 'fcntl', 'types'}"
        " & set(sys.modules)))"
    )
    env = {"PYTHONPATH": str(Path(__file__).parents[2]), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
