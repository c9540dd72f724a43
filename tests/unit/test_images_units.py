"""Images without root, Docker or network: references, manifests, platform choice,
WWW-Authenticate, member names, and the store over synthetic layouts built in the test."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from labkit.imagekit import directory, layer, reg, sha256, symlink, write_oci_layout

from pyhost.cli.images_common import human_age, human_size
from pyhost.runtime.images import (
    ImageError,
    ImageInUse,
    ImageNotFound,
    ImageStore,
    default_store_root,
    materialize_rootfs,
)
from pyhost.runtime.images.extract import _Refused, components
from pyhost.runtime.images.platforms import (
    Platform,
    choose_manifest,
    default_platform,
    parse_platform,
)
from pyhost.runtime.images.refs import name_from_file, normalize_name, parse_reference
from pyhost.runtime.images.registry import is_local_registry, parse_www_authenticate
from pyhost.runtime.images.sources import manifest_layers
from pyhost.runtime.images.streams import compression_of

pytestmark = pytest.mark.unit

HEX = "a" * 64


# -- references --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "domain", "path", "tag", "digest", "name"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", None, "busybox:latest"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None, "busybox:1.36"),
        ("library/busybox", "docker.io", "library/busybox", "latest", None, "busybox:latest"),
        (
            "docker.io/library/busybox",
            "docker.io",
            "library/busybox",
            "latest",
            None,
            "busybox:latest",
        ),
        (
            "index.docker.io/library/debian:12",
            "docker.io",
            "library/debian",
            "12",
            None,
            "debian:12",
        ),
        ("grafana/grafana:11", "docker.io", "grafana/grafana", "11", None, "grafana/grafana:11"),
        (
            "registry:5000/ns/name:tag",
            "registry:5000",
            "ns/name",
            "tag",
            None,
            "registry:5000/ns/name:tag",
        ),
        ("localhost/app", "localhost", "app", "latest", None, "localhost/app:latest"),
        (
            "127.0.0.1:5000/a/b/c:v1.2-rc",
            "127.0.0.1:5000",
            "a/b/c",
            "v1.2-rc",
            None,
            "127.0.0.1:5000/a/b/c:v1.2-rc",
        ),
        ("ghcr.io/org/app", "ghcr.io", "org/app", "latest", None, "ghcr.io/org/app:latest"),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None, "[::1]:5000/app:1"),
        (f"app@sha256:{HEX}", "docker.io", "library/app", None, f"sha256:{HEX}", "app:latest"),
        (f"h.io/app:2@sha256:{HEX}", "h.io", "app", "2", f"sha256:{HEX}", "h.io/app:2"),
        (
            "my_app__x-y.z",
            "docker.io",
            "library/my_app__x-y.z",
            "latest",
            None,
            "my_app__x-y.z:latest",
        ),
    ],
)
def test_parse_reference(
    ref: str, domain: str, path: str, tag: str | None, digest: str | None, name: str
) -> None:
    parsed = parse_reference(ref)
    assert (parsed.domain, parsed.path, parsed.tag, parsed.digest) == (domain, path, tag, digest)
    assert parsed.name == name


def test_docker_hub_endpoint_and_reference() -> None:
    ref = parse_reference("busybox")
    assert ref.endpoint == "registry-1.docker.io" and ref.reference == "latest"
    assert parse_reference(f"a@sha256:{HEX}").reference == f"sha256:{HEX}"
    assert parse_reference("registry:5000/x").endpoint == "registry:5000"


@pytest.mark.parametrize(
    "ref", ["", "Busybox", "a b", "app@sha256:abc", "app:", "/app", "app//x", "app:-bad", "a:b:c"]
)
def test_bad_references(ref: str) -> None:
    with pytest.raises(ImageError) as caught:
        parse_reference(ref)
    assert caught.value.exit_status == 2
    assert "\n" not in caught.value.one_line()


def test_normalize_and_names_from_files() -> None:
    assert normalize_name("docker.io/library/busybox") == "busybox:latest"
    assert name_from_file("alpine-minirootfs-3.20.tar.gz") == "alpine-minirootfs-3.20:latest"
    assert name_from_file("/x/My Root FS.tar") == "my-root-fs:latest"
    assert name_from_file("rootfs.tgz") == "rootfs:latest"
    with pytest.raises(ImageError):
        name_from_file("___.tar")


# -- WWW-Authenticate, registries ---------------------------------------------------------


def test_www_authenticate_bearer() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull,push"'
    )
    scheme, params = parse_www_authenticate(header)
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/busybox:pull,push",
    }


def test_www_authenticate_spaces_escapes_and_unquoted() -> None:
    scheme, params = parse_www_authenticate(
        'Bearer realm = "http://127.0.0.1:1/t" , service=reg, error="insufficient_scope",'
        ' note="a \\"quoted\\" word"'
    )
    assert scheme == "bearer"
    assert params["realm"] == "http://127.0.0.1:1/t"
    assert params["service"] == "reg"
    assert params["error"] == "insufficient_scope"
    assert params["note"] == 'a "quoted" word'
    assert parse_www_authenticate('Basic realm="Registry"') == ("basic", {"realm": "Registry"})


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("127.0.0.1:5000", True),
        ("127.5.6.7", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("registry-1.docker.io", False),
        ("10.0.0.1:5000", False),
        ("128.0.0.1", False),
    ],
)
def test_local_registries_speak_http(endpoint: str, local: bool) -> None:
    assert is_local_registry(endpoint) is local


# -- platforms and manifests -------------------------------------------------------------------


def _desc(os_: str, arch: str, variant: str | None = None, digest: str = "d") -> dict[str, object]:
    plat: dict[str, str] = {"os": os_, "architecture": arch}
    if variant:
        plat["variant"] = variant
    return {"digest": digest, "platform": plat}


INDEX = [
    _desc("unknown", "unknown", digest="attestation"),
    _desc("linux", "amd64", digest="amd64"),
    _desc("linux", "arm", "v6", digest="armv6"),
    _desc("linux", "arm", "v7", digest="armv7"),
    _desc("linux", "arm64", "v8", digest="arm64"),
    _desc("windows", "amd64", digest="win"),
]


@pytest.mark.parametrize(
    ("want", "digest"),
    [
        ("linux/amd64", "amd64"),
        ("linux/arm64", "arm64"),
        ("linux/arm64/v8", "arm64"),
        ("linux/arm/v7", "armv7"),
        ("linux/arm/v6", "armv6"),
        ("windows/amd64", "win"),
        ("arm64", "arm64"),
        ("linux/x86_64", "amd64"),
    ],
)
def test_choose_manifest(want: str, digest: str) -> None:
    assert choose_manifest(INDEX, parse_platform(want), what="img")["digest"] == digest


def test_choose_manifest_skips_attestations_and_lists_what_there_is() -> None:
    with pytest.raises(ImageError) as caught:
        choose_manifest(INDEX, parse_platform("linux/s390x"), what="busybox:latest")
    line = caught.value.one_line()
    assert "busybox:latest has no linux/s390x image; it has: linux/amd64, linux/arm/v6" in line
    assert "unknown" not in line
    with pytest.raises(ImageError):
        choose_manifest(INDEX[:1], parse_platform("linux/amd64"), what="x")


def test_an_index_of_one_manifest_without_platform() -> None:
    assert choose_manifest([{"digest": "only"}], parse_platform("linux/amd64"), what="x") == {
        "digest": "only"
    }


def test_default_platform_is_linux_and_goarch() -> None:
    plat = default_platform()
    assert plat.os == "linux"
    assert plat.architecture in ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"
    with pytest.raises(ImageError):
        parse_platform("linux/")


def test_manifest_layers() -> None:
    manifest = {
        "schemaVersion": 2,
        "config": {"digest": f"sha256:{'c' * 64}"},
        "layers": [{"digest": f"sha256:{'1' * 64}"}, {"digest": f"sha256:{'2' * 64}"}],
    }
    assert manifest_layers(manifest, "m") == (
        f"sha256:{'c' * 64}",
        [f"sha256:{'1' * 64}", f"sha256:{'2' * 64}"],
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"schemaVersion": 1, "fsLayers": []},
        {"schemaVersion": 2, "config": {"digest": "sha256:../../../etc/passwd"}, "layers": []},
        {
            "schemaVersion": 2,
            "config": {"digest": f"sha256:{HEX}"},
            "layers": [{"digest": "md5:x"}],
        },
        {"schemaVersion": 2, "layers": []},
    ],
)
def test_bad_manifests_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ImageError):
        manifest_layers(bad, "m")


def test_compression_by_magic() -> None:
    import gzip

    assert compression_of(gzip.compress(b"x")) == "gzip"
    assert compression_of(b"\x28\xb5\x2f\xfd....") == "zstd"
    assert compression_of(b"BZh91AY") == "bzip2"
    assert compression_of(b"\xfd7zXZ\x00") == "xz"
    assert compression_of(layer(reg("a", b"x"))[:6]) is None


@pytest.mark.parametrize(
    ("name", "is_dir", "expected"),
    [
        ("a/b/c", False, ("a", "b", "c")),
        ("./a//b/./c", False, ("a", "b", "c")),
        (".", True, ()),
        ("./", True, ()),
        ("", True, ()),
    ],
)
def test_member_components(name: str, is_dir: bool, expected: tuple[str, ...]) -> None:
    assert components(name, allow_root=is_dir) == expected


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("../x", "escapes"),
        ("a/../../x", "escapes"),
        ("a\x00b", "NUL"),
        (".", "layer root"),
    ],
)
def test_member_components_refused(name: str, why: str) -> None:
    with pytest.raises(_Refused) as caught:
        components(name, allow_root=False)
    assert why in caught.value.reason


def test_human_units() -> None:
    assert human_size(0) == "0B"
    assert human_size(4_260_000) == "4.26MB"
    assert human_size(1_982_265) == "1.98MB"
    assert human_size(999) == "999B"
    now = 1_700_000_000.0
    assert human_age("2023-11-14T22:13:20Z", now) == "Less than a second ago"
    assert human_age("2023-11-14T21:13:20.123Z", now) == "1 hour ago"
    assert human_age("2023-11-11T22:13:20Z", now) == "3 days ago"
    assert human_age("", now) == "N/A"


# -- the store over synthetic images -------------------------------------------------------------


def _layout(path: Path, *tars: bytes, name: str | None = "test/img:1", **kw: object) -> Path:
    write_oci_layout(path, list(tars), name=name, **kw)  # type: ignore[arg-type]
    return path


BASE = layer(directory("etc"), reg("etc/base", b"base"), reg("etc/keep", b"keep"))


def test_resolve_by_name_and_id(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    image = store.load(_layout(tmp_path / "l", BASE))[0]
    assert image.names == ("test/img:1",)
    assert store.resolve("test/img:1") == image
    assert store.resolve("docker.io/test/img:1") == image
    assert store.resolve(image.id) == image
    assert store.resolve(image.id.split(":")[1][:4]) == image
    with pytest.raises(ImageNotFound) as caught:
        store.resolve("test/imgg:1")
    assert "nearest: test/img:1" in caught.value.one_line()
    with pytest.raises(ImageNotFound):
        store.resolve("test/img")  # :latest is not there
    with pytest.raises(ImageNotFound):
        store.resolve("fff")  # too short for an id; no such name


def test_ambiguous_id_prefix(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    image = store.load(_layout(tmp_path / "l", BASE))[0]
    hexid = image.id.split(":")[1]
    configs = tmp_path / "s" / "images" / "sha256"
    twin = hexid[:8] + ("0" if hexid[8] != "0" else "1") + hexid[9:]
    (configs / f"{twin}.json").write_bytes((configs / f"{hexid}.json").read_bytes())
    with pytest.raises(ImageNotFound, match="ambiguous") as caught:
        store.resolve(hexid[:6])
    assert hexid[:12] in caught.value.one_line() and twin[:12] in caught.value.one_line()
    assert store.resolve(hexid[:9]) == image


def test_remove_keeps_shared_layers_and_other_names(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    top1 = layer(reg("one", b"1"))
    top2 = layer(reg("two", b"2"))
    a = store.load(_layout(tmp_path / "a", BASE, top1, name="t/a:1"), tag="t/alias:1")[0]
    b = store.load(_layout(tmp_path / "b", BASE, top2, name="t/b:1"))[0]
    assert a.names == ("t/a:1", "t/alias:1")
    assert a.diff_ids[0] == b.diff_ids[0]
    assert store.remove("t/alias:1") == ["Untagged: t/alias:1"]
    assert store.remove("t/a:1") == [
        "Untagged: t/a:1",
        f"Deleted: {a.id}",
        f"Deleted: layer {sha256(top1)}",
    ]
    assert b.layers[0].is_dir() and b.layers[1].is_dir()
    assert not a.layers[1].exists()
    assert [i.id for i in store.images()] == [b.id]
    with pytest.raises(ImageNotFound):
        store.remove("t/a:1")


def test_remove_refused_while_in_use(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    image = store.load(_layout(tmp_path / "l", BASE))[0]
    with pytest.raises(ImageInUse) as caught:
        store.remove("test/img:1", in_use=lambda image_id: image_id == image.id)
    assert caught.value.exit_status == 2
    assert store.resolve("test/img:1") == image  # nothing changed
    assert store.remove(image.id[7:15], in_use=lambda _id: False)[0] == "Untagged: test/img:1"


def test_names_index_is_0644_and_complete(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    image = store.load(_layout(tmp_path / "l", BASE))[0]
    index = tmp_path / "s" / "images" / "names.json"
    assert stat.S_IMODE(index.stat().st_mode) == 0o644
    assert json.loads(index.read_text())["names"] == {"test/img:1": image.id}
    assert [p.name for p in index.parent.iterdir() if p.name.endswith(".tmp")] == []
    config = tmp_path / "s" / "images" / "sha256" / (image.id.split(":")[1] + ".json")
    assert sha256(config.read_bytes()) == image.id


def test_docker_25_archive_flavour(tmp_path: Path) -> None:
    """docker save of Docker >= 25: manifest.json naming blobs/sha256/..., plus index.json."""
    layout = _layout(tmp_path / "l", BASE, how="none", name="docker.io/library/app:3")
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    entry = {
        "Config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1],
        "RepoTags": ["app:3"],
        "Layers": ["blobs/sha256/" + d["digest"].split(":")[1] for d in manifest["layers"]],
    }
    (layout / "manifest.json").write_text(json.dumps([entry]))
    archive = tmp_path / "app.tar"
    with tarfile.open(archive, "w") as tar:
        for entry_name in ("blobs", "index.json", "manifest.json", "oci-layout"):
            tar.add(layout / entry_name, arcname=entry_name)
    image = ImageStore(tmp_path / "s").load(archive)[0]
    assert image.names == ("app:3",)
    assert image.id == manifest["config"]["digest"]
    assert (image.layers[0] / "etc" / "base").read_bytes() == b"base"


def test_oci_names_from_annotations(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    only_tag = store.load(_layout(tmp_path / "a", BASE, name="latest"))[0]
    assert only_tag.names == ()  # a bare tag names no repository
    tagged = store.load(_layout(tmp_path / "b", BASE, name="latest"), tag="mine")[0]
    assert tagged.names == ("mine:latest",)


@pytest.mark.parametrize("form", ["tar", "overlay"])
def test_whiteouts_apply_to_lower_layers_only(tmp_path: Path, form: str) -> None:
    if form == "overlay" and os.geteuid() != 0:
        pytest.skip("the overlay form needs root")
    lower = layer(
        directory("etc"),
        reg("etc/base", b"base"),
        reg("etc/keep", b"keep"),
        directory("opq"),
        reg("opq/old", b"old"),
        symlink("lnk", "/etc"),
    )
    upper = layer(
        reg("etc/.wh.base"),
        reg("etc/new", b"new"),
        reg("etc/.wh.new"),  # a whiteout never deletes this layer's own entry
        directory("opq"),
        reg("opq/.wh..wh..opq"),
        reg("opq/fresh", b"fresh"),
        directory("lnk"),  # a directory over a lower symlink: never written through
        reg("lnk/inside", b"in"),
    )
    store = ImageStore(tmp_path / "s", whiteout_form=form)
    image = store.load(_layout(tmp_path / "l", lower, upper))[0]
    assert image.whiteout_forms == (form, form)
    flat = tmp_path / "flat"
    materialize_rootfs(image.layers, flat)
    assert sorted(p.name for p in (flat / "etc").iterdir()) == ["keep", "new"]
    assert sorted(p.name for p in (flat / "opq").iterdir()) == ["fresh"]
    assert (flat / "lnk").is_dir() and not (flat / "lnk").is_symlink()
    assert (flat / "lnk" / "inside").read_bytes() == b"in"


def test_rootfs_name_needed_or_derived(tmp_path: Path) -> None:
    tar = tmp_path / "tiny-root.tar"
    tar.write_bytes(layer(directory("bin"), reg("bin/true", b"#!", mode=0o755)))
    image = ImageStore(tmp_path / "s").load(tar)[0]
    assert image.names == ("tiny-root:latest",)
    assert image.config.env and image.architecture == default_platform().architecture
    assert stat.S_IMODE((image.layers[0] / "bin" / "true").stat().st_mode) == 0o755


def test_not_a_tar(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar archive at all" * 40)
    with pytest.raises(ImageError) as caught:
        ImageStore(tmp_path / "s").load(junk)
    assert "\n" not in caught.value.one_line()


def test_default_store_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYHOST_DATA_ROOT", str(tmp_path / "x"))
    assert default_store_root() == tmp_path / "x"
    monkeypatch.delenv("PYHOST_DATA_ROOT")
    if os.geteuid() == 0:
        assert default_store_root() == Path("/var/lib/pyhost")
    else:
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert default_store_root() == tmp_path / "xdg" / "pyhost"


# -- command line ------------------------------------------------------------------------------

HEAVY = ("fabric", "paramiko", "docker", "rich", "invoke", "yaml", "jinja2")


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYHOST_DATA_ROOT": str(tmp_path / "store")}
    return subprocess.run(
        [sys.executable, "-m", "pyhost", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("name", ["images", "load", "pull", "rmi"])
def test_image_commands_have_examples(tmp_path: Path, name: str) -> None:
    res = _cli(tmp_path, name, "--help")
    assert res.returncode == 0
    assert f"pyhost {name}" in res.stdout.split("examples:")[1]


@pytest.mark.parametrize(
    "argv", [["images"], ["images", "--json"], ["load", "--help"], ["rmi", "nothing"]]
)
def test_image_commands_import_no_heavy_library(tmp_path: Path, argv: list[str]) -> None:
    probe = (
        "import sys, json, io, contextlib\n"
        "from pyhost.cli.main import main\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {**os.environ, "PYHOST_DATA_ROOT": str(tmp_path / "store")}
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


def test_images_on_an_empty_store(tmp_path: Path) -> None:
    res = _cli(tmp_path, "images")
    assert res.returncode == 0
    assert res.stdout.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    doc = json.loads(_cli(tmp_path, "images", "--json").stdout)
    assert doc == {"schema": "pyhost.images/1", "images": []}


def test_load_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    res = _cli(tmp_path, "load", "-i", str(tmp_path / "missing.tar"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    bad = tmp_path / "bad"
    _layout(bad, layer(reg("../escape", b"x")))
    res = _cli(tmp_path, "load", "-i", str(bad))
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "member '../escape' escapes the layer root; refusing this image" in res.stderr
    res = _cli(tmp_path, "pull", "Bad Name")
    assert res.returncode == 2 and "not an image reference" in res.stderr


def test_load_and_rmi_through_the_cli(tmp_path: Path) -> None:
    layout = _layout(tmp_path / "l", BASE, name="t/x:1")
    assert _cli(tmp_path, "load", "-i", str(layout)).stdout == "Loaded image: t/x:1\n"
    res = _cli(tmp_path, "rmi", "t/x:1", "t/nope:1")
    assert res.returncode == 2
    assert res.stdout.startswith("Untagged: t/x:1\nDeleted: sha256:")
    assert "no image 't/nope:1'" in res.stderr


def test_tar_member_reader_handles_pax_long_names(tmp_path: Path) -> None:
    long_name = "d/" + "x" * 200
    store = ImageStore(tmp_path / "s")
    image = store.load(_layout(tmp_path / "l", layer(reg(long_name, b"long"))))[0]
    assert (image.layers[0] / long_name).read_bytes() == b"long"


def test_zstd_without_a_way_to_read_it_says_what_is_needed(tmp_path: Path) -> None:
    """Python < 3.14 has no zstd module: without the zstd command, one line says so."""
    if sys.version_info >= (3, 14):
        pytest.skip("Python 3.14 reads zstd itself")
    from labkit.imagekit import LAYER_TYPES

    layout = _layout(tmp_path / "l", layer(reg("a", b"x")), how="none")
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    fake = b"\x28\xb5\x2f\xfd" + b"not really zstd"
    (blobs / sha256(fake).split(":")[1]).write_bytes(fake)
    manifest["layers"][0].update(digest=sha256(fake), mediaType=LAYER_TYPES["zstd"])
    body = json.dumps(manifest).encode()
    (blobs / sha256(body).split(":")[1]).write_bytes(body)
    index["manifests"][0]["digest"] = sha256(body)
    (layout / "index.json").write_text(json.dumps(index))
    env = {**os.environ, "PYHOST_DATA_ROOT": str(tmp_path / "s"), "PATH": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "pyhost", "load", "-i", str(layout)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert res.returncode == 2
    assert "zstd layers need Python 3.14 or newer, or the zstd command" in res.stderr
    assert res.stderr.count("\n") == 1
