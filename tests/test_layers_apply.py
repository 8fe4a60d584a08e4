"""apply_layer and pack_layer (the layer store's form) against the hostile corpus (tests/hostile/make_corpus.py)
and the ordinary cases."""

from __future__ import annotations

import importlib.util
import io
import os
import stat
import sys
from pathlib import Path

import pytest

from labkit.digest import Digest
from labkit.errors import DigestMismatch, LabkitError, TruncatedLayer, UnsafeLayer
from labkit.layers import Entry, Limits, build_layer
from labkit.imageview import ImageView
from labkit.layers.apply import AppliedLayer, apply_layer, pack_layer
from labkit.layers.writer import LayerBlob
from labkit.unpack import unpack_view
from labkit.layers.reader import classify_whiteout, clean_path, index_layer

from helpers import peers

_spec = importlib.util.spec_from_file_location("labkit_hostile_corpus",
                                               Path(__file__).parent / "hostile" / "make_corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = corpus
_spec.loader.exec_module(corpus)
CASES = corpus.build_corpus()


def snapshot(root: Path) -> dict:
    """Return {relative path: (type, size/target, mode)} for everything under root, not following links."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = os.lstat(p)
            extra = os.readlink(p) if stat.S_ISLNK(st.st_mode) else st.st_size
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), extra, st.st_mode)
    return out


def tree(root: Path) -> dict:
    """Return the tree in the corpus' notation: "d", "f:<content>", "l:<target>"."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "l:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "d"
            elif p.is_file():
                out[rel] = "f:" + p.read_bytes().decode("latin-1")
            # a fifo (unpack creates them; a layer tree only records them) is not in the notation
    return out


def test_corpus_is_big_and_deterministic():
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)
    again = corpus.build_corpus()
    assert [c.data for c in again] == [c.data for c in CASES]


def apply_case(case, work: Path) -> "tuple[AppliedLayer, Path]":
    """Apply a corpus case into work/layer (its lower layers first, into work/lower-N) and check the image its
    layers make (hard links to lower layers' files must resolve); return (its AppliedLayer, the tree to
    compare with case.tree: the layer's own, or for a case with lower layers the merged image unpacked)."""
    limits = Limits(**case.limits)
    below = [apply_layer(io.BytesIO(data), work / f"lower-{i}", limits) for i, data in enumerate(case.lower)]
    applied = apply_layer(io.BytesIO(case.data), work / "layer", limits)
    view = ImageView(below + [applied])
    view.merged_nodes()
    if not case.lower:
        return applied, work / "layer"
    unpack_view(view, work / "merged")
    return applied, work / "merged"


def work_beside_a_neighbour(tmp_path: Path) -> "tuple[Path, dict]":
    """Return (tmp_path/work, a snapshot of tmp_path) with a file in work that no layer may touch."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "neighbour").write_text("keep me")
    return work, snapshot(tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_corpus(case, tmp_path):
    work, before = work_beside_a_neighbour(tmp_path)
    if case.expect == "ok":
        applied, result = apply_case(case, work)
        assert tree(result) == case.tree
        for attr, want in case.meta.items():
            got = getattr(applied, attr)
            assert (sorted(got) if isinstance(got, list) else got) == (sorted(want) if isinstance(want, list) else want), attr
        after = snapshot(tmp_path)
        assert {k: v for k, v in after.items() if not k.startswith(("work/layer", "work/lower-", "work/merged"))} \
            == before
        # the metadata round-trips through JSON
        assert AppliedLayer.from_json(applied.to_json(), work / "layer").to_json() == applied.to_json()
    else:
        with pytest.raises(LabkitError) as info:
            apply_case(case, work)
        assert_refused_as_expected(case, info.value)
        # nothing of a refused layer is left behind; a layer refused only as part of an image (a hard link to
        # a lower file that is not there) applied completely, as the layer store keeps it
        after = snapshot(tmp_path)
        if (work / "layer").is_dir():
            assert case.expect == "unsafe" and "hard link target" in info.value.rule, info.value
        assert {k: v for k, v in after.items() if not k.startswith(("work/lower-", "work/layer"))} == before, \
            "something outside (or a partial layer) was left behind"
        assert not [p.name for p in work.iterdir() if ".partial-" in p.name]


def assert_refused_as_expected(case, error: LabkitError) -> None:
    """Check that `error` is the refusal the corpus case expects (its kind and rule)."""
    if case.expect == "unsafe":
        assert isinstance(error, UnsafeLayer), error
        assert case.rule in error.rule
    elif case.expect == "truncated":
        assert isinstance(error, TruncatedLayer), error
        assert case.rule in str(error)
    else:
        assert case.expect == "error", case.expect
        assert not isinstance(error, (UnsafeLayer, TruncatedLayer)), error
        assert case.rule in str(error)


def pack_case(case, work: Path) -> "tuple[AppliedLayer, ImageView]":
    """Pack a corpus case's layers as the layer store keeps them (work/lower-N.pack, work/layer.pack); return the
    top layer's AppliedLayer and the image view over all of them, merged (hard links to lower files resolved)."""
    limits = Limits(**case.limits)
    below = [pack_layer(io.BytesIO(data), work / f"lower-{i}.pack", limits) for i, data in enumerate(case.lower)]
    applied = pack_layer(io.BytesIO(case.data), work / "layer.pack", limits)
    view = ImageView(below + [applied])
    view.merged_nodes()
    return applied, view


def _tree_metadata(applied: AppliedLayer) -> dict:
    return {k: v for k, v in applied.to_json().items() if k not in ("packed", "offsets")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_corpus_packed(case, tmp_path):
    """pack_layer takes and refuses exactly what apply_layer does, records the same metadata, and the image its
    pack makes unpacks to the corpus' tree; a refused layer leaves no pack behind."""
    work, before = work_beside_a_neighbour(tmp_path)
    if case.expect == "ok":
        applied, view = pack_case(case, work)
        (tmp_path / "tree").mkdir()
        assert _tree_metadata(applied) == _tree_metadata(apply_case(case, tmp_path / "tree")[0])
        assert applied.packed and len(applied.offsets) == len(applied.index)
        assert AppliedLayer.from_json(applied.to_json(), applied.path).to_json() == applied.to_json()
        unpack_view(view, work / "merged")
        assert tree(work / "merged") == case.tree
        assert sorted(p.name for p in work.iterdir()) == sorted(
            ["neighbour", "merged", "layer.pack", *(f"lower-{i}.pack" for i in range(len(case.lower)))])
    else:
        with pytest.raises(LabkitError) as info:
            pack_case(case, work)
        assert_refused_as_expected(case, info.value)
        if (work / "layer.pack").exists():
            assert case.expect == "unsafe" and "hard link target" in info.value.rule, info.value
        after = snapshot(tmp_path)
        assert {k: v for k, v in after.items() if not k.startswith(("work/lower-", "work/layer.pack"))} == before, \
            "something outside (or a partial pack) was left behind"


PEER_CASES = [c for c in CASES if c.peer]


@pytest.mark.interop("umoci")
@pytest.mark.parametrize("case", PEER_CASES, ids=[c.name for c in PEER_CASES])
def test_hostile_corpus_accepted_cases_match_umoci(case, tmp_path):
    """What the corpus accepts, umoci (the OCI reference unpacker) unpacks to the same tree."""
    assert case.peer == "umoci" and case.expect == "ok"
    lay = _oci_layout([_raw_layer(data) for data in case.lower + (case.data,)], tmp_path)
    peers.run("umoci", "unpack", "--rootless", "--image", f"{lay}:t", str(tmp_path / "bundle"))
    (tmp_path / "mine").mkdir()
    _applied, mine = apply_case(case, tmp_path / "mine")
    assert tree(tmp_path / "bundle" / "rootfs") == tree(mine) == case.tree


def _raw_layer(tar_bytes: bytes) -> LayerBlob:
    """Return an uncompressed layer blob holding `tar_bytes` as they are."""
    d = Digest.of(tar_bytes)
    return LayerBlob(tar_bytes, d, d, len(tar_bytes), "application/vnd.oci.image.layer.v1.tar", len(tar_bytes))


def test_index_refuses_what_apply_refuses():
    for case in CASES:
        if case.expect == "unsafe" and "symlink" not in case.name and "hardlink" not in case.name \
                and case.name not in ("root-is-symlink", "root-slash-is-symlink", "entry-below-file"):
            with pytest.raises(LabkitError):
                index_layer(io.BytesIO(case.data), limits=Limits(**case.limits))
        if case.expect == "truncated":
            with pytest.raises(TruncatedLayer):
                index_layer(io.BytesIO(case.data), limits=Limits(**case.limits))


def test_hardlink_shares_inode_and_setuid_not_on_disk(tmp_path):
    data = corpus.tar(corpus.file("t", b"same", mode=0o4755), corpus.hardlink("h", "t"))
    applied = apply_layer(io.BytesIO(data), tmp_path / "l")
    assert os.stat(tmp_path / "l" / "t").st_ino == os.stat(tmp_path / "l" / "h").st_ino
    assert stat.S_IMODE(os.stat(tmp_path / "l" / "t").st_mode) == 0o755
    assert applied.modes == {"t": 0o4755, "h": 0o4755}


def test_sparse_file_keeps_holes(tmp_path):
    data = corpus.tar(corpus.gnu_sparse("s", 64 << 20, [(0, b"head"), ((64 << 20) - 4, b"tail")]))
    apply_layer(io.BytesIO(data), tmp_path / "l")
    st = os.stat(tmp_path / "l" / "s")
    assert st.st_size == 64 << 20
    assert st.st_blocks * 512 < 1 << 20
    # packed: the holes are holes of the pack, and the file's region reads back whole
    packed = pack_layer(io.BytesIO(data), tmp_path / "pack")
    st = os.stat(tmp_path / "pack")
    assert st.st_size == 64 << 20 and st.st_blocks * 512 < 1 << 20
    s = ImageView([packed]).stat("s").data
    with s.open() as f:
        assert f.read(4) == b"head" and len(f.read()) == (64 << 20) - 4
    assert s.head(4) == b"head" and s.size == 64 << 20


# ---- archives made by GNU tar (on every Debian machine) apply to exactly the tree they were made from ----------
_MIB = 1 << 20
_GNU_TAR = [("gnu", ()), ("oldgnu", ()), ("pax", ()), ("pax", ("--sparse-version=0.0",)),
            ("pax", ("--sparse-version=0.1",)), ("pax", ("--sparse-version=1.0",))]


def _gnu_source(src: Path) -> None:
    """Write a tree that needs every GNU/PAX extension: long names and links, hard links, sparse files."""
    deep = src / ("d" * 60) / ("d" * 60) / ("d" * 60)
    deep.mkdir(parents=True)
    (deep / "f").write_bytes(b"deep")
    (src / ("L" * 150)).write_bytes(b"long")
    os.link(src / ("L" * 150), src / "hard")
    os.symlink("x" * 120, src / "longlink")
    (src / "d").mkdir(mode=0o750)
    (src / "caf\u00e9").write_bytes(b"utf8")
    (src / "exe").write_bytes(b"#!/bin/sh\n")
    os.chmod(src / "exe", 0o755)
    # 8 data regions in 8 MiB (more than the 4 an old-GNU header holds: needs extension blocks)
    with open(src / "sparse8", "wb") as f:
        for i in range(8):
            f.seek(i * _MIB + 512 * i)
            f.write(bytes([65 + i]) * (4096 + 100 * i))
        f.truncate(8 * _MIB)
    with open(src / "sparse-tail-hole", "wb") as f:     # ends in a hole
        f.seek(_MIB)
        f.write(b"mid")
        f.truncate(4 * _MIB)


@pytest.mark.parametrize("fmt, extra", _GNU_TAR, ids=[f + "".join(x) for f, x in _GNU_TAR])
def test_gnu_tar_archive_applies_to_its_source(fmt, extra, tmp_path):
    import subprocess
    import tarfile
    src, archive, target = tmp_path / "src", tmp_path / "a.tar", tmp_path / "w" / "layer"
    _gnu_source(src)
    (tmp_path / "w").mkdir()
    subprocess.run(["tar", "--create", f"--format={fmt}", *extra, "--sparse", "--hole-detection=raw",
                    "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--sort=name",
                    "-f", str(archive), "-C", str(src), "."],
                   check=True, capture_output=True, env={**os.environ, "LC_ALL": "C.UTF-8"})
    with tarfile.open(archive) as tf:          # the archive really uses GNU sparse members
        assert {m.name.lstrip("./") for m in tf if m.issparse()} == {"sparse8", "sparse-tail-hole"}
    applied = apply_layer(str(archive), target)
    assert tree(target) == tree(src)
    for rel in tree(src):
        a, b = os.lstat(src / rel), os.lstat(target / rel)
        assert (stat.S_IFMT(a.st_mode), a.st_size) == (stat.S_IFMT(b.st_mode), b.st_size), rel
        if not stat.S_ISLNK(a.st_mode):
            assert stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode), rel
            assert int(b.st_mtime) == 0, rel
    assert os.stat(target / "hard").st_ino == os.stat(target / ("L" * 150)).st_ino
    for name in ("sparse8", "sparse-tail-hole"):            # holes kept (loosely: far fewer blocks than bytes)
        assert os.stat(target / name).st_blocks * 512 < _MIB, name
    assert index_layer(str(archive)).entries == applied.index
    assert list((tmp_path / "w").iterdir()) == [target]


def entries():
    return [Entry("etc", "dir"), Entry("etc/os-release", data=b"ID=lab\n"), Entry("bin", "dir", mode=0o555),
            Entry("bin/sh", data=b"\x7fELF", mode=0o755), Entry("bin/ash", "hardlink", linkname="bin/sh"),
            Entry("sbin", "symlink", linkname="bin"), Entry("old", "whiteout"), Entry("var", "opaque")]


@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
def test_roundtrip_writer_apply(compression, tmp_path):
    blob = build_layer(entries(), compression)
    applied = apply_layer(io.BytesIO(blob.data), tmp_path / "l", expected_diff_id=blob.diff_id)
    assert applied.diff_id == blob.diff_id and applied.size == blob.uncompressed_size
    assert tree(tmp_path / "l") == {"etc": "d", "etc/os-release": "f:ID=lab\n", "bin": "d",
                                    "bin/sh": "f:\x7fELF", "bin/ash": "f:\x7fELF", "sbin": "l:bin", "var": "d"}
    assert stat.S_IMODE(os.stat(tmp_path / "l" / "bin").st_mode) == 0o555
    assert applied.whiteouts == ["old"] and applied.opaque_dirs == ["var"]
    ix = index_layer(io.BytesIO(blob.data))
    assert ix.diff_id == blob.diff_id and ix.entries == applied.index


def test_expected_diff_id_mismatch_leaves_nothing(tmp_path):
    (tmp_path / "w").mkdir()
    blob = build_layer(entries())
    with pytest.raises(DigestMismatch):
        apply_layer(io.BytesIO(blob.data), tmp_path / "w" / "l", expected_diff_id=Digest.of(b"other"))
    assert list((tmp_path / "w").iterdir()) == []
    with pytest.raises(DigestMismatch):
        index_layer(io.BytesIO(blob.data), expected_diff_id=Digest.of(b"other"))


def test_target_must_be_new_or_empty(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("1")
    with pytest.raises(LabkitError, match="not an empty directory"):
        apply_layer(io.BytesIO(build_layer(entries()).data), tmp_path / "full")
    (tmp_path / "empty").mkdir()
    apply_layer(io.BytesIO(build_layer(entries()).data), tmp_path / "empty")
    assert (tmp_path / "empty" / "etc" / "os-release").exists()


def test_truncated_zstd_is_an_error(tmp_path):
    data = build_layer([Entry("a", data=os.urandom(200_000))], "zstd").data
    (tmp_path / "w").mkdir()
    with pytest.raises(TruncatedLayer):
        apply_layer(io.BytesIO(data[: len(data) // 2]), tmp_path / "w" / "l")
    assert list((tmp_path / "w").iterdir()) == []


@pytest.mark.parametrize("raw, clean", [
    ("a/b", "a/b"), ("./a//b/", "a/b"), ("/etc/x", "etc/x"), ("/../x", "x"), (".", ""), ("./", ""),
    ("a/./b/../c", "a/c"), ("/", ""),
])
def test_clean_path_table(raw, clean):
    assert clean_path(raw) == clean


@pytest.mark.parametrize("raw", ["..", "../x", "a/../../x", "./../x"])
def test_clean_path_refuses_escapes(raw):
    with pytest.raises(UnsafeLayer, match="escapes"):
        clean_path(raw)


@pytest.mark.parametrize("path, expected", [
    ("etc/passwd", None),
    ("etc/.wh.passwd", ("whiteout", "etc/passwd")),
    (".wh.etc", ("whiteout", "etc")),
    ("var/.wh..wh..opq", ("opaque", "var")),
    (".wh..wh..opq", ("opaque", "")),
    (".wh..wh.plnk/1.2", ("aufs-meta", ".wh..wh.plnk/1.2")),
    ("a/.wh..wh.plnk", UnsafeLayer),
    (".wh.", UnsafeLayer), (".wh..", UnsafeLayer), ("a/.wh...", UnsafeLayer),
])
def test_classify_whiteout_table(path, expected):
    if expected is UnsafeLayer:
        with pytest.raises(UnsafeLayer, match="invalid whiteout"):
            classify_whiteout(path)
    else:
        assert classify_whiteout(path) == expected


def _oci_layout(blobs, root: Path) -> Path:
    """Write an OCI image layout (tag "t") of the layer blobs `blobs` (bottom first); return its directory."""
    import hashlib
    import json
    lay = root / "oci"
    (lay / "blobs" / "sha256").mkdir(parents=True)
    (lay / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(data: bytes) -> str:
        h = hashlib.sha256(data).hexdigest()
        (lay / "blobs" / "sha256" / h).write_bytes(data)
        return "sha256:" + h
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [str(b.diff_id) for b in blobs]}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg),
                                 "size": len(cfg)},
                      "layers": [{"mediaType": b.media_type, "digest": put(b.data), "size": b.size}
                                 for b in blobs]}).encode()
    (lay / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(man), "size": len(man),
         "annotations": {"org.opencontainers.image.ref.name": "t"}}]}))
    return lay


@pytest.mark.interop("umoci")
def test_umoci_unpacks_the_same_tree(tmp_path):
    es = entries()[:-2] + [Entry("c/" + "n" * 150, data=b"long"), Entry("caf\u00e9", data=b"u"),
                           Entry("usr", "dir", mtime=5), Entry("usr/bin", "dir"), Entry("tmp", "dir", mode=0o777)]
    blob = build_layer(es, "gzip")
    lay = _oci_layout([blob], tmp_path)
    peers.run("umoci", "unpack", "--rootless", "--image", f"{lay}:t", str(tmp_path / "bundle"))
    theirs, mine = tmp_path / "bundle" / "rootfs", tmp_path / "mine"
    apply_layer(io.BytesIO(blob.data), mine)
    assert tree(theirs) == tree(mine)
    for rel in tree(mine):
        a, b = os.lstat(theirs / rel), os.lstat(mine / rel)
        assert (a.st_mode, int(a.st_mtime)) == (b.st_mode, int(b.st_mtime)), rel


# ---- property: whatever the writer writes, apply reproduces (the oracle is the entry list itself) ----------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_names = st.sampled_from(["a", "b", "c", "d.txt", "\u00e9t\u00e9", "x y"])
_paths = st.lists(_names, min_size=1, max_size=3).map("/".join)
_items = st.lists(st.tuples(_paths, st.sampled_from(["file", "dir", "symlink", "whiteout"]), st.binary(max_size=64)),
                  max_size=25)


def _consistent(items):
    """Keep items so that no path sits below a file, symlink or whiteout; return (entries, expected tree)."""
    kinds: dict[str, tuple] = {}
    for path, kind, data in items:
        parts = path.split("/")
        parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if path in kinds or any(kinds.get(p, ("dir",))[0] != "dir" for p in parents):
            continue
        if any(k.startswith(path + "/") for k in kinds) and kind != "dir":
            continue
        kinds[path] = (kind, data)
    entries, expected = [], {}
    for path, (kind, data) in kinds.items():
        parts = path.split("/")
        for i in range(1, len(parts) if kind != "whiteout" else 1):   # a whiteout creates no parents
            expected.setdefault("/".join(parts[:i]), "d")
        if kind == "file":
            entries.append(Entry(path, data=data))
            expected[path] = "f:" + data.decode("latin-1")
        elif kind == "dir":
            entries.append(Entry(path, "dir"))
            expected[path] = "d"
        elif kind == "symlink":
            entries.append(Entry(path, "symlink", linkname="/target/" + data.hex()))
            expected[path] = "l:/target/" + data.hex()
        else:
            entries.append(Entry(path, "whiteout"))
    return entries, expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=_items, compression=st.sampled_from(["gzip", "zstd", None]))
def test_property_writer_then_apply_round_trips(items, compression, tmp_path_factory):
    entries, expected = _consistent(items)
    blob = build_layer(entries, compression)
    target = tmp_path_factory.mktemp("prop") / "layer"
    applied = apply_layer(io.BytesIO(blob.data), target, expected_diff_id=blob.diff_id)
    assert tree(target) == expected
    assert sorted(applied.whiteouts) == sorted(e.path for e in entries if e.kind == "whiteout")
    assert index_layer(io.BytesIO(blob.data)).entries == applied.index


def test_paths_are_accepted(tmp_path):
    blob = build_layer(entries())
    (tmp_path / "blob").write_bytes(blob.data)
    assert index_layer(tmp_path / "blob").diff_id == blob.diff_id
    assert apply_layer(str(tmp_path / "blob"), tmp_path / "l").diff_id == blob.diff_id


def test_empty_layer_is_dockers_empty_layer(tmp_path):
    blob = build_layer([], None)
    assert blob.data == b"\0" * 1024
    # the diff ID docker shows for every empty layer (1024 zero bytes)
    assert str(blob.diff_id) == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    applied = apply_layer(io.BytesIO(build_layer([]).data), tmp_path / "l", expected_diff_id=blob.diff_id)
    assert applied.entries == 0 and list((tmp_path / "l").iterdir()) == []
    assert index_layer(io.BytesIO(blob.data)).entries == []


@pytest.mark.parametrize("damage", ["unsafe member first", "truncated gzip"])
def test_packing_reads_ahead_and_stops_with_the_parser(damage, tmp_path):
    """pack_layer decompresses and hashes in a read-ahead thread; a layer refused early (much of the stream
    still unread) or cut short stops it: the error is the parser's, no thread and no pack are left."""
    import gzip
    import random
    import threading

    rng = random.Random(7)
    members = [corpus.file(f"f{i}", rng.randbytes(64 << 10)) for i in range(64)]
    if damage == "unsafe member first":
        data, error = gzip.compress(corpus.tar(corpus.file("../escape", b"x"), *members)), UnsafeLayer
    else:
        whole = gzip.compress(corpus.tar(*members))
        data, error = whole[:len(whole) // 2], TruncatedLayer
    with pytest.raises(error):
        pack_layer(io.BytesIO(data), tmp_path / "pack")
    assert not [t for t in threading.enumerate() if t.name == "labkit-layer-read"]
    assert not (tmp_path / "pack").exists() and not (tmp_path / "escape").exists()
