"""labkit's own tar header reader (labkit.layers.reader): what it accepts is read as Go's archive/tar (docker)
reads it, ordinary archives read as Python's tarfile reads them, and headers readers disagree on are refused.
The hostile corpus (test_layers_apply.py) holds the attacks; this holds the grammar."""

from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from labkit.errors import LabkitError, TruncatedLayer, UnsafeLayer
from labkit.layers.reader import LayerReader, _number, index_layer

_spec = importlib.util.spec_from_file_location("labkit_hostile_corpus_reader",
                                               Path(__file__).parent / "hostile" / "make_corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = corpus
_spec.loader.exec_module(corpus)


def members(data: bytes) -> list:
    """Return (path, kind, size, mode, uid, gid, mtime, linkname) of every member, data read."""
    reader = LayerReader(io.BytesIO(data))
    out = []
    for m in reader:
        if m.sparse is not None:
            b"".join(bytes(c) for _, c in reader.sparse_regions(m))
        else:
            reader.copy_data(m, lambda c: None)
        out.append((m.path, m.kind, m.size, m.mode, m.uid, m.gid, m.mtime, m.linkname))
    reader.finish()
    return out


def patched(block: bytes, at: int, value: bytes) -> bytes:
    """Return the header `block` with `value` written at offset `at` and its checksum made right again."""
    buf = bytearray(block)
    buf[at:at + len(value)] = value
    corpus._checksum(buf)
    return bytes(buf)


@pytest.mark.parametrize("field, value", [
    (b"0000644\0", 0o644), (b"0000644 ", 0o644), (b"   644 \0", 0o644), (b"644\0\0\0\0\0", 0o644),
    (b"\0\0\0\0\0\0\0\0", 0), (b"        ", 0), (b"\x80\0\0\0\0\0\x01\x00", 256), (b"\xff" * 8, -1),
])
def test_number_fields_as_go_reads_them(field, value):
    assert _number(field) == value


@pytest.mark.parametrize("field", [b"6 44\0\0\0\0", b"0o644\0\0\0", b"6_44\0\0\0\0", b"+644\0\0\0\0", b"644\0junk",
                                   b"0000648\0", b"-000644\0"])
def test_number_fields_readers_disagree_on_are_refused(field):
    with pytest.raises(ValueError):
        _number(field)


def test_a_bad_mode_field_is_a_bad_header():
    head = corpus.file("a", b"1")
    data = patched(head[:512], 100, b"0o00644\0") + head[512:] + bytes(1024)
    with pytest.raises(TruncatedLayer, match="invalid tar header at offset 0 .bad number field."):
        index_layer(io.BytesIO(data))


def test_the_ustar_prefix_is_read_only_under_the_ustar_magic():
    ustar = corpus.member("x" * 20 + "/" + "n" * 99, fmt=tarfile.USTAR_FORMAT)[:512]
    assert ustar[345:365] == b"x" * 20
    assert members(ustar + bytes(1024))[0][0] == "x" * 20 + "/" + "n" * 99
    # the same bytes under the old GNU magic: Go reads no prefix there (those bytes are atime and ctime)
    gnu = patched(ustar, 257, b"ustar  \0")
    with pytest.raises(TruncatedLayer, match="bad number field"):      # a prefix that is no time: refused
        members(gnu + bytes(1024))
    # v7 (no magic): no prefix either
    v7 = patched(ustar, 257, bytes(8))
    assert members(v7 + bytes(1024))[0][0] == "n" * 99
    # star: a 131-byte prefix, then atime and ctime
    star = patched(patched(ustar, 476, b"00000000000\0" * 2), 508, b"tar\0")
    assert members(star + bytes(1024))[0][0] == "x" * 20 + "/" + "n" * 99


def test_gnu_times_that_are_numbers_are_accepted():
    gnu = corpus.member("a", fmt=tarfile.GNU_FORMAT)[:512]
    data = patched(gnu, 345, b"00000001234\0" + b"00000001234\0")
    assert members(data + bytes(1024))[0][0] == "a"


def test_solaris_x_headers_are_no_pax_to_go_and_refused():
    data = corpus.tar(corpus.member("x", b"X", corpus.pax_records({"path": "evil"})), corpus.file("a", b"1"))
    with pytest.raises(UnsafeLayer, match="unsupported tar entry type b'X'"):
        index_layer(io.BytesIO(data))


def test_a_long_name_and_a_pax_path_for_one_member_are_refused():
    data = corpus.tar(corpus.long_name("from-gnu"), corpus.file("a", b"1", pax={"path": "from-pax"}))
    with pytest.raises(UnsafeLayer, match="a GNU long name and a PAX path"):
        index_layer(io.BytesIO(data))


@pytest.mark.parametrize("records, expect", [
    ({"mtime": "1700000000.123456789"}, 1700000000), ({"mtime": "-5"}, -5), ({"uid": "4294967296"}, 4294967296),
])
def test_pax_numbers(records, expect):
    key = next(iter(records))
    got = index_layer(io.BytesIO(corpus.tar(corpus.file("a", b"1", pax=records)))).entries[0]
    assert getattr(got, key) == expect


@pytest.mark.parametrize("records", [{"mtime": "1e9"}, {"mtime": "0x10"}, {"uid": "-1"}, {"gid": "1.5"},
                                     {"uid": "9" * 30}])
def test_invalid_pax_numbers_are_refused(records):
    with pytest.raises(LabkitError, match="truncated or corrupt"):
        index_layer(io.BytesIO(corpus.tar(corpus.file("a", b"1", pax=records))))


@pytest.mark.parametrize("records", [{"GNU.sparse.name": "other"}, {"GNU.sparse.size": "10"},
                                     {"GNU.sparse.major": "2", "GNU.sparse.minor": "0", "GNU.sparse.map": "0,1"}])
def test_gnu_sparse_records_on_a_plain_file_are_refused(records):
    with pytest.raises(UnsafeLayer, match="ambiguously"):
        index_layer(io.BytesIO(corpus.tar(corpus.file("a", b"1", pax=records))))


def test_old_gnu_sparse_map_entries_after_its_end_are_refused():
    head = corpus.gnu_sparse("s", 100, [(0, b"x")])
    data = patched(head[:512], 386 + 24 + 12, b"00000000001\0") + head[512:]   # entry 1: no offset, 1 byte
    with pytest.raises(UnsafeLayer, match="sparse map entries after its end"):
        index_layer(io.BytesIO(corpus.tar(data)))


def test_pax_sparse_0_0_records_in_order():
    body = (corpus.pax_records({"GNU.sparse.size": "20", "GNU.sparse.numblocks": "2"})
            + corpus.pax_records({"GNU.sparse.offset": "0"}) + corpus.pax_records({"GNU.sparse.numbytes": "2"})
            + corpus.pax_records({"GNU.sparse.offset": "18"}) + corpus.pax_records({"GNU.sparse.numbytes": "2"}))
    data = corpus.tar(corpus.member("pax", tarfile.XHDTYPE, body), corpus.file("s", b"abcd"))
    reader = LayerReader(io.BytesIO(data))
    m = next(iter(reader))
    assert (m.path, m.size, m.sparse) == ("s", 20, [(0, 2), (18, 2)])
    assert [(o, bytes(c)) for o, c in reader.sparse_regions(m)] == [(0, b"ab"), (18, b"cd")]
    swapped = (corpus.pax_records({"GNU.sparse.size": "20"}) + corpus.pax_records({"GNU.sparse.offset": "0"})
               + corpus.pax_records({"GNU.sparse.offset": "18"}))
    with pytest.raises(UnsafeLayer, match="out of order"):
        index_layer(io.BytesIO(corpus.tar(corpus.member("pax", tarfile.XHDTYPE, swapped), corpus.file("s", b"abcd"))))


def test_data_arrives_in_pieces_of_any_size():
    """A stream that returns a few bytes per read (a pipe) gives the same members and data."""
    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data, self.pos = data, 0

        def readable(self):
            return True

        def read(self, n=-1):
            out = self.data[self.pos:self.pos + 7]
            self.pos += len(out)
            return out
    data = corpus.tar(corpus.file("a", b"x" * 5000), corpus.file("b" * 150, b"y"), corpus.dir_("d"),
                      corpus.gnu_sparse("s", 1 << 16, [(0, b"a" * 600), (1 << 15, b"b" * 600)]))
    got = []
    reader = LayerReader(Trickle(data))
    for m in reader:
        chunks = []
        if m.sparse is not None:
            chunks = [bytes(c) for _, c in reader.sparse_regions(m)]
        else:
            reader.copy_data(m, lambda c: chunks.append(bytes(c)))
        got.append((m.path, b"".join(chunks)))
    reader.finish()
    assert got == [("a", b"x" * 5000), ("b" * 150, b"y"), ("d", b""), ("s", b"a" * 600 + b"b" * 600)]
    assert reader.size == len(data)


# ---- ordinary archives: read as Python's tarfile reads them (the oracle for what is not in dispute) ------------
_names = st.text(alphabet=st.sampled_from("abcé-_.x"), min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
_member = st.tuples(st.lists(_names, min_size=1, max_size=12).map("/".join),
                    st.sampled_from(["file", "dir", "symlink"]), st.binary(max_size=1500),
                    st.integers(0, 0o7777), st.integers(0, 2 ** 21 - 1), st.integers(0, 2 ** 33 - 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_member, max_size=8), st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))
def test_ordinary_archives_read_as_tarfile_reads_them(items, fmt):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, data, mode, uid, mtime in items:
            ti = tarfile.TarInfo(name)
            ti.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}[kind]
            ti.mode, ti.uid, ti.mtime = mode, uid, mtime
            if kind == "symlink":
                ti.linkname = name[::-1]
            ti.size = len(data) if kind == "file" else 0
            try:
                tf.addfile(ti, io.BytesIO(data) if kind == "file" else None)
            except ValueError:         # a name or number this format cannot hold
                return
    data = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        want = [(t.name, t.size if t.isfile() else 0, t.mode, t.uid, int(t.mtime), t.linkname if t.issym() else "")
                for t in tf]
    got = [(name, size, mode, uid, mtime, link) for name, _k, size, mode, uid, _g, mtime, link in members(data)]
    assert got == want
