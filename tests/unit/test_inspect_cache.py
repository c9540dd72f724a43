"""What an inspection keeps between runs: kept only under a key that changes with the answer,
asked again when it does; and what cannot be keyed is never kept."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from pyhost.inspect.collect import cache, components, fs
from pyhost.inspect.collect.components import DockerCli

pytestmark = pytest.mark.unit


def fake_docker(directory: Path, version: str) -> Path:
    """A `docker` on PATH that prints its version and notes each start in a log."""
    directory.mkdir(exist_ok=True)
    script = directory / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'echo started >> "{directory}/starts"\n'
        f'echo "Docker version {version}, build 0123abc"\n'
    )
    script.chmod(0o755)
    return script


def starts(directory: Path) -> int:
    log = directory / "starts"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_the_cli_version_is_kept_while_the_binary_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, kept = tmp_path / "bin", tmp_path / "cache"
    script = fake_docker(bin_dir, "27.3.1")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert DockerCli(str(kept)).result() == {"path": str(script), "version": "27.3.1"}
    assert starts(bin_dir) == 1
    assert DockerCli(str(kept)).result() == {"path": str(script), "version": "27.3.1"}
    assert starts(bin_dir) == 1  # the kept answer: no new process
    assert DockerCli(None).result() == {"path": str(script), "version": "27.3.1"}
    assert starts(bin_dir) == 2  # no cache: asked every time
    os.unlink(bin_dir / "starts")
    fake_docker(bin_dir, "28.0.0")  # upgraded in place
    assert DockerCli(str(kept)).result() == {"path": str(script), "version": "28.0.0"}
    assert starts(bin_dir) == 1


def test_no_docker_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert DockerCli(str(tmp_path / "cache")).result() is None
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "out",
    [
        "Docker version 28.2.2, build e6534b4\n",
        "Docker version 20.10.24+dfsg1, build 297e128\n",
        "Docker version  , version 1.2 x",
        "no version here",
        "version \n",
        "",
    ],
)
def test_cli_version_parse_is_the_regular_expressions(out: str) -> None:
    match = re.search(r"version ([^,\s]+)", out)
    assert components.parse_cli_version(out) == (match.group(1) if match else None)


def test_which_finds_what_shutil_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "tool").write_text("not executable")
    (tmp_path / "b" / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "b" / "tool").chmod(0o755)
    (tmp_path / "a" / "dir").mkdir()
    search = f"{tmp_path / 'a'}:{tmp_path / 'b'}"
    monkeypatch.setenv("PATH", search)
    for name in ("tool", "dir", "missing"):
        assert fs.which(name) == shutil.which(name)
        assert fs.which(name, search) == shutil.which(name, path=search)  # dockerd's PATH


def test_store_and_load(tmp_path: Path) -> None:
    assert cache.load(str(tmp_path), "x.json") is None
    cache.store(str(tmp_path / "new"), "x.json", {"key": [1, "a"], "v": None})
    assert cache.load(str(tmp_path / "new"), "x.json") == {"key": [1, "a"], "v": None}
    assert os.listdir(tmp_path / "new") == ["x.json"]  # no temporary file left
    (tmp_path / "new" / "x.json").write_text("{broken")
    assert cache.load(str(tmp_path / "new"), "x.json") is None
    cache.store(None, "x.json", {})  # no cache: nothing happens
    cache.store(str(tmp_path / "new" / "x.json"), "y.json", {})  # unwritable: ignored


def test_identity_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert cache.identity(str(path)) is None
    path.write_text("1")
    first = cache.identity(str(path))
    path.write_text("22")
    assert cache.identity(str(path)) != first
    replaced = tmp_path / "g"
    replaced.write_text("22")
    os.replace(replaced, path)
    assert cache.identity(str(path)) not in (None, first)


def test_no_engine_key_without_a_dockerd_behind_the_socket(tmp_path: Path) -> None:
    # this test process is no dockerd, and a socket of its own has no pidfile to fall back on
    assert cache.engine_key(str(tmp_path / "docker.sock"), os.getpid()) is None
    assert cache.engine_key(str(tmp_path / "docker.sock"), None) is None


def test_engine_subset_keeps_what_an_inspection_reads() -> None:
    version = {
        "Version": "27.3.1",
        "ApiVersion": "1.47",
        "Os": "linux",
        "Components": [
            {"Name": "containerd", "Version": "1.7.22", "Details": {"GitCommit": "x"}},
            {"Name": "runc", "Version": "1.1.14"},
        ],
    }
    info = {"DockerRootDir": "/var/lib/docker", "Driver": "overlay2", "CgroupDriver": "systemd"}
    subset = cache.engine_subset(version, {**info, "Containers": 3})
    assert subset == {
        "version": {
            "Version": "27.3.1",
            "ApiVersion": "1.47",
            "Components": [
                {"Name": "containerd", "Version": "1.7.22"},
                {"Name": "runc", "Version": "1.1.14"},
            ],
        },
        "info": info,
    }
    assert components.engine_component(subset["version"], "runc") == "1.1.14"
