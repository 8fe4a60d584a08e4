"""commit, import and history: the new layer's content, config and history, shared parent layers, -c changes."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
from datetime import datetime, timezone

import pytest

from helpers.imagefactory import stored_entry_image
from labkit.commit import apply_changes, commit, import_tarball, layer_entries
from labkit.daemonconfig import GRAPHDRIVER
from labkit.formatting import ellipsis
from labkit.imageservice import ImageService
from labkit.tables import history, history_table
from labkit.containers import Containers
from labkit.errors import UnsafeLayer, UsageError
from labkit.layers.writer import Entry
from labkit.oci import DOCKER_MANIFEST, chain_ids
from labkit.store import Store

BASE = [
    Entry("etc", "dir"), Entry("etc/hosts", data=b"hosts\n"), Entry("etc/motd", data=b"motd\n"),
    Entry("usr", "dir"), Entry("usr/share", "dir"), Entry("usr/share/doc", "dir"), Entry("usr/share/doc/a", data=b"a"),
]
TOP = [Entry("opt", "dir"), Entry("opt/tool", data=b"tool", mode=0o755)]


@pytest.fixture
def containers(labkit_home, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    stored_entry_image(labkit_home, [BASE, TOP], "base:1")
    return Containers(labkit_home, rng=random.Random(11))


def members(store, desc) -> list[tarfile.TarInfo]:
    data = store.layout.read_blob(desc.digest)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tf:
        return tf.getmembers()


def test_commit_layer_content(containers):
    c = containers.create("base:1", cmd=["sh", "-c", "edit things"])
    c.append("/etc/hosts", b"10.0.0.1 db\n")
    c.remove("/etc/motd")
    c.remove("/usr/share/doc", recursive=True)
    c.mkdir("/usr/share/doc")
    c.write("/usr/share/doc/new", b"n")
    c.chmod("/opt/tool", 0o4755)
    c.symlink("hosts", "/etc/h")
    c.write("/etc/one", b"1")
    c.link("/etc/one", "/etc/two")
    rec = commit(containers.store, containers.layer_store, c, "mine:1", message="my change",
                 author="Ada <ada@example.org>")
    store = containers.store
    parent_m, m = store.manifest(store.resolve("base:1")), store.manifest(rec)
    assert m.layers[:2] == parent_m.layers                    # shared, not copied
    tar = members(store, m.layers[2])
    names = [t.name for t in tar]
    assert names == ["etc", "etc/.wh.motd", "etc/h", "etc/hosts", "etc/one", "etc/two", "opt", "opt/tool",
                     "usr", "usr/share", "usr/share/doc", "usr/share/doc/.wh..wh..opq", "usr/share/doc/new"]
    by = {t.name: t for t in tar}
    assert by["opt/tool"].mode == 0o4755
    assert by["etc/h"].issym() and by["etc/h"].linkname == "hosts"
    assert by["etc/two"].islnk() and by["etc/two"].linkname == "etc/one"
    assert by["etc/hosts"].size == len(b"hosts\n10.0.0.1 db\n")
    # the committed image's view equals the container's
    d = containers.create("mine:1")
    assert d.read("/etc/hosts") == c.read("/etc/hosts")
    assert not d.exists("/etc/motd") and d.listdir("/usr/share/doc") == ["new"]
    assert d.stat("/opt/tool").mode == 0o4755


def test_commit_config_and_history(containers):
    c = containers.create("base:1", cmd=["sh", "-c", "echo hi > /x"])
    c.write("/x", b"hi\n")
    rec = commit(containers.store, containers.layer_store, c, "mine:2", message="add x", author="Ada")
    cfg, parent = containers.store.config(rec), containers.store.config(containers.store.resolve("base:1"))
    assert cfg.diff_ids[:2] == parent.diff_ids and len(cfg.diff_ids) == 3
    assert cfg.chain_ids[:2] == parent.chain_ids
    step = cfg.history[-1]
    assert step["created_by"] == "sh -c echo hi > /x" and step["comment"] == "add x" and step["author"] == "Ada"
    assert step["created"] == "2023-11-14T22:13:20Z" and "empty_layer" not in step
    assert cfg.author == "Ada"
    assert cfg.cmd == ["sh", "-c", "echo hi > /x"]           # docker commit keeps the container's command
    assert rec.repository == "mine" and rec.tag == "2" and rec.digests == ()


def test_empty_commit(containers):
    c = containers.create("base:1")
    rec = commit(containers.store, containers.layer_store, c, "same:1", changes=["ENV A=1"])
    m, parent_m = containers.store.manifest(rec), containers.store.manifest(containers.store.resolve("base:1"))
    assert m.layers == parent_m.layers
    cfg = containers.store.config(rec)
    assert cfg.history[-1].get("empty_layer") is True
    assert "A=1" in cfg.env and rec.image_id != containers.store.resolve("base:1").image_id
    assert layer_entries(c) == []


def test_commit_is_reproducible(containers):
    def make():
        c = containers.create("base:1")
        c.write("/etc/x", b"x")
        return containers.store.manifest(commit(containers.store, containers.layer_store, c, "r:1")).layers[-1].digest
    os.environ["LABKIT_NOW"] = "2024-01-01T00:00:00Z"
    try:
        assert make() == make()
    finally:
        del os.environ["LABKIT_NOW"]


def test_commit_without_name_and_reserved_name(containers):
    c = containers.create("base:1")
    c.write("/f", b"1")
    rec = commit(containers.store, containers.layer_store, c)
    assert (rec.repository, rec.tag) == ("<none>", "<none>")
    with pytest.raises(UsageError, match="reserved"):
        commit(containers.store, containers.layer_store, c, "scratch")


def test_commit_from_scratch(containers):
    c = containers.create("scratch")
    c.mkdir("/bin")
    c.write("/bin/hello", b"#!hi\n")
    rec = commit(containers.store, containers.layer_store, c, "tiny:1")
    assert len(containers.store.manifest(rec).layers) == 1
    assert containers.create("tiny:1").read("/bin/hello") == b"#!hi\n"


def test_commit_keeps_docker_media_types(labkit_home):
    from helpers.imagefactory import entry_image, store_image

    store_image(Store(labkit_home), entry_image([BASE], docker=True), "dock:1")
    containers = Containers(labkit_home)
    c = containers.create("dock:1")
    c.write("/n", b"1")
    m = containers.store.manifest(commit(containers.store, containers.layer_store, c, "dock:2"))
    assert m.media_type == DOCKER_MANIFEST
    assert {d.media_type for d in m.layers} == {"application/vnd.docker.image.rootfs.diff.tar.gzip"}


@pytest.mark.parametrize("changes,expected", [
    (['CMD ["nginx", "-g", "daemon off;"]'], {"Cmd": ["nginx", "-g", "daemon off;"]}),
    (["CMD echo hi"], {"Cmd": ["/bin/sh", "-c", "echo hi"]}),
    (["ENTRYPOINT [\"/entry\"]"], {"Entrypoint": ["/entry"]}),
    (["ENV A=1 B=\"two words\""], {"Env": ["PATH=/bin", "A=1", "B=two words"]}),
    (["ENV PATH=/usr/bin"], {"Env": ["PATH=/usr/bin"]}),
    (["ENV C three words"], {"Env": ["PATH=/bin", "C=three words"]}),
    (["LABEL a=1 b=2"], {"Labels": {"a": "1", "b": "2"}}),
    (["EXPOSE 80 53/udp"], {"ExposedPorts": {"80/tcp": {}, "53/udp": {}}}),
    (["WORKDIR /app", "WORKDIR sub"], {"WorkingDir": "/app/sub"}),
    (["USER nobody"], {"User": "nobody"}),
    (["VOLUME /data"], {"Volumes": {"/data": {}}}),
    (["cmd [\"x\"]"], {"Cmd": ["x"]}),
])
def test_apply_changes(changes, expected):
    base = {"Env": ["PATH=/bin"]}
    out = apply_changes(base, changes)
    for k, v in expected.items():
        assert out[k] == v
    assert base == {"Env": ["PATH=/bin"]}                     # not modified in place


@pytest.mark.parametrize("change", ["RUN apt-get update", "FROM x", "ENV"])
def test_apply_changes_rejects(change):
    with pytest.raises(UsageError):
        apply_changes({}, [change])


def _tarball(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("compress", [False, True])
def test_import(containers, compress):
    raw = _tarball({"hello": b"world\n", "etc/os-release": b"ID=lab\n"})
    data = gzip.compress(raw) if compress else raw
    rec = import_tarball(containers.store, containers.layer_store, io.BytesIO(data), "imported:1",
                         changes=["CMD [\"/hello\"]"])
    cfg = containers.store.config(rec)
    assert len(cfg.diff_ids) == 1 and cfg.cmd == ["/hello"]
    assert cfg.history[0]["comment"] == "Imported from -"
    c = containers.create("imported:1")
    assert c.read("/hello") == b"world\n" and c.read("/etc/os-release") == b"ID=lab\n"


def test_import_from_a_pipe(containers):
    r, w = os.pipe()
    data = gzip.compress(_tarball({"a": b"1"}))
    os.write(w, data)
    os.close(w)
    with os.fdopen(r, "rb", buffering=0) as f:
        rec = import_tarball(containers.store, containers.layer_store, f, "piped:1", message="from a pipe")
    assert containers.store.config(rec).history[0]["comment"] == "from a pipe"
    assert containers.create("piped:1").read("/a") == b"1"


def test_import_rejects_unsafe_tarball(containers):
    with pytest.raises(UnsafeLayer):
        import_tarball(containers.store, containers.layer_store, io.BytesIO(_tarball({"../evil": b"x"})), "evil:1")
    assert all(r.repository != "evil" for r in containers.store.images())


def test_history_rows_and_missing(containers, monkeypatch):
    c = containers.create("base:1", cmd=["/bin/sh", "-c", "a very long command line that docker would cut short"])
    c.write("/x", b"12345")
    child = commit(containers.store, containers.layer_store, c, "child:1", message="msg")
    d = containers.create("child:1")
    grandchild = commit(containers.store, containers.layer_store, d, "grandchild:1", changes=["CMD [\"x\"]"])
    rows = history(containers.store, grandchild)
    assert [r["id"] for r in rows] == [str(grandchild.image_id)] + ["<missing>"] * 3  # the rows alone
    # the graphdriver store names one row per parent, walking Parent as moby's ImageHistory does (Docker 28)
    ids = ImageService(containers.store, containers.layer_store, GRAPHDRIVER).history_ids(grandchild, len(rows))
    base_id = str(containers.store.resolve("base:1").image_id)
    assert ids == [str(grandchild.image_id), str(child.image_id), base_id, "<missing>"]
    for row, image_id in zip(rows, ids):
        row["id"] = image_id
    assert rows[0]["empty_layer"] and rows[0]["size"] == 0
    assert rows[1]["comment"] == "msg" and rows[1]["size"] > 0
    assert rows[3]["created_by"] == "imagefactory layer 0"
    table = history_table(rows, now=datetime(2023, 11, 15, tzinfo=timezone.utc))
    lines = table.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(grandchild.image_id.short)
    assert "/bin/sh -c a very long command line that doc…" in lines[2]
    assert lines[4].startswith("<missing>")
    assert "a very long command line that docker would cut short" in history_table(rows, no_trunc=True)


@pytest.mark.parametrize("text,out", [("short", "short"), ("x" * 45, "x" * 45), ("x" * 46, "x" * 44 + "…")])
def test_ellipsis(text, out):
    assert ellipsis(text, 45) == out


def test_shared_chain_ids(containers):
    c = containers.create("base:1")
    c.write("/y", b"y")
    child = containers.store.config(commit(containers.store, containers.layer_store, c, "c:1"))
    parent = containers.store.config(containers.store.resolve("base:1"))
    assert chain_ids(child.diff_ids)[:2] == chain_ids(parent.diff_ids)
    df = containers.store.system_df()
    shared = {i["repository"]: i["shared_size"] for i in df["images"]}
    assert shared["c"] == shared["base"] > 0


def test_commit_records_its_parent_as_containerds_label_does(containers):
    # moby docker-v29.7.2 daemon/containerd/image_builder.go createImageOCI: org.mobyproject.image.parent is the
    # container's image ID (its target digest); image_tag.go TagImage copies an image's labels to the new name
    from labkit.oci.keys import IMAGE_PARENT

    store = containers.store
    c = containers.create("base:1")
    c.write("/x", b"1")
    child = commit(store, containers.layer_store, c, "child:1")
    base = store.resolve("base:1")
    assert child.parent == base.target and base.parent is None
    assert store.tag("child:1", "other:1").parent == base.target
    entries = [d for d in store.layout.index() if d.digest == child.manifest.digest]
    assert len(entries) == 2 and {d.annotations[IMAGE_PARENT] for d in entries} == {str(base.target)}
    c.write("/y", b"2")
    unnamed = commit(store, containers.layer_store, c)
    assert unnamed.name is None and unnamed.parent == base.target
