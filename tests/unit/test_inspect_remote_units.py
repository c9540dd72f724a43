"""Remote `ps` and `inspect` without a remote host: the zipapp, the framing, the one round
trip, the error lines and `-H` parsing. The bootstrap command runs for real, through
/bin/sh on this machine, with a fake connection that counts its commands."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pyhost.cli.main import main
from pyhost.connection import LocalConnection, Result, SSHConnection, SSHTarget
from pyhost.errors import ExitStatus, UnreachableError, UsageError
from pyhost.inspect import remote
from pyhost.inspect.collect import protocol
from pyhost.inventory import Host

pytestmark = pytest.mark.unit

PS = protocol.make_request("ps", include_stopped=False)


@pytest.fixture
def python3_dir(tmp_path: Path) -> Path:
    """A PATH directory whose python3 is this interpreter (3.10 or newer)."""
    where = tmp_path / "bin"
    where.mkdir()
    (where / "python3").symlink_to(sys.executable)
    return where


class CountingConnection(LocalConnection):
    """This machine as if it were a remote host reached as root: every command counted."""

    def __init__(self, name: str, path: str, tmpdir: Path | None = None) -> None:
        super().__init__(name)
        self.is_root = True  # sudo=True is then a no-op, as for root over SSH
        self.runs: list[str] = []
        self.env = {"PATH": path, "DOCKER_HOST": "unix:///nonexistent"}
        if tmpdir is not None:
            self.env["TMPDIR"] = str(tmpdir)

    def _run(
        self,
        command: str,
        *,
        shown: str,
        stdin: str | None,
        timeout: float | None,
        env: Mapping[str, str] | None,
    ) -> Result:
        self.runs.append(command)
        return super()._run(
            command, shown=shown, stdin=stdin, timeout=timeout, env={**(env or {}), **self.env}
        )


# ------------------------------------------------------------------------------ framing


def test_requests_are_checked_on_both_sides() -> None:
    assert PS == {"protocol": "pyhost.collect/1", "command": "ps", "include_stopped": False}
    assert protocol.make_request("inspect", target="web", pid=None)["target"] == "web"
    bad: Any
    for bad in (
        [],
        {"command": "ps"},
        {"protocol": "pyhost.collect/1", "command": "rm"},
        {"protocol": "pyhost.collect/1", "command": "ps", "include_stopped": "yes"},
        {"protocol": "pyhost.collect/1", "command": "inspect", "target": "a", "pid": 1},
        {"protocol": "pyhost.collect/1", "command": "inspect", "target": None, "pid": None},
        {"protocol": "pyhost.collect/1", "command": "inspect", "pid": True},
    ):
        with pytest.raises(protocol.RequestError):
            protocol.check_request(bad)
        answer = protocol.serve(bad)
        assert answer["ok"] is False and answer["error"]["kind"] == "request"


def test_an_answer_is_found_after_whatever_came_before_it() -> None:
    envelope = {"protocol": protocol.PROTOCOL, "ok": True, "result": {"schema": "x", "é": "ü"}}
    framed = protocol.encode_response(envelope)
    assert framed.startswith(protocol.MARKER) and framed.endswith("}\n")
    assert framed.isascii() and framed.count("\n") == 2  # the marker line, one JSON line
    assert protocol.decode_response(framed) == envelope
    assert protocol.decode_response("motd\nsudo: noise\n" + framed) == envelope
    assert protocol.decode_response("no answer at all\n") is None
    with pytest.raises(ValueError):
        protocol.decode_response(framed[:-20])  # cut short
    with pytest.raises(ValueError, match="without a result"):
        protocol.decode_response(protocol.MARKER + '{"protocol": "pyhost.collect/1", "ok": 1}')
    with pytest.raises(ValueError, match=r"not a pyhost\.collect/1"):
        protocol.decode_response(protocol.MARKER + '{"protocol": "other"}')


def test_the_collector_program_reads_its_request_from_argv_or_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert protocol.main(["not json"]) == 0
    answer = protocol.decode_response(capsys.readouterr().out)
    assert answer is not None and answer["error"]["kind"] == "request"
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"command": "ps"})))
    assert protocol.main([]) == 0
    answer = protocol.decode_response(capsys.readouterr().out)
    assert answer is not None and "unknown protocol" in answer["error"]["message"]


# ------------------------------------------------------------------------------ zipapp


def _zip_modules() -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(remote.zipapp())) as zf:
        return {name: zf.read(name).decode() for name in zf.namelist()}


def test_the_zipapp_holds_the_collector_package_and_a_main() -> None:
    members = _zip_modules()
    package = Path(protocol.__file__).parent
    expected = {f"{remote.ZIP_PACKAGE}/{p.name}" for p in package.glob("*.py")} | {"__main__.py"}
    assert set(members) == expected
    assert f"{remote.ZIP_PACKAGE}/protocol.py" in members
    assert not any("__pycache__" in name or not name.endswith(".py") for name in members)
    # built once per process, and the same bytes every time it is built
    assert remote.zipapp() is remote.zipapp()
    first = remote.zipapp()
    remote.zipapp.cache_clear()
    assert remote.zipapp() == first
    assert len(first) < 64 * 1024


def test_every_module_in_the_zipapp_imports_only_the_stdlib_and_its_own_package() -> None:
    members = _zip_modules()
    own = {Path(name).stem for name in members if name.startswith(remote.ZIP_PACKAGE + "/")}
    # _sha2: Python 3.12's name of the built-in sha256 module (_sha256 before)
    stdlib = set(sys.stdlib_module_names) | {"__future__", "_sha2", "_sha256"}
    for name, source in members.items():
        # the oldest python3 the bootstrap accepts must parse every file
        tree = ast.parse(source, filename=name, feature_version=remote.MIN_PYTHON)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    assert top in stdlib, f"{name}: import {alias.name} is not the stdlib"
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    top = (node.module or "").split(".")[0]
                    allowed = stdlib | ({remote.ZIP_PACKAGE} if name == "__main__.py" else set())
                    assert top in allowed, f"{name}: from {node.module} import is not the stdlib"
                    assert top != "pyhost"
                else:
                    assert node.level == 1, f"{name}: relative import above the package"
                    target = (node.module or "").split(".")[0]
                    if target:
                        assert target in own, f"{name}: from .{node.module} is not in the zipapp"
                    else:
                        assert {a.name for a in node.names} <= own, name


def test_the_zipapp_runs_without_site_packages(python3_dir: Path, tmp_path: Path) -> None:
    app = tmp_path / "collect.pyz"
    app.write_bytes(remote.zipapp())
    res = subprocess.run(
        [sys.executable, "-I", "-S", str(app), json.dumps(PS)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"DOCKER_HOST": f"unix://{tmp_path}/docker.sock", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert res.returncode == 0, res.stderr
    answer = protocol.decode_response(res.stdout)
    assert answer is not None and answer["ok"], answer
    assert answer["result"]["schema"] == "pyhost.ps/1"
    assert answer["result"]["engine"]["available"] is False


@pytest.mark.parametrize("memfd", [True, False])
def test_the_bootstrap_runs_the_zipapp_from_memory_and_leaves_no_file(
    memfd: bool, tmp_path: Path
) -> None:
    """memfd_create, else a temporary file unlinked at once: either way the collector runs
    as /proc/self/fd/N, and nothing is left behind however it ends."""
    code = remote.BOOTSTRAP if memfd else remote.BOOTSTRAP.replace("os.memfd_create", "os.nope")
    assert code != remote.BOOTSTRAP or memfd
    res = subprocess.run(
        [sys.executable, "-I", "-c", code, json.dumps(PS)],
        input="a sudo password line\n" + remote.stdin_payload(),
        capture_output=True,
        text=True,
        timeout=60,
        env={"TMPDIR": str(tmp_path), "DOCKER_HOST": "unix:///nonexistent", "PATH": "/usr/bin"},
        check=False,
    )
    assert res.returncode == 0, res.stderr
    answer = protocol.decode_response(res.stdout)
    assert answer is not None and answer["ok"] and list(tmp_path.iterdir()) == []


def test_the_bootstrap_refuses_an_old_python_in_one_line() -> None:
    code = remote.BOOTSTRAP.replace(repr(remote.MIN_PYTHON), "(99, 0)")
    res = subprocess.run(
        [sys.executable, "-I", "-c", code], input="", capture_output=True, text=True, check=False
    )
    assert res.returncode == remote.TOO_OLD_EXIT
    assert res.stderr.startswith(remote.TOO_OLD) and res.stderr.count("\n") == 1
    with pytest.raises(remote.RemoteError, match=r"python3 on h1 is 3\.\d+\.\d+; .* 3\.10 or"):
        remote.read_answer("h1", Result("h1", "x", res.returncode, res.stdout, res.stderr))


# --------------------------------------------------------------------- one round trip


def test_one_host_is_one_command_that_carries_the_zipapp(python3_dir: Path, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    conn = CountingConnection("h1", f"{python3_dir}:/usr/bin:/bin", temp)
    envelope = remote.collect_on(conn, PS)
    assert len(conn.runs) == 1
    assert envelope["ok"] and envelope["result"]["schema"] == "pyhost.ps/1"
    command = conn.runs[0]
    assert "python3 -I -c" in command and len(command) < 2000  # the zipapp is on stdin
    assert list(temp.iterdir()) == []  # its private copy is gone again


def test_inspect_goes_in_one_command_too_and_names_the_host_in_its_errors(
    python3_dir: Path,
) -> None:
    conn = CountingConnection("h1", f"{python3_dir}:/usr/bin:/bin")
    request = protocol.make_request("inspect", target=None, pid=os.getpid())
    envelope = remote.collect_on(conn, request)
    assert len(conn.runs) == 1
    assert envelope["result"]["schema"] == "pyhost.inspect/1"
    assert envelope["result"]["target"]["pid"] == os.getpid()
    envelope = remote.collect_on(conn, protocol.make_request("inspect", target="x", pid=None))
    assert len(conn.runs) == 2
    with pytest.raises(remote.RemoteError, match="no Docker engine answers on h1"):
        remote.result_of("h1", envelope)
    missing = {"ok": False, "error": {"kind": "target", "message": "no container 'x' on this "
               "machine", "hint": "`pyhost ps --all` lists them"}}  # fmt: skip
    with pytest.raises(UsageError, match="no container 'x' on h1"):
        remote.result_of("h1", missing)


def test_ssh_opens_and_runs_one_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the user unset, SSHConnection.open() would ask the host `id -u`: pyhost fills
    in the user from the SSH config first, so the data still takes one command."""

    class FakeSSH(SSHConnection):
        runs: list[str]

        def _open(self) -> Any:
            return object()

        def _run(self, command: str, **kwargs: Any) -> Result:
            self.runs.append(command)
            answer = protocol.encode_response(protocol.serve(PS))
            return Result(self.name, command, 0, answer, "")

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.setattr(remote, "ssh_defaults", lambda host, ssh_config=None: ("alice", 22))
    conn = FakeSSH(SSHTarget(name="h1", address="192.0.2.1"))
    conn.runs = []
    envelope = remote.collect_on(conn, PS)
    assert conn.runs and len(conn.runs) == 1
    assert conn.target.user == "alice" and envelope["ok"]


def test_a_fleet_takes_one_command_per_host(
    python3_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: dict[str, CountingConnection] = {}

    def fake_connection(host: Host, options: remote.SSHOptions) -> Any:
        if host.name == "down":
            raise UnreachableError(host.name, "cannot connect to 192.0.2.9:22: timed out")
        made[host.name] = CountingConnection(host.name, f"{python3_dir}:/usr/bin:/bin")
        return made[host.name]

    monkeypatch.setattr(remote, "connection_for", fake_connection)
    hosts = [Host(name) for name in ("a", "b", "down", "c")]
    outcomes = remote.collect_fleet(hosts, PS, forks=3)
    assert [o.host for o in outcomes] == ["a", "b", "down", "c"]
    assert {name: len(conn.runs) for name, conn in made.items()} == {"a": 1, "b": 1, "c": 1}
    assert [o.status for o in outcomes] == ["ok", "ok", "unreachable", "ok"]
    assert outcomes[2].error == "down: cannot connect to 192.0.2.9:22: timed out"
    assert remote.fleet_exit(outcomes) == ExitStatus.UNREACHABLE
    document = remote.fleet_document(outcomes)
    assert document["schema"] == "pyhost.ps-fleet/1" and document["exit_status"] == 4
    assert set(document["hosts"][0]) == {"host", "status", "error", "result"}
    assert document["hosts"][0]["result"]["schema"] == "pyhost.ps/1"
    assert document["hosts"][2]["result"] is None


def test_fleet_exit_status() -> None:
    ok, down, bad = (remote.HostOutcome("h", s) for s in ("ok", "unreachable", "failed"))
    assert remote.fleet_exit([ok, ok]) == ExitStatus.OK
    assert remote.fleet_exit([ok, down]) == ExitStatus.UNREACHABLE
    assert remote.fleet_exit([bad, down]) == ExitStatus.FAILURE
    assert remote.fleet_exit([]) == ExitStatus.OK


# ----------------------------------------------------------------------- error lines


def test_no_python3_on_the_host_is_one_clear_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    conn = CountingConnection("h1", str(empty))
    with pytest.raises(remote.RemoteError) as err:
        remote.collect_on(conn, PS)
    assert err.value.message == "python3 is required on h1"
    assert err.value.exit_status == ExitStatus.FAILURE and len(conn.runs) == 1


@pytest.mark.parametrize(
    "stderr",
    [
        "Sorry, try again.\nSorry, try again.\nsudo: 3 incorrect password attempts\n",
        "sudo: unable to resolve host h1: Name or service not known\n"
        "sudo: a password is required\n",
        "lab is not in the sudoers file.  This incident will be reported.\n",
    ],
)
def test_sudo_refused_is_one_clear_line(stderr: str) -> None:
    with pytest.raises(remote.RemoteError) as err:
        remote.read_answer("h1", Result("h1", "x", 1, "", stderr))
    line = err.value.one_line()
    assert line.startswith("sudo refused on h1: ") and "\n" not in line
    assert " ".join(stderr.strip().splitlines()[-1].split()) in line
    assert "unable to resolve" not in line


def test_a_collector_crash_shows_its_last_line_and_keeps_the_rest_for_debug() -> None:
    stderr = (
        "sudo: unable to resolve host h1: Name or service not known\n"
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
        "ValueError: boom\n"
    )
    with pytest.raises(remote.RemoteError) as err:
        remote.read_answer("h1", Result("h1", "x", 1, "", stderr))
    assert err.value.message == "the collector failed on h1: ValueError: boom"
    assert err.value.exit_status == ExitStatus.FAILURE
    assert isinstance(err.value.__cause__, remote.RemoteStderr)
    assert "Traceback" in str(err.value.__cause__)
    with pytest.raises(remote.RemoteError, match="exited 137 without an answer"):
        remote.read_answer("h1", Result("h1", "x", 137, "", ""))
    with pytest.raises(remote.RemoteError, match="cut short"):
        remote.read_answer("h1", Result("h1", "x", 0, protocol.MARKER + '{"protocol":', ""))


def test_a_real_crash_of_the_collector(python3_dir: Path, tmp_path: Path) -> None:
    """A collector that dies (here: its zipapp is not a zip) is the last line, exit 1."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    conn = CountingConnection("h1", f"{python3_dir}:/usr/bin:/bin", temp)
    result = conn.run(
        remote.remote_command(PS), sudo=True, stdin="bm90IGEgemlw\n", check=False, timeout=60
    )
    with pytest.raises(remote.RemoteError, match=r"^the collector failed on h1: .+") as err:
        remote.read_answer("h1", result)
    assert "\n" not in err.value.one_line()
    assert list(temp.iterdir()) == []


# --------------------------------------------------------------------------- -H parsing


@pytest.mark.parametrize(
    ("spec", "host", "user", "port"),
    [
        ("host-1", "host-1", None, None),
        ("admin@host-1", "host-1", "admin", None),
        ("admin@host-1:2222", "host-1", "admin", 2222),
        ("10.0.0.5:22", "10.0.0.5", None, 22),
        ("[::1]:2222", "::1", None, 2222),
        ("lab@[::1]:2222", "::1", "lab", 2222),
        ("lab@[fe80::1%eth0]", "fe80::1%eth0", "lab", None),
        ("::1", "::1", None, None),
        ("2001:db8::7", "2001:db8::7", None, None),
        ("  web  ", "web", None, None),
        ("me@corp@host", "host", "me@corp", None),
    ],
)
def test_host_specs(spec: str, host: str, user: str | None, port: int | None) -> None:
    assert remote.parse_host_spec(spec) == remote.HostSpec(host=host, user=user, port=port)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "not a host"),
        ("@host", "user before @ is empty"),
        ("host:", "port must be 1 to 65535"),
        ("host:0", "port must be 1 to 65535"),
        ("host:65536", "port must be 1 to 65535"),
        ("host:ssh", "port must be 1 to 65535"),
        ("[::1", "no ]"),
        ("[::1]2222", "after ]"),
        ("[]:22", "not a host"),
        ("a b", "not a host"),
    ],
)
def test_bad_host_specs_are_usage_errors(spec: str, words: str) -> None:
    with pytest.raises(UsageError, match=words) as err:
        remote.parse_host_spec(spec)
    assert "[::1]:2222" in err.value.one_line()  # the syntax is in the hint


def test_user_and_port_come_from_the_ssh_config_else_the_local_user(tmp_path: Path) -> None:
    import getpass

    config = tmp_path / "ssh_config"
    config.write_text("Host box\n  User alice\n  Port 2200\n")
    assert remote.ssh_defaults("box", str(config)) == ("alice", 2200)
    assert remote.ssh_defaults("elsewhere", str(config)) == (getpass.getuser(), 22)
    target = remote.target_from_spec("bob@box", ssh_config=str(config), key_file="k")
    assert (target.name, target.address, target.user, target.port) == (
        "bob@box",
        "box",
        "bob",
        2200,
    )
    assert target.key_file == "k" and target.accept_new_host_key is False
    target = remote.target_from_spec("[::1]:2", ssh_config=str(config), accept_new_host_key=True)
    assert (target.address, target.user, target.port) == ("::1", getpass.getuser(), 2)
    assert target.accept_new_host_key is True


# ------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["ps", "-H", "h", "-i", "inv.yml"], "not both"),
        (["ps", "--limit", "web"], "give -i INVENTORY too"),
        (["ps", "-H", "h:0"], "port must be 1 to 65535"),
        (["inspect", "web", "-H", "[::1"], "no ]"),
        (["ps", "-H", "127.0.0.1:9", "--known-hosts", "/nonexistent/kh"], "no such file"),
        (["inspect", "web", "-H", "127.0.0.1:9", "--ssh-key", "/nonexistent/k"], "no such file"),
    ],
)
def test_cli_usage_errors_before_any_connection(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err


def _local_envelope(conn: Any, request: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return protocol.serve(request)


def test_contract_one_host_keeps_the_plain_ps_document(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ps -H` without -i prints `pyhost.ps/1` as a local run does; only -i prints the fleet
    schema."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.setattr(remote, "ssh_defaults", lambda host, ssh_config=None: ("alice", 22))
    monkeypatch.setattr(remote, "collect_on", _local_envelope)
    assert main(["ps", "-H", "alice@192.0.2.1", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "pyhost.ps/1" and "hosts" not in document
    assert set(document) >= {"host", "engine", "containers", "cgroup_version"}


def test_contract_an_inventory_gives_the_fleet_document(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    monkeypatch.setattr(remote, "collect_on", _local_envelope)
    inv = tmp_path / "inv.yml"
    inv.write_text("all:\n  hosts:\n    one:\n    two:\n  vars:\n    ansible_connection: local\n")
    assert main(["ps", "-i", str(inv), "--limit", "two", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "pyhost.ps-fleet/1"
    assert [(h["host"], h["status"], h["error"]) for h in document["hosts"]] == [
        ("two", "ok", None)
    ]
    assert document["hosts"][0]["result"]["schema"] == "pyhost.ps/1"
    # and the human output: a heading per host, the engine note naming the host
    assert main(["ps", "-i", str(inv)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("one") and "\ntwo" in out
    assert "pyhost: note: one: no Docker engine here" in err
