"""labkit unpack against `umoci unpack --rootless` on the same stored images (umoci is the oracle).

Same paths, types, contents, permission bits and symlink targets, with the documented exceptions:
umoci keeps setuid/setgid bits (labkit records them, does not set them), and writes an empty regular file
in place of each device node (labkit records devices, creates nothing). Where overlay2 and umoci disagree
(a later layer writing below a lower symlinked directory without listing the directory), each tool's own
behaviour is asserted.
"""

from __future__ import annotations

import json
import os

import pytest

from helpers import imagefactory as f
from labkit.layers import Entry, build_layer
from labkit.layers.store import LayerStore
from labkit.unpack import unpack
from helpers.peers import run
from helpers.trees import scan

pytestmark = pytest.mark.interop("umoci")


def both(store, tmp_path, image, name):
    """Store `image` as `name`, unpack it with labkit and with umoci; return (labkit result, labkit tree,
    umoci rootfs path)."""
    f.store_image(store, image, name)
    entries = json.loads((store.layout.root / "index.json").read_text())["manifests"]
    ref_name = next(e["annotations"]["org.opencontainers.image.ref.name"] for e in entries
                    if e["digest"] == str(image.manifest_digest))
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--rootless", "--image", f"{store.layout.root}:{ref_name}", str(bundle))
    mine = tmp_path / "labkit-rootfs"
    result = unpack(store, LayerStore(store.home, store=store), name, mine)
    return result, mine, bundle / "rootfs"


def assert_same_tree(result, mine, theirs):
    """Assert the documented equivalence of a labkit tree and an umoci rootfs."""
    ours, umoci = scan(mine), scan(theirs)
    for path, dev in result.devices.items():
        # umoci --rootless: an empty regular file with the device's permission bits in its place
        assert umoci.pop(path) == ("file", oct(dev["mode"] & 0o777), b"")
    assert not any(v[0] == "device" for v in umoci.values())
    for path, mode in result.special_modes.items():
        assert umoci[path][1] == oct(mode)                          # umoci keeps setuid/setgid ...
        assert ours[path][1] == oct(mode & ~0o6000)                 # ... labkit records them, does not set them
    assert sorted(ours) == sorted(umoci)
    assert scan(mine, setid=False) == {p: v for p, v in scan(theirs, setid=False).items() if p not in result.devices}


def test_real_world_shaped_image_matches_umoci(store, tmp_path):
    result, mine, theirs = both(store, tmp_path, f.distro_image(), "localhost:5000/distro:1")
    assert_same_tree(result, mine, theirs)
    # what the image exercises, so this comparison cannot pass on a trivial tree
    tree = scan(mine)
    assert tree["lib"] == ("symlink", "usr/lib") and tree["bin"] == ("symlink", "usr/bin")
    assert tree["usr/lib/ld-linux.so.2"] == ("symlink", "/usr/lib/libc.so.6")
    assert tree["etc/ssl/certs/ca.pem"] == ("symlink", "../../../usr/share/ca/ca.pem")
    assert "etc/motd" not in tree and "usr/share/doc" not in tree                    # whiteouts
    assert sorted(p for p in tree if p.startswith("var/cache/apt/")) == []           # opaque, then whiteout
    assert tree["opt/app"][0] == "file" and tree["srv/index.html"][0] == "file"      # file <-> dir
    assert os.stat(mine / "usr/bin/ls").st_ino == os.stat(mine / "usr/bin/busybox").st_ino
    assert os.stat(theirs / "usr/bin/ls").st_ino == os.stat(theirs / "usr/bin/busybox").st_ino
    assert os.stat(mine / "usr/local/bin/tool2").st_ino == os.stat(mine / "usr/local/bin/tool").st_ino
    assert set(result.devices) == {"dev/null", "dev/sda"} and tree["dev/initctl"] == ("fifo", "0o600")
    assert result.special_modes == {"usr/bin/passwd": 0o4755, "usr/bin/wall": 0o2755, "usr/local/bin/sudo": 0o4711}
    assert tree["tmp"] == ("dir", "0o1777") and tree["root"] == ("dir", "0o700")


def test_layered_replacements_match_umoci(store, tmp_path):
    layers = [
        build_layer([Entry("a/b/c/d", data=b"deep"), Entry("a/b/e", data=b"e"), Entry("x", data=b"file x"),
                     Entry("y/z", data=b"z"), Entry("keep/me", data=b"kept", mode=0o600),
                     Entry("ro", "dir", mode=0o555), Entry("ro/f", data=b"r", mode=0o444)], compression=None),
        build_layer([Entry("a/b", "whiteout"), Entry("a/b", "dir"), Entry("a/b/new", data=b"new"),
                     Entry("x", "dir"), Entry("x/inside", data=b"in"), Entry("y", data=b"now a file"),
                     Entry("keep/me", data=b"changed", mode=0o640)]),
        build_layer([Entry("a", "opaque"), Entry("a/only", data=b"only"), Entry("x/inside", "whiteout"),
                     Entry("link", "symlink", linkname="a/only"), Entry("abs", "symlink", linkname="/keep/me")]),
    ]
    result, mine, theirs = both(store, tmp_path, f.make_image(layers), "localhost:5000/layered:1")
    assert_same_tree(result, mine, theirs)
    assert scan(mine) == {
        "a": ("dir", "0o755"), "a/only": ("file", "0o644", b"only"), "x": ("dir", "0o755"),
        "y": ("file", "0o644", b"now a file"), "keep": ("dir", "0o755"),
        "keep/me": ("file", "0o640", b"changed"), "ro": ("dir", "0o555"), "ro/f": ("file", "0o444", b"r"),
        "link": ("symlink", "a/only"), "abs": ("symlink", "/keep/me")}


def test_upper_directory_entry_over_a_lower_symlink_matches_umoci(store, tmp_path):
    image = f.make_image(f.symlinked_dir_write_layers(explicit_dir=True))
    result, mine, theirs = both(store, tmp_path, image, "localhost:5000/symdir:explicit")
    assert_same_tree(result, mine, theirs)
    assert scan(mine)["lib"] == ("dir", "0o755") and scan(mine)["lib/extra.so"][2] == b"extra"


def test_overlay2_and_umoci_disagree_on_writing_below_a_lower_symlinked_directory(store, tmp_path):
    image = f.make_image(f.symlinked_dir_write_layers(explicit_dir=False))
    _result, mine, theirs = both(store, tmp_path, image, "localhost:5000/symdir:implied")
    # overlay2 (labkit): the upper layer's implied lib/ directory replaces the symlink; usr/lib is untouched
    assert scan(mine) == {
        "lib": ("dir", "0o755"), "lib/extra.so": ("file", "0o644", b"extra"),
        "usr": ("dir", "0o755"), "usr/lib": ("dir", "0o755"), "usr/lib/libc.so": ("file", "0o644", b"libc")}
    # umoci: the entry is written through the lower symlink into its target; the symlink stays
    assert scan(theirs) == {
        "lib": ("symlink", "usr/lib"),
        "usr": ("dir", "0o755"), "usr/lib": ("dir", "0o755"), "usr/lib/libc.so": ("file", "0o644", b"libc"),
        "usr/lib/extra.so": ("file", "0o644", b"extra")}


def test_hard_links_to_lower_files_and_non_utf8_names_match_umoci(store, tmp_path):
    base = f.tar_layer([f.m_dir("bin/"), f.m_file("bin/busybox", b"\x7fELF" * 500, mode=0o755, mtime=1000),
                        f.m_hardlink("bin/ls", "bin/busybox"), f.m_dir("usr/"), f.m_dir("usr/lib/"),
                        f.m_file("usr/lib/libc.so", b"libc", mtime=2000), f.m_symlink("lib", "usr/lib"),
                        f.m_file("caf\udce9.txt", b"latin-1 name", mtime=3000),
                        f.m_dir("r\udce9pertoire/", mode=0o750, mtime=4000)])
    upper = f.tar_layer([f.m_hardlink("bin/sh", "bin/busybox", mtime=5000), f.m_hardlink("libc", "/lib/libc.so"),
                         f.m_file("r\udce9pertoire/\udcff", b"raw byte name", mtime=6000),
                         f.m_hardlink("r\udce9pertoire/li\udce9n", "caf\udce9.txt")])
    result, mine, theirs = both(store, tmp_path, f.make_image([base, upper]), "localhost:5000/lowerlinks:1")
    assert_same_tree(result, mine, theirs)
    assert os.listdir(mine / "r\udce9pertoire") == os.listdir(theirs / "r\udce9pertoire")
    assert os.fsencode("r\udce9pertoire") == b"r\xe9pertoire"            # the bytes reached the disk unchanged
    for rel in scan(mine):
        a, b = os.lstat(theirs / rel), os.lstat(mine / rel)
        assert (a.st_mode, int(a.st_mtime)) == (b.st_mode, int(b.st_mtime)), rel
    # overlayfs copies the linked lower file up into the new layer: bin/sh and bin/busybox are one inode there;
    # bin/ls keeps the lower inode (umoci, extracting every layer into one directory, links all three)
    ino = {p: os.stat(mine / p).st_ino for p in ("bin/busybox", "bin/sh", "bin/ls", "libc", "usr/lib/libc.so")}
    assert ino["bin/sh"] == ino["bin/busybox"] != ino["bin/ls"] and ino["libc"] == ino["usr/lib/libc.so"]
    assert os.stat(theirs / "bin/sh").st_ino == os.stat(theirs / "bin/ls").st_ino
