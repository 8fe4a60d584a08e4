"""ImageView: overlay2's merge rules over applied layers, symlink resolution, a layer explorer's numbers."""

from __future__ import annotations

import os

import pytest

from helpers import imagefactory as f
from labkit.errors import LabkitError, NotFound, UnsafeLayer
from labkit.imageview import ImageView, SymlinkLoop, ensure_layers
from labkit.layerchanges import Change, PathWaste, layer_changes, wasted_space
from labkit.layers import Entry, build_layer
from labkit.layers.store import LayerStore


def F(path, data=b"", **kw):
    return Entry(path, "file", data, **kw)


def D(path, **kw):
    return Entry(path, "dir", **kw)


def L(path, target, **kw):
    return Entry(path, "symlink", linkname=target, **kw)


def W(path):
    return Entry(path, "whiteout")


def O(path):
    return Entry(path, "opaque")


_counter = iter(range(10**6))


def view_of(store, *layers) -> ImageView:
    """Store an image of `layers` (Entry lists or LayerBlobs, bottom first) and return its view."""
    blobs = [lb if not isinstance(lb, list) else build_layer(lb) for lb in layers]
    ref = f"view:{next(_counter)}"
    f.store_image(store, f.make_image(blobs), ref)
    return ImageView.open(store, LayerStore(store.home, store=store), ref)


def tree(view: ImageView) -> dict:
    """Return path -> "dir" | "file:<content>" | "symlink:<target>" | "<device type>" for the merged image."""
    out = {}
    for n in view.walk():
        if not n.path:
            continue
        if n.type == "file":
            out[n.path] = "file:" + view.read(n.path).decode()
        elif n.type == "symlink":
            out[n.path] = "symlink:" + n.linkname
        else:
            out[n.path] = n.type
    return out


OVERLAY_RULES = [
    ("whiteout hides the lower layer's file",
     [[F("a", b"1"), F("b", b"2")], [W("a"), F("c", b"3")]],
     {"b": "file:2", "c": "file:3"}),
    ("whiteout hides lower layers only: the same layer adds the path again",
     [[F("a", b"old")], [W("a"), F("a", b"new")]],
     {"a": "file:new"}),
    ("whiteout hides lower layers only: a higher layer adds the path again",
     [[F("a", b"1")], [W("a")], [F("a", b"3")]],
     {"a": "file:3"}),
    ("whiteout of a directory hides its whole subtree",
     [[F("d/x", b"x"), F("d/y/z", b"z"), F("e", b"e")], [W("d")]],
     {"e": "file:e"}),
    ("whiteout of a missing path changes nothing",
     [[F("a", b"1")], [W("nothing/here"), W("b")]],
     {"a": "file:1"}),
    ("opaque dir hides everything below it, then the layer's own entries apply",
     [[F("d/old", b"o"), F("d/sub/x", b"x"), F("keep", b"k")], [O("d"), F("d/new", b"n")]],
     {"d": "dir", "d/new": "file:n", "keep": "file:k"}),
    ("opaque dir hides lower layers only: entries of its own layer stay",
     [[F("d/old", b"o")], [O("d"), F("d/old", b"again")]],
     {"d": "dir", "d/old": "file:again"}),
    ("opaque root hides every lower path",
     [[F("a", b"1"), F("d/x", b"x")], [O(""), F("b", b"2")]],
     {"b": "file:2"}),
    ("lower and upper directories merge",
     [[F("d/x", b"x")], [F("d/y", b"y")]],
     {"d": "dir", "d/x": "file:x", "d/y": "file:y"}),
    ("a file in an upper layer replaces a lower directory and its subtree",
     [[F("d/x", b"x"), F("d/s/y", b"y")], [F("d", b"now a file")]],
     {"d": "file:now a file"}),
    ("a directory in an upper layer replaces a lower file",
     [[F("d", b"a file")], [D("d"), F("d/x", b"x")]],
     {"d": "dir", "d/x": "file:x"}),
    ("a parent the upper layer only implies also replaces a lower file",
     [[F("d", b"a file")], [F("d/x", b"x")]],
     {"d": "dir", "d/x": "file:x"}),
    ("a symlink in an upper layer replaces a lower directory",
     [[F("d/x", b"x"), F("t/y", b"y")], [L("d", "t")]],
     {"d": "symlink:t", "t": "dir", "t/y": "file:y"}),
    ("overlay2: an upper directory replaces a lower symlink (the target's content is not merged)",
     [[F("usr/lib/a", b"a"), L("lib", "usr/lib")], [D("lib"), F("lib/b", b"b")]],
     {"lib": "dir", "lib/b": "file:b", "usr": "dir", "usr/lib": "dir", "usr/lib/a": "file:a"}),
    ("overlay2: an implied upper directory replaces a lower symlink too (umoci would write through it)",
     [[F("usr/lib/a", b"a"), L("lib", "usr/lib")], [F("lib/b", b"b")]],
     {"lib": "dir", "lib/b": "file:b", "usr": "dir", "usr/lib": "dir", "usr/lib/a": "file:a"}),
    ("a whiteout below a lower symlink hides nothing in the target",
     [[F("usr/lib/a", b"a"), L("lib", "usr/lib")], [W("lib/a")]],
     {"lib": "symlink:usr/lib", "usr": "dir", "usr/lib": "dir", "usr/lib/a": "file:a"}),
    ("the topmost layer holding a path wins",
     [[F("a", b"1")], [F("a", b"2")], [F("a", b"3")]],
     {"a": "file:3"}),
    ("a later tar entry replaces an earlier one in the same layer",
     [[F("a", b"1")], f.tar_layer([f.m_file("x", b"first"), f.m_file("x", b"second")])],
     {"a": "file:1", "x": "file:second"}),
    ("within one layer a directory after a file at the same path still merges with the lower directory",
     [[F("d/x", b"x")], f.tar_layer([f.m_file("d", b"file"), f.m_dir("d/"), f.m_file("d/y", b"y")])],
     {"d": "dir", "d/x": "file:x", "d/y": "file:y"}),
]


@pytest.mark.parametrize("layers, expected", [c[1:] for c in OVERLAY_RULES], ids=[c[0] for c in OVERLAY_RULES])
def test_overlay_rules(store, layers, expected):
    assert tree(view_of(store, *layers)) == expected


def test_node_metadata_comes_from_the_topmost_layer(store):
    view = view_of(store, [D("etc", mode=0o755), F("etc/a", b"lower", mtime=100), F("bin/su", b"su", mode=0o4755)],
                   [D("etc", mode=0o700, uid=5, gid=6, mtime=300), F("etc/a", b"upper!", mode=0o600, mtime=200)])
    a = view.stat("/etc/a")
    assert (a.type, a.mode, a.size, a.mtime, a.layer_index) == ("file", 0o600, 6, 200, 1)
    # the bytes: a region of layer 1's pack
    assert a.data.read() == b"upper!" and a.data.path == str(view.layer_trees[1].data_path) and a.data.size == 6
    etc = view.stat("etc")
    assert (etc.mode, etc.uid, etc.gid, etc.mtime, etc.layer_index) == (0o700, 5, 6, 300, 1)
    su = view.stat("bin/su")
    assert su.mode == 0o4755 and su.st_mode == 0o104755 and su.layer_index == 0
    assert su.data.read() == b"su" and view.layer_trees[0].applied().modes == {"bin/su": 0o4755}  # metadata only
    assert view.stat("bin").implicit and view.stat("bin").mode == 0o755
    assert view.stat("/").type == "dir" and view.lookup("") == view.stat("/")


def test_device_nodes_are_metadata_only(store):
    view = view_of(store, f.tar_layer([f.m_dir("dev/"), {"name": "dev/null", "type": "char", "major": 1, "minor": 3,
                                                    "mode": 0o666},
                                       {"name": "dev/sda", "type": "block", "major": 8, "minor": 0, "mode": 0o660},
                                       {"name": "dev/fifo", "type": "fifo", "mode": 0o600}]))
    null = view.stat("dev/null")
    assert (null.type, null.major, null.minor, null.mode, null.data) == ("char", 1, 3, 0o666, None)
    assert (view.stat("dev/sda").type, view.stat("dev/sda").major) == ("block", 8)
    assert view.stat("dev/fifo").type == "fifo"
    assert view.listdir("dev") == ["fifo", "null", "sda"]
    with pytest.raises(LabkitError, match="not a regular file"):
        view.read("dev/null")


def test_hard_links_share_a_link_group_until_a_layer_replaces_one(store):
    lower = [F("bin/busybox", b"bb", mode=0o755), Entry("bin/ls", "hardlink", linkname="bin/busybox"),
             Entry("bin/cat", "hardlink", linkname="bin/busybox")]
    view = view_of(store, lower)
    nodes = [view.stat(p) for p in ("bin/busybox", "bin/cat", "bin/ls")]
    assert len({n.link_group for n in nodes}) == 1 and all(n.type == "file" and n.mode == 0o755 for n in nodes)
    assert view.hardlink_groups() == {nodes[0].link_group: ["bin/busybox", "bin/cat", "bin/ls"]}
    assert view.read("bin/ls") == b"bb"
    view2 = view_of(store, lower, [F("bin/ls", b"real ls")])
    assert list(view2.hardlink_groups().values()) == [["bin/busybox", "bin/cat"]]
    assert view2.stat("bin/ls").link_group != view2.stat("bin/cat").link_group


def test_read_follows_symlinks_inside_the_image_root(store):
    view = view_of(store, [F("usr/lib/libc.so", b"libc"), L("lib", "usr/lib"), L("usr/lib/abs", "/usr/lib/libc.so"),
                           L("usr/lib/rel", "libc.so"), L("chain", "lib/rel"), L("up", "/../../usr/lib/libc.so"),
                           L("etc/passwd", "/etc/real"), F("etc/real", b"root"), L("dangling", "/nope"),
                           L("loop1", "loop2"), L("loop2", "loop1"), L("self", "self/x"), F("file", b"f")])
    assert view.read("lib/libc.so") == b"libc"             # through a symlinked directory
    assert view.read("usr/lib/abs") == view.read("usr/lib/rel") == view.read("chain") == b"libc"
    assert view.read("up") == view.read("../../lib/libc.so") == b"libc"   # `..` stops at the image root
    assert view.read("/lib/../lib/libc.so") == b"libc"      # `..` after a symlink: from its target's parent
    assert view.lookup("lib/../etc/real") is None           # (that is usr/etc/real)
    assert view.listdir("lib") == view.listdir("usr/lib") == ["abs", "libc.so", "rel"]
    assert view.lookup("lib").type == "symlink" and view.lookup("lib", follow_symlinks=True).path == "usr/lib"
    assert view.lookup("lib/abs").path == "usr/lib/abs"     # parents followed, the last component not
    assert view.stat("chain", follow_symlinks=True).path == "usr/lib/libc.so"
    assert view.lookup("file/x") is None and view.lookup("nope") is None
    with pytest.raises(NotFound):
        view.read("dangling")
    with pytest.raises(SymlinkLoop, match="too many levels"):
        view.read("loop1")
    with pytest.raises(SymlinkLoop):
        view.read("self")
    with pytest.raises(LabkitError, match="not a regular file"):
        view.read("usr")
    with pytest.raises(LabkitError, match="not a directory"):
        view.listdir("file")


def test_walk_is_in_path_order(store):
    view = view_of(store, [F("a/b", b""), F("a-b", b""), F("a/c/d", b""), F("b", b""), F("A", b"")])
    assert [n.path for n in view.walk()] == ["", "A", "a", "a/b", "a/c", "a/c/d", "a-b", "b"]
    assert view.paths() == ["A", "a", "a/b", "a/c", "a/c/d", "a-b", "b"]
    assert [n.path for n in view.walk("a/c")] == ["a/c", "a/c/d"]
    assert len(view) == 8 and "a/c/d" in view and "z" not in view


def test_the_view_is_built_from_the_layer_indexes_not_the_trees(store, monkeypatch):
    files = [F(f"usr/share/f{i:05d}", b"x") for i in range(3000)]
    blobs = [build_layer(files), build_layer([W("usr/share/f00000"), F("usr/share/f00001", b"new")])]
    f.store_image(store, f.make_image(blobs), "big:1")
    ls = LayerStore(store.home, store=store)
    ImageView.open(store, ls, "big:1")                   # applies the layers
    import labkit.imageview as iv
    iv._OPEN_CACHE.clear()

    def refuse(*a, **kw):
        raise AssertionError("the view walked a layer tree")
    for name in ("walk", "scandir", "listdir"):
        monkeypatch.setattr(os, name, refuse)
    view = ImageView.open(store, ls, "big:1")
    assert len(view.listdir("usr/share")) == 2999 and view.lookup("usr/share/f00000") is None
    assert view.read("usr/share/f00001") == b"new" and sum(1 for _ in view.walk()) == 3002
    assert ImageView.open(store, ls, "big:1") is view          # opened views are cached while the layers stay


def test_open_applies_missing_layers_from_stored_blobs(store, labkit_home):
    img = f.make_image([{"a": b"1"}, {"b": b"2"}])
    rec = f.store_image(store, img, "skopeo:copied")         # blobs only, like skopeo copy or pull --no-extract
    ls = LayerStore(labkit_home, store=store)
    assert not any(ls.has(d) for d in img.diff_ids)
    trees = ensure_layers(store, ls, rec)
    assert [t.diff_id for t in trees] == img.diff_ids and all(ls.has(d) for d in img.diff_ids)
    info = store.layer_info(img.diff_ids[0])
    assert info == {"size": img.layers[0].uncompressed_size, "entries": 1,     # small facts only
                    "files": f.files_size(img.layers[0]), "lower_links": 0}
    assert trees[0].applied().index[0].path == "a"                             # the index is in layer.json
    from labkit.lab import Lab
    view = Lab(labkit_home).view("skopeo:copied")
    assert tree(view) == {"a": "file:1", "b": "file:2"} and view.image_id == img.config_digest
    assert tree(ImageView(trees)) == tree(view) and tree(ImageView.open(store, ls, rec)) == tree(view)


def test_open_without_the_layer_blob_is_not_found(store):
    img = f.make_image([{"a": b"1"}])
    f.store_image(store, img, "gone:1")
    store.layout.blob_path(img.layers[0].digest).unlink()
    with pytest.raises(NotFound, match="neither applied nor stored"):
        ImageView.open(store, LayerStore(store.home, store=store), "gone:1")


def test_layer_changes_like_a_layer_explorer(store):
    view = view_of(store, *f.distro_layers())
    assert [(c.path, c.kind) for c in layer_changes(view, 0)][:4] == [
        ("bin", "added"), ("dev", "added"), ("dev/initctl", "added"), ("dev/null", "added")]
    assert all(c.kind == "added" for c in layer_changes(view, 0))
    assert layer_changes(view, 1) == [
        Change("etc/motd", "removed", 8, "file", 1, 8),
        Change("etc/passwd", "modified", 53, "file", 1, 30),
        Change("home", "added", 0, "dir", 1),
        Change("home/app", "added", 0, "dir", 1),
        Change("home/app/.profile", "added", 7, "file", 1),
        Change("usr/bin/vi", "added", 800, "file", 1),
        Change("usr/lib/libvi.so", "added", 10, "file", 1),
        Change("usr/share/doc/vi", "added", 0, "dir", 1),
        Change("usr/share/doc/vi/README", "added", 8, "file", 1),
        Change("var/cache/apt/pkgcache.bin", "modified", 30000, "file", 1, 20000),
        Change("var/cache/apt/srcpkgcache.bin", "removed", 10000, "file", 1, 10000),
    ]
    by_size = layer_changes(view, 2, sort="size")
    assert [(c.path, c.kind, c.size) for c in by_size] == [
        ("var/cache/apt/pkgcache.bin", "removed", 30000),
        ("usr/local/bin/tool", "added", 250),
        ("usr/local/bin/tool2", "added", 250),
        ("etc/passwd", "modified", 65),
        ("opt/app", "modified", 26),
        ("usr/share/doc", "removed", 18),          # both READMEs below it: 10 + 8 bytes
        ("srv/index.html", "added", 12),
        ("usr/local/bin/sudo", "added", 9),
        ("srv", "modified", 0),
        ("usr/local", "added", 0),
        ("usr/local/bin", "added", 0),
    ]
    assert [c for c in by_size if c.path == "opt/app"][0].before_size == 5012     # the directory it replaced
    assert [c for c in by_size if c.path == "srv"][0].before_size == 21           # the file it replaced
    with pytest.raises(LabkitError):
        layer_changes(view, 3)


def test_unchanged_entries_are_not_changes(store):
    view = view_of(store, [D("etc"), F("etc/a", b"same"), F("etc/b", b"same")],
                   [D("etc"), F("etc/a", b"same"), F("etc/b", b"same", mode=0o600), F("etc/c", b"diff")],
                   [F("etc/c", b"DIFF")])
    assert [(c.path, c.kind) for c in layer_changes(view, 1)] == [("etc/b", "modified"), ("etc/c", "added")]
    assert [(c.path, c.kind) for c in layer_changes(view, 2)] == [("etc/c", "modified")]


def test_wasted_space_follows_dive(store):
    view = view_of(store, [F("a", b"x" * 1000), F("d/x", b"x" * 100), F("d/y", b"y" * 50), F("e", b"e" * 300)],
                   [F("a", b"z" * 1200)],
                   [W("d"), W("e"), F("c", b"c" * 10)])
    w = wasted_space(view)
    assert w.paths == [PathWaste("a", 2, 2200, 1000), PathWaste("e", 2, 300, 0)]
    assert w.wasted == 2500                     # dive's WastedBytes: every copy of a path held by 2+ layers
    assert w.reclaimable == 1500                # minus the smallest copy of each
    # dive's score: smallest copies / all copies over every leaf path (d's whiteout counts the 150 bytes it hid)
    assert w.efficiency == pytest.approx((1000 + 100 + 50 + 0 + 150 + 10) / (2200 + 100 + 50 + 300 + 150 + 10))


def test_wasted_space_of_a_single_layer_image_is_nothing(store):
    w = wasted_space(view_of(store, [F("a", b"1"), F("b/c", b"22")]))
    assert (w.wasted, w.reclaimable, w.efficiency, w.paths) == (0, 0, 1.0, [])


def test_wasted_space_of_the_distro_image(store):
    w = wasted_space(view_of(store, *f.distro_layers()))
    # pkgcache.bin: 20000 (base) + 30000 (install) + 0 (its whiteout); passwd: 30 + 53 + 65; motd: 8 + 0.
    # opt/app and srv are leaves in one layer only (a directory with children is not a leaf, as in dive).
    assert w.paths == [PathWaste("var/cache/apt/pkgcache.bin", 3, 50000, 0), PathWaste("etc/passwd", 3, 148, 30),
                       PathWaste("etc/motd", 2, 8, 0)]
    assert (w.wasted, w.reclaimable) == (50156, 50126)


# ---- hard links to a lower layer's file: copied up into the linking layer, then linked (overlayfs) --------

def _lower_link_image(store, *upper):
    """Return the view of busybox in a base layer (with a hard link of its own) plus `upper` members."""
    base = f.tar_layer([f.m_dir("bin/"), f.m_file("bin/busybox", b"BB" * 10, mode=0o4755, uid=7, mtime=100),
                        f.m_hardlink("bin/ls", "bin/busybox"), f.m_dir("usr/"), f.m_symlink("sbin", "usr/sbin"),
                        f.m_dir("usr/sbin/"), f.m_file("usr/sbin/init", b"init")])
    return view_of(store, base, f.tar_layer(list(upper)))


def test_a_hard_link_to_a_lower_file_is_one_copied_up_inode(store):
    view = _lower_link_image(store, f.m_hardlink("bin/sh", "bin/busybox", mode=0o600, mtime=999),
                             f.m_hardlink("bin/sh2", "bin/sh"))
    sh, bb, ls = (view.stat(p) for p in ("bin/sh", "bin/busybox", "bin/ls"))
    # one inode of layer 1 with the lower file's bytes and metadata (a link has no metadata of its own)
    assert (sh.layer_index, bb.layer_index, ls.layer_index) == (1, 1, 0)
    assert sh.link_group == bb.link_group == view.stat("bin/sh2").link_group != ls.link_group
    assert (sh.mode, sh.uid, sh.size, sh.mtime) == (bb.mode, bb.uid, bb.size, bb.mtime) == (0o4755, 7, 20, 100)
    assert view.read("bin/sh") == view.read("bin/sh2") == b"BB" * 10
    assert sh.data == view.below(1).stat("bin/busybox").data      # bytes read from the lower file
    assert view.hardlink_groups()[sh.link_group] == ["bin/busybox", "bin/sh", "bin/sh2"]
    # the layer added two links; busybox itself is unchanged (its copy-up is not an entry of the layer's tar)
    assert [(c.path, c.kind) for c in layer_changes(view, 1)] == [("bin/sh", "added"), ("bin/sh2", "added")]
    assert "bin/busybox" not in {w.path for w in wasted_space(view).paths}


def test_a_hard_link_target_resolves_through_lower_symlinks(store):
    view = _lower_link_image(store, f.m_hardlink("init", "/sbin/init"))
    assert view.read("init") == b"init"
    assert view.stat("usr/sbin/init").link_group == view.stat("init").link_group
    assert view.stat("usr/sbin/init").layer_index == 1 and view.stat("sbin").type == "symlink"


@pytest.mark.parametrize("upper, why", [
    ([f.m_hardlink("bin/sh", "bin/bash")], "no lower layer has a regular file there"),
    ([f.m_hardlink("x", "usr")], "below it is a dir"),
    ([f.m_hardlink("x", "sbin")], "below it is a symlink"),
    ([f.m_file("bin/.wh.busybox"), f.m_hardlink("bin/sh", "bin/busybox")], "this layer deletes it"),
    ([f.m_file("bin/.wh..wh..opq"), f.m_hardlink("bin/sh", "bin/busybox")], "this layer deletes it"),
    ([f.m_hardlink("bin/sh", "bin/busybox"), f.m_file("bin/busybox", b"new")], "this layer also writes that path"),
    ([f.m_dir("sbin/"), f.m_hardlink("x", "sbin/init")], "this layer replaces its parent 'sbin'"),
])
def test_a_hard_link_to_no_lower_file_refuses_the_image(store, upper, why):
    view = _lower_link_image(store, *upper)
    with pytest.raises(UnsafeLayer) as e:
        view.merged_nodes()
    assert "is not an earlier file of this layer, and " + why in e.value.rule
    with pytest.raises(UnsafeLayer):
        view.layer_state(1)


def test_a_copied_up_file_can_be_linked_again_by_a_higher_layer(store):
    base = f.tar_layer([f.m_file("a", b"A")])
    view = view_of(store, base, f.tar_layer([f.m_hardlink("b", "a")]), f.tar_layer([f.m_hardlink("c", "b")]))
    # layer 2 copies up b (one inode with a in layer 1) and links c to it: a keeps layer 1's inode
    assert [view.stat(p).layer_index for p in "abc"] == [1, 2, 2]
    assert view.stat("b").link_group == view.stat("c").link_group != view.stat("a").link_group
    assert view.stat("c").data == view.stat("a").data == view.below(1).stat("a").data
    assert view.read("c") == b"A"
