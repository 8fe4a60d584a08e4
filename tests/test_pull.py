"""The pull workflow: progress lines, platform selection, mirrors, auth, faults, and a pull killed mid-way."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from labkit.digest import Digest
from labkit.errors import AuthRequired, DigestMismatch, LabkitError, NotFound
from labkit.imageview import ImageView
from labkit.progress import (LayerEvent, LayersEvent, MessageEvent, PlainRenderer, Recorder, TerminalRenderer,
                             progress_bar, render_lines, renderer_for)
from labkit.pull import DOWNLOADED, UP_TO_DATE, endpoints_for, pull
from labkit.reference import Reference
from labkit.registry.auth import Credentials
from labkit.store import Store

from helpers import imagefactory as factory
from helpers import skopeo
from helpers.registries import start_proxy_registry
from helpers.scriptedserver import Reply, ScriptedServer, err, serve_image, slow_blob

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


# ---------------------------------------------------------------------------------------------------------
# Renderers (pure)
# ---------------------------------------------------------------------------------------------------------

def _events_out_of_order():
    return [
        MessageEvent("Using default tag: latest", "default-tag"),
        MessageEvent("latest: Pulling from library/debian", "pulling-from"),
        MessageEvent("Source: 127.0.0.1:5000 (mirror)", "source"),
        LayersEvent(("aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc")),
        LayerEvent("aaaaaaaaaaaa", "Pulling fs layer"),
        LayerEvent("bbbbbbbbbbbb", "Already exists", final=True),
        LayerEvent("cccccccccccc", "Pulling fs layer"),
        # c finishes downloading before a: the renderer still prints a first
        LayerEvent("cccccccccccc", "Downloading", 10, 20),
        LayerEvent("cccccccccccc", "Downloading", 20, 20),
        LayerEvent("cccccccccccc", "Verifying Checksum", 20, 20),
        LayerEvent("cccccccccccc", "Download complete", 20, 20),
        LayerEvent("aaaaaaaaaaaa", "Downloading", 5, 30),
        LayerEvent("aaaaaaaaaaaa", "Verifying Checksum", 30, 30),
        LayerEvent("aaaaaaaaaaaa", "Download complete", 30, 30),
        LayerEvent("aaaaaaaaaaaa", "Extracting", 0, 30),
        LayerEvent("aaaaaaaaaaaa", "Pull complete", 30, 30, final=True),
        LayerEvent("cccccccccccc", "Extracting", 0, 20),
        LayerEvent("cccccccccccc", "Pull complete", 20, 20, final=True),
        MessageEvent("Digest: sha256:" + "d" * 64, "digest"),
        MessageEvent("Status: Downloaded newer image for debian:latest", "status"),
        MessageEvent("docker.io/library/debian:latest", "reference"),
    ]


def test_plain_renderer_stable_lines():
    assert render_lines(_events_out_of_order()) == [
        "Using default tag: latest",
        "latest: Pulling from library/debian",
        "aaaaaaaaaaaa: Pulling fs layer",
        "aaaaaaaaaaaa: Pull complete",
        "bbbbbbbbbbbb: Already exists",
        "cccccccccccc: Pulling fs layer",
        "cccccccccccc: Pull complete",
        "Digest: sha256:" + "d" * 64,
        "Status: Downloaded newer image for debian:latest",
        "docker.io/library/debian:latest",
    ]


def test_plain_renderer_all_lines():
    lines = render_lines(_events_out_of_order(), detail="all")
    assert lines[2:9] == [
        "aaaaaaaaaaaa: Pulling fs layer", "aaaaaaaaaaaa: Downloading", "aaaaaaaaaaaa: Verifying Checksum",
        "aaaaaaaaaaaa: Download complete", "aaaaaaaaaaaa: Extracting", "aaaaaaaaaaaa: Pull complete",
        "bbbbbbbbbbbb: Already exists",
    ]
    assert lines[9:15] == [
        "cccccccccccc: Pulling fs layer", "cccccccccccc: Downloading", "cccccccccccc: Verifying Checksum",
        "cccccccccccc: Download complete", "cccccccccccc: Extracting", "cccccccccccc: Pull complete",
    ]


def test_plain_renderer_prints_a_layer_only_when_earlier_ones_are_done():
    out = []
    r = PlainRenderer(out.append)
    r(LayersEvent(("a" * 12, "b" * 12)))
    r(LayerEvent("a" * 12, "Pulling fs layer"))
    r(LayerEvent("b" * 12, "Pulling fs layer"))
    r(LayerEvent("b" * 12, "Download complete", final=True))
    assert out == []
    r(LayerEvent("a" * 12, "Download complete", final=True))
    assert out == ["a" * 12 + ": Pulling fs layer", "a" * 12 + ": Download complete",
                   "b" * 12 + ": Pulling fs layer", "b" * 12 + ": Download complete"]


def test_plain_renderer_writes_to_a_stream_and_can_show_the_source():
    buf = io.StringIO()
    r = PlainRenderer(buf, show_source=True)
    r(MessageEvent("Source: mirror.lab", "source"))
    r(MessageEvent("done"))
    assert buf.getvalue() == "Source: mirror.lab\ndone\n"
    with pytest.raises(ValueError):
        PlainRenderer(buf, detail="loud")


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_terminal_renderer_moves_the_cursor():
    tty = _Tty()
    r = renderer_for(tty)
    assert isinstance(r, TerminalRenderer)
    r(MessageEvent("latest: Pulling from library/debian", "pulling-from"))
    r(LayersEvent(("a" * 12, "b" * 12)))
    r(LayerEvent("a" * 12, "Downloading", 500_000, 1_000_000))
    text = tty.getvalue()
    assert text.startswith("latest: Pulling from library/debian\naaaaaaaaaaaa: Pulling fs layer\n")
    assert "\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Downloading [" in text and "500 kB/1 MB" in text
    assert isinstance(renderer_for(io.StringIO()), PlainRenderer)


@pytest.mark.parametrize("current,total,expected", [
    (0, 100, "[>" + " " * 49 + "]  0 B/100 B"),
    (50, 100, "[" + "=" * 25 + ">" + " " * 24 + "]  50 B/100 B"),
    (100, 100, "[" + "=" * 50 + "]  100 B/100 B"),
    (1234, None, "1.23 kB"),
])
def test_progress_bar(current, total, expected):
    assert progress_bar(current, total) == expected


@pytest.mark.parametrize("text,settings,mirrors,expected", [
    ("debian", {}, None, [("https://registry-1.docker.io", "docker.io", False)]),
    ("debian", {"registry-mirrors": ["http://127.0.0.1:5000"]}, None,
     [("http://127.0.0.1:5000", "127.0.0.1:5000", True), ("https://registry-1.docker.io", "docker.io", False)]),
    ("debian", {"registry-mirrors": ["http://127.0.0.1:5000"]}, ["mirror.lab:5000/"],
     [("https://mirror.lab:5000", "mirror.lab:5000", True), ("https://registry-1.docker.io", "docker.io", False)]),
    ("ghcr.io/x/y", {"registry-mirrors": ["http://127.0.0.1:5000"]}, None, [("https://ghcr.io", "ghcr.io", False)]),
    ("localhost:5000/y", {}, None, [("http://localhost:5000", "localhost:5000", False)]),
    ("lab.example:5000/y", {"insecure-registries": ["lab.example:5000"]}, None,
     [("http://lab.example:5000", "lab.example:5000", False)]),
])
def test_endpoints_for(text, settings, mirrors, expected):
    eps = endpoints_for(Reference.parse(text), settings, mirrors)
    assert [(e.base_url, e.name, e.mirror) for e in eps] == expected


def test_importing_pull_does_not_import_requests():
    """`labkit pull` start-up is benchmarked: the HTTP stack loads only when a pull starts."""
    code = ("import sys, labkit.pull, labkit.progress, labkit.registry; "
            "print(sorted(m for m in ('requests', 'urllib3', 'concurrent.futures') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}).stdout
    assert out.strip() == "[]"


def test_registry_package_exports_lazily():
    import labkit.registry as registry

    assert registry.parse_challenges('Basic realm="x"')[0].realm == "x"
    assert registry.RegistryClient.__name__ == "RegistryClient"
    with pytest.raises(AttributeError):
        registry.nothing_here


# ---------------------------------------------------------------------------------------------------------
# A scripted registry serving a built image (no external tools)
# ---------------------------------------------------------------------------------------------------------

def layer_ids(built) -> list[str]:
    return [lb.digest.short for lb in built.layers]


def test_pull_from_scripted_registry_lines_and_record(scripted_server, store):
    img = factory.make_image([{"a.txt": b"a" * 5000}, {"b.txt": b"b" * 7000}])
    top = serve_image(scripted_server, "x", "v1", img)
    rec = Recorder()
    res = pull(store, f"{scripted_server.host}/x:v1", progress=rec)
    a, b = layer_ids(img)
    assert rec.lines() == [
        "v1: Pulling from x",
        f"{a}: Pulling fs layer", f"{a}: Download complete",
        f"{b}: Pulling fs layer", f"{b}: Download complete",
        f"Digest: {top}",
        f"Status: Downloaded newer image for {scripted_server.host}/x:v1",
        f"{scripted_server.host}/x:v1",
    ]
    assert res.status == DOWNLOADED and res.digest == top and res.index_digest is None
    assert res.host == scripted_server.host
    assert set(res.downloaded) == {img.config_digest, *(lb.digest for lb in img.layers)}
    assert store.resolve(f"{scripted_server.host}/x:v1").image_id == img.config_digest
    for d in img.blobs:
        assert store.layout.read_blob(d) == img.blobs[d]


def test_wrong_layer_digest_rejected_nothing_recorded(scripted_server, store):
    img = factory.make_image([{"a.txt": b"a" * 5000}, {"b.txt": b"b" * 7000}])
    bad = img.layers[1].digest
    serve_image(scripted_server, "x", "v1", img, corrupt=bad)
    with pytest.raises(DigestMismatch, match=f"pull {scripted_server.host}/x:v1: blob from"):
        pull(store, f"{scripted_server.host}/x:v1")
    assert not store.layout.has_blob(bad)
    assert store.images() == []
    with pytest.raises(NotFound):
        store.resolve(f"{scripted_server.host}/x:v1")


def test_manifest_unknown_error_names_the_reference(scripted_server, store):
    scripted_server.route("*", "/v2/library/debian/manifests/jessi", err(404, "MANIFEST_UNKNOWN", "manifest unknown"))
    with pytest.raises(NotFound) as e:
        pull(store, f"{scripted_server.host}/library/debian:jessi")
    assert str(e.value) == (f"pull {scripted_server.host}/library/debian:jessi: manifest unknown "
                            f"({scripted_server.host}, 404 MANIFEST_UNKNOWN)")


class RecordingLayers:
    """What pull asks of the layer store it extracts into, recorded: ensure (idempotent: as each blob arrives,
    and again in manifest order before the layer's "Pull complete"), then check_image once. The registry half
    is tested without the layers half."""

    def __init__(self):
        self.calls = []
        self.checked = []

    def ensure(self, diff_id, blob_path, media_type):
        self.calls.append((diff_id, Path(blob_path).read_bytes(), media_type, threading.current_thread().name))

    def check_image(self, diff_ids):
        self.checked.append(list(diff_ids))


def test_extract_ensures_each_layer_in_order_with_verified_blobs(scripted_server, store):
    img = factory.make_image([{"1": b"1" * 3000}, {"2": b"2" * 3000}, {"3": b"3" * 3000}, {"4": b"4" * 3000}])
    serve_image(scripted_server, "x", "v1", img)
    layers = RecordingLayers()
    calls = layers.calls

    rec = Recorder()
    pull(store, f"{scripted_server.host}/x:v1", extract=layers, progress=rec)
    first = {}
    for diff_id, data, media_type, _thread in calls:
        first.setdefault(diff_id, (data, media_type))
    assert sorted(first) == sorted(img.diff_ids) and len(calls) == 2 * len(img.diff_ids)
    me = threading.current_thread().name
    assert [c[0] for c in calls if c[3] == me] == img.diff_ids          # the caller's round is in manifest order
    assert [first[d][0] for d in img.diff_ids] == [lb.data for lb in img.layers]
    assert all(c[2] == "application/vnd.oci.image.layer.v1.tar+gzip" for c in calls)
    assert layers.checked == [img.diff_ids]                  # then the image as a whole (lower-layer hard links)
    ids = layer_ids(img)
    assert rec.lines()[1:9] == [line for i in ids for line in (f"{i}: Pulling fs layer", f"{i}: Pull complete")]
    # "Extracting" comes after the layer's download, in every layer
    for i in ids:
        statuses = [e.status for e in rec.events if isinstance(e, LayerEvent) and e.layer_id == i]
        assert statuses.index("Download complete") < statuses.index("Extracting") < statuses.index("Pull complete")


def test_extract_into_the_real_layer_store(scripted_server, store):
    from labkit.layers.store import LayerStore

    img = factory.make_image([{"etc/os-release": b"ID=lab\n"}, {"hello.txt": b"hi\n"}])
    serve_image(scripted_server, "x", "v1", img)
    layers = LayerStore(store.home, store=store)
    rec = Recorder()
    pull(store, f"{scripted_server.host}/x:v1", extract=layers, progress=rec)
    a, b = layer_ids(img)
    assert rec.lines()[1:5] == [f"{a}: Pulling fs layer", f"{a}: Pull complete",
                                f"{b}: Pulling fs layer", f"{b}: Pull complete"]
    assert all(layers.has(d) for d in img.diff_ids)
    view = ImageView([layers.tree(d) for d in img.diff_ids])
    assert view.read("etc/os-release") == b"ID=lab\n" and view.read("hello.txt") == b"hi\n"


def test_layers_apply_in_the_download_threads_lines_stay_in_order(scripted_server, store, monkeypatch):
    import threading

    from labkit.layers.store import LayerStore

    img = factory.make_image([{"etc/os-release": b"ID=lab\n"}, {"hello.txt": b"hi\n"}, {"c": b"c"}])
    serve_image(scripted_server, "x", "v1", img)
    layers = LayerStore(store.home, store=store)
    applied_in = []
    real = layers.ensure

    def ensure(diff_id, path, media_type=None):
        if not layers.has(diff_id):
            applied_in.append((threading.current_thread().name, str(diff_id)))
        return real(diff_id, path, media_type)
    monkeypatch.setattr(layers, "ensure", ensure)
    rec = Recorder()
    pull(store, f"{scripted_server.host}/x:v1", extract=layers, progress=rec, max_workers=3)
    assert sorted(d for _, d in applied_in) == sorted(str(d) for d in img.diff_ids)
    assert all(name.startswith("labkit-pull") for name, _ in applied_in)       # not the caller's thread
    assert rec.lines()[1:7] == [line for i in layer_ids(img) for line in (f"{i}: Pulling fs layer",
                                                                          f"{i}: Pull complete")]
    assert ImageView([layers.tree(d) for d in img.diff_ids]).read("hello.txt") == b"hi\n"
    assert store.images()[0].size == img.files_size


@pytest.mark.parametrize("workers", [1, 3])
def test_a_refused_layer_raises_the_real_error_in_the_pull(scripted_server, store, workers):
    from labkit.errors import UnsafeLayer
    from labkit.layers.store import LayerStore

    hostile = factory.tar_layer([{"name": "../escape", "type": "file", "data": b"x"}])
    img = factory.make_image([{"ok": b"ok"}, hostile, {"after": b"a"}])
    serve_image(scripted_server, "x", "v1", img)
    with pytest.raises(UnsafeLayer, match="escapes"):
        pull(store, f"{scripted_server.host}/x:v1", extract=LayerStore(store.home, store=store), max_workers=workers)
    assert store.images() == []
    assert not LayerStore(store.home, store=store).has(img.diff_ids[1])


def test_a_hard_link_to_a_lower_layers_file_is_checked_before_the_image_is_recorded(scripted_server, store):
    from labkit.errors import UnsafeLayer
    from labkit.layers.store import LayerStore

    base = factory.tar_layer([{"name": "bin/", "type": "dir"}, {"name": "bin/busybox", "data": b"BB"}])
    good = factory.make_image([base, factory.tar_layer([{"name": "bin/sh", "type": "hardlink",
                                                          "linkname": "bin/busybox"}])])
    bad = factory.make_image([base, factory.tar_layer([{"name": "bin/sh", "type": "hardlink",
                                                         "linkname": "bin/bash"}])])
    serve_image(scripted_server, "x", "good", good)
    serve_image(scripted_server, "x", "bad", bad)
    layers = LayerStore(store.home, store=store)
    with pytest.raises(UnsafeLayer, match="hard link target 'bin/bash' is not an earlier file"):
        pull(store, f"{scripted_server.host}/x:bad", extract=layers)
    assert store.images() == []
    pull(store, f"{scripted_server.host}/x:good", extract=layers)
    assert len(store.images()) == 1 and layers.has_lower_links(good.diff_ids[1])


def test_second_pull_is_up_to_date_and_downloads_nothing(scripted_server, store):
    img = factory.make_image([{"a": b"a"}, {"b": b"b"}])
    top = serve_image(scripted_server, "x", "v1", img)
    pull(store, f"{scripted_server.host}/x:v1")
    n = len(scripted_server.log)
    rec = Recorder()
    res = pull(store, f"{scripted_server.host}/x:v1", progress=rec)
    a, b = layer_ids(img)
    assert res.status == UP_TO_DATE and res.downloaded == ()
    # docker prints no layer line for an image it has, and asks only HEAD manifests/TAG (no pull counted)
    assert rec.lines() == ["v1: Pulling from x", f"Digest: {top}",
                           f"Status: Image is up to date for {scripted_server.host}/x:v1", f"{scripted_server.host}/x:v1"]
    assert [r[:2] for r in scripted_server.log[n:]] == [("GET", "/v2/"), ("HEAD", "/v2/x/manifests/v1")]


def test_a_moved_tag_to_an_image_the_store_has_downloads_nothing_but_says_newer(scripted_server, store):
    one = factory.make_image([{"a": b"a"}])
    two = factory.make_image([{"b": b"b"}])
    serve_image(scripted_server, "x", "one", one)
    serve_image(scripted_server, "x", "two", two)
    pull(store, f"{scripted_server.host}/x:one")
    pull(store, f"{scripted_server.host}/x:two")
    serve_image(scripted_server, "x", "one", two)  # the tag moves to an image the store already has
    n = len(scripted_server.log)
    rec = Recorder()
    res = pull(store, f"{scripted_server.host}/x:one", progress=rec)
    assert res.status == DOWNLOADED and res.downloaded == () and res.manifest_digest == two.manifest_digest
    assert rec.lines()[1:3] == [f"Digest: {two.manifest_digest}", f"Status: Downloaded newer image for "
                                f"{scripted_server.host}/x:one"]
    assert [r[:2] for r in scripted_server.log[n:]] == [("GET", "/v2/"), ("HEAD", "/v2/x/manifests/one")]


@pytest.mark.parametrize("answer", [Reply(405), Reply(404), Reply(200, {"Content-Type": factory.OCI_MANIFEST})])
def test_a_registry_without_head_gets_get_by_tag(scripted_server, store, answer):
    """HEAD answered 404/405 or without Docker-Content-Digest: GET by tag, as distribution's client does."""
    img = factory.make_image([{"a": b"a"}])
    serve_image(scripted_server, "x", "v1", img)
    get = scripted_server.routes.pop(("*", "/v2/x/manifests/v1"))
    scripted_server.route("HEAD", "/v2/x/manifests/v1", answer).route("GET", "/v2/x/manifests/v1", *get)
    res = pull(store, f"{scripted_server.host}/x:v1")
    assert res.manifest_digest == img.manifest_digest
    assert [r[:2] for r in scripted_server.log[:3]] == [("GET", "/v2/"), ("HEAD", "/v2/x/manifests/v1"),
                                              ("GET", "/v2/x/manifests/v1")]


def test_pull_by_digest_of_an_image_the_store_has_asks_nothing_but_the_ping(scripted_server, store):
    img = factory.make_image([{"a": b"a"}])
    serve_image(scripted_server, "x", "v1", img)
    pull(store, f"{scripted_server.host}/x:v1")
    n = len(scripted_server.log)
    res = pull(store, f"{scripted_server.host}/x@{img.manifest_digest}")
    assert res.status == UP_TO_DATE
    assert [r[:2] for r in scripted_server.log[n:]] == [("GET", "/v2/")]


def test_shared_base_layer_already_exists(scripted_server, store):
    base = factory.layer({"base": b"base" * 1000})
    one = factory.make_image([base, {"one": b"1"}])
    two = factory.make_image([base, {"two": b"2"}])
    serve_image(scripted_server, "one", "v1", one)
    serve_image(scripted_server, "two", "v1", two)
    pull(store, f"{scripted_server.host}/one:v1")
    rec = Recorder()
    res = pull(store, f"{scripted_server.host}/two:v1", progress=rec)
    b, t = layer_ids(two)
    assert rec.lines()[1:4] == [f"{b}: Already exists", f"{t}: Pulling fs layer", f"{t}: Download complete"]
    assert base.digest not in res.downloaded and res.status == DOWNLOADED


def test_pull_through_index_selects_platform_and_keeps_index(scripted_server, store):
    idx = factory.make_index()
    top = serve_image(scripted_server, "multi", "v1", idx)
    res = pull(store, f"{scripted_server.host}/multi:v1", platform="linux/arm64/v8")
    arm = idx.image_for("linux/arm64/v8")
    assert res.digest == top == idx.digest and res.index_digest == idx.digest
    assert res.manifest_digest == arm.manifest_digest
    assert store.layout.read_blob(idx.digest) == idx.raw  # the index bytes are stored too
    assert store.resolve(f"{scripted_server.host}/multi:v1").image_id == arm.config_digest
    res2 = pull(store, f"{scripted_server.host}/multi:v1", platform="linux/amd64")
    assert res2.manifest_digest == idx.image_for("linux/amd64").manifest_digest


def test_nested_index_is_followed(scripted_server, store):
    inner = factory.make_index()
    outer_raw = json.dumps({"schemaVersion": 2, "mediaType": factory.OCI_INDEX, "manifests": [
        {"mediaType": factory.OCI_INDEX, "digest": str(inner.digest), "size": len(inner.raw)}]}).encode()
    outer_d = Digest.of(outer_raw)
    serve_image(scripted_server, "n", "inner", inner)
    scripted_server.route("*", "/v2/n/manifests/v1", Reply(200, {"Content-Type": factory.OCI_INDEX}, outer_raw))
    scripted_server.route("*", f"/v2/n/manifests/{inner.digest}",
                          Reply(200, {"Content-Type": factory.OCI_INDEX}, inner.raw))
    res = pull(store, f"{scripted_server.host}/n:v1", platform="linux/amd64")
    assert res.digest == outer_d and res.index_digest == outer_d
    assert res.manifest_digest == inner.image_for("linux/amd64").manifest_digest


def test_index_entry_with_wrong_size_is_rejected(scripted_server, store):
    img = factory.make_image([{"a": b"a"}])
    desc = {**img.descriptor(), "size": len(img.manifest) + 1,
            "platform": {"architecture": "amd64", "os": "linux"}}
    raw = json.dumps({"schemaVersion": 2, "mediaType": factory.OCI_INDEX, "manifests": [desc]}).encode()
    serve_image(scripted_server, "x", "inner", img)
    scripted_server.route("*", "/v2/x/manifests/v1", Reply(200, {"Content-Type": factory.OCI_INDEX}, raw))
    with pytest.raises(DigestMismatch, match=f"pull {scripted_server.host}/x:v1: manifest .* bytes, the index says"):
        pull(store, f"{scripted_server.host}/x:v1", platform="linux/amd64")
    assert store.images() == []


def test_schema1_pull_is_a_clear_error(scripted_server, store):
    raw = json.dumps({"schemaVersion": 1, "name": "x", "tag": "old", "fsLayers": []}).encode()
    scripted_server.route("*", "/v2/x/manifests/old",
                          Reply(200, {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
                                raw))
    with pytest.raises(LabkitError, match=f"pull {scripted_server.host}/x:old: deprecated manifest format"):
        pull(store, f"{scripted_server.host}/x:old")


def test_missing_platform_is_a_clear_error(scripted_server, store):
    idx = factory.make_index()
    serve_image(scripted_server, "multi", "v1", idx)
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        pull(store, f"{scripted_server.host}/multi:v1", platform="linux/s390x")


def test_pull_by_digest(scripted_server, store):
    img = factory.make_image([{"a": b"a"}])
    serve_image(scripted_server, "x", "v1", img)
    ref = f"{scripted_server.host}/x@{img.manifest_digest}"
    rec = Recorder()
    res = pull(store, ref, progress=rec)
    assert res.digest == img.manifest_digest
    assert rec.lines()[0] == f"{img.manifest_digest}: Pulling from x"
    assert rec.lines()[-2:] == [f"Status: Downloaded newer image for {ref}", ref]
    assert store.resolve(ref).image_id == img.config_digest


def test_default_tag_line(scripted_server, store):
    img = factory.make_image([{"a": b"a"}])
    serve_image(scripted_server, "x", "latest", img)
    rec = Recorder()
    pull(store, f"{scripted_server.host}/x", progress=rec)
    assert rec.lines()[:2] == ["Using default tag: latest", "latest: Pulling from x"]


def test_mirror_serves_docker_io_refs_and_reports_host(scripted_server, store):
    img = factory.make_image([{"a": b"a"}])
    serve_image(scripted_server, "library/debian", "jessie", img)
    down = ScriptedServer()
    down.close()  # a mirror that is gone: skipped
    rec = Recorder()
    res = pull(store, "debian:jessie", mirrors=[down.url, scripted_server.url], progress=rec,
               client_options={"backoff": 0, "retries": 1})
    assert res.host == scripted_server.host
    assert f"Source: {scripted_server.host} (mirror)" in [e.text for e in rec.events if isinstance(e, MessageEvent)]
    assert rec.lines()[-1] == "docker.io/library/debian:jessie"
    assert store.resolve("debian:jessie").image_id == img.config_digest


def test_mirrors_from_settings(scripted_server, store, labkit_home):
    (labkit_home / "daemon.json").write_text(json.dumps({"registry-mirrors": [scripted_server.url]}))
    img = factory.make_image([{"a": b"a"}])
    serve_image(scripted_server, "library/busybox", "latest", img)
    assert pull(store, "busybox").host == scripted_server.host


def test_trace_records_a_pull(scripted_server, store):
    from labkit.registry.trace import Trace

    img = factory.make_image([{"a": b"a"}])
    serve_image(scripted_server, "x", "v1", img)
    t = Trace()
    pull(store, f"{scripted_server.host}/x:v1", trace=t)
    lines = t.lines()
    assert lines[:3] == [f"GET {scripted_server.url}/v2/ -> 404", f"HEAD {scripted_server.url}/v2/x/manifests/v1 -> 200",
                         f"GET {scripted_server.url}/v2/x/manifests/{img.manifest_digest} -> 200"]
    assert sorted(lines[3:]) == sorted(f"GET {scripted_server.url}/v2/x/blobs/{d} -> 200"
                                       for d in [img.config_digest, *(lb.digest for lb in img.layers)])


def test_pull_killed_at_random_points_then_again_leaves_a_consistent_store(scripted_server, labkit_home):
    """SIGKILL a pulling subprocess at random moments; a later pull completes and the store checks out."""
    # a small, a medium and a large layer: kills land before, between and during blob writes
    img = factory.make_image([{"a": os.urandom(100_000)}, {"b": os.urandom(300_000)}, {"c": os.urandom(900_000)}])

    # the registry ignores Range, so every run must take the time of the whole large layer again
    serve_image(scripted_server, "x", "v1", img, slow=lambda data: slow_blob(data, honour_range=False))
    ref = f"{scripted_server.host}/x:v1"
    code = textwrap.dedent(f"""
        import sys
        from labkit.store import Store
        from labkit.pull import pull
        pull(Store(sys.argv[1]), {ref!r})
        print("done")
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    rng = random.Random(1234)
    interrupted = 0
    for _ in range(4):
        p = subprocess.Popen([sys.executable, "-c", code, str(labkit_home)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 1.5))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate()
        interrupted += b"done" not in out
    assert interrupted == 4  # every kill landed mid-pull (the large layer alone takes over 2 s)
    store = Store(labkit_home)
    blobs_dir = store.layout.root / "blobs" / "sha256"
    for f in blobs_dir.iterdir() if blobs_dir.exists() else ():
        assert Digest.of(f.read_bytes()).hex == f.name, f"blob {f.name} does not match its name"
    res = pull(store, ref)
    assert store.resolve(ref).image_id == img.config_digest
    for d, data in img.blobs.items():
        assert store.layout.read_blob(d) == data
    assert res.manifest_digest == img.manifest_digest
    for f in blobs_dir.iterdir():
        assert Digest.of(f.read_bytes()).hex == f.name
    assert [p.name for p in blobs_dir.iterdir() if p.name.endswith((".tmp", ".partial"))] == []


# ---------------------------------------------------------------------------------------------------------
# Against the real distribution registry (docker-registry) seeded with skopeo
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.interop("docker-registry", "skopeo")
def test_real_registry_pull_lines_up_to_date_and_by_digest(distribution_registry, store, tmp_path):
    host = distribution_registry.host
    img = factory.make_image([{"a.txt": b"a" * 10_000}, {"b.txt": b"b" * 20_000}])  # OCI: skopeo 1.9 oci: reads no Docker types
    skopeo.push_built(tmp_path, img, f"{host}/plain/x:v1")
    rec = Recorder()
    res = pull(store, f"{host}/plain/x:v1", progress=rec)
    a, b = layer_ids(img)
    assert rec.lines() == [
        "v1: Pulling from plain/x",
        f"{a}: Pulling fs layer", f"{a}: Download complete",
        f"{b}: Pulling fs layer", f"{b}: Download complete",
        f"Digest: {img.manifest_digest}",
        f"Status: Downloaded newer image for {host}/plain/x:v1",
        f"{host}/plain/x:v1",
    ]
    assert res.manifest_digest == img.manifest_digest
    assert store.resolve(f"{host}/plain/x:v1").image_id == img.config_digest
    assert pull(store, f"{host}/plain/x:v1").status == UP_TO_DATE
    ref = f"{host}/plain/x@{img.manifest_digest}"
    assert pull(store, ref).digest == img.manifest_digest


@pytest.mark.interop("docker-registry", "skopeo")
def test_real_registry_index_platforms(distribution_registry, store, tmp_path):
    idx = factory.make_index(files={"os-release": b"lab\n"})
    skopeo.push_built(tmp_path, idx, f"{distribution_registry.host}/multi:v1")
    res = pull(store, f"{distribution_registry.host}/multi:v1", platform="linux/arm64")
    assert res.index_digest == idx.digest
    assert res.manifest_digest == idx.image_for("linux/arm64/v8").manifest_digest
    assert store.layout.read_blob(idx.digest) == idx.raw


@pytest.mark.interop("docker-registry")
def test_real_registry_unknown_tag_error(distribution_registry, store):
    host = distribution_registry.host
    with pytest.raises(NotFound, match=rf"pull {host}/nothing:here: .*\({host}, 404 "):
        pull(store, f"{host}/nothing:here")


@pytest.mark.interop("docker-registry", "htpasswd", "skopeo")
def test_real_registry_htpasswd_basic(htpasswd_registry, tmp_path, store):
    host = htpasswd_registry.host
    img = factory.make_image([{"a": b"basic"}])
    skopeo.push_built(tmp_path, img, f"{host}/private/x:v1", creds="alice:wonder-land")
    with pytest.raises(AuthRequired, match=rf"pull {host}/private/x:v1: .*\({host}, 401 UNAUTHORIZED\)"):
        pull(store, f"{host}/private/x:v1")
    with pytest.raises(AuthRequired, match="credentials were refused") as e:
        pull(store, f"{host}/private/x:v1", credentials=Credentials("alice", "wrong-pass"))
    assert "wrong-pass" not in str(e.value)
    # credentials from docker's config.json, as `docker login` writes them
    cfg = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    import base64
    cfg.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(b"alice:wonder-land").decode()}}}))
    assert pull(store, f"{host}/private/x:v1").manifest_digest == img.manifest_digest


@pytest.mark.interop("docker-registry", "skopeo", "cryptography")
def test_real_registry_token_auth_with_insufficient_scope(token_registry, token_server, tmp_path, store):
    host = token_registry.host
    img = factory.make_image([{"a": b"token"}, {"b": b"auth"}])
    skopeo.push_built(tmp_path, img, f"{host}/team/x:v1", creds="alice:s3cret")
    token_server.requests.clear()
    token_server.starve_first_tokens()  # the first token per scope grants nothing
    from labkit.registry.trace import Trace

    t = Trace()
    res = pull(store, f"{host}/team/x:v1", credentials=Credentials("alice", "s3cret"), trace=t)
    assert res.manifest_digest == img.manifest_digest
    pulls = [r for r in token_server.requests if r["scopes"] == ["repository:team/x:pull"]]
    assert len(pulls) == 2 and all(r["user"] == "alice" for r in pulls)  # insufficient_scope -> fresh token
    text = "\n".join(t.lines()) + repr(t.exchanges)
    assert "s3cret" not in text and "eyJ" not in text  # no password, no JWT in the trace
    with pytest.raises(AuthRequired, match="refused the credentials"):
        pull(Store(tmp_path / "other-home"), f"{host}/team/x:v1", credentials=Credentials("alice", "nope"))


@pytest.mark.interop("docker-registry", "skopeo")
def test_real_registry_proxy_mirror(distribution_registry, tmp_path, store):
    upstream = distribution_registry
    img = factory.make_image([{"m": b"mirrored" * 100}])
    skopeo.push_built(tmp_path, img, f"{upstream.host}/library/labdebian:jessie")
    with start_proxy_registry(tmp_path / "mirror", upstream.url) as mirror:
        res = pull(store, "labdebian:jessie", mirrors=[mirror.url])
        assert res.host == mirror.host
        assert res.manifest_digest == img.manifest_digest
        assert store.resolve("docker.io/library/labdebian:jessie").image_id == img.config_digest


def test_a_mirrors_answer_beats_a_later_connection_failure():
    from labkit.errors import RegistryError
    from labkit.pull import _most_telling
    from labkit.registry.client import RegistryNotFound

    unknown = RegistryNotFound("pull debian:jessi: manifest unknown (127.0.0.1:5000, 404 MANIFEST_UNKNOWN)",
                               status=404, codes=("MANIFEST_UNKNOWN",))
    offline = RegistryError("pull debian:jessi: cannot reach docker.io (name or service not known, 3 tries)")
    assert _most_telling([unknown, offline]) is unknown
    refused = RegistryError("pull x: unauthorized (docker.io, 401 UNAUTHORIZED)", status=401)
    assert _most_telling([unknown, refused]) is refused  # the registry itself answered last: its word stands
    assert _most_telling([offline]) is offline
