"""Images against the real thing: a busybox image built FROM scratch on the test run's
dockerd (three layers: a file deleted and a directory made opaque in the upper one),
``docker save`` → ``pyhost load``, OCI layouts, rootfs tarballs and directories, and pulls
from Debian's docker-registry on 127.0.0.1 (plain, multi-platform, token auth)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit.hosts import OWNER
from labkit.imagekit import layer, oci_from_docker_save, reg, sha256, tar_directory
from labkit.registry import (
    TokenServer,
    push_blob,
    push_manifest,
    start_registry,
    why_no_registry,
)

from pyhost.runtime.images import ImageStore, materialize_rootfs

pytestmark = pytest.mark.lab

BUSYBOX = Path("/bin/busybox")
TAG = f"pyhost-test-busybox:{os.getpid()}"
DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /etc/opq /usr/bin /sbin /usr/sbin \
&& /bin/busybox --install -s /bin && echo a > /etc/opq/a && echo bye > /etc/gone"]
RUN ["/bin/sh", "-c", "rm /etc/gone && rm -rf /etc/opq && mkdir /etc/opq && echo b > /etc/opq/b"]
LABEL org.example.test=pyhost
ENV GREETING=hello
WORKDIR /etc
CMD ["sh", "-c", "echo $GREETING"]
"""


def run(*argv: str, timeout: float = 180, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def pyhost(root: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYHOST_DATA_ROOT": str(root)}
    return run(sys.executable, "-m", "pyhost", *args, env=env, timeout=timeout)


def tree(root: Path) -> dict[str, tuple[str, Any]]:
    """Every entry: its kind and content (file digest, link target), for comparisons."""
    out: dict[str, tuple[str, Any]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", None)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", sha256(path.read_bytes()))
            else:
                out[rel] = ("other", st.st_mode)
    return out


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def busybox(docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The test image on the run's dockerd, removed at the end."""
    if not BUSYBOX.is_file():
        pytest.skip("no /bin/busybox: apt-get install busybox-static")
    ctx = tmp_path_factory.mktemp("busybox-ctx")
    shutil.copy2(BUSYBOX, ctx / "busybox")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    image, _ = docker_engine.images.build(path=str(ctx), tag=TAG, rm=True, forcerm=True)
    try:
        yield image
    finally:
        docker_engine.images.remove(TAG, force=True)


@pytest.fixture(scope="session")
def busybox_tar(busybox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("save") / "busybox.tar"
    res = run("docker", "save", "-o", str(path), TAG)
    assert res.returncode == 0, res.stderr
    return path


@pytest.fixture(scope="session")
def exported(docker_engine: Any, busybox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Docker's own flattened root filesystem of the image (docker create + export)."""
    container = docker_engine.containers.create(TAG, labels={OWNER: str(os.getpid())})
    path = tmp_path_factory.mktemp("export") / "busybox-rootfs.tar"
    try:
        with path.open("wb") as out:
            for chunk in container.export():
                out.write(chunk)
    finally:
        container.remove(force=True)
    return path


@pytest.fixture(scope="session")
def docker_tree(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What docker export gives, without the files Docker adds to every container."""
    dest = tmp_path_factory.mktemp("export-tree")
    with tarfile.open(exported) as tar:
        tar.extractall(dest, filter="tar")
    found = tree(dest)
    for added in (".dockerenv", "dev", "proc", "sys", "etc/hosts", "etc/hostname"):
        found = {k: v for k, v in found.items() if k != added and not k.startswith(added + "/")}
    found.pop("etc/resolv.conf", None)
    found.pop("etc/mtab", None)
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _drop_docker_additions(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in found.items() if k not in ("dev", "proc", "sys", ".dockerenv")}


# -- docker save -------------------------------------------------------------------------------


def test_load_docker_save_matches_docker(root: Path, busybox: Any, busybox_tar: Path) -> None:
    res = pyhost(root, "load", "-i", str(busybox_tar))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"Loaded image: {TAG}"
    image = ImageStore(root).resolve(TAG)
    # the image id is the digest of the config, as Docker's is
    assert image.id == busybox.id
    assert list(image.diff_ids) == busybox.attrs["RootFS"]["Layers"]
    assert len(image.layers) == 3 and all(p.is_dir() for p in image.layers)
    assert image.names == (TAG,)
    assert image.config.cmd == ("sh", "-c", "echo $GREETING")
    assert "GREETING=hello" in image.config.env
    assert image.config.working_dir == "/etc"
    assert image.config.labels == {"org.example.test": "pyhost"}
    assert image.architecture == "amd64" and image.os == "linux"
    assert (image.layers[0] / "bin" / "busybox").read_bytes() == BUSYBOX.read_bytes()
    assert os.readlink(image.layers[1] / "bin" / "sh") == "/bin/busybox"
    # every layer's content hashes to its diff_id: the tree is complete
    for path in image.layers:
        meta = json.loads((path.parent / "meta.json").read_text())
        assert meta["diff_id"] == "sha256:" + path.parent.name


def test_whiteouts_and_opaque_directory_are_kept(root: Path, busybox_tar: Path) -> None:
    image = ImageStore(root).load(busybox_tar)[0]
    top = image.layers[2]
    if image.whiteout_forms[2] == "overlay":
        gone = (top / "etc" / "gone").lstat()
        assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0 and gone.st_uid == 0
        assert os.getxattr(top / "etc" / "opq", "trusted.overlay.opaque") == b"y"
    else:
        assert (top / "etc" / ".wh.gone").is_file()
        assert (top / "etc" / "opq" / ".wh..wh..opq").is_file()
    assert (top / "etc" / "opq" / "b").read_text() == "b\n"
    assert (image.layers[1] / "etc" / "opq" / "a").read_text() == "a\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting overlayfs needs root")
def test_overlay_of_the_layers_is_what_docker_exports(
    root: Path, busybox_tar: Path, docker_tree: dict[str, Any], tmp_path: Path
) -> None:
    image = ImageStore(root).load(busybox_tar)[0]
    assert image.overlay_ready
    merged = tmp_path / "merged"
    merged.mkdir()
    lower = ":".join(str(p) for p in reversed(image.layers))
    res = run("mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower}", str(merged))
    assert res.returncode == 0, res.stderr
    try:
        found = tree(merged)
    finally:
        run("umount", str(merged))
    assert found == docker_tree
    assert "etc/gone" not in found and "etc/opq/a" not in found


def test_materialized_rootfs_is_what_docker_exports(
    root: Path, busybox_tar: Path, docker_tree: dict[str, Any], tmp_path: Path
) -> None:
    image = ImageStore(root).load(busybox_tar)[0]
    materialize_rootfs(image.layers, tmp_path / "flat")
    assert tree(tmp_path / "flat") == docker_tree


def test_tar_form_store_materializes_the_same_rootfs(
    root: Path, busybox_tar: Path, docker_tree: dict[str, Any], tmp_path: Path
) -> None:
    """The form a non-root store keeps (marker files) flattens to the same tree."""
    image = ImageStore(root, whiteout_form="tar").load(busybox_tar)[0]
    assert image.whiteout_forms == ("tar", "tar", "tar") and not image.overlay_ready
    assert (image.layers[2] / "etc" / ".wh.gone").is_file()
    materialize_rootfs(image.layers, tmp_path / "flat")
    assert tree(tmp_path / "flat") == docker_tree


def test_second_load_unpacks_nothing(root: Path, busybox_tar: Path) -> None:
    start = time.perf_counter()
    first = ImageStore(root).load(busybox_tar)[0]
    first_s = time.perf_counter() - start
    inodes = [p.stat().st_ino for p in first.layers]
    start = time.perf_counter()
    second = ImageStore(root).load(busybox_tar)[0]
    second_s = time.perf_counter() - start
    assert second == first
    assert [p.stat().st_ino for p in second.layers] == inodes
    assert second_s < first_s
    assert list((root / "layers" / "tmp").iterdir()) == []


# -- OCI layouts -------------------------------------------------------------------------------


def _oci_with_docker_config(busybox_tar: Path, dest: Path, how: str) -> None:
    """An OCI layout of the image whose config is Docker's, byte for byte."""
    oci_from_docker_save(busybox_tar, dest, how=how)
    with tarfile.open(busybox_tar) as tar:
        entry = json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = tar.extractfile(entry["Config"]).read()  # type: ignore[union-attr]
    index = json.loads((dest / "index.json").read_text())
    blobs = dest / "blobs" / "sha256"
    man_digest = index["manifests"][0]["digest"]
    manifest = json.loads((blobs / man_digest.split(":")[1]).read_bytes())
    (blobs / sha256(config).split(":")[1]).write_bytes(config)
    manifest["config"]["digest"] = sha256(config)
    manifest["config"]["size"] = len(config)
    body = json.dumps(manifest).encode()
    (blobs / sha256(body).split(":")[1]).write_bytes(body)
    index["manifests"][0]["digest"] = sha256(body)
    index["manifests"][0]["size"] = len(body)
    (dest / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("how", ["gzip", "zstd", "none"])
def test_oci_layout_directory(
    root: Path, busybox: Any, busybox_tar: Path, tmp_path: Path, how: str
) -> None:
    if how == "zstd" and shutil.which("zstd") is None:
        pytest.skip("no zstd command to write the test layout")
    layout = tmp_path / "layout"
    _oci_with_docker_config(busybox_tar, layout, how)
    res = pyhost(root, "load", "-i", str(layout))
    assert res.returncode == 0, res.stderr
    image = ImageStore(root).resolve(TAG)
    assert image.id == busybox.id
    assert list(image.diff_ids) == busybox.attrs["RootFS"]["Layers"]


def test_oci_layout_tar(root: Path, busybox: Any, busybox_tar: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    _oci_with_docker_config(busybox_tar, layout, "gzip")
    archive = tmp_path / "busybox-oci.tar"
    tar_directory(layout, archive)
    images = ImageStore(root).load(archive)
    assert [i.id for i in images] == [busybox.id]
    assert images[0].names == (TAG,)


# -- rootfs ------------------------------------------------------------------------------------


def test_rootfs_tarball_named_from_the_file(
    root: Path, exported: Path, docker_tree: dict[str, Any], tmp_path: Path
) -> None:
    res = pyhost(root, "load", "-i", str(exported))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "Loaded image: busybox-rootfs:latest"
    image = ImageStore(root).resolve("busybox-rootfs")
    assert len(image.layers) == 1
    assert image.diff_ids[0] == sha256(exported.read_bytes())
    assert _drop_docker_additions(tree(image.layers[0])).keys() >= docker_tree.keys()


def test_rootfs_tarball_gzip_with_tag(root: Path, exported: Path, tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "x.tar.gz"
    gz.write_bytes(gzip.compress(exported.read_bytes(), mtime=0))
    image = ImageStore(root).load(gz, tag="base:1")[0]
    assert image.names == ("base:1",)
    assert image.diff_ids[0] == sha256(exported.read_bytes())  # the diff_id is uncompressed


def test_rootfs_directory(root: Path, exported: Path, tmp_path: Path) -> None:
    src = tmp_path / "rootfs"
    src.mkdir()
    with tarfile.open(exported) as tar:
        tar.extractall(src, filter="tar")
    res = pyhost(root, "load", "-i", str(src), "--tag", "mine:2")
    assert res.returncode == 0, res.stderr
    image = ImageStore(root).resolve("mine:2")
    assert tree(image.layers[0]) == tree(src)


# -- the command line ---------------------------------------------------------------------------


def test_images_rmi_and_not_found(root: Path, busybox: Any, busybox_tar: Path) -> None:
    assert pyhost(root, "load", "-i", str(busybox_tar)).returncode == 0
    listing = pyhost(root, "images")
    assert listing.returncode == 0
    header, row = listing.stdout.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    repo, tag = TAG.split(":")
    assert row.split()[:3] == [repo, tag, busybox.id.split(":")[1][:12]]
    assert row.split()[-1].endswith("MB")
    doc = json.loads(pyhost(root, "images", "--json").stdout)
    assert doc["schema"] == "pyhost.images/1"
    assert doc["images"][0]["id"] == busybox.id
    assert pyhost(root, "images", "-q").stdout.split() == [busybox.id.split(":")[1][:12]]

    missing = pyhost(root, "rmi", "pyhost-test-busybx:" + tag)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert f"nearest: {TAG}" in missing.stderr

    removed = pyhost(root, "rmi", TAG)
    assert removed.returncode == 0, removed.stderr
    lines = removed.stdout.splitlines()
    assert lines[0] == f"Untagged: {TAG}"
    assert lines[1] == f"Deleted: {busybox.id}"
    assert sum(line.startswith("Deleted: layer") for line in lines) == 3
    assert list((root / "layers" / "sha256").iterdir()) == []
    assert pyhost(root, "images", "-q").stdout == ""


# -- registry ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def registry(lab_workdir: Path) -> Iterator[Any]:
    problem = why_no_registry()
    if problem:
        pytest.skip(problem)
    reg_ = start_registry(lab_workdir / "registry", lab_workdir / "registry" / "storage")
    try:
        yield reg_
    finally:
        reg_.stop()


@pytest.fixture(scope="session")
def pushed(docker_engine: Any, busybox: Any, registry: Any) -> str:
    """The busybox image pushed to the local registry by dockerd itself."""
    remote = f"{registry.address}/lab/busybox:1"
    busybox.tag(remote)
    try:
        res = run("docker", "push", remote)
        assert res.returncode == 0, res.stderr + res.stdout
    finally:
        docker_engine.images.remove(remote)
    return remote


def test_pull_from_a_local_registry(root: Path, busybox: Any, pushed: str) -> None:
    res = pyhost(root, "pull", pushed)
    assert res.returncode == 0, res.stderr
    image = ImageStore(root).resolve(pushed)
    assert image.id == busybox.id
    assert list(image.diff_ids) == busybox.attrs["RootFS"]["Layers"]
    assert image.names == (pushed,)
    # a second pull downloads the manifest and config only
    again = ImageStore(root).pull(pushed)
    assert again == image


def _image_parts(arch: str) -> tuple[bytes, bytes]:
    tar = layer(reg("arch", arch.encode()))
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/arch"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    ).encode()
    return tar, config


@pytest.fixture(scope="session")
def multi_arch(registry: Any) -> str:
    """An OCI index with amd64, arm64/v8 and an unknown/unknown attestation manifest."""
    repo = "lab/multi"
    entries = []
    for arch, variant in (("amd64", None), ("arm64", "v8"), ("unknown", None)):
        tar, config = _image_parts(arch)
        layer_digest = push_blob(registry.address, repo, tar)
        config_digest = push_blob(registry.address, repo, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest,
                        "size": len(tar),
                    }
                ],
            }
        ).encode()
        digest = push_manifest(
            registry.address,
            repo,
            sha256(manifest),
            manifest,
            "application/vnd.oci.image.manifest.v1+json",
        )
        plat: dict[str, str] = {"os": arch if arch == "unknown" else "linux", "architecture": arch}
        if variant:
            plat["variant"] = variant
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": len(manifest),
                "platform": plat,
            }
        )
    # the attestation first: it must be skipped, not taken
    entries.insert(0, entries.pop())
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    push_manifest(registry.address, repo, "1", index, "application/vnd.oci.image.index.v1+json")
    return f"{registry.address}/{repo}:1"


def test_pull_chooses_this_machines_platform(root: Path, multi_arch: str) -> None:
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the index has amd64 and arm64 images; this test expects x86_64")
    image = ImageStore(root).pull(multi_arch)
    assert image.architecture == "amd64"
    assert (image.layers[0] / "arch").read_text() == "amd64"


def test_pull_with_platform(root: Path, multi_arch: str) -> None:
    res = pyhost(root, "pull", multi_arch, "--platform", "linux/arm64")
    assert res.returncode == 0, res.stderr
    image = ImageStore(root).resolve(multi_arch)
    assert image.architecture == "arm64"
    assert (image.layers[0] / "arch").read_text() == "arm64"


def test_pull_of_a_platform_the_index_lacks(root: Path, multi_arch: str) -> None:
    res = pyhost(root, "pull", multi_arch, "--platform", "linux/s390x")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "has no linux/s390x image; it has: linux/amd64, linux/arm64/v8" in res.stderr


def test_pull_of_a_missing_tag(root: Path, registry: Any) -> None:
    res = pyhost(root, "pull", f"{registry.address}/lab/nothing:here")
    assert res.returncode == 2
    assert "not found on" in res.stderr and res.stderr.count("\n") == 1


@pytest.fixture(scope="session")
def token_registry(lab_workdir: Path, registry: Any, pushed: str) -> Iterator[Any]:
    """A second registry on the same storage that wants bearer tokens."""
    tokens = TokenServer(lab_workdir / "token")
    tokens.start()
    try:
        reg_ = start_registry(
            lab_workdir / "registry-auth",
            lab_workdir / "registry" / "storage",
            auth={"realm": tokens.realm, "bundle": tokens.bundle},
        )
        try:
            yield reg_, tokens
        finally:
            reg_.stop()
    finally:
        tokens.stop()


def test_pull_with_token_auth(root: Path, busybox: Any, token_registry: Any) -> None:
    reg_, tokens = token_registry
    import urllib.error
    import urllib.request

    # without a token the registry says 401 with a Bearer challenge
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"http://{reg_.address}/v2/lab/busybox/manifests/1", timeout=10)
    assert denied.value.code == 401
    assert denied.value.headers["WWW-Authenticate"].startswith("Bearer realm=")
    before = len(tokens.requests)
    res = pyhost(root, "pull", f"{reg_.address}/lab/busybox:1")
    assert res.returncode == 0, res.stderr
    image = ImageStore(root).resolve(f"{reg_.address}/lab/busybox:1")
    assert image.id == busybox.id
    asked = tokens.requests[before:]
    assert len(asked) == 1, "the token is fetched once and reused for every blob"
    assert asked[0]["scope"] == ["repository:lab/busybox:pull"]
    assert asked[0]["service"] == ["pyhost-test-registry"]


# -- redirects ---------------------------------------------------------------------------------


class _Recorder:
    """A loopback HTTP server that redirects /same and /away, and records what reaches it."""

    def __init__(self, host: str, target: str | None = None) -> None:
        import http.server
        import threading

        self.seen: list[tuple[str, str | None]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.seen.append((self.path, self.headers.get("Authorization")))
                if self.path == "/same":
                    self.send_response(307)
                    self.send_header("Location", "/landed")
                elif self.path == "/away" and target is not None:
                    self.send_response(307)
                    self.send_header("Location", f"{target}/landed")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def test_authorization_never_follows_a_redirect_to_another_host() -> None:
    from pyhost.runtime.images.refs import parse_reference
    from pyhost.runtime.images.registry import RegistryClient

    other = _Recorder("127.0.0.2")
    try:
        first = _Recorder("127.0.0.1", target=other.url)
        try:
            client = RegistryClient(parse_reference("127.0.0.1:1/x"), timeout=10)
            client.token = "secret-token"
            with client._open(first.url + "/same", None, "same host"):
                pass
            with client._open(first.url + "/away", None, "other host"):
                pass
        finally:
            first.stop()
        assert first.seen == [
            ("/same", "Bearer secret-token"),
            ("/landed", "Bearer secret-token"),  # the same host keeps it
            ("/away", "Bearer secret-token"),
        ]
        assert other.seen == [("/landed", None)]  # another host never sees it
    finally:
        other.stop()


# -- as a normal user, in parallel, killed -----------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_a_normal_user_store_keeps_the_tar_form(
    busybox_tar: Path, docker_tree: dict[str, Any]
) -> None:
    """As nobody: no overlay whiteouts can be made; the marker files flatten to Docker's tree."""
    if not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None:
        pytest.skip("needs /usr/bin/python3 and setpriv")
    if any(
        not os.access(p, os.R_OK | os.X_OK) or p.stat().st_mode & 0o005 != 0o005
        for p in [REPO, *REPO.parents]
        if p != Path("/")
    ):
        pytest.skip("the checkout is not readable by other users")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="pyhost-nobody-"))  # pytest's own tmp is root-only
    try:
        _as_nobody(base, busybox_tar, docker_tree)
    finally:
        shutil.rmtree(base)


def _as_nobody(base: Path, busybox_tar: Path, docker_tree: dict[str, Any]) -> None:
    os.chmod(base, 0o755)
    work = base / "nobody"
    work.mkdir()
    archive = work / "busybox.tar"
    shutil.copy2(busybox_tar, archive)
    os.chmod(archive, 0o644)
    shutil.chown(work, 65534, 65534)
    script = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from pathlib import Path\n"
        "from pyhost.runtime.images import ImageStore, materialize_rootfs\n"
        f"work = Path({str(work)!r})\n"
        "image = ImageStore(work / 'store').load(work / 'busybox.tar')[0]\n"
        "materialize_rootfs(image.layers, work / 'flat')\n"
        "layers = [str(p) for p in image.layers]\n"
        "print(json.dumps({'forms': image.whiteout_forms, 'layers': layers}))\n"
    )
    res = run(
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        str(SYSTEM_PYTHON),
        "-I",
        "-c",
        script,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["forms"] == ["tar", "tar", "tar"]
    top = Path(result["layers"][2])
    assert (top / "etc" / ".wh.gone").is_file()
    assert (top / "etc" / "opq" / ".wh..wh..opq").is_file()
    assert tree(work / "flat") == docker_tree
    assert (work / "flat" / "bin" / "busybox").stat().st_uid == 65534


def test_parallel_loads_share_one_copy(busybox_tar: Path, root: Path, busybox: Any) -> None:
    env = {**os.environ, "PYHOST_DATA_ROOT": str(root)}
    argv = [sys.executable, "-m", "pyhost", "load", "-i", str(busybox_tar)]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == f"Loaded image: {TAG}"
    layers = sorted(p.name for p in (root / "layers" / "sha256").iterdir())
    assert layers == sorted(d.split(":")[1] for d in busybox.attrs["RootFS"]["Layers"])
    assert list((root / "layers" / "tmp").iterdir()) == []
    assert [i.id for i in ImageStore(root).images()] == [busybox.id]


def test_a_killed_load_leaves_no_half_layer(tmp_path: Path, root: Path) -> None:
    """SIGKILL in the middle of unpacking: layers are complete or absent; the next load
    cleans up and finishes."""
    import signal

    from labkit.imagekit import directory, write_oci_layout

    files = [directory("d")] + [reg(f"d/f{i}", bytes([i % 251]) * 65536) for i in range(3000)]
    layout = tmp_path / "big"
    write_oci_layout(layout, [layer(reg("small", b"s")), layer(*files)], name="big/one:1")
    env = {**os.environ, "PYHOST_DATA_ROOT": str(root)}
    argv = [sys.executable, "-m", "pyhost", "load", "-i", str(layout)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    tmp = root / "layers" / "tmp"
    while time.monotonic() < deadline:  # wait until the big layer is being unpacked
        if tmp.is_dir() and any(
            (p / "diff" / "d").is_dir() and len(os.listdir(p / "diff" / "d")) > 200
            for p in tmp.iterdir()
            if p.name.startswith("layer-")
        ):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    for layer_dir in (root / "layers" / "sha256").iterdir():
        meta = json.loads((layer_dir / "meta.json").read_text())  # complete, or not there
        assert meta["diff_id"].endswith(layer_dir.name)
    assert not (root / "images" / "sha256").exists() or not list(
        (root / "images" / "sha256").iterdir()
    )
    image = ImageStore(root).load(layout)[0]
    assert len(os.listdir(image.layers[1] / "d")) == 3000
    assert list(tmp.iterdir()) == []


class _FakeRegistry:
    """A loopback 'registry' that serves what the test says, lies included."""

    def __init__(self, routes: dict[str, tuple[bytes, dict[str, str]]]) -> None:
        import http.server
        import threading

        self.routes = routes
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, headers = fake.routes.get(self.path, (b"", {}))
                self.send_response(200 if self.path in fake.routes else 404)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _fake_image(lie: str) -> dict[str, tuple[bytes, dict[str, str]]]:
    import gzip

    tar = layer(reg("hello", b"world"))
    blob = gzip.compress(tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": sha256(config), "size": len(config)},
            "layers": [{"digest": sha256(blob), "size": len(blob)}],
        }
    ).encode()
    served_blob = gzip.compress(layer(reg("hello", b"WORLD")), mtime=0) if lie == "blob" else blob
    header = sha256(b"other") if lie == "manifest" else sha256(manifest)
    return {
        "/v2/lab/fake/manifests/1": (
            manifest,
            {
                "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
                "Docker-Content-Digest": header,
            },
        ),
        f"/v2/lab/fake/blobs/{sha256(config)}": (config, {}),
        f"/v2/lab/fake/blobs/{sha256(blob)}": (served_blob, {}),
    }


@pytest.mark.parametrize(
    ("lie", "said"),
    [
        ("blob", "does not match the manifest's"),
        ("manifest", "content has digest"),
    ],
)
def test_pull_refuses_content_that_does_not_match_its_digest(
    root: Path, lie: str, said: str
) -> None:
    fake = _FakeRegistry(_fake_image(lie))
    try:
        res = pyhost(root, "pull", f"{fake.address}/lab/fake:1")
    finally:
        fake.stop()
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and said in res.stderr
    assert "refusing this image" in res.stderr
    assert not (root / "images" / "sha256").exists() or not list(
        (root / "images" / "sha256").iterdir()
    )
    assert not list((root / "layers" / "sha256").iterdir())
    assert not list((root / "layers" / "tmp").iterdir())


def test_pull_from_the_fake_registry_when_it_tells_the_truth(root: Path) -> None:
    fake = _FakeRegistry(_fake_image("none"))
    try:
        image = ImageStore(root).pull(f"{fake.address}/lab/fake:1")
    finally:
        fake.stop()
    assert (image.layers[0] / "hello").read_bytes() == b"world"
