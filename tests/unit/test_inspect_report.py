"""The human report of `pyhost inspect`: every section renders, findings come one a line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pyhost.inspect.collect import inspection
from pyhost.inspect.collect.engine import Engine
from pyhost.inspect.inspect_report import print_inspect

pytestmark = pytest.mark.unit

RECORDED = Path(__file__).parent / "data" / "inspect" / "container.json"


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text())
    return data


def test_a_recorded_container_renders_every_section(
    wide: None, capsys: pytest.CaptureFixture[str]
) -> None:
    print_inspect(recorded())
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("container web-1 (5be70afc34c8), image ")
    assert "! capabilities beyond Docker's default: NET_ADMIN" in lines
    assert "! port 80/tcp published on every host address (0.0.0.0:8080)" in lines
    for title in inspection.SECTIONS:
        assert f"─ {title} ─" in out
    assert "64.0MiB" in out and "0.5 cpus" in out
    assert "/var/lib/docker/volumes/recvol/_data" in out and "tmpfs" in out
    assert "(veth) on docker0" in out
    assert "sh -c sleep 600 & sleep 600" in out and "containerd-shim-runc-v2" in out


def test_unavailable_sections_share_one_line(
    wide: None, capsys: pytest.CaptureFixture[str]
) -> None:
    data = recorded()
    for name in inspection.NEEDS_PROCESS:
        data[name] = inspection.unavailable(name, "not running")
    data["target"]["running"] = False
    print_inspect(data)
    out = capsys.readouterr().out
    assert "not running, on" in out.splitlines()[0]
    assert "namespaces, cgroups, network, security, processes: not available (not running)" in out
    assert "─ storage ─" in out and "─ namespaces ─" not in out


def test_a_process_outside_docker_renders(
    wide: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = inspection.inspect_pid(os.getpid(), engine=Engine(str(tmp_path / "none.sock")))
    print_inspect(data)
    captured = capsys.readouterr()
    assert f"process {os.getpid()}, running" in captured.out
    assert "not a Docker container" in captured.out + captured.err
    assert "no Docker engine here" in captured.err
