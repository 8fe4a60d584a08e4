"""The reproducible layer writer: same entries, same bytes; docker/OCI ordering and header rules."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import tarfile
import threading

import pytest

from labkit.digest import Digest
from labkit.layers.writer import (Entry, GzipWriter, build_layer, entries_from_dir, normalize_path, sort_key,
                                  write_layer, write_tar)
from labkit.oci import OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD


def sample_entries():
    return [
        Entry("usr/bin/tool", data=b"#!/bin/sh\necho hi\n", mode=0o755, mtime=1_700_000_000),
        Entry("usr", "dir", mtime=5),
        Entry("usr/bin", "dir"),
        Entry("etc", "dir"),
        Entry("etc/hostname", data=b"lab\n"),
        Entry("etc/old.conf", "whiteout"),
        Entry("var", "dir"),
        Entry("var", "opaque"),
        Entry("var/log", "dir"),
        Entry("usr/bin/sh", "symlink", linkname="/bin/busybox"),
        Entry("usr/bin/tool2", "hardlink", linkname="usr/bin/tool"),
    ]


def tar_of(entries, **kw) -> bytes:
    buf = io.BytesIO()
    write_tar(entries, buf, **kw)
    return buf.getvalue()


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        return tf.getmembers()


def test_byte_identical_twice_and_independent_of_input_order():
    a = tar_of(sample_entries())
    b = tar_of(list(reversed(sample_entries())))
    assert a == b
    assert build_layer(sample_entries()).data == build_layer(list(reversed(sample_entries()))).data


@pytest.mark.parametrize("compression, media_type, magic", [
    ("gzip", OCI_LAYER_GZIP, b"\x1f\x8b"),
    ("zstd", OCI_LAYER_ZSTD, b"\x28\xb5\x2f\xfd"),
    (None, OCI_LAYER_TAR, b"usr"),
])
def test_build_layer_digests(compression, media_type, magic):
    blob = build_layer(sample_entries(), compression)
    tar = tar_of(sample_entries())
    assert blob.media_type == media_type
    assert blob.data.startswith(magic) or compression is None
    assert blob.diff_id == Digest("sha256", hashlib.sha256(tar).hexdigest())
    assert blob.digest == Digest.of(blob.data)
    assert blob.size == len(blob.data)
    assert blob.uncompressed_size == len(tar)
    assert build_layer(sample_entries(), compression).data == blob.data


def test_gzip_header_is_fixed():
    data = build_layer(sample_entries(), "gzip").data
    # RFC 1952: ID1 ID2 CM FLG MTIME(4) XFL OS; no FNAME flag, mtime 0
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    assert gzip.decompress(data) == tar_of(sample_entries())


def test_diff_id_is_sha256_of_tar_and_size_is_its_length():
    buf = io.BytesIO()
    diff_id, size = write_tar(sample_entries(), buf)
    assert str(diff_id) == "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()
    assert size == len(buf.getvalue())
    assert size % 512 == 0


def test_order_parents_first_whiteouts_before_siblings():
    names = [m.name for m in members(tar_of(sample_entries()))]
    assert names == [
        "etc", "etc/.wh.old.conf", "etc/hostname",
        "usr", "usr/bin", "usr/bin/sh", "usr/bin/tool", "usr/bin/tool2",
        "var", "var/.wh..wh..opq", "var/log",
    ]


@pytest.mark.parametrize("names, expected", [
    (["a/b", "a", "a/.wh.c"], ["a", "a/.wh.c", "a/b"]),
    (["a/z", "a/.wh..wh..opq", "a/.wh.a"], ["a/.wh..wh..opq", "a/.wh.a", "a/z"]),
    # byte order within a directory, parents before children even when a sibling sorts between
    (["a.b", "a/c", "a"], ["a", "a/c", "a.b"]),
    ([".wh.x", "x", "b"], [".wh.x", "b", "x"]),
])
def test_sort_key_table(names, expected):
    assert sorted(names, key=sort_key) == expected


def test_fixed_owner_no_names_no_atime_no_global_header():
    entries = [Entry("f", data=b"x", uid=0, gid=0), Entry("g", data=b"y", uid=1000, gid=1000)]
    data = tar_of(entries)
    ms = members(data)
    assert all(m.uname == "" and m.gname == "" for m in ms)
    assert (ms[1].uid, ms[1].gid) == (1000, 1000)
    for m in ms:
        assert "atime" not in m.pax_headers and "ctime" not in m.pax_headers
    # no PAX global header ('g') or GNU long-name ('L') records anywhere in the stream
    off = 0
    while off < len(data) and data[off:off + 512].strip(b"\0"):
        hdr = data[off:off + 512]
        assert hdr[156:157] not in (b"g", b"L", b"K")
        assert hdr[257:263] == b"ustar\x00"
        size = int(hdr[124:136].strip(b"\0 ") or b"0", 8)
        off += 512 + (size + 511) // 512 * 512


def test_long_and_unicode_names_use_pax_path_records():
    long = "d/" + "n" * 200
    ms = members(tar_of([Entry(long, data=b"1"), Entry("caf\u00e9", data=b"2")]))
    assert [m.name for m in ms] == ["caf\u00e9", long]
    assert ms[1].pax_headers["path"] == long


def test_mtime_clamp():
    ms = members(tar_of([Entry("new", data=b"", mtime=2_000_000_000), Entry("old", mtime=10)],
                        clamp_mtime=1_000_000_000))
    assert [m.mtime for m in ms] == [1_000_000_000, 10]


def test_hard_links_and_symlinks():
    ms = {m.name: m for m in members(tar_of(sample_entries()))}
    assert ms["usr/bin/tool2"].islnk() and ms["usr/bin/tool2"].linkname == "usr/bin/tool"
    assert ms["usr/bin/tool2"].size == 0
    assert ms["usr/bin/sh"].issym() and ms["usr/bin/sh"].linkname == "/bin/busybox"
    assert ms["usr/bin/tool"].mode == 0o755 and ms["etc/hostname"].mode == 0o644
    assert ms["usr"].isdir() and ms["usr"].mode == 0o755


def test_hard_link_sorting_before_its_target_carries_the_data():
    ms = members(tar_of([Entry("b", data=b"x", mode=0o600), Entry("a", "hardlink", linkname="b"),
                         Entry("c", "hardlink", linkname="b")]))
    assert [(m.name, m.type, m.linkname, m.size, m.mode) for m in ms] == [
        ("a", tarfile.REGTYPE, "", 1, 0o600), ("b", tarfile.LNKTYPE, "a", 0, 0o600),
        ("c", tarfile.LNKTYPE, "a", 0, 0o600)]


@pytest.mark.parametrize("target", ["missing", "d"])
def test_hard_link_to_no_file_is_refused(target):
    with pytest.raises(ValueError, match="not a file of this layer"):
        tar_of([Entry("d", "dir"), Entry("a", "hardlink", linkname=target)])


def test_whiteout_and_opaque_names():
    names = [m.name for m in members(tar_of([Entry("x/y", "whiteout"), Entry("", "opaque"),
                                             Entry("x/.wh.z", "whiteout")]))]
    assert names == [".wh..wh..opq", "x/.wh.y", "x/.wh.z"]


@pytest.mark.parametrize("path, kind", [("../x", "file"), ("a/../../x", "file"), ("", "file"), ("", "dir"),
                                        (".wh.", "whiteout"), ("a/.wh..", "whiteout"), ("a/.wh.b", "file"),
                                        (".wh..wh..opq", "dir"), ("a/.wh..wh.b", "whiteout")])
def test_bad_entries_are_refused(path, kind):
    with pytest.raises(ValueError):
        tar_of([Entry(path, kind)])


@pytest.mark.parametrize("raw, clean", [("/etc/x", "etc/x"), ("./a//b/", "a/b"), ("a/./b/../c", "a/c"), (".", "")])
def test_normalize_path_table(raw, clean):
    assert normalize_path(raw) == clean


def test_every_whiteout_the_writer_accepts_the_reader_reads():
    """A whiteout hiding a name that itself starts with .wh. cannot be expressed: the writer refuses what the
    reader would refuse as unsafe, so labkit never writes a layer it cannot read back."""
    from labkit.errors import UnsafeLayer
    from labkit.layers.reader import classify_whiteout

    for path in ("a/.wh..wh.b", "a/.wh..wh..opq.x", ".wh..wh.x/y"):
        try:
            name = Entry(path, "whiteout").tar_name
        except ValueError:
            continue
        try:
            classify_whiteout(name)
        except UnsafeLayer:
            pytest.fail(f"the writer wrote {name!r}, which the reader refuses")


def test_duplicate_paths_later_wins():
    ms = members(tar_of([Entry("a", data=b"1"), Entry("a", data=b"22")]))
    assert [(m.name, m.size) for m in ms] == [("a", 2)]


def test_source_streams_from_disk_and_entries_from_dir(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    big = root / "sub" / "big"
    big.write_bytes(os.urandom(3 << 20))
    os.link(big, root / "alink")          # sorts before sub/big: it must become the data-carrying file
    os.symlink("sub/big", root / "sym")
    entries = entries_from_dir(root)
    kinds = {e.path: e.kind for e in entries}
    assert kinds == {"sub": "dir", "alink": "file", "sub/big": "hardlink", "sym": "symlink"}
    data = tar_of(entries)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.extractfile("alink").read() == big.read_bytes()
        assert tf.getmember("sub/big").linkname == "alink"
    assert tar_of(entries_from_dir(root)) == data


def test_write_layer_streams(tmp_path):
    path = tmp_path / "layer.tar.gz"
    with open(path, "wb") as f:
        diff_id, size = write_layer(sample_entries(), f, "gzip")
    assert path.read_bytes() == build_layer(sample_entries()).data
    assert diff_id == build_layer(sample_entries()).diff_id


def test_golden_diff_id_pins_the_tar_bytes():
    # the diff ID depends only on the tar bytes (not on zlib): same on every machine and Python 3.10-3.13
    entries = sample_entries() + [Entry("c/" + "n" * 150, data=b"l"), Entry("caf\u00e9", data=b"u"),
                                  Entry("big", data=b"x", uid=3_000_000, mtime=2 ** 34)]
    assert str(build_layer(entries).diff_id) == \
        "sha256:771549b2f881dcc26ad20f8d507ecc933895a4fbf123d2f2e8cdf2277d8ab8a6"


def many_files(tmp_path, count=300):
    """Entries of `count` files on disk, small and large (several 1 MiB blocks), with their directory."""
    root = tmp_path / "many"
    root.mkdir()
    rng = random.Random(3)
    for i in range(count):
        size = rng.choice([0, 7, 511, 512, 513, 40_000, (1 << 20) + 5, 3 << 20]) if i % 10 == 0 else rng.randrange(900)
        (root / f"f{i:03}").write_bytes(rng.randbytes(size // 2) + b"a" * (size - size // 2))
    return entries_from_dir(root)


def test_background_gzip_writes_the_same_bytes(tmp_path):
    entries = many_files(tmp_path)
    outputs = []
    for background in (False, True):
        buf = io.BytesIO()
        outputs.append((write_layer(entries, buf, "gzip", background=background), buf.getvalue()))
    assert outputs[0] == outputs[1]
    (diff_id, size), data = outputs[0]
    tar = gzip.decompress(data)
    assert len(tar) == size and Digest.of(tar) == diff_id
    assert tar == tar_of(entries)       # the same tar as written without compression


class FailingFile(io.BytesIO):
    """A file that fails once `limit` bytes were written, as a full disk does."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit

    def write(self, b):
        if self.tell() + len(b) > self.limit:
            raise OSError(28, "No space left on device")
        return super().write(b)


def gzip_threads():
    return [t for t in threading.enumerate() if t.name == "labkit-gzip"]


def test_a_write_error_in_the_background_compressor_reaches_the_caller(tmp_path):
    entries = many_files(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        write_layer(entries, FailingFile(200_000), "gzip", background=True)
    assert gzip_threads() == []


def test_write_layer_stops_the_compressor_when_a_source_is_missing(tmp_path):
    entries = many_files(tmp_path, 40)
    os.remove([e for e in entries if e.kind == "file"][-1].source)
    with pytest.raises(FileNotFoundError):
        write_layer(entries, io.BytesIO(), "gzip", background=True)
    assert gzip_threads() == []


def test_abort_gives_up_without_a_trailer():
    out = io.BytesIO()
    w = GzipWriter(out, background=True)
    for _ in range(20):
        w.write(os.urandom(1 << 16))
    w.abort()
    assert gzip_threads() == []
    with pytest.raises(EOFError):               # the stream ends without its last block and trailer
        gzip.decompress(out.getvalue())
