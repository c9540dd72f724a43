"""Hostile layers, one test per attack: each is refused with one line naming the layer and
the member, writes nothing outside the store (a sentinel directory next to it is unchanged)
and leaves no temporary directory and no half layer behind.

These need neither root nor Docker (marked unit): as root the overlay whiteout form is used,
as a normal user the tar form; both must hold.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from labkit.imagekit import (
    Member,
    device,
    directory,
    hardlink,
    layer,
    reg,
    snapshot,
    symlink,
    write_oci_layout,
)

from pyhost.runtime.images import ImageError, ImageStore, Limits

pytestmark = pytest.mark.unit

UP = "../../../../../"  # from ROOT/layers/tmp/<layer>/diff up to the test's directory


@dataclass
class Arena:
    base: Path
    sentinel: Path
    store_root: Path

    def store(self, limits: Limits | None = None) -> ImageStore:
        return ImageStore(self.store_root, limits=limits)

    def layout(self, *members: Member, raw_layer: bytes | None = None, **kw: object) -> Path:
        path = self.base / "layout"
        tar = raw_layer if raw_layer is not None else layer(*members)
        write_oci_layout(path, [tar], **kw)  # type: ignore[arg-type]
        return path

    def assert_outside_untouched(self, before: dict[str, tuple[object, ...]]) -> None:
        assert snapshot(self.sentinel) == before, "something was written outside the store"
        tmp = self.store_root / "layers" / "tmp"
        assert not tmp.exists() or list(tmp.iterdir()) == [], "a temporary directory remains"
        assert not (self.base / "pwned").exists()

    def assert_untouched(self, before: dict[str, tuple[object, ...]]) -> None:
        self.assert_outside_untouched(before)
        images = self.store_root / "images" / "sha256"
        assert not images.exists() or list(images.iterdir()) == [], "an image was recorded"
        assert not (self.base / "pwned").exists()

    def refused(
        self,
        *members: Member,
        limits: Limits | None = None,
        raw_layer: bytes | None = None,
        **kw: object,
    ) -> str:
        """Load a layout with one layer of ``members``; return the one-line error."""
        path = self.layout(*members, raw_layer=raw_layer, **kw)
        before = snapshot(self.sentinel)
        with pytest.raises(ImageError) as caught:
            self.store(limits).load(path)
        self.assert_untouched(before)
        layers = self.store_root / "layers" / "sha256"
        assert not layers.exists() or list(layers.iterdir()) == [], "a refused layer was kept"
        line = caught.value.one_line()
        assert "\n" not in line
        assert caught.value.exit_status == 2
        return line


@pytest.fixture
def arena(tmp_path: Path) -> Arena:
    sentinel = tmp_path / "sentinel"
    (sentinel / "dir").mkdir(parents=True)
    (sentinel / "file").write_text("original\n")
    return Arena(tmp_path, sentinel, tmp_path / "store")


def _layer_label(line: str) -> None:
    assert line.startswith("layer sha256:"), line
    assert line.endswith("refusing this image"), line


def test_absolute_name(arena: Arena) -> None:
    name = str(arena.sentinel / "pwned")
    line = arena.refused(reg(name, b"owned"))
    _layer_label(line)
    assert f"member {name.lstrip('/')!r}" in line or f"member {name!r}" in line
    assert "absolute name" in line


def test_dotdot_escape(arena: Arena) -> None:
    line = arena.refused(reg(UP + "sentinel/pwned", b"owned"))
    _layer_label(line)
    assert f"member '{UP}sentinel/pwned' escapes the layer root; refusing this image" in line


def test_dotdot_in_the_middle(arena: Arena) -> None:
    line = arena.refused(directory("a"), reg("a/../../../../../../pwned", b"owned"))
    assert "escapes the layer root" in line


def test_nul_in_name(arena: Arena) -> None:
    member = reg("harmless", b"x", path="etc/pass\x00wd")
    line = arena.refused(member)
    assert "NUL byte" in line


def test_non_directory_names_the_root(arena: Arena) -> None:
    line = arena.refused(reg(".", b"x"))
    assert "member '.' names the layer root but is not a directory" in line


def test_symlink_escape_absolute(arena: Arena) -> None:
    line = arena.refused(symlink("evil", str(arena.sentinel)), reg("evil/pwned", b"owned"))
    _layer_label(line)
    assert "member 'evil/pwned' goes through 'evil', which is a symlink" in line


def test_symlink_escape_relative(arena: Arena) -> None:
    line = arena.refused(symlink("up", UP.rstrip("/")), reg("up/sentinel/pwned", b"owned"))
    assert "goes through 'up', which is a symlink" in line


def test_symlink_then_write_through_it_is_refused(arena: Arena) -> None:
    # CVE-2021-32760 style: a directory symlink, then a member written through it
    line = arena.refused(
        directory("etc"),
        symlink("etc/conf", str(arena.sentinel / "dir")),
        reg("etc/conf/pwned", b"owned"),
    )
    assert "goes through 'etc/conf', which is a symlink" in line


def test_symlink_replaced_by_a_file_never_writes_through(arena: Arena) -> None:
    """A later member of the same name replaces the symlink; the target is not touched."""
    before = snapshot(arena.sentinel)
    path = arena.layout(
        symlink("f", str(arena.sentinel / "file")),
        reg("f", b"new content\n"),
        symlink("d", str(arena.sentinel / "dir")),
        directory("d"),
        reg("d/inside", b"x"),
    )
    image = arena.store().load(path)[0]
    arena.assert_outside_untouched(before)
    root = image.layers[0]
    assert (root / "f").read_bytes() == b"new content\n" and not (root / "f").is_symlink()
    assert (root / "d").is_dir() and not (root / "d").is_symlink()
    assert (root / "d" / "inside").read_bytes() == b"x"


def test_symlink_targets_are_stored_verbatim(arena: Arena) -> None:
    path = arena.layout(symlink("abs", "/etc/shadow"), symlink("rel", UP + "sentinel/file"))
    image = arena.store().load(path)[0]
    assert os.readlink(image.layers[0] / "abs") == "/etc/shadow"
    assert os.readlink(image.layers[0] / "rel") == UP + "sentinel/file"


def test_hardlink_escape_dotdot(arena: Arena) -> None:
    line = arena.refused(hardlink("hl", UP + "sentinel/file"))
    _layer_label(line)
    assert f"member 'hl' is a hardlink to '{UP}sentinel/file', outside the layer" in line


def test_hardlink_escape_absolute(arena: Arena) -> None:
    target = str(arena.sentinel / "file")
    line = arena.refused(hardlink("hl", target))
    assert f"is a hardlink to {target!r}, outside the layer" in line


def test_hardlink_through_a_symlink(arena: Arena) -> None:
    line = arena.refused(symlink("s", str(arena.sentinel)), hardlink("hl", "s/file"))
    assert "is a hardlink to 's/file', which is not a regular file of this layer" in line


def test_hardlink_to_a_symlink_of_this_layer(arena: Arena) -> None:
    line = arena.refused(symlink("s", str(arena.sentinel / "file")), hardlink("hl", "s"))
    assert "which is not a regular file of this layer" in line


def test_hardlink_inside_the_layer_works(arena: Arena) -> None:
    image = arena.store().load(arena.layout(reg("a", b"same"), hardlink("b", "a")))[0]
    a, b = image.layers[0] / "a", image.layers[0] / "b"
    assert a.stat().st_ino == b.stat().st_ino and b.read_bytes() == b"same"


def test_whiteout_of_dotdot(arena: Arena) -> None:
    line = arena.refused(directory("a"), reg("a/.wh..."))
    _layer_label(line)
    assert "member 'a/.wh...' is a whiteout of '..', which is no entry of a lower layer" in line


def test_whiteout_escape_path(arena: Arena) -> None:
    line = arena.refused(reg(".wh.../.." + "/sentinel/file"))
    assert "escapes the layer root" in line


def test_device_node(arena: Arena) -> None:
    line = arena.refused(device("tmp/sda", 8, 0, tarfile.BLKTYPE))
    _layer_label(line)
    assert "member 'tmp/sda' is a device node; refusing this image" in line


def test_character_device(arena: Arena) -> None:
    line = arena.refused(device("mem", 1, 1))
    assert "member 'mem' is a device node" in line


def test_device_nodes_under_dev_are_never_made(arena: Arena) -> None:
    """A rootfs's /dev/null and friends: skipped (the runtime mounts its own /dev)."""
    path = arena.layout(directory("dev"), device("dev/null", 1, 3), device("dev/sda", 8, 0))
    image = arena.store().load(path)[0]
    assert (image.layers[0] / "dev").is_dir()
    assert list((image.layers[0] / "dev").iterdir()) == []
    meta = json.loads((image.layers[0].parent / "meta.json").read_text())
    assert meta["skipped_devices"] == 2


def test_overlay_form_whiteout_is_accepted_as_a_whiteout(arena: Arena) -> None:
    image = arena.store().load(arena.layout(device("gone", 0, 0)))[0]
    entry = image.layers[0] / "gone"
    if image.whiteout_forms[0] == "overlay":
        st = entry.lstat()
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    else:
        assert not entry.exists() and (image.layers[0] / ".wh.gone").is_file()


def test_decompression_bomb(arena: Arena) -> None:
    # 24 MiB of zeros compress to ~24 KiB: refused from the header, before a byte is written
    member = reg("zeros", b"\0" * (24 << 20))
    line = arena.refused(member, limits=Limits(max_bytes=8 << 20, max_entries=1000))
    assert "member 'zeros' would take the layer past 8388608 bytes unpacked" in line
    assert "decompression bomb" in line


def test_decompression_bomb_in_the_padding(arena: Arena) -> None:
    """Zeros after the end of the archive still count: the stream is capped too."""
    path = arena.layout(reg("small", b"x"))
    blobs = path / "blobs" / "sha256"
    # rewrite the layer blob with 24 MiB of trailing zeros, digests kept consistent
    from labkit.imagekit import sha256

    index = json.loads((path / "index.json").read_text())
    man_digest = index["manifests"][0]["digest"]
    manifest = json.loads((blobs / man_digest.split(":")[1]).read_bytes())
    tar = layer(reg("small", b"x")) + b"\0" * (24 << 20)
    blob = gzip.compress(tar, mtime=0)
    (blobs / sha256(blob).split(":")[1]).write_bytes(blob)
    manifest["layers"][0]["digest"] = sha256(blob)
    cfg = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    cfg["rootfs"]["diff_ids"] = [sha256(tar)]
    cfg_bytes = json.dumps(cfg).encode()
    (blobs / sha256(cfg_bytes).split(":")[1]).write_bytes(cfg_bytes)
    manifest["config"]["digest"] = sha256(cfg_bytes)
    man_bytes = json.dumps(manifest).encode()
    (blobs / sha256(man_bytes).split(":")[1]).write_bytes(man_bytes)
    index["manifests"][0]["digest"] = sha256(man_bytes)
    (path / "index.json").write_text(json.dumps(index))
    before = snapshot(arena.sentinel)
    with pytest.raises(ImageError) as caught:
        arena.store(Limits(max_bytes=8 << 20, max_entries=1000)).load(path)
    arena.assert_untouched(before)
    assert "unpacks to more than" in caught.value.one_line()
    assert "decompression bomb" in caught.value.one_line()


def test_entry_count_bomb(arena: Arena) -> None:
    members = [reg(f"f{i}") for i in range(300)]
    line = arena.refused(*members, limits=Limits(max_entries=200))
    assert "member 'f200': more than 200 entries (an entry-count bomb?)" in line


def test_layer_blob_digest_mismatch(arena: Arena) -> None:
    line = arena.refused(reg("a", b"x"), tamper="blob")
    assert "content digest" in line and "does not match the manifest's" in line


def test_diff_id_mismatch(arena: Arena) -> None:
    line = arena.refused(reg("a", b"x"), tamper="diff_id")
    assert "diff_id" in line and "does not match the config's" in line


def test_config_digest_mismatch(arena: Arena) -> None:
    line = arena.refused(reg("a", b"x"), tamper="config")
    assert "has digest" in line and "refusing this image" in line


def test_parent_is_a_file(arena: Arena) -> None:
    line = arena.refused(reg("f", b"x"), reg("f/x", b"y"))
    assert "member 'f/x' goes through 'f', which is not a directory" in line


def test_file_replacing_a_full_directory(arena: Arena) -> None:
    line = arena.refused(directory("d"), reg("d/x", b"1"), reg("d", b"2"))
    assert "member 'd' would replace a directory that has entries" in line


def test_security_and_trusted_xattrs_are_dropped(arena: Arena) -> None:
    member = reg(
        "f",
        b"x",
        **{
            "SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
            "SCHILY.xattr.trusted.overlay.opaque": "y",
            "SCHILY.xattr.user.note": "kept",
        },
    )
    image = arena.store().load(arena.layout(member))[0]
    path = image.layers[0] / "f"
    names = os.listxattr(path, follow_symlinks=False)
    assert "security.capability" not in names
    assert "trusted.overlay.opaque" not in names
    with contextlib.suppress(OSError):  # a filesystem without user xattrs: nothing to compare
        assert os.getxattr(path, "user.note") == b"kept"


def test_setuid_bits_only_as_root(arena: Arena) -> None:
    image = arena.store().load(arena.layout(reg("su", b"x", mode=0o4755)))[0]
    mode = stat.S_IMODE((image.layers[0] / "su").stat().st_mode)
    assert mode == (0o4755 if os.geteuid() == 0 else 0o755)


def test_stale_temporary_directories_are_cleaned(arena: Arena) -> None:
    """What a killed load left (its pid is dead) goes at the next load."""
    stale = arena.store_root / "layers" / "tmp" / "layer-999999999-abc"
    (stale / "diff").mkdir(parents=True)
    arena.store().load(arena.layout(reg("a", b"x")))
    assert not stale.exists()


def test_aufs_metadata_is_skipped(arena: Arena) -> None:
    """Old AUFS-era layers carry .wh..wh.plnk/ and .wh..wh.aufs: bookkeeping, not files."""
    path = arena.layout(
        directory(".wh..wh.plnk"),
        reg(".wh..wh.plnk/123.456", b"x"),
        reg(".wh..wh.aufs"),
        reg("kept", b"k"),
    )
    image = arena.store().load(path)[0]
    assert sorted(os.listdir(image.layers[0])) == ["kept"]


@pytest.mark.parametrize("cut", [700, 1200, 5000])
def test_truncated_layer(arena: Arena, cut: int) -> None:
    """A layer cut short (here a plain rootfs tarball) is refused in one line."""
    whole = layer(reg("a", b"x" * 4000), reg("b", b"y" * 4000))
    path = arena.base / "cut.tar"
    path.write_bytes(whole[:cut])
    before = snapshot(arena.sentinel)
    with pytest.raises(ImageError) as caught:
        arena.store().load(path)
    arena.assert_untouched(before)
    line = caught.value.one_line()
    assert "cut.tar" in line and ("cut short" in line or "unexpected end of data" in line), line


def test_layer_cut_at_a_header_boundary(arena: Arena) -> None:
    """tarfile takes a stream that stops between two members for a whole archive."""
    whole = layer(reg("a", b"x" * 4000), reg("b", b"y" * 4000))
    path = arena.base / "cut.tar"
    path.write_bytes(whole[: 512 + 4096])  # a's header and data, nothing after
    before = snapshot(arena.sentinel)
    with pytest.raises(ImageError) as caught:
        arena.store().load(path)
    arena.assert_untouched(before)
    assert caught.value.one_line() == (
        "layer cut.tar: the tar archive is cut short (no end-of-archive marker); "
        "refusing this image"
    )


def test_huge_pax_header(arena: Arena) -> None:
    """A PAX header that claims 100 MiB would be read whole into memory: refused first."""
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type = tarfile.XHDTYPE
    pax.size = 100 << 20
    raw = layer(reg("first", b"1"))[:1024]  # one ordinary member (header + data block)
    raw += pax.tobuf(format=tarfile.USTAR_FORMAT) + b"\0" * 4096
    line = arena.refused(Member(tarfile.TarInfo("unused")), raw_layer=raw)
    assert "member 2 is a metadata header of 104857600 bytes (more than 1048576)" in line
