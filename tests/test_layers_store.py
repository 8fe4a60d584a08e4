"""LayerStore: apply once per diff ID, concurrency-safe, cache filled, nothing partial left."""

from __future__ import annotations

import os
import threading

import pytest

from labkit.digest import Digest
from labkit.errors import DigestMismatch, NotFound, UnsafeLayer
from labkit.imageview import ImageView
from labkit.layers import Entry, build_layer
from labkit.layers.store import LayerStore
from labkit.store import Store

from helpers import imagefactory as f


def blob_file(tmp_path, entries, name="blob"):
    blob = build_layer(entries)
    path = tmp_path / name
    path.write_bytes(blob.data)
    return blob, path


def test_ensure_applies_once_and_records_cache(tmp_path, labkit_home):
    blob, path = blob_file(tmp_path, [Entry("etc", "dir"), Entry("etc/motd", data=b"hi\n"), Entry("old", "whiteout")])
    ls = LayerStore(labkit_home)
    assert not ls.has(blob.diff_id)
    with pytest.raises(NotFound):
        ls.tree(blob.diff_id)
    tree = ls.ensure(blob.diff_id, path, blob.media_type)
    # a pack: the file's bytes in one file, no inode per entry
    assert sorted(os.listdir(tree.root)) == ["layer.json", "pack"] and tree.data_path == tree.root / "pack"
    assert tree.data_path.read_bytes() == b"hi\n" and ImageView([tree]).read("etc/motd") == b"hi\n"
    assert tree.applied().packed and tree.applied().offsets == [-1, -1, 0]
    assert tree.root == labkit_home / "layers" / "sha256" / blob.diff_id.hex
    assert tree.applied().whiteouts == ["old"]
    assert ls.tree(blob.diff_id) == tree and ls.diff_ids() == [blob.diff_id]
    info = Store(labkit_home).layer_info(blob.diff_id)
    assert info["size"] == blob.uncompressed_size and info["entries"] == 3
    assert "index" not in info                      # the entry index lives in layer.json only
    assert [e.path for e in tree.applied().index] == ["old", "etc", "etc/motd"]   # whiteouts first
    mtime = tree.metadata_path.stat().st_mtime_ns
    path.unlink()                                   # the second call must not even read the blob
    assert ls.ensure(blob.diff_id, path).metadata_path.stat().st_mtime_ns == mtime


def test_concurrent_ensure_applies_once(tmp_path, labkit_home, monkeypatch):
    blob, path = blob_file(tmp_path, [Entry(f"f{i}", data=b"x" * i) for i in range(200)])
    import labkit.layers.apply as apply_mod
    calls = []
    real = apply_mod.pack_layer

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)
    monkeypatch.setattr(apply_mod, "pack_layer", counting)
    results, errors = [], []

    def worker():
        try:
            results.append(LayerStore(labkit_home).ensure(blob.diff_id, path))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(calls) == 1
    assert len({r.root for r in results}) == 1 and len(results) == 6


@pytest.mark.parametrize("entries, wrong_id, error", [
    ([Entry("a", data=b"1")], True, DigestMismatch),
])
def test_failed_ensure_leaves_nothing(tmp_path, labkit_home, entries, wrong_id, error):
    blob, path = blob_file(tmp_path, entries)
    ls = LayerStore(labkit_home)
    diff_id = Digest.of(b"not this layer") if wrong_id else blob.diff_id
    with pytest.raises(error):
        ls.ensure(diff_id, path)
    assert [p.name for p in (labkit_home / "layers" / "sha256").iterdir()] == []
    assert Store(labkit_home).layer_info(diff_id) is None


def test_unsafe_blob_leaves_nothing(tmp_path, labkit_home):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("../escape")
        tf.addfile(ti, io.BytesIO(b""))
    path = tmp_path / "bad.tar"
    path.write_bytes(buf.getvalue())
    diff_id = Digest.of(buf.getvalue())
    with pytest.raises(UnsafeLayer):
        LayerStore(labkit_home).ensure(diff_id, path)
    assert list((labkit_home / "layers" / "sha256").iterdir()) == []
    assert not (tmp_path / "escape").exists() and not (labkit_home / "layers" / "escape").exists()


def test_stale_partial_is_cleaned_and_remove(tmp_path, labkit_home):
    blob, path = blob_file(tmp_path, [Entry("a", data=b"1")])
    ls = LayerStore(labkit_home)
    stale = ls.path(blob.diff_id).with_name(blob.diff_id.hex + ".partial-dead")
    (stale / "diff").mkdir(parents=True)
    ls.ensure(blob.diff_id, path)
    assert not stale.exists()
    assert ls.remove(blob.diff_id) and not ls.has(blob.diff_id) and not ls.remove(blob.diff_id)
    assert list((labkit_home / "layers" / "sha256").iterdir()) == []


def test_missing_blob_is_not_found(tmp_path, labkit_home):
    with pytest.raises(NotFound, match="does not exist"):
        LayerStore(labkit_home).ensure(Digest.of(b"x"), tmp_path / "nope")


def test_a_layer_applied_before_packs_is_read_as_its_tree(tmp_path, labkit_home):
    """A home from an earlier labkit holds <hex>/diff/ (the layer's tree) and a layer.json without offsets: images
    over it read, unpack and link to its files as before, beside packed layers."""
    from labkit.fsutil import atomic_write_bytes
    from labkit.layers.apply import apply_layer
    from labkit.unpack import unpack_view

    old_blob, old_path = blob_file(tmp_path, [Entry("bin/busybox", data=b"BB" * 50, mode=0o755)], "old")
    new_blob = f.tar_layer([f.m_hardlink("bin/sh", "bin/busybox"), f.m_file("etc/motd", b"hi\n")])
    new_path = tmp_path / "new"
    new_path.write_bytes(new_blob.data)
    ls = LayerStore(labkit_home)
    root = ls.path(old_blob.diff_id)
    root.mkdir(parents=True)
    applied = apply_layer(old_path, root / "diff")
    atomic_write_bytes(root / "layer.json", applied.to_json_bytes())
    assert "offsets" not in applied.to_json()
    old, new = ls.tree(old_blob.diff_id), ls.ensure(new_blob.diff_id, new_path)
    assert old.data_path == root / "diff" and new.data_path == new.root / "pack"
    view = ImageView([old, new])
    busybox = view.below(1).stat("bin/busybox").data
    assert busybox.path == str(root / "diff" / "bin" / "busybox") and (busybox.offset, busybox.packed) == (0, False)
    assert view.read("bin/sh") == view.read("bin/busybox") == b"BB" * 50 and view.read("etc/motd") == b"hi\n"
    result = unpack_view(view, tmp_path / "rootfs")
    assert (tmp_path / "rootfs" / "bin" / "sh").read_bytes() == b"BB" * 50
    assert (tmp_path / "rootfs" / "etc" / "motd").read_bytes() == b"hi\n"
    assert (result.files, result.hardlinks) == (2, 1)
