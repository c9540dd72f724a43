"""Storage: chain ids, the overlay2 layer chain on a fake Docker root, mountinfo, mounts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyhost.inspect.collect import mountinfo, storage

pytestmark = pytest.mark.unit

# Recorded from dockerd 20.10 (layerdb/sha256/<chain id>/diff) for a two-layer image.
D0 = "sha256:a057d055c3e14bf697bbfcf82371fc3f2e46dac5e4dde715088de797f4ada570"
D1 = "sha256:b463d9054057e5c2da10917f677e5bad16365c2cf8370d83a314be0ab1a3b7ba"
C1 = "sha256:e3ca8db999950dca4da96e637f5b04d6b8aa38abb5cacb1568e1550eddf2f3ad"
IMAGE = "sha256:" + "1" * 64
CID = "c" * 64


def test_chain_ids_match_dockers_layerdb() -> None:
    assert storage.chain_ids([]) == []
    assert storage.chain_ids([D0]) == [D0]
    assert storage.chain_ids([D0, D1]) == [D0, C1]


def fake_root(tmp_path: Path, *, with_layerdb: bool = True) -> Path:
    """A Docker root with one two-layer image and one container, as overlay2 lays it out."""
    root = tmp_path / "docker"
    layout = root / "image" / "overlay2"
    content = layout / "imagedb" / "content" / "sha256"
    content.mkdir(parents=True)
    (content / IMAGE[7:]).write_text(
        json.dumps({"rootfs": {"type": "layers", "diff_ids": [D0, D1]}})
    )
    if not with_layerdb:
        return root
    for chain, cache, size in ((D0, "aaa", 100), (C1, "bbb", 20)):
        entry = layout / "layerdb" / "sha256" / chain[7:]
        entry.mkdir(parents=True)
        (entry / "cache-id").write_text(cache)
        (entry / "size").write_text(str(size))
    (root / "overlay2" / "aaa" / "diff").mkdir(parents=True)  # bbb is missing
    mounts = layout / "layerdb" / "mounts" / CID
    mounts.mkdir(parents=True)
    (mounts / "mount-id").write_text("mmm")
    (mounts / "init-id").write_text("mmm-init")
    upper = root / "overlay2" / "mmm" / "diff"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "written").write_bytes(b"x" * 1000)
    (upper / "hard").hardlink_to(upper / "etc" / "written")  # counted once
    (upper / "link").symlink_to("/etc/passwd")  # never followed
    return root


def test_layers_follow_the_chain_to_cache_dirs(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    got = storage.layers(IMAGE, str(root))
    assert got is not None
    assert [(x["chain_id"], x["cache_id"], x["size"], x["exists"]) for x in got] == [
        (D0, "aaa", 100, True),
        (C1, "bbb", 20, False),
    ]
    assert got[0]["dir"] == f"{root}/overlay2/aaa"


def test_container_layer_sizes_the_upper_dir(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    merged = f"{root}/overlay2/mmm/merged"
    host = [mountinfo.Mount(1, 0, "0:50", "/", merged, ("rw",), (), "overlay", "overlay", ())]
    got = storage.container_layer(CID, str(root), host=host)
    assert got is not None
    assert got["mount_id"] == "mmm" and got["init_id"] == "mmm-init"
    assert got["upper_size"] == 1000 and got["upper_files"] == 1
    assert got["upper_truncated"] is False and got["merged_mounted"] is True
    assert storage.container_layer("d" * 64, str(root)) is None


def test_upper_dir_walk_is_bounded(tmp_path: Path) -> None:
    for i in range(20):
        (tmp_path / f"f{i}").write_bytes(b"y")
    assert storage.dir_size(str(tmp_path), limit=5) == (5, 5, True)
    assert storage.dir_size(str(tmp_path)) == (20, 20, False)
    assert storage.dir_size(str(tmp_path / "missing")) == (0, 0, False)


ROOT_MOUNT = (
    "74 48 0:39 / / rw,relatime master:2 - overlay overlay rw,"
    "lowerdir=/var/lib/docker/overlay2/l/AAA:/var/lib/docker/overlay2/l/BBB,"
    "upperdir=/var/lib/docker/overlay2/mmm/diff,workdir=/var/lib/docker/overlay2/mmm/work\n"
)
CONTAINER_MOUNTS = ROOT_MOUNT + (
    "75 74 0:42 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "91 74 254:0 /var/lib/docker/containers/" + CID + "/hosts /etc/hosts rw - ext4 /dev/vda rw\n"
    "92 74 254:0 /var/lib/docker/volumes/data/_data /data rw shared:7 - ext4 /dev/vda rw\n"
    "93 74 254:0 /srv/my\\040files /srv ro - ext4 /dev/vda rw\n"
    "94 74 0:60 / /scratch rw - tmpfs tmpfs rw,size=1024k\n"
    "95 74 0:26 /docker.sock /run/docker.sock rw - tmpfs tmpfs rw\n"
    "54 75 0:43 /null /proc/keys rw,nosuid - tmpfs tmpfs rw\n"
)
HOST_MOUNTS = (
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "42 27 254:0 /var/lib/docker /var/lib/docker rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "50 27 0:26 / /run rw - tmpfs tmpfs rw\n"
)


def test_mountinfo_parses_escapes_propagation_and_overlay_options() -> None:
    mounts = mountinfo.parse(CONTAINER_MOUNTS)
    root = mountinfo.root_mount(mounts)
    assert root is not None and root.fstype == "overlay" and root.propagation == "slave"
    assert root.super_option("upperdir") == "/var/lib/docker/overlay2/mmm/diff"
    assert mounts[4].root == "/srv/my files" and mounts[4].readonly
    assert mounts[3].propagation == "shared"
    assert mountinfo.parse("garbage\n") == []


def test_host_paths_of_binds_volumes_and_tmpfs() -> None:
    host = mountinfo.parse(HOST_MOUNTS)
    got = {
        m["destination"]: m
        for m in storage.mounts(mountinfo.parse(CONTAINER_MOUNTS), host, "/var/lib/docker")
    }
    assert "/" not in got
    assert got["/proc"]["kind"] == "system" and got["/proc/keys"]["kind"] == "system"
    assert got["/etc/hosts"]["kind"] == "docker"
    assert got["/etc/hosts"]["host_path"] == f"/var/lib/docker/containers/{CID}/hosts"
    assert got["/data"]["kind"] == "volume" and got["/data"]["volume"] == "data"
    assert got["/srv"] == {
        "destination": "/srv",
        "kind": "bind",
        "fstype": "ext4",
        "source": "/dev/vda",
        "host_path": "/srv/my files",
        "volume": None,
        "readonly": True,
        "propagation": "private",
    }
    assert got["/scratch"]["kind"] == "tmpfs" and got["/scratch"]["host_path"] is None
    assert got["/run/docker.sock"]["host_path"] == "/run/docker.sock"


def section_with(tmp_path: Path, mounts_text: str, root: Path) -> dict[str, Any]:
    proc = tmp_path / "proc"
    for pid, text in (("7", mounts_text), ("1", HOST_MOUNTS)):
        (proc / pid).mkdir(parents=True, exist_ok=True)
        (proc / pid / "mountinfo").write_text(text)
    config = {"Id": CID, "Image": IMAGE}
    return storage.section(pid=7, config=config, root=str(root), driver="overlay2", proc=str(proc))


def test_section_findings_and_layerdb_source(tmp_path: Path) -> None:
    got = section_with(tmp_path, CONTAINER_MOUNTS, fake_root(tmp_path))
    assert got["source"] == "layerdb" and len(got["layers"]) == 2
    assert got["rootfs"]["readonly"] is False
    assert got["rootfs"]["upper_dir"] == got["container_layer"]["upper_dir"].replace(
        str(tmp_path / "docker"), "/var/lib/docker"
    )
    assert "the Docker socket is mounted at /run/docker.sock" in got["findings"]
    assert "/data is mounted with shared propagation" in got["findings"]
    assert "layer directories missing for layers [1]" in got["findings"]


def test_without_layerdb_the_root_mount_gives_the_layers(tmp_path: Path) -> None:
    """Docker's containerd image store keeps no layerdb: fall back to the overlay options."""
    got = section_with(tmp_path, ROOT_MOUNT, fake_root(tmp_path, with_layerdb=False))
    assert got["source"] == "mountinfo"
    assert [x["dir"] for x in got["layers"]] == [
        "/var/lib/docker/overlay2/l/BBB",  # bottom first: overlay lists the top layer first
        "/var/lib/docker/overlay2/l/AAA",
    ]
    assert got["container_layer"]["upper_dir"] == "/var/lib/docker/overlay2/mmm/diff"
    assert got["container_layer"]["mount_id"] is None


def test_stopped_container_mounts_come_from_the_config() -> None:
    config = {
        "Mounts": [
            {
                "Type": "volume",
                "Name": "data",
                "Source": "/v/data/_data",
                "Destination": "/d",
                "RW": True,
            },
            {"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": False},
        ]
    }
    got = storage.config_mounts(config)
    assert [(m["kind"], m["volume"], m["readonly"]) for m in got] == [
        ("volume", "data", False),
        ("bind", None, True),
    ]
    assert all(m["source"] == "engine config" for m in got)
