"""The command line as a user meets it: help, version, exit codes, one-line errors, start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pyhost
from pyhost.cli.main import main

pytestmark = pytest.mark.unit

SUBCOMMANDS = ("provision", "inspect", "ps", "run", "audit")
HEAVY = ("fabric", "paramiko", "docker", "rich", "invoke", "yaml", "jinja2", "pyroute2")


def pyhost_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run pyhost as a user would: a fresh interpreter, ``python -m pyhost``."""
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_version() -> None:
    res = pyhost_cli("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"pyhost {pyhost.__version__}"


def test_help_lists_every_subcommand_and_the_exit_codes() -> None:
    res = pyhost_cli("--help")
    assert res.returncode == 0
    for name in SUBCOMMANDS:
        assert f"\n    {name}" in res.stdout
    for code in ("0", "1", "2", "4", "130"):
        assert f"\n  {code} " in res.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_help_shows_examples(name: str) -> None:
    res = pyhost_cli(name, "--help")
    assert res.returncode == 0
    assert "examples:" in res.stdout
    assert f"pyhost {name}" in res.stdout.split("examples:")[1]


@pytest.mark.parametrize(
    "argv", [["bogus"], ["ps", "--no-such-flag"], [], ["provision", "--forks", "0"]]
)
def test_usage_errors_exit_2_with_usage(argv: list[str]) -> None:
    res = pyhost_cli(*argv)
    assert res.returncode == 2
    assert res.stderr.startswith("usage: pyhost")
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ("all:\n  hosts:\n    a:\n  vars: [1,\n", 4, "yaml"),
        ("all:\n  hosts:\n    a: {}\n  children:\n    web:\n      hots: {}\n", 6, "hots"),
    ],
)
def test_bad_inventory_is_one_line_with_file_and_line(
    tmp_path: Path, content: str, line: int, what: str
) -> None:
    inv = tmp_path / "inventory.yml"
    inv.write_text(content)
    res = pyhost_cli("provision", str(inv), "--check")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert f"{inv}:{line}:" in lines[0]
    assert what.lower() in lines[0].lower()


def test_missing_inventory_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    res = pyhost_cli("audit", str(missing))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert str(missing) in res.stderr


def test_unreadable_inventory_is_one_line_exit_2(tmp_path: Path) -> None:
    inv = tmp_path / "secret.yml"
    inv.write_text("all:\n  hosts:\n    a:\n")
    inv.chmod(0)
    argv = [sys.executable, "-m", "pyhost", "provision", str(inv)]
    if os.geteuid() == 0:
        # root reads any file through CAP_DAC_OVERRIDE: drop it so the mode counts
        argv = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *argv]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 2
    assert str(inv) in res.stderr and res.stderr.count("\n") == 1
    assert "permission denied" in res.stderr


def test_debug_shows_the_traceback_either_side_of_the_subcommand(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yml")
    for argv in (["--debug", "provision", missing], ["provision", missing, "--debug"]):
        res = pyhost_cli(*argv)
        assert res.returncode != 0
        assert "Traceback" in res.stderr
        assert "InventoryError" in res.stderr


def test_main_returns_the_exit_status_without_exiting(tmp_path: Path) -> None:
    assert main(["provision", str(tmp_path / "nope.yml")]) == 2


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["run", "--help"], ["run", "--rm", "--network", "none", "img", "true"]],
)
def test_light_paths_import_no_heavy_library(argv: list[str], tmp_path: Path) -> None:
    """`pyhost --help` and `pyhost run` must not pay for Fabric, docker or rich."""
    probe = (
        "import sys, json\n"
        "from pyhost.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "sys.__stdout__.write('\\nRESULT ' + json.dumps(heavy))\n"
    )
    env = {
        **os.environ,
        "PYHOST_STATE_ROOT": str(tmp_path / "state"),
        "PYHOST_DATA_ROOT": str(tmp_path / "data"),
    }
    res = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert "RESULT " in res.stdout, res.stderr
    result = res.stdout.rsplit("RESULT ", 1)[1]
    assert json.loads(result) == []


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "pyhost"
    assert script.exists(), "pip install -e . should install the pyhost console script"
    res = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("pyhost ")


def test_pyhost_inspect_never_shadows_the_stdlib_inspect() -> None:
    probe = (
        "import pyhost, pyhost.inspect, pyhost.inspect.collect.containers, inspect, sys\n"
        "assert 'pyhost' not in inspect.__file__, inspect.__file__\n"
        "assert hasattr(inspect, 'getsource'), inspect.__file__\n"
        "assert pyhost.inspect.__name__ == 'pyhost.inspect'\n"
        "print('ok')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(pyhost.__file__).parent.parent,  # the checkout's root, where pyhost/ lies
        check=False,
    )
    assert res.stdout.strip() == "ok", res.stderr


def _images_replaced_by(body: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    """`pyhost images` with its work replaced by ``body`` (a function of args)."""
    program = (
        "import sys\n"
        "from pyhost.cli import cmd_images\n"
        f"{body}\n"
        "cmd_images.execute = work\n"
        "from pyhost.cli.main import main\n"
        "sys.exit(main(['images']))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_reader_that_went_away_is_no_error() -> None:
    """`pyhost images | head -1`: the pipe's reader is gone before pyhost is done."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        res = _images_replaced_by(
            "def work(args):\n    print('x' * 100000)\n    sys.stdout.flush()\n    return 0",
            stdout=write_end,
        )
    finally:
        os.close(write_end)
    assert res.returncode == 0
    assert res.stderr == ""


def test_a_broken_pipe_of_pyhosts_own_is_not_hidden() -> None:
    """A BrokenPipeError from a pipe of pyhost's own (stdout fine) is a failure to see,
    never a quiet exit 0."""
    res = _images_replaced_by("def work(args):\n    raise BrokenPipeError(32, 'Broken pipe')")
    assert res.returncode != 0
    assert "BrokenPipeError" in res.stderr
