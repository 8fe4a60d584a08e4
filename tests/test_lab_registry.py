"""The lab registry against `requests` on 127.0.0.1 (every endpoint, auth modes) and skopeo as a peer."""

from __future__ import annotations

import gzip
import hashlib
from http.client import HTTPConnection
import io
import json
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.digest import Digest
from labkit.errors import LabkitError

from labkit.oci.keys import LABEL_AUTOMATED, LABEL_DESCRIPTION, LABEL_OFFICIAL, LABEL_STARS, REF_NAME, REPOSITORY
from labkit.registry import tokens
from labkit.registry.server import (
    LabRegistry,
    parse_addr,
    parse_content_range,
    parse_range,
    required_access,
    valid_name,
    valid_tag,
)

from helpers import skopeo
from helpers.registries import start_distribution_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


# --- a tiny image builder (reproducible: fixed mtimes, gzip without a timestamp) ---------------------

def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """Return (gzip blob, uncompressed tar) of a layer holding `files`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as f:
        f.write(tar_bytes)
    return gz.getvalue(), tar_bytes


def make_image(labels: dict | None = None, files: dict | None = None, media_type=OCI_MANIFEST):
    """Return (manifest bytes, {digest: blob}) of a one-layer linux/amd64 image."""
    layer, tar_bytes = make_layer(files or {"hello.txt": b"hello lab\n"})
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": labels or {}, "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(tar_bytes)]},
        "history": [{"created_by": "labkit test"}],
    }, sort_keys=True).encode()
    docker = media_type == DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json" if docker else OCI_CONFIG,
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip" if docker else OCI_LAYER_GZIP,
                    "digest": sha(layer), "size": len(layer)}],
    }
    return json.dumps(manifest, indent=2).encode(), {sha(config): config, sha(layer): layer}


def write_oci_dir(directory: Path, ref: str, manifest: bytes, blobs: dict) -> str:
    """Write an OCI image layout holding one image named `ref`; return the manifest digest."""
    (directory / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for data in [manifest, *blobs.values()]:
        (directory / "blobs" / "sha256" / sha(data).split(":")[1]).write_bytes(data)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": sha(manifest), "size": len(manifest),
        "annotations": {REF_NAME: ref}}]}
    (directory / "index.json").write_text(json.dumps(index))
    return sha(manifest)


# --- fixtures and HTTP helpers -------------------------------------------------------------------

@pytest.fixture
def http():
    with requests.Session() as s:
        yield s


def errors_of(resp) -> list[str]:
    return [e["code"] for e in resp.json()["errors"]]


def errors_of_bytes(body: bytes) -> list[str]:
    return [e["code"] for e in json.loads(body)["errors"]]


def push_blob(http, url, repo, data: bytes, **kw) -> str:
    d = sha(data)
    r = http.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": d}, data=data, **kw)
    assert r.status_code == 201, r.text
    return d


def push_image(http, url, repo, tag, labels=None, files=None, media_type=OCI_MANIFEST, **kw) -> tuple[str, bytes]:
    manifest, blobs = make_image(labels, files, media_type)
    for data in blobs.values():
        push_blob(http, url, repo, data, **kw)
    kw = dict(kw)
    headers = {"Content-Type": media_type, **kw.pop("headers", {})}
    r = http.put(f"{url}/v2/{repo}/manifests/{tag}", data=manifest, headers=headers, **kw)
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"], manifest


def challenge_params(header: str) -> dict:
    scheme, _, rest = header.partition(" ")
    out = {"scheme": scheme}
    for part in rest.split('",'):
        k, _, v = part.partition("=")
        out[k.strip()] = v.strip().strip('"')
    return out


# --- pure rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, ok", [
    ("x", True), ("library/ubuntu", True), ("a/b/c", True), ("my-app", True), ("my--app", True),
    ("a_b", True), ("a__b", True), ("a.b", True), ("x9/y-0", True),
    ("", False), ("Upper", False), ("a//b", False), ("/a", False), ("a/", False), ("-a", False),
    ("a___b", False), ("a..b", False), ("a:b", False), ("a" * 256, False),
])
def test_repository_name_grammar(name, ok):
    assert valid_name(name) is ok


@pytest.mark.parametrize("tag, ok", [
    ("latest", True), ("v1.0", True), ("_x", True), ("A-b_c.d", True), ("a" * 128, True),
    ("", False), (".x", False), ("-x", False), ("a" * 129, False), ("a/b", False), ("a:b", False),
])
def test_tag_grammar(tag, ok):
    assert valid_tag(tag) is ok


@pytest.mark.parametrize("header, total, expected", [
    ("bytes=0-3", 10, (0, 3)), ("bytes=2-", 10, (2, 9)), ("bytes=-3", 10, (7, 9)), ("bytes=5-100", 10, (5, 9)),
    ("bytes=10-12", 10, None), ("bytes=4-2", 10, None), ("items=0-1", 10, None), ("bytes=-", 10, None),
    ("bytes=-0", 10, None), ("bytes=0-1,3-4", 10, None),
])
def test_parse_range(header, total, expected):
    assert parse_range(header, total) == expected


@pytest.mark.parametrize("header, expected", [
    ("0-99", (0, 99)), ("bytes 100-199/*", (100, 199)), ("bytes=5-5", (5, 5)), ("bytes 0-9/10", (0, 9)),
    ("9-0", None), ("x", None), ("", None),
])
def test_parse_content_range(header, expected):
    assert parse_content_range(header) == expected


@pytest.mark.parametrize("addr, expected", [
    ("127.0.0.1:5000", ("127.0.0.1", 5000)), (":0", ("127.0.0.1", 0)), ("[::1]:80", ("::1", 80)),
    ("localhost:5001", ("localhost", 5001)),
])
def test_parse_addr(addr, expected):
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("route, method, query, expected", [
    ("base", "GET", {}, []),
    ("catalog", "GET", {}, ["registry:catalog:*"]),
    ("manifest", "GET", {}, ["repository:x:pull"]),
    ("blob", "HEAD", {}, ["repository:x:pull"]),
    ("tags", "GET", {}, ["repository:x:pull"]),
    ("manifest", "PUT", {}, ["repository:x:pull,push"]),
    ("upload", "GET", {}, ["repository:x:pull,push"]),
    ("upload_start", "POST", {"mount": ["sha256:1"], "from": ["y"]}, ["repository:x:pull,push", "repository:y:pull"]),
    ("manifest", "DELETE", {}, ["repository:x:delete"]),
    ("blob", "DELETE", {}, ["repository:x:delete"]),
])
def test_required_access(route, method, query, expected):
    name = None if route in ("base", "catalog") else "x"
    assert [a.scope() for a in required_access(route, method, name, query)] == expected


@pytest.mark.parametrize("user, scope, expected", [
    (None, "repository:x:pull", ["repository:x:pull"]),
    (None, "repository:x:pull,push", ["repository:x:pull"]),
    (None, "repository:x:push", []),
    (None, "registry:catalog:*", ["registry:catalog:*"]),
    ("lab", "repository:a/b:pull,push,delete", ["repository:a/b:pull,push,delete"]),
    ("lab", "repository:x:*", ["repository:x:pull,push,delete"]),
    ("lab", "registry:catalog:*", ["registry:catalog:*"]),
    ("lab", "plugin:x:pull", []),
])
def test_token_grant_policy(user, scope, expected):
    assert [a.scope() for a in tokens.grant(user, tokens.parse_scopes([scope]))] == expected


def test_password_hashes_round_trip():
    stored = tokens.hash_password("s3cret")
    assert tokens.is_password_hash(stored) and "s3cret" not in stored
    assert tokens.check_password(stored, "s3cret")
    assert not tokens.check_password(stored, "wrong")
    users = tokens.Users({"a": stored, "b": "plain"})
    assert users.check("a", "s3cret") and users.check("a", "s3cret") and users.check("b", "plain")
    assert not users.check("a", "plain") and not users.check("nobody", "x")


def test_only_loopback_unless_allowed(tmp_path):
    with pytest.raises(LabkitError, match="loopback"):
        LabRegistry(tmp_path / "r", addr="0.0.0.0:0")


# --- endpoints, no auth ----------------------------------------------------------------------------

def test_base_endpoint(lab_registry, http):
    r = http.get(lab_registry.url + "/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.json() == {}
    assert http.get(lab_registry.url + "/v2").status_code == 200


def test_url_reports_the_picked_port(lab_registry):
    assert lab_registry.port != 0 and lab_registry.url == f"http://127.0.0.1:{lab_registry.port}"


def test_monolithic_upload_then_get_and_head(lab_registry, http):
    data = b"some layer bytes" * 100
    d = sha(data)
    r = http.post(f"{lab_registry.url}/v2/lab/one/blobs/uploads/", params={"digest": d}, data=data)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/lab/one/blobs/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    head = http.head(f"{lab_registry.url}/v2/lab/one/blobs/{d}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data)) and head.headers["Docker-Content-Digest"] == d
    assert head.content == b""
    get = http.get(f"{lab_registry.url}/v2/lab/one/blobs/{d}")
    assert get.status_code == 200 and get.content == data
    assert lab_registry.layout.has_blob(Digest.parse(d))


def test_monolithic_upload_with_wrong_digest_is_refused(lab_registry, http):
    wrong = sha(b"other")
    r = http.post(f"{lab_registry.url}/v2/x/blobs/uploads/", params={"digest": wrong}, data=b"payload")
    assert r.status_code == 400 and errors_of(r) == ["DIGEST_INVALID"]
    assert http.head(f"{lab_registry.url}/v2/x/blobs/{wrong}").status_code == 404


def test_chunked_upload_session(lab_registry, http):
    data = bytes(range(256)) * 40
    d = sha(data)
    start = http.post(f"{lab_registry.url}/v2/x/blobs/uploads/")
    assert start.status_code == 202
    loc, uuid = start.headers["Location"], start.headers["Docker-Upload-UUID"]
    assert loc == f"/v2/x/blobs/uploads/{uuid}" and start.headers["Range"] == "0-0"
    assert start.headers["Content-Length"] == "0"
    r = http.patch(lab_registry.url + loc, data=data[:1000], headers={"Content-Range": "0-999",
                                                             "Content-Type": "application/octet-stream"})
    assert r.status_code == 202 and r.headers["Range"] == "0-999"
    status = http.get(lab_registry.url + loc)
    assert status.status_code == 204 and status.headers["Range"] == "0-999"
    assert status.headers["Docker-Upload-UUID"] == uuid and status.headers["Location"] == loc
    assert "Content-Length" not in status.headers  # RFC 9110: none on a 204
    bad = http.patch(lab_registry.url + loc, data=data[2000:3000], headers={"Content-Range": "2000-2999"})
    assert bad.status_code == 416 and bad.headers["Range"] == "0-999"
    assert bad.headers["Location"] == loc
    r = http.patch(lab_registry.url + loc, data=data[1000:5000], headers={"Content-Range": "1000-4999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-4999"
    # the last chunk may come with the PUT that finishes the upload
    r = http.put(lab_registry.url + loc, params={"digest": d}, data=data[5000:],
                 headers={"Content-Range": f"5000-{len(data) - 1}"})
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == d
    assert r.headers["Location"] == f"/v2/x/blobs/{d}"
    assert http.get(f"{lab_registry.url}/v2/x/blobs/{d}").content == data
    gone = http.get(lab_registry.url + loc)
    assert gone.status_code == 404 and errors_of(gone) == ["BLOB_UPLOAD_UNKNOWN"]


def test_streamed_patch_with_chunked_transfer_encoding(lab_registry, http):
    parts = [b"a" * 70000, b"b" * 3, b"c" * 100000]
    data = b"".join(parts)
    loc = http.post(f"{lab_registry.url}/v2/x/blobs/uploads/").headers["Location"]
    r = http.patch(lab_registry.url + loc, data=iter(parts))  # a generator: requests sends Transfer-Encoding: chunked
    assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    r = http.put(lab_registry.url + loc, params={"digest": sha(data)})
    assert r.status_code == 201
    assert http.get(f"{lab_registry.url}/v2/x/blobs/{sha(data)}").content == data


def test_finishing_with_a_wrong_digest_is_refused(lab_registry, http):
    loc = http.post(f"{lab_registry.url}/v2/x/blobs/uploads/").headers["Location"]
    http.patch(lab_registry.url + loc, data=b"12345")
    r = http.put(lab_registry.url + loc, params={"digest": sha(b"54321")})
    assert r.status_code == 400 and errors_of(r) == ["DIGEST_INVALID"]
    assert http.head(f"{lab_registry.url}/v2/x/blobs/{sha(b'54321')}").status_code == 404
    assert http.head(f"{lab_registry.url}/v2/x/blobs/{sha(b'12345')}").status_code == 404
    missing = http.put(lab_registry.url + http.post(f"{lab_registry.url}/v2/x/blobs/uploads/").headers["Location"])
    assert missing.status_code == 400 and errors_of(missing) == ["DIGEST_INVALID"]


def test_upload_cancel_and_unknown_sessions(lab_registry, http):
    loc = http.post(f"{lab_registry.url}/v2/x/blobs/uploads/").headers["Location"]
    assert http.delete(lab_registry.url + loc).status_code == 204
    r = http.patch(lab_registry.url + loc, data=b"x")
    assert r.status_code == 404 and errors_of(r) == ["BLOB_UPLOAD_UNKNOWN"]
    other_repo = http.post(f"{lab_registry.url}/v2/x/blobs/uploads/").headers["Location"].replace("/v2/x/", "/v2/y/")
    assert errors_of(http.get(lab_registry.url + other_repo)) == ["BLOB_UPLOAD_UNKNOWN"]


def test_abandoned_uploads_are_cleaned(tmp_path, http):
    root = tmp_path / "registry"
    with LabRegistry(root, addr="127.0.0.1:0", upload_ttl=0) as reg:
        loc = http.post(f"{reg.url}/v2/x/blobs/uploads/").headers["Location"]
        http.patch(reg.url + loc, data=b"partial")
        temp_files = list(reg.uploads.directory.iterdir())
        assert len(temp_files) == 1
        http.post(f"{reg.url}/v2/x/blobs/uploads/")  # starting another upload sweeps idle ones
        assert not temp_files[0].exists()
        assert http.get(reg.url + loc).status_code == 404
    with LabRegistry(root, addr="127.0.0.1:0") as reg:  # a restart drops whatever was in progress
        assert list(reg.uploads.directory.iterdir()) == []


def test_cross_repository_mount(lab_registry, http):
    d = push_blob(http, lab_registry.url, "source", b"shared layer")
    r = http.post(f"{lab_registry.url}/v2/target/blobs/uploads/", params={"mount": d, "from": "source"})
    assert r.status_code == 201 and r.headers["Location"] == f"/v2/target/blobs/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    assert http.get(f"{lab_registry.url}/v2/target/blobs/{d}").content == b"shared layer"
    unknown = sha(b"nowhere")
    r = http.post(f"{lab_registry.url}/v2/target/blobs/uploads/", params={"mount": unknown, "from": "source"})
    assert r.status_code == 202 and r.headers["Location"].startswith("/v2/target/blobs/uploads/")


def test_range_requests(lab_registry, http):
    data = b"0123456789"
    d = push_blob(http, lab_registry.url, "x", data)
    r = http.get(f"{lab_registry.url}/v2/x/blobs/{d}", headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.content == b"2345"
    assert r.headers["Content-Range"] == "bytes 2-5/10" and r.headers["Content-Length"] == "4"
    r = http.get(f"{lab_registry.url}/v2/x/blobs/{d}", headers={"Range": "bytes=-3"})
    assert r.status_code == 206 and r.content == b"789"
    r = http.get(f"{lab_registry.url}/v2/x/blobs/{d}", headers={"Range": "bytes=7-"})
    assert r.content == b"789" and r.headers["Content-Range"] == "bytes 7-9/10"
    r = http.get(f"{lab_registry.url}/v2/x/blobs/{d}", headers={"Range": "bytes=20-30"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */10"
    assert http.get(f"{lab_registry.url}/v2/x/blobs/{d}").headers["Accept-Ranges"] == "bytes"


def test_blob_delete_and_unknown_blobs(lab_registry, http):
    d = push_blob(http, lab_registry.url, "x", b"to delete")
    assert http.delete(f"{lab_registry.url}/v2/x/blobs/{d}").status_code == 202
    r = http.get(f"{lab_registry.url}/v2/x/blobs/{d}")
    assert r.status_code == 404 and errors_of(r) == ["BLOB_UNKNOWN"]
    assert errors_of(http.delete(f"{lab_registry.url}/v2/x/blobs/{d}")) == ["BLOB_UNKNOWN"]
    assert http.head(f"{lab_registry.url}/v2/x/blobs/{d}").status_code == 404
    bad = http.get(f"{lab_registry.url}/v2/x/blobs/sha256:nothex")
    assert bad.status_code == 400 and errors_of(bad) == ["DIGEST_INVALID"]


def test_manifest_put_get_head_by_tag_and_digest(lab_registry, http):
    digest, manifest = push_image(http, lab_registry.url, "lab/hello", "v1")
    assert digest == sha(manifest)
    for ref in ("v1", digest):
        r = http.get(f"{lab_registry.url}/v2/lab/hello/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == manifest
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest
        assert r.headers["Content-Length"] == str(len(manifest))
        h = http.head(f"{lab_registry.url}/v2/lab/hello/manifests/{ref}")
        assert h.status_code == 200 and h.headers["Content-Length"] == str(len(manifest))
        assert h.headers["Docker-Content-Digest"] == digest and h.content == b""


def test_manifest_put_answers_created_with_location(lab_registry, http):
    manifest, blobs = make_image(media_type=DOCKER_MANIFEST)
    for data in blobs.values():
        push_blob(http, lab_registry.url, "x", data)
    r = http.put(f"{lab_registry.url}/v2/x/manifests/latest", data=manifest, headers={"Content-Type": DOCKER_MANIFEST})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/x/manifests/{sha(manifest)}"
    assert r.headers["Docker-Content-Digest"] == sha(manifest)
    assert http.get(f"{lab_registry.url}/v2/x/manifests/latest").headers["Content-Type"] == DOCKER_MANIFEST


def test_manifest_stored_in_the_layout_index(lab_registry, http):
    digest, manifest = push_image(http, lab_registry.url, "lab/hello", "v1")
    index = json.loads((lab_registry.root / "index.json").read_text())
    [entry] = [m for m in index["manifests"] if m["digest"] == digest]
    assert entry["annotations"] == {REF_NAME: "lab/hello:v1", REPOSITORY: "lab/hello"}
    assert entry["mediaType"] == OCI_MANIFEST and entry["size"] == len(manifest)
    assert json.loads((lab_registry.root / "oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"


def test_moving_a_tag_keeps_the_old_manifest_by_digest(lab_registry, http):
    first, _ = push_image(http, lab_registry.url, "x", "latest", files={"a": b"1"})
    second, _ = push_image(http, lab_registry.url, "x", "latest", files={"a": b"2"})
    assert first != second
    assert http.get(f"{lab_registry.url}/v2/x/manifests/latest").headers["Docker-Content-Digest"] == second
    assert http.get(f"{lab_registry.url}/v2/x/manifests/{first}").status_code == 200
    assert http.get(f"{lab_registry.url}/v2/x/tags/list").json() == {"name": "x", "tags": ["latest"]}


def test_manifest_delete_by_tag_then_digest(lab_registry, http):
    digest, _ = push_image(http, lab_registry.url, "x", "v1")
    push_image(http, lab_registry.url, "x", "v2", files={"other": b"image"})
    assert http.delete(f"{lab_registry.url}/v2/x/manifests/v1").status_code == 202
    r = http.get(f"{lab_registry.url}/v2/x/manifests/v1")
    assert r.status_code == 404 and errors_of(r) == ["MANIFEST_UNKNOWN"]
    assert http.get(f"{lab_registry.url}/v2/x/manifests/{digest}").status_code == 200
    assert http.delete(f"{lab_registry.url}/v2/x/manifests/{digest}").status_code == 202
    assert errors_of(http.get(f"{lab_registry.url}/v2/x/manifests/{digest}")) == ["MANIFEST_UNKNOWN"]
    assert errors_of(http.delete(f"{lab_registry.url}/v2/x/manifests/{digest}")) == ["MANIFEST_UNKNOWN"]
    assert http.get(f"{lab_registry.url}/v2/x/tags/list").json()["tags"] == ["v2"]


def test_manifest_errors(lab_registry, http):
    url = lab_registry.url
    r = http.put(f"{url}/v2/x/manifests/v1", data=b"{not json", headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and errors_of(r) == ["MANIFEST_INVALID"]
    manifest, blobs = make_image()
    r = http.put(f"{url}/v2/x/manifests/v1", data=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and set(errors_of(r)) == {"MANIFEST_BLOB_UNKNOWN"}
    assert {e["detail"]["digest"] for e in r.json()["errors"]} == set(blobs)
    for data in blobs.values():
        push_blob(http, url, "x", data)
    r = http.put(f"{url}/v2/x/manifests/{sha(b'other')}", data=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and errors_of(r) == ["DIGEST_INVALID"]
    r = http.put(f"{url}/v2/x/manifests/{sha(manifest)}", data=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201  # by digest: an untagged manifest
    assert http.get(f"{url}/v2/x/tags/list").json() == {"name": "x", "tags": []}
    r = http.put(f"{url}/v2/x/manifests/.bad", data=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and errors_of(r) == ["TAG_INVALID"]
    r = http.get(f"{url}/v2/Bad_Name/manifests/latest")
    assert r.status_code == 400 and errors_of(r) == ["NAME_INVALID"]
    r = http.get(f"{url}/v2/nobody/manifests/latest")
    assert r.status_code == 404 and errors_of(r) == ["NAME_UNKNOWN"]
    r = http.get(f"{url}/v2/x/manifests/nosuchtag")
    assert r.status_code == 404 and errors_of(r) == ["MANIFEST_UNKNOWN"]
    r = http.get(f"{url}/v2/nobody/tags/list")
    assert r.status_code == 404 and errors_of(r) == ["NAME_UNKNOWN"]
    body = r.json()["errors"][0]
    assert set(body) == {"code", "message", "detail"} and body["message"]


def test_image_index_needs_its_manifests(lab_registry, http):
    d1, m1 = push_image(http, lab_registry.url, "multi", "amd64", files={"arch": b"amd64"})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d1, "size": len(m1), "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": sha(b"missing"), "size": 7,
         "platform": {"os": "linux", "architecture": "arm64"}}]}).encode()
    r = http.put(f"{lab_registry.url}/v2/multi/manifests/latest", data=index, headers={"Content-Type": OCI_INDEX})
    assert r.status_code == 400 and errors_of(r) == ["MANIFEST_BLOB_UNKNOWN"]
    good = json.loads(index)
    good["manifests"].pop()
    good = json.dumps(good).encode()
    r = http.put(f"{lab_registry.url}/v2/multi/manifests/latest", data=good, headers={"Content-Type": OCI_INDEX})
    assert r.status_code == 201
    got = http.get(f"{lab_registry.url}/v2/multi/manifests/latest")
    assert got.headers["Content-Type"] == OCI_INDEX and got.content == good


def test_referrers_api(lab_registry, http):
    image, manifest = push_image(http, lab_registry.url, "lab/app", "v1")
    empty = b"{}"
    push_blob(http, lab_registry.url, "lab/app", empty)
    sbom = b'{"packages": []}'
    push_blob(http, lab_registry.url, "lab/app", sbom)
    artifact = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(empty), "size": 2},
        "layers": [{"mediaType": "application/vnd.example.sbom+json", "digest": sha(sbom), "size": len(sbom)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image, "size": len(manifest)},
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }).encode()
    r = http.put(f"{lab_registry.url}/v2/lab/app/manifests/{sha(artifact)}", data=artifact,
                 headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201 and r.headers["OCI-Subject"] == image
    r = http.get(f"{lab_registry.url}/v2/lab/app/referrers/{image}")
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_INDEX
    assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": sha(artifact), "size": len(artifact),
        "artifactType": "application/vnd.example.sbom+json",
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}}]}
    r = http.get(f"{lab_registry.url}/v2/lab/app/referrers/{image}", params={"artifactType": "application/other"})
    assert r.json()["manifests"] == [] and r.headers["OCI-Filters-Applied"] == "artifactType"
    assert http.get(f"{lab_registry.url}/v2/lab/app/referrers/{sha(b'nothing')}").json()["manifests"] == []
    assert errors_of(http.get(f"{lab_registry.url}/v2/lab/app/referrers/sha256:zz")) == ["DIGEST_INVALID"]


def test_tags_pagination_with_link_headers(lab_registry, http):
    for tag in ("e", "a", "d", "c", "b"):
        push_image(http, lab_registry.url, "lab/paged", tag)
    r = http.get(f"{lab_registry.url}/v2/lab/paged/tags/list")
    assert r.json() == {"name": "lab/paged", "tags": ["a", "b", "c", "d", "e"]} and "Link" not in r.headers
    r = http.get(f"{lab_registry.url}/v2/lab/paged/tags/list", params={"n": 2})
    assert r.json()["tags"] == ["a", "b"]
    assert r.headers["Link"] == '</v2/lab/paged/tags/list?n=2&last=b>; rel="next"'
    pages, url = [], f"{lab_registry.url}/v2/lab/paged/tags/list?n=2"
    while url:
        r = http.get(url)
        pages.append(r.json()["tags"])
        url = lab_registry.url + r.links["next"]["url"] if "next" in r.links else None
    assert pages == [["a", "b"], ["c", "d"], ["e"]]
    r = http.get(f"{lab_registry.url}/v2/lab/paged/tags/list", params={"n": 2, "last": "d"})
    assert r.json()["tags"] == ["e"] and "Link" not in r.headers
    r = http.get(f"{lab_registry.url}/v2/lab/paged/tags/list", params={"n": 0})
    assert r.json()["tags"] == []
    r = http.get(f"{lab_registry.url}/v2/lab/paged/tags/list", params={"n": "many"})
    assert r.status_code == 400 and errors_of(r) == ["PAGINATION_NUMBER_INVALID"]


def test_catalog_pagination(lab_registry, http):
    for repo in ("zeta", "alpha", "lab/mid", "beta"):
        push_image(http, lab_registry.url, repo, "latest")
    assert http.get(f"{lab_registry.url}/v2/_catalog").json() == {"repositories": ["alpha", "beta", "lab/mid", "zeta"]}
    r = http.get(f"{lab_registry.url}/v2/_catalog", params={"n": 3})
    assert r.json() == {"repositories": ["alpha", "beta", "lab/mid"]}
    assert r.headers["Link"] == '</v2/_catalog?n=3&last=lab%2Fmid>; rel="next"'
    r = http.get(lab_registry.url + r.links["next"]["url"])
    assert r.json() == {"repositories": ["zeta"]} and "Link" not in r.headers


def test_search_uses_config_labels(lab_registry, http):
    push_image(http, lab_registry.url, "library/debian", "latest", labels={
        LABEL_DESCRIPTION: "Debian is a Linux distribution", LABEL_STARS: "42",
        LABEL_OFFICIAL: "true", LABEL_AUTOMATED: "false"})
    push_image(http, lab_registry.url, "lab/debian-tools", "v1", labels={LABEL_STARS: "3", LABEL_AUTOMATED: "true",
                                                             "org.opencontainers.image.description": "tools"})
    push_image(http, lab_registry.url, "alpine", "latest")
    r = http.get(f"{lab_registry.url}/v1/search", params={"q": "debian", "n": 25})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "debian" and body["num_results"] == 2
    assert body["results"] == [
        {"name": "debian", "description": "Debian is a Linux distribution", "star_count": 42,
         "is_official": True, "is_automated": False},
        {"name": "lab/debian-tools", "description": "tools", "star_count": 3,
         "is_official": False, "is_automated": True},
    ]
    one = http.get(f"{lab_registry.url}/v1/search", params={"q": "", "n": 1}).json()
    assert one["num_results"] == 3 and [x["name"] for x in one["results"]] == ["debian"]
    assert http.get(f"{lab_registry.url}/v1/search", params={"q": "nomatch"}).json()["results"] == []


def test_search_matches_official_images_by_their_familiar_name(lab_registry, http):
    push_image(http, lab_registry.url, "library/zookeeper", "latest", labels={LABEL_OFFICIAL: "true"})
    names = [r["name"] for r in http.get(f"{lab_registry.url}/v1/search", params={"q": "zookeeper"}).json()["results"]]
    assert names == ["zookeeper"]
    assert http.get(f"{lab_registry.url}/v1/search", params={"q": "library"}).json()["results"] == []


def test_platform_manifests_of_a_tagged_index_are_served_by_digest(lab_registry, http):
    child_digest, child = push_image(http, lab_registry.url, "multi", "amd64-only")
    http.delete(f"{lab_registry.url}/v2/multi/manifests/amd64-only")  # the tag goes; only the index will name the child
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child_digest, "size": len(child),
                                       "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    r = http.put(f"{lab_registry.url}/v2/multi/manifests/latest", data=index,
                 headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert r.status_code == 201, r.text
    got = http.get(f"{lab_registry.url}/v2/multi/manifests/{child_digest}", headers={"Accept": OCI_MANIFEST})
    assert got.status_code == 200 and got.content == child
    assert http.get(f"{lab_registry.url}/v2/other/manifests/{child_digest}").status_code == 404


def test_search_reads_the_latest_tag(lab_registry, http):
    push_image(http, lab_registry.url, "x", "latest", labels={LABEL_STARS: "7"})
    push_image(http, lab_registry.url, "x", "old", labels={LABEL_STARS: "1"})
    assert http.get(f"{lab_registry.url}/v1/search", params={"q": "x"}).json()["results"][0]["star_count"] == 7


def test_unknown_paths_and_methods(lab_registry, http):
    r = http.patch(f"{lab_registry.url}/v2/x/manifests/latest", data=b"{}")
    assert r.status_code == 405 and errors_of(r) == ["UNSUPPORTED"]
    assert http.get(f"{lab_registry.url}/nothing/here").status_code == 404
    assert http.get(f"{lab_registry.url}/token").status_code == 404  # no realm without token auth


def test_keep_alive_across_answers(lab_registry):
    d = sha(b"abc")
    conn = HTTPConnection("127.0.0.1", lab_registry.port, timeout=5)
    conn.request("POST", f"/v2/x/blobs/uploads/?digest={d}", body=b"abc")
    resp = conn.getresponse()
    assert resp.status == 201 and resp.read() == b""
    sock = conn.sock
    for method, path, status in [("HEAD", f"/v2/x/blobs/{d}", 200), ("GET", f"/v2/x/blobs/{d}", 200),
                                 ("GET", "/v2/x/manifests/latest", 404), ("GET", "/v2/", 200),
                                 ("HEAD", "/v2/x/manifests/nope", 404), ("POST", "/v2/x/blobs/uploads/", 202),
                                 ("DELETE", f"/v2/x/blobs/{d}", 202)]:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == status
        if method == "GET":
            assert len(body) == int(resp.headers["Content-Length"])
        assert conn.sock is sock  # the same connection served every request
    conn.request("POST", "/v2/x/blobs/uploads/")
    resp = conn.getresponse()
    resp.read()
    loc = resp.headers["Location"]
    # a 204 without a body, a refused chunk whose body is read anyway, a cancel: still one connection
    for method, body, headers, status in [("GET", None, {}, 204), ("PATCH", b"xyz", {"Content-Range": "5-7"}, 416),
                                          ("PATCH", b"xyz", {"Content-Range": "0-2"}, 202), ("DELETE", None, {}, 204)]:
        conn.request(method, loc, body=body, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == status and (body == b"" or errors_of_bytes(body) == ["BLOB_UPLOAD_INVALID"])
        assert conn.sock is sock
    conn.close()


def test_quiet_by_default_with_optional_access_log(tmp_path, http, capfd):
    lines = []
    with LabRegistry(tmp_path / "r", addr="127.0.0.1:0", access_log=lines.append) as reg:
        http.get(reg.url + "/v2/")
        http.get(reg.url + "/v2/x/manifests/latest")
    assert any('"GET /v2/ HTTP/1.1" 200' in line for line in lines)
    assert any("/v2/x/manifests/latest" in line and " 404 " in line for line in lines)
    with LabRegistry(tmp_path / "r", addr="127.0.0.1:0") as reg:
        http.get(reg.url + "/v2/")
        http.get(reg.url + "/v2/BAD/manifests/x")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_stop_releases_the_port(tmp_path, http):
    reg = LabRegistry(tmp_path / "r", addr="127.0.0.1:0").start()
    url = reg.url
    assert http.get(url + "/v2/").status_code == 200
    reg.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v2/", timeout=2)


def test_read_only_registry_denies_writes(tmp_path, http):
    with LabRegistry(tmp_path / "r", addr="127.0.0.1:0", read_only=True) as reg:
        r = http.post(f"{reg.url}/v2/x/blobs/uploads/")
        assert r.status_code == 403 and errors_of(r) == ["DENIED"]
        assert http.get(f"{reg.url}/v2/_catalog").json() == {"repositories": []}


def test_layout_written_by_others_is_served(tmp_path, http):
    root = tmp_path / "r"
    manifest, blobs = make_image()
    digest = write_oci_dir(root, "plain/name:1.0", manifest, blobs)
    with LabRegistry(root, addr="127.0.0.1:0") as reg:
        assert http.get(f"{reg.url}/v2/_catalog").json() == {"repositories": ["plain/name"]}
        r = http.get(f"{reg.url}/v2/plain/name/manifests/1.0")
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest


# --- properties: uploads in any chunking, and range reads, match plain bytes -----------------------

@pytest.fixture(scope="module")
def shared_lab_registry(tmp_path_factory):
    """Return one lab registry for all the examples of a property test."""
    with LabRegistry(tmp_path_factory.mktemp("shared") / "registry", addr="127.0.0.1:0") as r:
        yield r


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=5),
       finish_with_body=st.booleans())
def test_any_chunking_stores_the_same_blob(shared_lab_registry, data, cuts, finish_with_body):
    url = shared_lab_registry.url
    with requests.Session() as http:
        loc = http.post(f"{url}/v2/prop/blobs/uploads/").headers["Location"]
        bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
        pieces = [data[a:b] for a, b in zip(bounds, bounds[1:])]
        last = pieces.pop() if finish_with_body and pieces else b""
        offset = 0
        for piece in pieces:
            r = http.patch(url + loc, data=piece, headers={"Content-Range": f"{offset}-{offset + len(piece) - 1}"})
            assert r.status_code == 202
            offset += len(piece)
            assert r.headers["Range"] == f"0-{max(offset - 1, 0)}"
        r = http.put(url + loc, params={"digest": sha(data)}, data=last)
        assert r.status_code == 201, r.text
        assert http.get(f"{url}/v2/prop/blobs/{sha(data)}").content == data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 40), length=st.one_of(st.none(), st.integers(0, 40)))
def test_range_reads_match_slicing(shared_lab_registry, start, length):
    data = bytes(range(30))
    d = sha(data)
    with requests.Session() as http:
        if not shared_lab_registry.layout.has_blob(d):
            push_blob(http, shared_lab_registry.url, "prop", data)
        spec = f"bytes={start}-" if length is None else f"bytes={start}-{start + length}"
        r = http.get(f"{shared_lab_registry.url}/v2/prop/blobs/{d}", headers={"Range": spec})
        if start >= len(data):
            assert r.status_code == 416
        else:
            end = len(data) - 1 if length is None else min(start + length, len(data) - 1)
            assert r.status_code == 206 and r.content == data[start:end + 1]


# --- token auth ---------------------------------------------------------------------------------

@pytest.fixture
def token_lab_registry(tmp_path):
    """Return a lab registry in token mode (its own realm)."""
    with LabRegistry(tmp_path / "registry", addr="127.0.0.1:0", auth="token") as r:
        yield r


def get_token(lab_registry, scope=None, auth=None) -> str:
    params = {"service": "labkit-registry"}
    if scope:
        params["scope"] = scope
    r = requests.get(lab_registry.realm, params=params, auth=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] > 0 and body["issued_at"]
    return body["token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


LAB = (tokens.LAB_USER, tokens.LAB_PASSWORD)


def test_token_challenge_on_base_and_repository(token_lab_registry, http):
    r = http.get(token_lab_registry.url + "/v2/")
    assert r.status_code == 401 and errors_of(r) == ["UNAUTHORIZED"]
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="http://127.0.0.1:{token_lab_registry.port}/token",service="labkit-registry"')
    r = http.get(token_lab_registry.url + "/v2/lab/x/manifests/latest")
    assert r.headers["WWW-Authenticate"] == (f'Bearer realm="http://127.0.0.1:{token_lab_registry.port}/token",'
                                             'service="labkit-registry",scope="repository:lab/x:pull"')
    assert http.get(token_lab_registry.url + "/v2/", headers=bearer(get_token(token_lab_registry))).status_code == 200


def test_token_shape(token_lab_registry):
    token = get_token(token_lab_registry, "repository:x:pull,push", auth=LAB)
    header, claims = tokens.decode_jwt_unverified(token)
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    kid_groups = header["kid"].split(":")
    assert len(kid_groups) == 12 and all(len(g) == 4 for g in kid_groups)
    assert len(tokens.b64url_decode(token.split(".")[2])) == 64  # raw r||s, not DER
    assert claims["iss"] == tokens.ISSUER and claims["aud"] == "labkit-registry" and claims["sub"] == "lab"
    assert all(isinstance(claims[k], int) for k in ("exp", "nbf", "iat"))
    assert claims["jti"] and claims["access"] == [{"type": "repository", "name": "x", "actions": ["pull", "push"]}]


def test_anonymous_pull_allowed_push_needs_the_lab_user(token_lab_registry, http):
    lab_token = get_token(token_lab_registry, "repository:lab/app:pull,push", auth=LAB)
    digest, manifest = push_image(http, token_lab_registry.url, "lab/app", "v1", headers=bearer(lab_token))
    anon = get_token(token_lab_registry, "repository:lab/app:pull")
    r = http.get(f"{token_lab_registry.url}/v2/lab/app/manifests/v1", headers=bearer(anon))
    assert r.status_code == 200 and r.content == manifest
    # anonymous asks for push: the realm grants pull only, and the registry refuses the upload
    anon_push = get_token(token_lab_registry, "repository:lab/app:pull,push")
    assert tokens.decode_jwt_unverified(anon_push)[1]["access"] == [
        {"type": "repository", "name": "lab/app", "actions": ["pull"]}]
    r = http.post(f"{token_lab_registry.url}/v2/lab/app/blobs/uploads/", headers=bearer(anon_push))
    assert r.status_code == 401 and errors_of(r) == ["UNAUTHORIZED"]
    c = challenge_params(r.headers["WWW-Authenticate"])
    assert c == {"scheme": "Bearer", "realm": token_lab_registry.realm, "service": "labkit-registry",
                 "scope": "repository:lab/app:pull,push", "error": "insufficient_scope"}
    # delete needs the delete action
    r = http.delete(f"{token_lab_registry.url}/v2/lab/app/manifests/{digest}", headers=bearer(lab_token))
    assert r.status_code == 401 and 'scope="repository:lab/app:delete"' in r.headers["WWW-Authenticate"]
    deleter = get_token(token_lab_registry, "repository:lab/app:delete", auth=LAB)
    r = http.delete(f"{token_lab_registry.url}/v2/lab/app/manifests/{digest}", headers=bearer(deleter))
    assert r.status_code == 202


def test_wrong_password_at_the_realm(token_lab_registry):
    r = requests.get(token_lab_registry.realm, params={"service": "labkit-registry", "scope": "repository:x:push"},
                     auth=("lab", "wrong"))
    assert r.status_code == 401 and errors_of(r) == ["UNAUTHORIZED"]


def test_forged_expired_and_foreign_tokens_are_refused(token_lab_registry, http):
    pusher = get_token(token_lab_registry, "repository:mine:pull,push", auth=LAB)
    push_image(http, token_lab_registry.url, "mine", "v1", headers=bearer(pusher))
    url = f"{token_lab_registry.url}/v2/mine/manifests/v1"
    # forged: the right kid and claims, signed with another key
    other = tokens.TokenIssuer(tokens.generate_key())
    real_claims = tokens.decode_jwt_unverified(get_token(token_lab_registry, "repository:mine:pull"))[1]
    forged = tokens.encode_jwt(other.key, real_claims, kid=token_lab_registry.issuer.kid)
    expired = token_lab_registry.issue_token(None, ["repository:mine:pull"], ttl=-3600)
    wrong_aud = token_lab_registry.issue_token(None, ["repository:mine:pull"], audience="someone-else")
    tampered_parts = get_token(token_lab_registry, "repository:other:pull").split(".")
    _, claims = tokens.decode_jwt_unverified(".".join(tampered_parts))
    claims["access"][0]["name"] = "mine"
    tampered = ".".join([tampered_parts[0], tokens.b64url(json.dumps(claims).encode()), tampered_parts[2]])
    for token in (forged, expired, wrong_aud, tampered, "not-a-jwt", other.issue(None, [])):
        r = http.get(url, headers=bearer(token))
        assert r.status_code == 401, token
        c = challenge_params(r.headers["WWW-Authenticate"])
        assert c["error"] == "invalid_token" and c["scope"] == "repository:mine:pull"
        assert c["realm"] == token_lab_registry.realm and c["service"] == "labkit-registry"
    foreign = get_token(token_lab_registry, "repository:other:pull")
    r = http.get(url, headers=bearer(foreign))
    assert r.status_code == 401
    assert challenge_params(r.headers["WWW-Authenticate"])["error"] == "insufficient_scope"
    assert http.get(url, headers=bearer(get_token(token_lab_registry, "repository:mine:pull"))).status_code == 200


def test_catalog_scope_for_anonymous_and_lab(token_lab_registry, http):
    r = http.get(f"{token_lab_registry.url}/v2/_catalog",
                 headers=bearer(get_token(token_lab_registry, "repository:x:pull")))
    assert r.status_code == 401 and 'scope="registry:catalog:*"' in r.headers["WWW-Authenticate"]
    for auth in (None, LAB):
        r = http.get(f"{token_lab_registry.url}/v2/_catalog",
                     headers=bearer(get_token(token_lab_registry, "registry:catalog:*", auth=auth)))
        assert r.status_code == 200 and r.json() == {"repositories": []}


def test_mount_needs_pull_on_the_source(token_lab_registry, http):
    token = get_token(token_lab_registry, "repository:src:pull,push", auth=LAB)
    d = push_blob(http, token_lab_registry.url, "src", b"layer", headers=bearer(token))
    target_only = get_token(token_lab_registry, "repository:dst:pull,push", auth=LAB)
    r = http.post(f"{token_lab_registry.url}/v2/dst/blobs/uploads/", params={"mount": d, "from": "src"},
                  headers=bearer(target_only))
    assert r.status_code == 401
    assert 'scope="repository:dst:pull,push repository:src:pull"' in r.headers["WWW-Authenticate"]
    both = get_token(token_lab_registry, "repository:dst:pull,push repository:src:pull", auth=LAB)
    r = http.post(f"{token_lab_registry.url}/v2/dst/blobs/uploads/", params={"mount": d, "from": "src"},
                  headers=bearer(both))
    assert r.status_code == 201


def test_search_is_open_in_token_mode(token_lab_registry, http):
    assert http.get(f"{token_lab_registry.url}/v1/search", params={"q": "x"}).status_code == 200


def test_signing_key_is_kept_private_across_restarts(tmp_path, http):
    root = tmp_path / "registry"
    with LabRegistry(root, addr="127.0.0.1:0", auth="token") as reg:
        token = get_token(reg, auth=LAB)
        key_file = tokens.key_path(root)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        kid = reg.issuer.kid
    with LabRegistry(root, addr="127.0.0.1:0", auth="token") as reg:
        assert reg.issuer.kid == kid
        assert http.get(reg.url + "/v2/", headers=bearer(token)).status_code == 200


def test_password_grant_by_post(token_lab_registry):
    r = requests.post(token_lab_registry.realm, data={"grant_type": "password", "username": "lab",
                                                      "password": tokens.LAB_PASSWORD,
                                                      "service": "labkit-registry", "scope": "repository:x:push"})
    assert r.status_code == 200
    assert tokens.decode_jwt_unverified(r.json()["access_token"])[1]["access"][0]["actions"] == ["push"]


# --- basic auth ---------------------------------------------------------------------------------

def test_basic_auth_mode(tmp_path, http):
    users = {"teacher": tokens.hash_password("chalk")}
    with LabRegistry(tmp_path / "r", addr="127.0.0.1:0", auth="basic", users=users) as reg:
        r = http.get(reg.url + "/v2/")
        assert r.status_code == 401 and errors_of(r) == ["UNAUTHORIZED"]
        assert r.headers["WWW-Authenticate"] == 'Basic realm="labkit-registry"'
        assert http.get(reg.url + "/v2/", auth=("teacher", "nope")).status_code == 401
        assert http.get(reg.url + "/v2/", auth=LAB).status_code == 401  # only the users given
        assert http.get(f"{reg.url}/v1/search", params={"q": "x"}).status_code == 401
        digest, _ = push_image(http, reg.url, "class/demo", "v1", auth=("teacher", "chalk"))
        r = http.get(f"{reg.url}/v2/class/demo/manifests/v1", auth=("teacher", "chalk"))
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest


def test_basic_auth_default_lab_user(tmp_path, http):
    with LabRegistry(tmp_path / "r", addr="127.0.0.1:0", auth="basic") as reg:
        assert http.get(reg.url + "/v2/", auth=LAB).status_code == 200


# --- interop with skopeo --------------------------------------------------------------------------

def oci_manifest_digest(directory: Path, ref: str) -> str:
    index = json.loads((directory / "index.json").read_text())
    [entry] = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) == ref]
    return entry["digest"]


def source_image(tmp_path) -> tuple[Path, str]:
    src = tmp_path / "src"
    manifest, blobs = make_image(labels={LABEL_DESCRIPTION: "pushed by skopeo"},
                                 files={"etc/motd": b"welcome\n", "bin/tool": b"\x7fELF" + b"\0" * 5000})
    return src, write_oci_dir(src, "v1", manifest, blobs)


@pytest.mark.interop("skopeo")
def test_skopeo_push_and_pull_without_auth(tmp_path):
    src, digest = source_image(tmp_path)
    with LabRegistry(tmp_path / "registry", addr="127.0.0.1:0") as reg:
        skopeo.run("copy", "--dest-tls-verify=false", f"oci:{src}:v1", f"docker://{reg.address}/lab/hello:v1")
        out = tmp_path / "out"
        skopeo.run("copy", "--src-tls-verify=false", f"docker://{reg.address}/lab/hello:v1", f"oci:{out}:back")
        assert oci_manifest_digest(out, "back") == digest
        inspect = json.loads(skopeo.run("inspect", "--tls-verify=false", f"docker://{reg.address}/lab/hello:v1"))
        assert inspect["Digest"] == digest and inspect["Labels"][LABEL_DESCRIPTION] == "pushed by skopeo"
        tags = json.loads(skopeo.run("list-tags", "--tls-verify=false", f"docker://{reg.address}/lab/hello"))
        assert tags["Tags"] == ["v1"]
        # the registry root is itself an OCI layout that skopeo reads by the full name
        direct = tmp_path / "direct"
        skopeo.run("copy", f"oci:{reg.root}:lab/hello:v1", f"oci:{direct}:d")
        assert oci_manifest_digest(direct, "d") == digest


@pytest.mark.interop("skopeo")
def test_skopeo_push_and_pull_with_token_auth(tmp_path):
    src, digest = source_image(tmp_path)
    with LabRegistry(tmp_path / "registry", addr="127.0.0.1:0", auth="token") as reg:
        target = f"docker://{reg.address}/lab/secure:v1"
        denied = skopeo.attempt("copy", "--dest-tls-verify=false", f"oci:{src}:v1", target)
        assert denied.returncode != 0
        skopeo.run("copy", "--dest-tls-verify=false", "--dest-creds", f"{tokens.LAB_USER}:{tokens.LAB_PASSWORD}",
                   f"oci:{src}:v1", target)
        out = tmp_path / "out"
        skopeo.run("copy", "--src-tls-verify=false", target, f"oci:{out}:back")  # anonymous pull
        assert oci_manifest_digest(out, "back") == digest
        # a second tag in another repository mounts the blobs instead of uploading them
        skopeo.run("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                   "--dest-creds", f"{tokens.LAB_USER}:{tokens.LAB_PASSWORD}", target,
                   f"docker://{reg.address}/lab/copy:v1")
        out2 = tmp_path / "out2"
        skopeo.run("copy", "--src-tls-verify=false", f"docker://{reg.address}/lab/copy:v1", f"oci:{out2}:back")
        assert oci_manifest_digest(out2, "back") == digest


@pytest.mark.interop("skopeo")
def test_skopeo_with_basic_auth(tmp_path):
    src, digest = source_image(tmp_path)
    with LabRegistry(tmp_path / "registry", addr="127.0.0.1:0", auth="basic") as reg:
        creds = f"{tokens.LAB_USER}:{tokens.LAB_PASSWORD}"
        skopeo.run("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{src}:v1",
                   f"docker://{reg.address}/lab/basic:v1")
        out = tmp_path / "out"
        skopeo.run("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{reg.address}/lab/basic:v1",
                   f"oci:{out}:back")
        assert oci_manifest_digest(out, "back") == digest


@pytest.mark.interop("docker-registry", "skopeo")
def test_real_distribution_registry_trusts_the_lab_realm(tmp_path):
    """The lab's tokens are real ones: docker-registry accepts them through the lab realm's certificate."""
    src, digest = source_image(tmp_path)
    with LabRegistry(tmp_path / "realm", addr="127.0.0.1:0", auth="token") as realm, \
            start_distribution_registry(tmp_path, {"auth": {"token": {
                "realm": realm.realm, "service": tokens.SERVICE, "issuer": tokens.ISSUER,
                "rootcertbundle": str(realm.certificate_path)}}}) as distribution:
        r = requests.get(f"{distribution.url}/v2/", timeout=10)
        assert r.status_code == 401
        assert challenge_params(r.headers["WWW-Authenticate"])["realm"] == realm.realm
        target = f"docker://{distribution.host}/lab/real:v1"
        denied = skopeo.attempt("copy", "--dest-tls-verify=false", f"oci:{src}:v1", target)
        assert denied.returncode != 0  # anonymous tokens carry pull only
        skopeo.run("copy", "--dest-tls-verify=false", "--dest-creds", f"{tokens.LAB_USER}:{tokens.LAB_PASSWORD}",
                   f"oci:{src}:v1", target)
        out = tmp_path / "out"
        skopeo.run("copy", "--src-tls-verify=false", target, f"oci:{out}:back")
        assert oci_manifest_digest(out, "back") == digest


def test_concurrent_pushes_keep_every_tag(lab_registry):
    from concurrent.futures import ThreadPoolExecutor

    def push(i):
        with requests.Session() as s:
            return push_image(s, lab_registry.url, "lab/busy", f"t{i:02d}", files={"n": str(i).encode()})[0]

    with ThreadPoolExecutor(8) as pool:
        digests = list(pool.map(push, range(16)))
    assert len(set(digests)) == 16
    tags = requests.get(f"{lab_registry.url}/v2/lab/busy/tags/list").json()["tags"]
    assert tags == [f"t{i:02d}" for i in range(16)]


def test_token_realm_refuses_another_service(token_lab_registry):
    r = requests.get(token_lab_registry.realm, params={"service": "docker.io", "scope": "repository:x:pull"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "DENIED"


def test_serve_forever_prints_its_url_and_stops_on_ctrl_c(tmp_path):
    import signal
    import sys

    # A shell starts background commands with SIGINT ignored, and Python then installs no KeyboardInterrupt
    # handler: under `make test &` or CI the child would ignore our Ctrl-C. Be the foreground process a
    # terminal's Ctrl-C reaches.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from labkit.registry.server import serve_forever; "
            "serve_forever(sys.argv[1], '127.0.0.1:0', 'token', on_ready=lambda u: print(u, flush=True))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "r")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = requests.get(url + "/v2/", timeout=5)
        assert r.status_code == 401 and f'realm="{url}/token"' in r.headers["WWW-Authenticate"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()         # never leave a server behind
            proc.communicate()
            raise
    assert proc.returncode == 0 and out == "" and err == ""
