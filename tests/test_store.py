"""The content store: verified atomic blob writes, claims vs GC, concurrent writers, records, rmi, sizes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import imagefactory as f
from labkit.digest import Digest
from labkit.errors import Conflict, DigestMismatch, NotFound, UsageError
from labkit.oci import OCI_INDEX, Descriptor
from labkit.oci.keys import INDEX_DIGEST, REF_NAME
from labkit.store import OciLayout, Store

FORK = multiprocessing.get_context("fork")


def snapshot(root: Path) -> dict:
    """Return every path under `root` with its bytes (None for directories)."""
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = None if p.is_dir() else p.read_bytes()
    return out


def assert_valid_layout(root: Path) -> None:
    assert json.loads((root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((root / "index.json").read_text())
    assert index["schemaVersion"] == 2
    for p in (root / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, f"blob {p.name} does not match its name"
    for m in index["manifests"]:
        assert (root / "blobs" / "sha256" / m["digest"].split(":")[1]).is_file()


def leftovers(store: Store) -> list[str]:
    """Return partial files and claim files left in the store's side area."""
    tmp = store.layout.tmp_dir
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.suffix in (".partial", ".claim"))


# --- atomic, verified writes -----------------------------------------------------------------------------

DATA = b"x" * 100_000 + b"end"
DIGEST = Digest.of(DATA)


def raising_stream():
    yield DATA[:50_000]
    raise ConnectionError("connection reset by peer")


def lying_stream():
    yield DATA[:50_000]
    yield b"y" * (len(DATA) - 50_000)  # right length, wrong bytes


@pytest.mark.parametrize("chunks,size,error", [
    (raising_stream, len(DATA), ConnectionError),
    (lying_stream, len(DATA), DigestMismatch),
    (lambda: [DATA[:-1]], len(DATA), DigestMismatch),  # short stream vs declared size
    (lambda: [DATA, b"!"], len(DATA), DigestMismatch),  # longer than declared
    (lambda: [DATA[:-1]], None, DigestMismatch),  # no size: the digest catches it
], ids=["raises", "lies", "short", "long", "short-no-size"])
def test_failed_write_leaves_the_store_unchanged(store, chunks, size, error):
    f.store_image(store, f.make_image(), "debian:jessie")
    before = snapshot(store.layout.root)
    with pytest.raises(error):
        store.layout.ingest(chunks(), DIGEST, size)
    assert snapshot(store.layout.root) == before
    assert not store.layout.has_blob(DIGEST)
    assert leftovers(store) == []


def test_failed_write_into_a_new_store_creates_nothing(store):
    with pytest.raises(DigestMismatch):
        store.layout.put_bytes(b"abc", Digest.of(b"abd"))
    assert not store.layout.root.exists()


def test_write_creates_a_valid_layout_and_existing_blob_is_done(store):
    assert store.layout.put_bytes(DATA) == DIGEST
    assert_valid_layout(store.layout.root)
    assert store.layout.read_blob(DIGEST) == DATA
    with store.layout.blob_writer(DIGEST, len(DATA)) as w:
        assert w.exists
        w.write(b"whatever")  # drained, not checked: the blob is already verified
    assert store.layout.read_blob(DIGEST) == DATA


def test_blob_writer_resumes_from_offset(store):
    """The registry client continues a dropped download from .offset."""
    with store.layout.blob_writer(DIGEST, len(DATA)) as w:
        w.write(DATA[:1000])
        assert w.offset == 1000
        w.write(DATA[w.offset:])
    assert store.layout.read_blob(DIGEST) == DATA


def test_blob_writer_exception_inside_block_discards(store):
    with pytest.raises(RuntimeError):
        with store.layout.blob_writer(DIGEST, len(DATA)) as w:
            w.write(DATA)
            raise RuntimeError("caller gave up")
    assert not store.layout.has_blob(DIGEST)
    assert leftovers(store) == []


def test_temp_files_live_outside_the_layout(store):
    with store.layout.blob_writer(DIGEST, len(DATA)) as w:
        w.write(DATA[:10])
        partials = list(store.layout.tmp_dir.rglob("*.partial"))
        assert len(partials) == 1
        assert store.layout.root not in partials[0].parents
        w.write(DATA[10:])
    assert list(store.layout.tmp_dir.rglob("*.partial")) == []


# --- claims and GC ---------------------------------------------------------------------------------------

def test_gc_keeps_a_blob_being_written(store):
    f.store_image(store, f.make_image(), "debian:jessie")
    with store.layout.blob_writer(DIGEST, len(DATA)) as w:
        w.write(DATA[:10])
        assert store.rmi("debian:jessie")[-1].startswith("Deleted: ")  # runs gc while the write is open
        assert _gc_in_child(store) == []
        w.write(DATA[10:])
    assert store.layout.read_blob(DIGEST) == DATA  # written, claimed until now, not yet referenced
    assert store.layout.gc() == [DIGEST]


def _gc_in_child(store: Store) -> list[Digest]:
    q = FORK.Queue()
    p = FORK.Process(target=lambda: q.put([str(d) for d in Store(store.home).gc()]))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    return [Digest.parse(d) for d in q.get(timeout=5)]


def test_claim_held_across_a_pull_keeps_blobs_until_the_index_names_them(store):
    """A pull writes layers, then config, then manifest, then index.json; gc in between removes nothing."""
    img = f.make_image([{"a": b"1"}, {"b": b"2"}])
    with store.claim(img.blobs):
        for lb in img.layers:
            store.layout.put_bytes(lb.data)
            assert _gc_in_child(store) == []
        store.layout.put_bytes(img.config)
        assert _gc_in_child(store) == []
        store.add_image("app:1", img.manifest_obj())
    assert _gc_in_child(store) == []
    assert store.resolve("app:1").image_id == img.config_digest


def test_unclaimed_unreferenced_blobs_are_collected(store):
    store.layout.put_bytes(b"orphan")
    with store.claim([Digest.of(b"held")]):
        store.layout.put_bytes(b"held")
        assert store.gc() == [Digest.of(b"orphan")]
    assert store.gc() == [Digest.of(b"held")]


def test_claim_of_a_dead_process_is_ignored(store):
    store.layout.put_bytes(b"left behind")

    def die_holding_a_claim():
        store.layout.claim([Digest.of(b"left behind")])
        os._exit(0)  # no release: the flock goes with the process

    p = FORK.Process(target=die_holding_a_claim)
    p.start()
    p.join(60)
    assert list(store.layout.claims_dir.glob("*.claim"))  # the file is still there
    assert store.gc() == [Digest.of(b"left behind")]
    assert list(store.layout.claims_dir.glob("*.claim")) == []


def test_claim_made_after_gc_sees_what_gc_left(store):
    """An existing unreferenced blob claimed by a writer: it is either collected first or kept."""
    store.layout.put_bytes(b"old")
    with store.layout.blob_writer(Digest.of(b"old"), 3) as w:
        assert w.exists
        assert store.gc() == []
    assert store.gc() == [Digest.of(b"old")]


# --- two processes at once ----------------------------------------------------------------------------------

BASE = f.layer({"etc/os-release": b"ID=labkit\n" * 1000})


BIG = os.urandom(1 << 21)


def _writer(home: str, worker: int, start) -> None:
    store = Store(Path(home))
    start.wait(30)
    with store.layout.blob_writer(Digest.of(BIG), len(BIG)) as w:  # everyone writes the same blob at once
        for i in range(0, len(BIG), 1 << 16):
            w.write(BIG[i:i + (1 << 16)])
    for k in range(3):
        img = f.make_image([BASE, {f"app/{worker}/{k}": b"z" * (k + 1)}], created=f"2017-01-0{k + 1}T00:00:00Z")
        f.store_image(store, img, f"app{worker}:v{k}")
        store.layout.put_bytes(b"same blob from everyone")
        store.layout.put_bytes(f"blob of worker {worker}".encode())


def test_processes_writing_and_adding_images_at_once(store):
    start = FORK.Event()
    procs = [FORK.Process(target=_writer, args=(str(store.home), w, start)) for w in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert_valid_layout(store.layout.root)
    names = sorted(f"{r.repository}:{r.tag}" for r in store.images())
    assert names == sorted(f"app{w}:v{k}" for w in range(4) for k in range(3))
    assert store.layout.has_blob(Digest.of(b"same blob from everyone"))
    assert store.layout.read_blob(Digest.of(BIG)) == BIG
    assert all(store.layout.has_blob(Digest.of(f"blob of worker {w}".encode())) for w in range(4))
    assert leftovers(store) == []


# --- records, names, resolve ------------------------------------------------------------------------------

def test_records_in_index_json_use_the_full_reference(store):
    img = f.make_image()
    f.store_image(store, img, "debian:jessie")
    entries = json.loads((store.layout.root / "index.json").read_text())["manifests"]
    assert [e["annotations"][REF_NAME] for e in entries] == [
        "docker.io/library/debian:jessie", f"docker.io/library/debian@{img.manifest_digest}"]
    assert {e["digest"] for e in entries} == {str(img.manifest_digest)}


def test_image_pulled_through_an_index_is_recorded_by_its_platform_manifest(store):
    idx = f.make_index()
    rec = f.store_image(store, idx, "busybox")
    amd64 = idx.image_for("linux/amd64")
    assert rec.manifest.digest == amd64.manifest_digest
    assert rec.index_digest == idx.digest
    assert rec.digests == (idx.digest,)  # the DIGEST column and "up to date" checks use the index's
    entry = json.loads((store.layout.root / "index.json").read_text())["manifests"][0]
    assert entry["digest"] == str(amd64.manifest_digest)
    assert entry["annotations"][INDEX_DIGEST] == str(idx.digest)
    assert store.resolve(f"busybox@{idx.digest}") == rec


def test_an_index_entry_written_by_skopeo_all_lists_the_host_platform(store):
    idx = f.make_index()
    for d, data in idx.blobs.items():
        store.layout.put_bytes(data, d)
    store.layout.set_index([Descriptor(OCI_INDEX, idx.digest, len(idx.raw),
                                       annotations={REF_NAME: "docker.io/library/multi:1"})])
    (rec,) = store.images()
    assert (rec.repository, rec.tag) == ("multi", "1")
    assert rec.image_id == idx.image_for("linux/amd64").config_digest
    assert rec.index_digest == idx.digest
    assert store.gc() == []  # every platform is reachable from the stored index


def test_entries_without_a_full_reference_list_as_none(store):
    img = f.make_image()
    f.store_image(store, img, "debian:jessie")
    other = f.make_image([{"other": b"1"}], created="2016-10-01T00:00:00Z")
    for d, data in other.blobs.items():
        store.layout.put_bytes(data, d)

    def add(old):  # what `skopeo copy ... oci:DIR:foo` writes
        return [*old, Descriptor(other.media_type, other.manifest_digest, len(other.manifest),
                                 annotations={REF_NAME: "foo"})]

    store.layout.update_index(add)
    rows = [(r.repository, r.tag, r.image_id) for r in store.images()]
    assert rows == [("<none>", "<none>", other.config_digest), ("debian", "jessie", img.config_digest)]
    assert store.resolve(other.config_digest.short).name is None


def test_pulled_by_digest_only_has_no_tag(store):
    img = f.make_image()
    (rec,) = [f.store_image(store, img, f"debian@{img.manifest_digest}")]
    assert (rec.repository, rec.tag, rec.digests) == ("debian", "<none>", (img.manifest_digest,))
    assert [(r.repository, r.tag) for r in store.images()] == [("debian", "<none>")]


def test_images_newest_first(store):
    for name, created in [("old", "2015-01-01T00:00:00Z"), ("new", "2017-01-01T00:00:00Z"),
                          ("mid", "2016-01-01T00:00:00Z")]:
        f.store_image(store, f.make_image([{name: b"1"}], created=created), name)
    assert [r.repository for r in store.images()] == ["new", "mid", "old"]


def test_resolve_by_name_id_and_digest(store):
    img = f.make_image()
    rec = f.store_image(store, img, "debian:jessie")
    f.store_image(store, f.make_image([{"x": b"1"}]), "ubuntu")
    assert store.resolve("ubuntu").name.familiar == "ubuntu:latest"
    assert store.resolve("docker.io/library/ubuntu:latest").repository == "ubuntu"
    for query in ["debian:jessie", "docker.io/library/debian:jessie", img.config_digest.short,
                  img.config_digest.hex, str(img.config_digest), f"sha256:{img.config_digest.hex[:12]}",
                  f"debian@{img.manifest_digest}"]:
        assert store.resolve(query).image_id == rec.image_id, query
    for missing in ["debian", "debian:stretch", "0" * 12, f"ubuntu@{img.manifest_digest}"]:
        with pytest.raises(NotFound, match="No such image"):
            store.resolve(missing)


# --- tag and rmi ------------------------------------------------------------------------------------------

def test_tag_and_rmi_lines_like_docker(store):
    img = f.make_image()
    f.store_image(store, img, "debian:jessie")
    store.tag("debian:jessie", "mydebian")
    assert sorted((r.repository, r.tag) for r in store.images()) == [("debian", "jessie"), ("mydebian", "latest")]
    with pytest.raises(Conflict) as e:
        store.rmi(img.config_digest.short)
    assert str(e.value) == (f"conflict: unable to delete {img.config_digest.short} (must be forced) - "
                            "image is referenced in multiple repositories")
    assert store.rmi("debian:jessie") == ["Untagged: debian:jessie", f"Untagged: debian@{img.manifest_digest}"]
    assert store.layout.has_blob(img.config_digest)
    assert store.rmi("mydebian") == ["Untagged: mydebian:latest", f"Deleted: {img.config_digest}"]
    assert store.images() == []
    assert store.layout.blobs() == set()
    with pytest.raises(NotFound, match="No such image: mydebian"):
        store.rmi("mydebian")


def test_rmi_by_id_removes_every_name_of_one_repository(store):
    img = f.make_image()
    f.store_image(store, img, "debian:jessie")
    other = f.store_image(store, f.make_image([{"keep": b"me"}]), "keep")
    assert store.rmi(img.config_digest.short) == [
        "Untagged: debian:jessie", f"Untagged: debian@{img.manifest_digest}", f"Deleted: {img.config_digest}"]
    assert [r.image_id for r in store.images()] == [other.image_id]
    assert_valid_layout(store.layout.root)
    assert store.layout.blobs() == set(f.make_image([{"keep": b"me"}]).blobs)


def test_rmi_force_by_id_with_several_repositories(store):
    img = f.make_image()
    f.store_image(store, img, "debian:jessie")
    store.tag("debian:jessie", "mydebian:1")
    assert store.rmi(img.config_digest.short, force=True) == [
        "Untagged: debian:jessie", f"Untagged: debian@{img.manifest_digest}", "Untagged: mydebian:1",
        f"Deleted: {img.config_digest}"]
    assert store.images() == []


def test_rmi_of_an_image_a_container_uses(store):
    img = f.make_image()
    f.store_image(store, img, "debian:jessie")
    users = {img.config_digest: [{"id": "0123456789abcdef" * 4}]}
    with pytest.raises(Conflict, match='unable to remove repository reference "debian:jessie" .* container '
                                       "0123456789ab is using its referenced image"):
        store.rmi("debian:jessie", containers=users)
    with pytest.raises(Conflict, match="must be forced"):
        store.rmi(img.config_digest.short, containers=users)
    assert store.rmi("debian:jessie", force=True, containers=users) == [
        "Untagged: debian:jessie", f"Untagged: debian@{img.manifest_digest}"]
    (rec,) = store.images()  # kept, untagged, like docker's dangling image
    assert (rec.repository, rec.tag, rec.image_id) == ("<none>", "<none>", img.config_digest)
    assert store.rmi(img.config_digest.short) == [f"Deleted: {img.config_digest}"]


def test_moving_a_tag_leaves_the_old_image_dangling(store):
    old = f.make_image([{"v": b"1"}], created="2016-01-01T00:00:00Z")
    new = f.make_image([{"v": b"2"}], created="2017-01-01T00:00:00Z")
    f.store_image(store, old, "app:latest")
    f.store_image(store, new, "app:latest")
    # like docker after a pull that moved the tag: the old image keeps its repo digest (app@sha256:...)
    assert [(r.repository, r.tag, r.image_id) for r in store.images()] == [
        ("app", "latest", new.config_digest), ("app", "<none>", old.config_digest)]


def test_moving_a_local_tag_leaves_none_none(store):
    one = f.make_image([{"v": b"1"}], created="2016-01-01T00:00:00Z")
    two = f.make_image([{"v": b"2"}], created="2017-01-01T00:00:00Z")
    f.store_image(store, one, "x")
    store.tag("x", "loc:1")
    assert store.rmi("x") == ["Untagged: x:latest", f"Untagged: x@{one.manifest_digest}"]
    f.store_image(store, two, "y")
    store.tag("y", "loc:1")  # a local tag has no repo digest: the image it left has no name at all
    assert [(r.repository, r.tag, r.image_id) for r in store.images()] == [
        ("loc", "1", two.config_digest), ("y", "latest", two.config_digest), ("<none>", "<none>", one.config_digest)]


def test_tag_refuses_a_digest(store):
    img = f.make_image()
    f.store_image(store, img, "debian:jessie")
    with pytest.raises(UsageError, match="digest"):
        store.tag("debian:jessie", f"x@{img.manifest_digest}")


# --- sizes ------------------------------------------------------------------------------------------------

def test_image_size_is_the_layers_files_and_is_cached(store):
    # Docker (graphdriver) SIZE: the bytes of the files in each layer's diff dir, not the tar streams
    img = f.make_image([{"a": b"a" * 5000}, {"b": b"b" * 7000}])
    rec = f.store_image(store, img, "app")
    assert rec.size == img.files_size == 12000 < img.size
    for lb in img.layers:
        cached = json.loads((store.home / "layerdb" / "sha256" / f"{lb.diff_id.hex}.json").read_text())
        assert cached["files"] == f.files_size(lb) and cached["size"] == lb.uncompressed_size
    store.set_layer_info(img.layers[0].diff_id, {"files": 1, "entries": "kept"})
    assert store.image_size(rec) == 1 + 7000
    assert store.layer_info(img.layers[0].diff_id)["files"] == 1


def test_layer_files_size_counts_files_and_symlinks_and_a_deleting_layer_is_zero(store):
    from labkit.layers.writer import Entry, build_layer

    lb = build_layer([Entry("etc", "dir"), Entry("etc/a", "file", b"x" * 100), Entry("etc/link", "symlink", linkname="a"),
                      Entry("etc/hard", "hardlink", linkname="etc/a")])
    store.layout.put_bytes(lb.data)
    assert store.layer_files_size(lb.diff_id, lb.digest) == 100 + len("a") == f.files_size(lb)
    gone = build_layer([Entry("etc/a", "whiteout")])  # a layer that only deletes: 0 B, as Docker shows
    store.layout.put_bytes(gone.data)
    assert store.layer_files_size(gone.diff_id, gone.digest) == 0 < gone.uncompressed_size


@pytest.mark.parametrize("compression", [None, "zstd", "gzip"])
def test_layer_size_for_each_compression(store, compression):
    lb = f.layer({"f": os.urandom(3000)}, compression)
    store.layout.put_bytes(lb.data)
    assert store.layer_size(lb.diff_id, lb.digest) == lb.uncompressed_size


def test_layer_size_checks_the_diff_id(store):
    lb = f.layer({"f": b"1"})
    store.layout.put_bytes(lb.data)
    with pytest.raises(DigestMismatch, match="config says"):
        store.layer_size(Digest.of(b"not the tar"), lb.digest)
    assert store.layer_info(Digest.of(b"not the tar")) is None


def test_system_df_shared_and_unique(store):
    base = f.layer({"base": b"b" * 10_000})
    a = f.make_image([base, {"a": b"a" * 3000}], created="2017-01-02T00:00:00Z")
    b = f.make_image([base, {"b": b"b" * 5000}], created="2017-01-01T00:00:00Z")
    # the same layer on top of another base has another chain ID: not shared
    c = f.make_image([{"c": b"c"}, base], created="2016-01-01T00:00:00Z")
    for img, name in [(a, "a"), (b, "b"), (c, "c")]:
        f.store_image(store, img, name)
    df = store.system_df(containers={a.config_digest: [{"id": "c1", "size": 10, "running": True}]})
    rows = {i["repository"]: i for i in df["images"]}
    shared = f.files_size(base)
    assert rows["a"]["shared_size"] == shared and rows["a"]["unique_size"] == a.files_size - shared
    assert rows["b"]["shared_size"] == shared and rows["b"]["unique_size"] == b.files_size - shared
    assert rows["c"]["shared_size"] == 0 and rows["c"]["unique_size"] == c.files_size
    assert rows["a"]["containers"] == 1
    layers = a.files_size + b.files_size - shared + c.files_size
    assert df["totals"]["images"] == {"total": 3, "active": 1, "size": layers,
                                      "reclaimable": layers - (a.files_size - shared)}
    assert df["totals"]["containers"] == {"total": 1, "active": 1, "size": 10, "reclaimable": 0}


def test_layout_class_works_on_any_directory(tmp_path):
    layout = OciLayout(tmp_path / "somewhere" / "layout")
    d = layout.put_bytes(b"hello")
    assert layout.read_blob(d) == b"hello"
    assert layout.tmp_dir == tmp_path / "somewhere" / "tmp" / "layout"
    assert layout.index() == []
    assert layout.gc() == [d]


# --- a random history of store operations against a small model ---------------------------------------------

POOL_BASE = f.layer({"base": b"shared" * 100})
POOL = [f.make_image([POOL_BASE, {"n": str(i).encode()}], created=f"2016-0{i + 1}-01T00:00:00Z") for i in range(3)]
NAMES = ["a", "b", "c:1"]
OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(0, 2), st.sampled_from(NAMES)),
    st.tuples(st.just("tag"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("rmi"), st.sampled_from(NAMES)),
    st.tuples(st.just("orphan"), st.integers(0, 3)),
    st.tuples(st.just("gc")),
), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_histories_keep_names_and_blobs_consistent(tmp_path_factory, ops):
    store = Store(tmp_path_factory.mktemp("home"))
    tags: dict[str, int] = {}  # the model: familiar tag -> image index
    canon = {n: n if ":" in n else f"{n}:latest" for n in NAMES}
    for op in ops:
        if op[0] == "add":
            f.store_image(store, POOL[op[1]], op[2])
            tags[canon[op[2]]] = op[1]
        elif op[0] == "tag":
            if canon[op[1]] in tags:
                store.tag(op[1], op[2])
                tags[canon[op[2]]] = tags[canon[op[1]]]
            else:
                with pytest.raises(NotFound):
                    store.tag(op[1], op[2])
        elif op[0] == "rmi":
            if canon[op[1]] in tags:
                assert store.rmi(op[1])[0] == f"Untagged: {canon[op[1]]}"
                del tags[canon[op[1]]]
            else:
                with pytest.raises(NotFound):
                    store.rmi(op[1])
        elif op[0] == "orphan":
            store.layout.put_bytes(f"orphan {op[1]}".encode())
        else:
            store.gc()
        records = store.images()
        listed = {f"{r.repository}:{r.tag}": r.image_id for r in records if r.tag != "<none>"}
        assert listed == {name: POOL[i].config_digest for name, i in tags.items()}
        for r in records:  # everything listed is whole
            img = next(p for p in POOL if p.config_digest == r.image_id)
            assert all(store.layout.has_blob(d) for d in img.blobs)
        if op[0] == "gc":  # after gc exactly the blobs of listed images remain
            kept = set().union(*[next(p for p in POOL if p.config_digest == r.image_id).blobs for r in records])
            assert store.layout.blobs() == kept
    if store.layout.exists():
        assert_valid_layout(store.layout.root)


@pytest.mark.parametrize("text,full", [
    ("docker.io/library/debian:jessie", True),
    ("docker.io/library/debian@sha256:" + "a" * 64, True),
    ("localhost:5000/app:v1", True),
    ("debian:jessie", False),  # familiar, not full
    ("docker.io/library/debian", False),  # no tag
    ("foo", False),
    ("latest", False),
    ("docker.io/library/debian:jessie@sha256:" + "a" * 64, False),
    ("Not A Reference", False),
    ("", False),
])
def test_full_reference(text, full):
    from labkit.store import full_reference

    assert (full_reference(text) is not None) == full


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-v2"])
def test_both_manifest_formats_and_a_docker_manifest_list(store, docker):
    img = f.make_image(docker=docker)
    rec = f.store_image(store, img, "one")
    assert (rec.manifest.media_type, rec.size) == (img.media_type, img.files_size)
    idx = f.make_index(docker=docker)
    rec = f.store_image(store, idx, "two")
    assert (rec.index_digest, rec.image_id) == (idx.digest, idx.image_for("linux/amd64").config_digest)
    assert store.gc() == []


def test_a_missing_layer_lists_with_unknown_size_and_can_be_removed(store):
    img = f.make_image([{"a": b"1"}])
    f.store_image(store, img, "broken")
    assert store.images()[0].size == img.files_size  # measured once, then cached per diff ID
    store.layout.blob_path(img.layers[0].digest).unlink()
    assert store.images()[0].size == img.files_size  # the cached size is still known
    (store.layerdb / "sha256" / f"{img.layers[0].diff_id.hex}.json").unlink()
    (rec,) = store.images()
    assert rec.size == -1
    from labkit import tables
    assert tables.images_table([rec], rec.created).splitlines()[1].endswith("N/A")
    assert store.system_df()["images"][0]["size"] == 0
    assert store.rmi("broken")[-1] == f"Deleted: {img.config_digest}"
    assert store.layout.blobs() == set()
