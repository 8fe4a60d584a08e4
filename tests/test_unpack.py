"""unpack: the merged image written as a standalone tree (copies, safe paths, modes, links, mtimes)."""

from __future__ import annotations

import os
import stat

import pytest

from helpers import imagefactory as f
from labkit.errors import LabkitError
from labkit.imageview import ImageView, Node
from labkit.layers import Entry, build_layer
from labkit.unpack import unpack, unpack_view
from helpers.trees import scan


SMALL = [
    [Entry("etc", "dir"), Entry("etc/motd", data=b"old motd\n"), Entry("etc/passwd", data=b"root\n"),
     Entry("usr/lib/libc.so", data=b"libc", mode=0o755), Entry("lib", "symlink", linkname="usr/lib"),
     Entry("usr/bin/busybox", data=b"bb" * 1000, mode=0o755),
     Entry("usr/bin/ls", "hardlink", linkname="usr/bin/busybox"),
     Entry("usr/bin/su", data=b"su", mode=0o4755), Entry("tmp", "dir", mode=0o1777),
     Entry("opt/cache/x", data=b"x"), Entry("secret", "dir", mode=0o500), Entry("secret/key", data=b"k", mode=0o400)],
    [Entry("etc/motd", "whiteout"), Entry("etc/passwd", data=b"root\napp\n", mtime=1234567890),
     Entry("opt/cache", "opaque"), Entry("opt/cache/y", data=b"y"),
     Entry("etc/localtime", "symlink", linkname="/usr/share/zoneinfo/UTC")],
]

SMALL_TREE = {
    "etc": ("dir", "0o755"),
    "etc/passwd": ("file", "0o644", b"root\napp\n"),
    "etc/localtime": ("symlink", "/usr/share/zoneinfo/UTC"),
    "lib": ("symlink", "usr/lib"),
    "opt": ("dir", "0o755"),
    "opt/cache": ("dir", "0o755"),
    "opt/cache/y": ("file", "0o644", b"y"),
    "secret": ("dir", "0o500"),
    "secret/key": ("file", "0o400", b"k"),
    "tmp": ("dir", "0o1777"),
    "usr": ("dir", "0o755"),
    "usr/bin": ("dir", "0o755"),
    "usr/bin/busybox": ("file", "0o755", b"bb" * 1000),
    "usr/bin/ls": ("file", "0o755", b"bb" * 1000),
    "usr/bin/su": ("file", "0o755", b"su"),            # setuid recorded, not set
    "usr/lib": ("dir", "0o755"),
    "usr/lib/libc.so": ("file", "0o755", b"libc"),
}


def test_unpack_writes_the_merged_tree(store, tmp_path, layer_store):
    f.store_image(store, f.make_image([build_layer(x) for x in SMALL]), "small:1")
    dest = tmp_path / "rootfs"
    result = unpack(store, layer_store, "small:1", dest)
    assert scan(dest) == SMALL_TREE
    assert result.special_modes == {"usr/bin/su": 0o4755}
    assert (result.files, result.hardlinks, result.symlinks, result.dirs, result.devices) == (6, 1, 2, 8, {})
    assert result.bytes == len(b"root\napp\n") + 1 + 1 + 2000 + 2 + 4
    busybox, ls = os.stat(dest / "usr/bin/busybox"), os.stat(dest / "usr/bin/ls")
    assert busybox.st_ino == ls.st_ino and busybox.st_nlink == 2          # a hard link within dest
    assert os.stat(dest / "etc/passwd").st_mtime == 1234567890
    assert os.stat(dest / "etc").st_mtime == 0                              # directory mtimes set last


def test_unpack_shares_no_inode_with_the_layer_store(store, tmp_path, labkit_home, layer_store):
    f.store_image(store, f.make_image([build_layer(x) for x in SMALL]), "small:1")
    dest = tmp_path / "rootfs"
    unpack(store, layer_store, "small:1", dest)

    def inodes(root):
        out = set()
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                out.add((st.st_dev, st.st_ino))
        return out
    mine, stored = inodes(dest), inodes(labkit_home / "layers")
    assert mine and stored and not (mine & stored)
    (dest / "etc/passwd").write_bytes(b"changed")
    assert ImageView.open(store, layer_store, "small:1").read("etc/passwd") == b"root\napp\n"


def test_unpack_devices_fifos_and_special_modes(store, tmp_path, layer_store):
    img = f.make_image([f.tar_layer([
        f.m_dir("dev/"), {"name": "dev/null", "type": "char", "major": 1, "minor": 3, "mode": 0o666},
        {"name": "dev/initctl", "type": "fifo", "mode": 0o600},
        f.m_file("usr/bin/wall", b"w", mode=0o2755, gid=5), f.m_dir("home/", uid=1000, gid=1000, mode=0o750)])])
    f.store_image(store, img, "dev:1")
    result = unpack(store, layer_store, "dev:1", tmp_path / "out")
    assert result.devices == {"dev/null": {"type": "char", "major": 1, "minor": 3, "mode": 0o666, "uid": 0, "gid": 0}}
    assert not os.path.lexists(tmp_path / "out/dev/null")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "out/dev/initctl").st_mode) and result.fifos == 1
    assert stat.S_IMODE(os.stat(tmp_path / "out/usr/bin/wall").st_mode) == 0o755
    assert result.special_modes == {"usr/bin/wall": 0o2755}
    assert result.owners == {"usr/bin/wall": (0, 5), "home": (1000, 1000)}
    assert stat.S_IMODE(os.stat(tmp_path / "out/home").st_mode) == 0o750


@pytest.mark.parametrize("setup, message", [
    (lambda d: (d.mkdir(), (d / "x").write_text("x")), "not empty"),
    (lambda d: d.write_text("x"), "not a directory"),
    (lambda d: (d.with_name("real").mkdir(), d.symlink_to("real")), "not a directory"),
])
def test_dest_must_be_empty_or_missing(store, tmp_path, setup, message, layer_store):
    f.store_image(store, f.make_image([{"a": b"1"}]), "a:1")
    dest = tmp_path / "dest"
    setup(dest)
    before = scan(tmp_path)
    with pytest.raises(LabkitError, match=message):
        unpack(store, layer_store, "a:1", dest)
    assert scan(tmp_path) == before


def test_dest_may_be_an_existing_empty_directory(store, tmp_path, layer_store):
    f.store_image(store, f.make_image([{"a": b"1"}]), "a:1")
    (tmp_path / "empty").mkdir()
    unpack(store, layer_store, "a:1", tmp_path / "empty")
    assert scan(tmp_path / "empty") == {"a": ("file", "0o644", b"1")}
    with pytest.raises(LabkitError, match="parent directory does not exist"):
        unpack(store, layer_store, "a:1", tmp_path / "no" / "such")


def test_failure_removes_what_was_written(store, tmp_path, monkeypatch, layer_store):
    f.store_image(store, f.make_image([{"a": b"1", "d/b": b"2", "z": b"3"}]), "a:1")
    import labkit.unpack as up
    real = up.copy_fd_range

    def flaky(src, dst, size, offset=0):
        if flaky.calls:
            raise OSError(28, "No space left on device")
        flaky.calls += 1
        return real(src, dst, size, offset)
    flaky.calls = 0
    monkeypatch.setattr(up, "copy_fd_range", flaky)
    with pytest.raises(LabkitError, match="No space left"):
        unpack(store, layer_store, "a:1", tmp_path / "new")
    assert not os.path.lexists(tmp_path / "new")
    (tmp_path / "mine").mkdir()
    flaky.calls = 0
    with pytest.raises(LabkitError):
        unpack(store, layer_store, "a:1", tmp_path / "mine")
    assert os.listdir(tmp_path / "mine") == []


class _FakeView:
    def __init__(self, nodes):
        self.nodes = nodes

    def walk(self):
        return iter(self.nodes)


def test_never_writes_through_a_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "src"
    src.write_bytes(b"evil")
    nodes = [Node("", "dir", 0o755, 0, 0, 0, 0),
             Node("lib", "symlink", 0o777, 0, 0, 0, 0, str(outside)),
             Node("lib/x", "file", 0o644, 0, 0, 4, 0, "", 0, str(tmp_path / "nolayer"))]
    with pytest.raises(LabkitError, match="not a directory this unpack wrote"):
        unpack_view(_FakeView(nodes), tmp_path / "dest")
    assert list(outside.iterdir()) == [] and not (tmp_path / "dest").exists()
    # a duplicate path is refused at its last component (created exclusively, never followed)
    nodes = [Node("", "dir", 0o755, 0, 0, 0, 0), Node("a", "symlink", 0o777, 0, 0, 0, 0, str(src)),
             Node("a", "file", 0o644, 0, 0, 4, 0, "", 0, str(tmp_path / "layer"))]
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "a").write_bytes(b"good")
    with pytest.raises(LabkitError, match="exists"):
        unpack_view(_FakeView(nodes), tmp_path / "dest2")
    assert src.read_bytes() == b"evil"


def test_unpack_large_file_is_copied_exactly(store, tmp_path, layer_store):
    data = os.urandom(3 << 20) + b"tail"
    f.store_image(store, f.make_image([build_layer([Entry("big.bin", data=data)])]), "big:1")
    result = unpack(store, layer_store, "big:1", tmp_path / "out")
    assert (tmp_path / "out/big.bin").read_bytes() == data and result.bytes == len(data)
