"""`pyhost inspect --root DIR`: a copy of a host's /var/lib/docker read without a daemon.

The copy is made by the test from the run's own dockerd (a container with a named volume, a
bind mount and a file written in its layer, and its image's layers), then the container and
volume are removed from Docker: only the copy is left to read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit.runtime import busybox_rootfs

pytestmark = pytest.mark.lab

IMAGE = "pyhost-offline-test/bb:1"


def pyhost(*args: str) -> subprocess.CompletedProcess[str]:
    # no daemon may be asked: DOCKER_HOST points at nothing
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.fixture(scope="module")
def evidence(
    docker_engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("offline")
    rootfs = busybox_rootfs(work / "rootfs")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True)
    subprocess.run(
        ["docker", "import", "-", IMAGE], input=tar.stdout, capture_output=True, check=True
    )
    name = f"pyhost-offline-{os.getpid()}"
    volume = f"{name}-vol"
    subprocess.run(
        [
            "docker",
            "run",
            "--name",
            name,
            "-v",
            f"{volume}:/data",
            "-v",
            f"{work}:/evidence-src:ro",
            "--memory",
            "32m",
            IMAGE,
            "sh",
            "-c",
            "echo secret > /data/f; echo written > /written",
        ],
        capture_output=True,
        check=True,
    )
    try:
        truth = json.loads(
            subprocess.run(["docker", "inspect", name], capture_output=True, check=True).stdout
        )[0]
        image = json.loads(
            subprocess.run(
                ["docker", "image", "inspect", IMAGE], capture_output=True, check=True
            ).stdout
        )[0]
        source = Path(docker_engine.info()["DockerRootDir"])
        copy = work / "disk"
        dest = copy / "var/lib/docker"
        upper = Path(truth["GraphDriver"]["Data"]["UpperDir"])
        lower = Path(image["GraphDriver"]["Data"]["UpperDir"])
        for part in (
            Path("containers") / truth["Id"],
            Path("image/overlay2"),
            Path("volumes") / volume,
            upper.parent.relative_to(source),
            lower.parent.relative_to(source),
        ):
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", str(source / part), str(dest / part)], check=True)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", volume], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", IMAGE], capture_output=True, check=False)
    yield {
        "copy": copy,
        "truth": truth,
        "image": image,
        "name": name,
        "volume": volume,
        "work": work,
    }


def test_overview_lists_images_containers_and_volumes(evidence: dict[str, Any]) -> None:
    result = pyhost("inspect", "--root", str(evidence["copy"]), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "pyhost.offline/1"
    image = next(i for i in data["images"] if i["id"] == evidence["image"]["Id"])
    assert image["names"] == [IMAGE]
    assert [layer["diff_id"] for layer in image["layers"]] == evidence["image"]["RootFS"]["Layers"]
    assert all(layer["exists"] for layer in image["layers"])  # the layer dirs were copied
    [container] = data["containers"]
    assert container["name"] == evidence["name"]
    assert container["status_at_copy"] == "exited"
    assert container["memory"] == 32 << 20
    assert container["container_layer"]["upper_size"] == len("written\n")
    mounts = {m["destination"]: m for m in container["mounts"]}
    assert mounts["/data"]["volume"] == evidence["volume"]
    assert mounts["/data"]["in_copy"] == str(
        evidence["copy"] / "var/lib/docker/volumes" / evidence["volume"] / "_data"
    )
    assert mounts["/evidence-src"]["readonly"] is True
    assert mounts["/evidence-src"]["recorded_source"] == str(evidence["work"])
    [volume] = data["volumes"]
    assert (volume["name"], volume["size"], volume["used_by"]) == (
        evidence["volume"],
        len("secret\n"),
        [evidence["name"]],
    )
    text = pyhost("inspect", "--root", str(evidence["copy"]))
    assert text.returncode == 0 and evidence["name"] in text.stdout


def test_one_container_of_the_copy(evidence: dict[str, Any]) -> None:
    result = pyhost("inspect", evidence["name"], "--root", str(evidence["copy"]), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["target"]["container"]["id"] == evidence["truth"]["Id"]
    storage = data["storage"]
    assert storage["source"] == "layerdb"
    assert [x["diff_id"] for x in storage["layers"]] == evidence["image"]["RootFS"]["Layers"]
    truth_upper = evidence["truth"]["GraphDriver"]["Data"]["UpperDir"]
    assert storage["container_layer"]["mount_id"] == Path(truth_upper).parent.name
    assert storage["container_layer"]["upper_size"] == len("written\n")
    assert data["namespaces"]["available"] is False
    assert data["components"]["available"] is False


def test_offline_bad_input(evidence: dict[str, Any], tmp_path: Path) -> None:
    empty = pyhost("inspect", "--root", str(tmp_path))
    assert empty.returncode == 2
    assert "no Docker root under" in empty.stderr
    wrong = pyhost("inspect", evidence["name"][:-1] + "x", "--root", str(evidence["copy"]))
    assert wrong.returncode == 2
    assert evidence["name"] in wrong.stderr  # the nearest name is offered
