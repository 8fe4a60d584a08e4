"""The push workflow: docker's lines, monolithic and chunked uploads, mounts, auth; against the lab registry
and the real distribution registry, with skopeo reading what labkit pushed (and the other way round)."""

from __future__ import annotations

import base64
import json
import os
import random
from pathlib import Path

import pytest

from labkit.digest import Digest
from labkit.errors import AuthRequired, NotFound, UsageError
from labkit.progress import LayerEvent, LayersEvent, MessageEvent, Recorder
from labkit.push import PushRenderer, mount_candidates, push, render_push_lines
from labkit.reference import Reference
from labkit.registry.auth import Credentials
from labkit.registry.client import RegistryClient
from labkit.registry.trace import Trace
from labkit.store import Store

from helpers import imagefactory as factory
from helpers import skopeo
from helpers.registries import seed_lab_registry, start_lab_registry

BIG = random.Random(7).randbytes(6000)  # incompressible: its gzip layer is bigger than the test chunk size


def store_two_sharing_a_base(store, base_content: bytes, ref_a: str, ref_b: str):
    """Store two images whose bottom layer (holding `base_content`) is the same as `ref_a` and `ref_b`;
    return (that layer, image a, image b)."""
    base = factory.layer({"base": base_content})
    a = factory.make_image([base, {"a": b"A"}])
    b = factory.make_image([base, {"b": b"B"}])
    factory.store_image(store, a, ref_a)
    factory.store_image(store, b, ref_b)
    return base, a, b


def lines_of(events) -> list[str]:
    return render_push_lines(events)


def expected_lines(host: str, path: str, img, statuses: list[str], tag: str = "1") -> list[str]:
    """Return docker's push lines for `img` with one final status per layer, top layer first."""
    ids = [d.short for d in reversed(img.diff_ids)]
    return ([f"The push refers to repository [{host}/{path}]"] + [f"{i}: Preparing" for i in ids]
            + [f"{i}: {s}" for i, s in zip(ids, statuses)]
            + [f"{tag}: digest: {img.manifest_digest} size: {len(img.manifest)}"])


def requests_of(trace: Trace, host: str) -> list[tuple[str, str]]:
    """Return (method, path?query) of every exchange with the registry (token requests left out)."""
    out = []
    for e in trace:
        if host in e.url and "/token" not in e.url:
            out.append((e.method, e.url.split(host, 1)[1]))
    return out


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------

def test_renderer_prints_preparing_then_final_lines_in_layer_order():
    events = [MessageEvent("The push refers to repository [localhost:5000/wordpress]"),
              LayersEvent(("aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc")),
              LayerEvent("cccccccccccc", "Pushing", 10, 20),
              LayerEvent("cccccccccccc", "Pushed", 20, 20, final=True),  # finishes first, printed last
              LayerEvent("aaaaaaaaaaaa", "Layer already exists", final=True),
              LayerEvent("bbbbbbbbbbbb", "Mounted from library/debian", final=True),
              MessageEvent("latest: digest: sha256:" + "0" * 64 + " size: 1570")]
    assert lines_of(events) == [
        "The push refers to repository [localhost:5000/wordpress]",
        "aaaaaaaaaaaa: Preparing", "bbbbbbbbbbbb: Preparing", "cccccccccccc: Preparing",
        "aaaaaaaaaaaa: Layer already exists", "bbbbbbbbbbbb: Mounted from library/debian",
        "cccccccccccc: Pushed",
        "latest: digest: sha256:" + "0" * 64 + " size: 1570"]


def test_renderer_prints_waiting_layers_after_preparing_and_before_any_final_line():
    events = [LayersEvent(("aaaaaaaaaaaa", "bbbbbbbbbbbb")), LayerEvent("bbbbbbbbbbbb", "Waiting"),
              LayerEvent("aaaaaaaaaaaa", "Pushing", 10, 20), LayerEvent("aaaaaaaaaaaa", "Pushed", 20, 20, final=True),
              LayerEvent("bbbbbbbbbbbb", "Pushing", 10, 20), LayerEvent("bbbbbbbbbbbb", "Pushed", 20, 20, final=True)]
    assert lines_of(events) == ["aaaaaaaaaaaa: Preparing", "bbbbbbbbbbbb: Preparing", "bbbbbbbbbbbb: Waiting",
                                "aaaaaaaaaaaa: Pushed", "bbbbbbbbbbbb: Pushed"]


def test_renderer_writes_to_a_stream():
    import io

    out = io.StringIO()
    r = PushRenderer(out)
    r(LayersEvent(("aaaaaaaaaaaa",)))
    r(LayerEvent("aaaaaaaaaaaa", "Pushed", final=True))
    r.close()
    assert out.getvalue() == "aaaaaaaaaaaa: Preparing\naaaaaaaaaaaa: Pushed\n"


def test_terminal_renderer_rewrites_layer_lines_in_place():
    import io

    from labkit.push import TerminalPushRenderer, push_renderer_for

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    r = push_renderer_for(out)
    assert isinstance(r, TerminalPushRenderer)
    assert isinstance(push_renderer_for(io.StringIO()), PushRenderer)
    r(MessageEvent("The push refers to repository [localhost:5000/x]"))
    r(LayersEvent(("aaaaaaaaaaaa", "bbbbbbbbbbbb")))
    r(LayerEvent("aaaaaaaaaaaa", "Pushing", 512, 1024))
    r(LayerEvent("aaaaaaaaaaaa", "Pushed", 1024, 1024, final=True))
    text = out.getvalue()
    assert text.startswith("The push refers to repository [localhost:5000/x]\n"
                           "aaaaaaaaaaaa: Preparing\nbbbbbbbbbbbb: Preparing\n")
    assert "\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Pushing [=========================>" in text
    assert text.endswith("\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Pushed\r\x1b[2B")


# ---------------------------------------------------------------------------------------------------------
# Against the lab registry
# ---------------------------------------------------------------------------------------------------------

def test_monolithic_push_lines_and_identical_manifest(store, lab_registry):
    img = factory.make_image([{"base.txt": b"base\n"}, {"app.txt": b"app\n"}])
    factory.store_image(store, img, f"{lab_registry.address}/zoo/app:1")
    rec, trace = Recorder(), Trace()
    res = push(store, f"{lab_registry.address}/zoo/app:1", progress=rec, trace=trace)
    assert lines_of(rec.events) == expected_lines(lab_registry.address, "zoo/app", img, ["Pushed", "Pushed"])
    assert res.digest == img.manifest_digest and res.size == len(img.manifest)
    assert res.digest_line == f"1: digest: {img.manifest_digest} size: {len(img.manifest)}"
    # the registry serves exactly the stored bytes, under the same digest and media type
    c = RegistryClient(lab_registry.address, credentials=None)
    got = c.get_manifest("zoo/app", "1")
    assert got.raw == img.manifest and got.digest == img.manifest_digest and got.media_type == img.media_type
    for d, data in img.blobs.items():
        assert lab_registry.layout.read_blob(d) == data
    # monolithic: one POST and one PUT ?digest= per blob (2 layers + config), no PATCH
    reqs = requests_of(trace, lab_registry.address)
    assert sum(1 for m, p in reqs if m == "POST") == 3
    assert sum(1 for m, p in reqs if m == "PUT" and "digest=sha256" in p) == 3
    assert not any(m == "PATCH" for m, _ in reqs)
    assert ("PUT", "/v2/zoo/app/manifests/1") in reqs


def test_second_push_says_layer_already_exists_and_keeps_the_digest(store, lab_registry):
    img = factory.make_image([{"a": b"1"}, {"b": b"2"}])
    factory.store_image(store, img, f"{lab_registry.address}/zoo/again:1")
    first = push(store, f"{lab_registry.address}/zoo/again:1")
    rec, trace = Recorder(), Trace()
    second = push(store, f"{lab_registry.address}/zoo/again:1", progress=rec, trace=trace)
    assert lines_of(rec.events) == expected_lines(lab_registry.address, "zoo/again", img, ["Layer already exists"] * 2)
    assert first.digest == second.digest == img.manifest_digest
    assert not any(m in ("POST", "PATCH") for m, _ in requests_of(trace, lab_registry.address))  # nothing uploaded
    assert [b.outcome for b in second.blobs] == ["exists"] * 3


def test_chunked_push_sends_patches_with_content_range(store, lab_registry):
    img = factory.make_image([{"small": b"s"}, {"big.bin": BIG}])
    big = img.layers[1]
    assert big.size > 4000
    factory.store_image(store, img, f"{lab_registry.address}/zoo/big:1")
    trace = Trace()
    res = push(store, f"{lab_registry.address}/zoo/big:1", trace=trace, chunk_size=1024)
    assert res.digest == img.manifest_digest
    assert lab_registry.layout.read_blob(big.digest) == big.data
    patches = [e for e in trace if e.method == "PATCH"]
    assert len(patches) == -(-big.size // 1024)
    assert [e.status for e in patches] == [202] * len(patches)
    outcomes = {b.digest: b.method for b in res.blobs}
    assert outcomes[big.digest] == "chunked" and outcomes[img.layers[0].digest] == "monolithic"


def test_mount_is_tried_from_the_repository_the_store_knows_and_202_starts_an_upload(store, lab_registry):
    host = lab_registry.address
    # debian:8 is never pushed: the registry lacks it
    base, a, b = store_two_sharing_a_base(store, b"shared base layer\n", f"{host}/library/debian:8",
                                          f"{host}/zoo/web:1")
    cands = mount_candidates(store, Reference.parse(f"{lab_registry.address}/zoo/web:1"))
    assert cands[base.digest] == ["library/debian"]
    trace = Trace()
    res = push(store, f"{lab_registry.address}/zoo/web:1", trace=trace)
    reqs = requests_of(trace, lab_registry.address)
    mounts = [p for m, p in reqs if m == "POST" and "mount=" in p]
    assert mounts == [f"/v2/zoo/web/blobs/uploads/?mount={base.digest}&from=library/debian"]
    # the mount answered 202 (the lab registry does not have the blob): the upload goes on in that session,
    # no second POST for the shared layer
    assert sum(1 for m, p in reqs if m == "POST") == 3
    assert {x.digest: x.outcome for x in res.blobs}[base.digest] == "pushed"
    assert lab_registry.layout.read_blob(base.digest) == base.data


def test_lab_registry_shares_blobs_so_a_known_layer_already_exists(store, lab_registry):
    # The lab registry serves any stored blob in every repository (its documented decision), so docker and
    # labkit see the shared layer as already there; the real registry mounts it (test below).
    host = lab_registry.address
    base, a, b = store_two_sharing_a_base(store, b"shared\n", f"{host}/library/debian:8", f"{host}/zoo/web:1")
    push(store, f"{lab_registry.address}/library/debian:8")
    rec = Recorder()
    push(store, f"{lab_registry.address}/zoo/web:1", progress=rec)
    assert lines_of(rec.events) == expected_lines(lab_registry.address, "zoo/web", b,
                                                  ["Pushed", "Layer already exists"])


def test_a_layer_listed_twice_is_pushed_and_shown_once(store, lab_registry):
    same = factory.layer({"twice": b"twice"})
    img = factory.make_image([same, {"top": b"top"}, same])
    factory.store_image(store, img, f"{lab_registry.address}/zoo/twice:1")
    rec, trace = Recorder(), Trace()
    res = push(store, f"{lab_registry.address}/zoo/twice:1", progress=rec, trace=trace)
    ids = [img.diff_ids[2].short, img.diff_ids[1].short]  # top-down, the repeated blob once
    assert lines_of(rec.events)[1:-1] == [f"{i}: Preparing" for i in ids] + [f"{i}: Pushed" for i in ids]
    assert res.digest == img.manifest_digest
    assert sum(1 for m, p in requests_of(trace, lab_registry.address) if m == "POST") == 3  # 2 layers + config


def test_docker_media_type_is_kept(store, lab_registry):
    img = factory.make_image([{"d": b"docker"}], docker=True)
    factory.store_image(store, img, f"{lab_registry.address}/zoo/dock:v2")
    res = push(store, f"{lab_registry.address}/zoo/dock:v2")
    got = RegistryClient(lab_registry.address, credentials=None).get_manifest("zoo/dock", "v2")
    assert got.media_type == factory.DOCKER_MANIFEST and got.raw == img.manifest
    assert res.media_type == factory.DOCKER_MANIFEST


def test_image_pulled_through_an_index_pushes_its_platform_manifest_only(store, lab_registry):
    idx = factory.make_index()
    factory.store_image(store, idx, f"{lab_registry.address}/zoo/multi:1", platform="linux/amd64")
    res = push(store, f"{lab_registry.address}/zoo/multi:1")
    amd64 = idx.image_for("linux/amd64")
    assert res.digest == amd64.manifest_digest != idx.digest
    assert RegistryClient(lab_registry.address, credentials=None).get_manifest("zoo/multi", "1").raw == amd64.manifest


def test_default_tag_and_refusals(store, lab_registry):
    img = factory.make_image([{"x": b"x"}])
    factory.store_image(store, img, f"{lab_registry.address}/zoo/plain")
    rec = Recorder()
    res = push(store, f"{lab_registry.address}/zoo/plain", progress=rec)
    assert lines_of(rec.events)[0] == "Using default tag: latest"
    assert res.digest_line.startswith("latest: digest: ")
    with pytest.raises(UsageError, match="cannot push a digest reference"):
        push(store, f"{lab_registry.address}/zoo/plain@{img.manifest_digest}")
    with pytest.raises(NotFound,
                       match=rf"An image does not exist locally with the tag: {lab_registry.address}/zoo/nope"):
        push(store, f"{lab_registry.address}/zoo/nope:1")


def test_missing_layer_in_the_store_is_a_clear_error(store, lab_registry):
    img = factory.make_image([{"gone": b"gone"}])
    factory.store_image(store, img, f"{lab_registry.address}/zoo/gone:1")
    store.layout.blob_path(img.layers[0].digest).unlink()
    with pytest.raises(NotFound, match=r"push .*zoo/gone:1: blob sha256:\w+ is not in the store"):
        push(store, f"{lab_registry.address}/zoo/gone:1")


def test_push_to_token_mode_with_and_without_credentials(tmp_path, store):
    reg = start_lab_registry(tmp_path, auth="token", users={"lab": "labkit"})
    try:
        img = factory.make_image([{"t": b"token"}, {"u": b"mode"}])
        factory.store_image(store, img, f"{reg.address}/zoo/tok:1")
        with pytest.raises(AuthRequired) as e:
            push(store, f"{reg.address}/zoo/tok:1", credentials=None, client_options={"credentials": None})
        assert "\n" not in str(e.value) and "labkit login" in str(e.value)
        trace = Trace()
        res = push(store, f"{reg.address}/zoo/tok:1", credentials=Credentials("lab", "labkit"), trace=trace)
        assert res.digest == img.manifest_digest
        token_urls = [x.url for x in trace if "/token" in x.url]
        assert token_urls and all("scope=repository:zoo/tok:pull,push" in u for u in token_urls if "scope" in u)
        assert "labkit" not in json.dumps([x.request_headers for x in trace])
        # credentials from docker's config.json (what `labkit login` writes) work too
        cfg = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(json.dumps({"auths": {reg.address: {"auth": base64.b64encode(b"lab:labkit").decode()}}}))
        rec = Recorder()
        push(store, f"{reg.address}/zoo/tok:1", progress=rec)
        assert "Layer already exists" in lines_of(rec.events)[-2]
    finally:
        reg.stop()


def test_push_to_basic_mode(tmp_path, store):
    reg = start_lab_registry(tmp_path, auth="basic", users={"lab": "labkit"})
    try:
        img = factory.make_image([{"b": b"basic"}])
        factory.store_image(store, img, f"{reg.address}/zoo/basic:1")
        with pytest.raises(AuthRequired, match="credentials were refused"):
            push(store, f"{reg.address}/zoo/basic:1", credentials=Credentials("lab", "wrong"))
        assert push(store, f"{reg.address}/zoo/basic:1",
                    credentials=Credentials("lab", "labkit")).digest == img.manifest_digest
    finally:
        reg.stop()


def test_push_cli_prints_docker_lines(store, lab_registry):
    import io

    from labkit.cli import main

    img = factory.make_image([{"cli": b"cli"}])
    factory.store_image(store, img, f"{lab_registry.address}/zoo/cli:1")
    out, err = io.StringIO(), io.StringIO()
    assert main(["push", f"{lab_registry.address}/zoo/cli:1"], out, err) == 0, err.getvalue()
    assert out.getvalue().splitlines() == expected_lines(lab_registry.address, "zoo/cli", img, ["Pushed"])
    out, err = io.StringIO(), io.StringIO()
    assert main(["push", f"{lab_registry.address}/zoo/none:1"], out, err) == 1
    assert err.getvalue() == (f"Error: push {lab_registry.address}/zoo/none:1: An image does not exist locally "
                              f"with the tag: {lab_registry.address}/zoo/none\n")


def test_labkit_pulls_what_it_pushed_from_the_lab_registry(tmp_path, store, lab_registry):
    from labkit.pull import pull

    img = factory.make_image([{"round": b"trip"}])
    seed_lab_registry(lab_registry, "zoo/seeded:1", img)
    other = Store(tmp_path / "other-home")
    pull(other, f"{lab_registry.address}/zoo/seeded:1")
    other.tag(f"{lab_registry.address}/zoo/seeded:1", f"{lab_registry.address}/zoo/copy:2")
    res = push(other, f"{lab_registry.address}/zoo/copy:2")
    assert res.digest == img.manifest_digest
    assert pull(store, f"{lab_registry.address}/zoo/copy:2").manifest_digest == img.manifest_digest


# ---------------------------------------------------------------------------------------------------------
# Against the real distribution registry, with skopeo as the peer
# ---------------------------------------------------------------------------------------------------------

def _oci_blobs(path: Path) -> set[str]:
    return {p.name for p in (path / "blobs" / "sha256").iterdir()}


@pytest.mark.interop("docker-registry", "skopeo")
def test_real_registry_plain_push_read_by_skopeo(distribution_registry, tmp_path, store):
    host = distribution_registry.host
    img = factory.make_image([{"one": b"1"}, {"big.bin": BIG}])
    factory.store_image(store, img, f"{host}/wordpress:1")
    rec = Recorder()
    res = push(store, f"{host}/wordpress:1", progress=rec, chunk_size=2048)
    assert lines_of(rec.events) == expected_lines(host, "wordpress", img, ["Pushed", "Pushed"])
    assert res.digest == img.manifest_digest
    assert skopeo.inspect_raw(f"{host}/wordpress:1") == img.manifest
    out = skopeo.copy_to_oci(f"{host}/wordpress:1", tmp_path / "skopeo-oci", "w")
    assert _oci_blobs(out) == {d.hex for d in img.blobs}
    for d, data in img.blobs.items():
        assert (out / "blobs" / "sha256" / d.hex).read_bytes() == data
    # second push: everything is there
    rec = Recorder()
    assert push(store, f"{host}/wordpress:1", progress=rec).digest == res.digest
    assert lines_of(rec.events)[-3:-1] == [f"{d.short}: Layer already exists" for d in reversed(img.diff_ids)]


@pytest.mark.interop("docker-registry")
def test_real_registry_mounts_from_another_repository(distribution_registry, store):
    host = distribution_registry.host
    base, a, b = store_two_sharing_a_base(store, b"debian base\n" * 50, f"{host}/library/debian:8",
                                          f"{host}/wordpress:1")
    push(store, f"{host}/library/debian:8")
    rec, trace = Recorder(), Trace()
    res = push(store, f"{host}/wordpress:1", progress=rec, trace=trace)
    assert lines_of(rec.events) == expected_lines(host, "wordpress", b, ["Pushed", "Mounted from library/debian"])
    assert {x.digest: x.outcome for x in res.blobs}[base.digest] == "mounted"
    mount = [e for e in trace if e.method == "POST" and "mount=" in e.url]
    assert [e.status for e in mount] == [201]
    c = RegistryClient(host, credentials=None)
    assert c.get_manifest("wordpress", "1").raw == b.manifest


@pytest.mark.interop("docker-registry", "skopeo")
def test_labkit_pulls_what_skopeo_pushed_and_pushes_it_back_identical(distribution_registry, tmp_path, store):
    from labkit.pull import pull

    host = distribution_registry.host
    img = factory.make_image([{"s": b"skopeo"}, {"t": b"two"}])
    skopeo.push_built(tmp_path, img, f"{host}/peer/x:v1")
    pulled = pull(store, f"{host}/peer/x:v1")
    assert pulled.manifest_digest == Digest.of(skopeo.inspect_raw(f"{host}/peer/x:v1"))
    store.tag(f"{host}/peer/x:v1", f"{host}/peer/y:v1")
    rec = Recorder()
    res = push(store, f"{host}/peer/y:v1", progress=rec)
    assert res.digest == pulled.manifest_digest
    assert skopeo.inspect_raw(f"{host}/peer/y:v1") == skopeo.inspect_raw(f"{host}/peer/x:v1")
    assert all("Mounted from peer/x" in line for line in lines_of(rec.events)[3:5])


@pytest.mark.interop("docker-registry", "htpasswd", "skopeo")
def test_real_registry_htpasswd_basic(htpasswd_registry, store):
    host = htpasswd_registry.host
    img = factory.make_image([{"h": b"htpasswd"}])
    factory.store_image(store, img, f"{host}/private/x:1")
    with pytest.raises(AuthRequired) as e:
        push(store, f"{host}/private/x:1", client_options={"credentials": None})
    assert "labkit login" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(AuthRequired, match="refused"):
        push(store, f"{host}/private/x:1", credentials=Credentials("alice", "nope"))
    trace = Trace()
    res = push(store, f"{host}/private/x:1", credentials=Credentials("alice", "wonder-land"), trace=trace)
    assert res.digest == img.manifest_digest
    assert skopeo.inspect_raw(f"{host}/private/x:1", creds="alice:wonder-land") == img.manifest
    assert "wonder-land" not in repr(trace.exchanges)


@pytest.mark.interop("docker-registry", "skopeo", "cryptography")
def test_real_registry_token_auth(token_registry, token_server, store):
    host = token_registry.host
    base, a, b = store_two_sharing_a_base(store, b"token base\n" * 20, f"{host}/team/base:1", f"{host}/team/app:1")
    with pytest.raises(AuthRequired):
        push(store, f"{host}/team/base:1", client_options={"credentials": None})
    creds = Credentials("alice", "s3cret")
    token_server.requests.clear()
    assert push(store, f"{host}/team/base:1", credentials=creds).digest == a.manifest_digest
    assert ["repository:team/base:pull,push"] in [r["scopes"] for r in token_server.requests]
    assert all(r["user"] == "alice" for r in token_server.requests)
    # the mount needs pull on the source too: the registry's insufficient_scope names it, we ask again
    rec = Recorder()
    res = push(store, f"{host}/team/app:1", credentials=creds, progress=rec)
    assert res.digest == b.manifest_digest
    assert f"{b.diff_ids[0].short}: Mounted from team/base" in lines_of(rec.events)
    assert skopeo.inspect_raw(f"{host}/team/app:1", creds="alice:s3cret") == b.manifest


@pytest.mark.interop("docker-registry", "cryptography")
def test_real_registry_mount_refused_falls_back_to_an_upload(token_registry, token_server, store):
    deny_secret = lambda user, typ, name, actions: [] if name == "team/secret" else actions  # noqa: E731
    token_server.policy = deny_secret
    host = token_registry.host
    base = factory.layer({"base": b"secret base\n" * 20})
    factory.store_image(store, factory.make_image([base, {"s": b"S"}]), f"{host}/team/secret:1")
    app = factory.make_image([base, {"a": b"A"}])
    factory.store_image(store, app, f"{host}/team/app:1")
    rec, trace = Recorder(), Trace()
    res = push(store, f"{host}/team/app:1", credentials=Credentials("alice", "s3cret"), progress=rec,
               trace=trace)
    assert res.digest == app.manifest_digest
    assert lines_of(rec.events)[-3:-1] == [f"{app.diff_ids[1].short}: Pushed", f"{app.diff_ids[0].short}: Pushed"]
    mount = [e.status for e in trace if e.method == "POST" and "mount=" in e.url]
    assert mount and mount[-1] == 401  # refused: docker drops that source and uploads
