"""The registry client: pure rules (tables), a scripted fault server on 127.0.0.1, and the real registry."""

from __future__ import annotations

import base64
import json

import pytest

from labkit.digest import Digest
from labkit.errors import AuthRequired, DigestMismatch, LabkitError, NotFound, RateLimited, RegistryError
from labkit.registry.auth import Credentials, RegistryAuth, scope_for_request
from labkit.registry.dockerconfig import config_key_host, load_docker_credentials
from labkit.registry.client import (RegistryClient, RegistryNotFound, endpoint_for, is_insecure, is_loopback,
                                    split_host_port)
from labkit.registry.trace import Trace, redact_header, redact_url
from labkit.store import OciLayout

from helpers import imagefactory as factory
from helpers import skopeo
from helpers.net import free_port
from helpers.scriptedserver import Reply, ScriptedServer, blob, err

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def layout(tmp_path):
    return OciLayout(tmp_path / "layout")


def fast_client(scripted_server: ScriptedServer, **kw) -> RegistryClient:
    """Return a client for the scripted server with instant backoff (tests stay fast)."""
    kw.setdefault("credentials", None)
    return RegistryClient(scripted_server.host, backoff=0, sleep=lambda s: None, trace=True, **kw)


def manifest_bytes(config: bytes = b"{}", layers=()) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": str(Digest.of(config)), "size": len(config)},
                       "layers": list(layers)}).encode()


def visible_blobs(layout: OciLayout) -> list:
    d = layout.root / "blobs" / "sha256"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# ---------------------------------------------------------------------------------------------------------
# Pure rules
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host,loop", [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1", True), ("127.0.0.1:5000", True),
    ("127.1.2.3:80", True), ("[::1]", True), ("[::1]:5000", True), ("::1", True), ("foo.localhost", True),
    ("docker.io", False), ("registry-1.docker.io", False), ("10.0.0.1:5000", False), ("localhostx", False),
    ("128.0.0.1", False), ("[::2]:5000", False),
])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


@pytest.mark.parametrize("host,insecure,expected", [
    ("docker.io", (), "https://registry-1.docker.io"),
    ("ghcr.io", (), "https://ghcr.io"),
    ("localhost:5000", (), "http://localhost:5000"),
    ("127.0.0.1:5000", (), "http://127.0.0.1:5000"),
    ("[::1]:5000", (), "http://[::1]:5000"),
    ("registry.lab:5000", ("registry.lab:5000",), "http://registry.lab:5000"),
    ("registry.lab:5000", ("registry.lab",), "http://registry.lab:5000"),
    ("registry.lab:5000", ("other.lab:5000",), "https://registry.lab:5000"),
    ("10.1.2.3:5000", ("10.0.0.0/8",), "http://10.1.2.3:5000"),
    ("11.1.2.3:5000", ("10.0.0.0/8",), "https://11.1.2.3:5000"),
    ("registry.lab", ("http://registry.lab",), "http://registry.lab"),
])
def test_endpoint_for(host, insecure, expected):
    assert endpoint_for(host, insecure) == expected


def test_is_insecure_and_split():
    assert split_host_port("[::1]:5000") == ("::1", "5000")
    assert split_host_port("a.b:1") == ("a.b", "1")
    assert split_host_port("a.b") == ("a.b", "")
    assert not is_insecure("evil.example", ("10.0.0.0/8",))


@pytest.mark.parametrize("method,url,push,scope", [
    ("GET", "http://r/v2/", False, None),
    ("GET", "http://r/v2/library/debian/manifests/jessie", False, "repository:library/debian:pull"),
    ("HEAD", "http://r/v2/library/debian/blobs/sha256:ab", False, "repository:library/debian:pull"),
    ("GET", "http://r/v2/a/b/c/tags/list?n=10", False, "repository:a/b/c:pull"),
    ("PUT", "http://r/v2/x/manifests/v1", False, "repository:x:pull,push"),
    ("POST", "http://r/v2/x/blobs/uploads/", False, "repository:x:pull,push"),
    ("GET", "http://r/v2/x/manifests/v1", True, "repository:x:pull,push"),
    ("GET", "http://r/v2/_catalog", False, None),
    # a repository named like an endpoint word still parses from the left
    ("GET", "http://r/v2/blobs/manifests/latest", False, "repository:blobs:pull"),
    # a cross-repository mount also needs pull on the source (distribution's token handler, containerd)
    ("POST", "http://r/v2/team/x/blobs/uploads/?mount=sha256:ab&from=lab/base", True,
     "repository:team/x:pull,push repository:lab/base:pull"),
    ("POST", "http://r/v2/team/x/blobs/uploads/?mount=sha256:ab&from=team/x", True, "repository:team/x:pull,push"),
])
def test_scope_for_request(method, url, push, scope):
    assert scope_for_request(method, url, push) == scope


@pytest.mark.parametrize("key,host", [
    ("https://index.docker.io/v1/", "docker.io"), ("index.docker.io", "docker.io"),
    ("registry-1.docker.io", "docker.io"), ("docker.io", "docker.io"),
    ("localhost:5000", "localhost:5000"), ("http://localhost:5000", "localhost:5000"),
    ("https://ghcr.io/v2/", "ghcr.io"), ("GHCR.IO", "ghcr.io"),
])
def test_config_key_host(key, host):
    assert config_key_host(key) == host


def write_docker_config(tmp_path, auths: dict):
    path = tmp_path / "docker-config" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths}))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_load_docker_credentials(tmp_path):
    write_docker_config(tmp_path, {
        "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
        "localhost:5000": {"auth": b64("me:p:with:colons")},
        "ghcr.io": {"username": "gh", "password": "tok"},
        "broken.example": {"auth": "!!!notbase64"},
        "empty.example": {},
    })
    assert load_docker_credentials("docker.io") == Credentials("hubuser", "hubpass")
    assert load_docker_credentials("registry-1.docker.io") == Credentials("hubuser", "hubpass")
    assert load_docker_credentials("localhost:5000") == Credentials("me", "p:with:colons")
    assert load_docker_credentials("ghcr.io") == Credentials("gh", "tok")
    assert load_docker_credentials("localhost:5001") is None
    assert load_docker_credentials("broken.example") is None
    assert load_docker_credentials("empty.example") is None


def test_no_docker_config_means_no_credentials():
    assert load_docker_credentials("docker.io") is None


def test_credentials_never_show_the_password():
    c = Credentials("alice", "s3cret-pw")
    auth = RegistryAuth(c)
    for text in (repr(c), str(c), repr(auth), f"{c}"):
        assert "s3cret-pw" not in text
    assert "alice" in repr(c)


@pytest.mark.parametrize("url,expected", [
    ("http://u:pw@host/v2/", "http://host/v2/"),
    ("https://s3/blob?X-Amz-Signature=abc&X-Amz-Credential=def&part=1",
     "https://s3/blob?X-Amz-Signature=<redacted>&X-Amz-Credential=<redacted>&part=1"),
    ("http://auth/token?service=s&scope=repository:x:pull&account=bob",
     "http://auth/token?service=s&scope=repository:x:pull&account=bob"),
    ("http://auth/token?access_token=zzz", "http://auth/token?access_token=<redacted>"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_header():
    assert redact_header("Authorization", "Bearer eyJ.abc.def") == "Bearer <redacted>"
    assert redact_header("authorization", "Basic YTpi") == "Basic <redacted>"
    assert redact_header("Location", "http://x/?sig=1") == "http://x/?sig=<redacted>"
    assert redact_header("Accept", "a/b") == "a/b"


# ---------------------------------------------------------------------------------------------------------
# Scripted faults
# ---------------------------------------------------------------------------------------------------------

def test_manifest_unknown_message_names_reference_host_and_code(scripted_server):
    scripted_server.route("GET", "/v2/library/debian/manifests/jessi", err(404, "MANIFEST_UNKNOWN", "manifest unknown"))
    c = fast_client(scripted_server, name="docker.io")
    with pytest.raises(RegistryNotFound) as e:
        c.get_manifest("library/debian", "jessi", what="pull debian:jessi")
    assert str(e.value) == "pull debian:jessi: manifest unknown (docker.io, 404 MANIFEST_UNKNOWN)"
    assert isinstance(e.value, NotFound) and isinstance(e.value, RegistryError)
    assert e.value.codes == ("MANIFEST_UNKNOWN",) and e.value.status == 404 and e.value.method == "GET"


def test_manifest_by_tag_checks_docker_content_digest(scripted_server):
    raw = manifest_bytes()
    good = Reply(200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": str(Digest.of(raw))}, raw)
    bad = Reply(200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": str(Digest.of(b"other"))}, raw)
    scripted_server.route("GET", "/v2/x/manifests/good", good).route("GET", "/v2/x/manifests/bad", bad)
    c = fast_client(scripted_server)
    m = c.get_manifest("x", "good")
    assert (m.raw, m.media_type, m.digest) == (raw, OCI_MANIFEST, Digest.of(raw))
    with pytest.raises(DigestMismatch, match="Docker-Content-Digest"):
        c.get_manifest("x", "bad", what="pull x:bad")


def test_manifest_by_digest_is_verified(scripted_server):
    raw = manifest_bytes()
    wanted = Digest.of(b"something else")
    scripted_server.route("GET", f"/v2/x/manifests/{wanted}", Reply(200, {"Content-Type": OCI_MANIFEST}, raw))
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        fast_client(scripted_server).get_manifest("x", wanted, what="pull x@digest")


def test_manifest_sends_all_four_accept_types(scripted_server):
    raw = manifest_bytes()
    scripted_server.route("GET", "/v2/x/manifests/v1", Reply(200, {"Content-Type": OCI_MANIFEST}, raw))
    fast_client(scripted_server).get_manifest("x", "v1")
    accept = scripted_server.log[-1][2]["Accept"]
    for mt in ("application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
               "application/vnd.docker.distribution.manifest.v2+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"):
        assert mt in accept


def test_schema1_is_a_clear_error(scripted_server):
    raw = json.dumps({"schemaVersion": 1, "name": "x", "tag": "old", "fsLayers": []}).encode()
    scripted_server.route("GET", "/v2/x/manifests/old",
                          Reply(200, {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
                                raw))
    with pytest.raises(LabkitError, match="deprecated manifest format"):
        fast_client(scripted_server).get_manifest("x", "old", what="pull x:old")


def test_manifest_size_cap(scripted_server):
    scripted_server.route("GET", "/v2/x/manifests/big",
                          Reply(200, {"Content-Type": OCI_MANIFEST}, b" " * (4 << 20) + b"{}"))
    with pytest.raises(RegistryError, match="over the 4 MiB limit"):
        fast_client(scripted_server).get_manifest("x", "big")


def test_wrong_blob_digest_is_rejected_and_nothing_stored(scripted_server, layout):
    data = b"layer bytes" * 1000
    claimed = Digest.of(b"what the manifest said")
    scripted_server.route("GET", f"/v2/x/blobs/{claimed}", blob(data))
    with pytest.raises(DigestMismatch, match="rejected"):
        fast_client(scripted_server).fetch_blob("x", claimed, len(data), layout, what="pull x:v1")
    assert not layout.has_blob(claimed)
    assert visible_blobs(layout) == []


def test_dropped_connection_mid_blob_resumes_with_range_and_verifies(scripted_server, layout):
    data = bytes(range(256)) * 4096 * 4  # 4 MiB: the client reads 1 MiB chunks, so it keeps whole chunks
    d = Digest.of(data)
    scripted_server.route("GET", f"/v2/x/blobs/{d}", blob(data, cut_after=1_500_000), blob(data, cut_after=1_200_000),
                          blob(data))
    seen = []
    assert fast_client(scripted_server).fetch_blob("x", d, len(data), layout, on_progress=lambda c, t: seen.append(c))
    assert layout.read_blob(d) == data
    ranges = [r[2].get("Range") for r in scripted_server.requests_to(f"/v2/x/blobs/{d}")]
    assert ranges[0] is None
    assert ranges[1].startswith("bytes=") and ranges[1].endswith(f"-{len(data) - 1}")
    first = int(ranges[1][6:].split("-")[0])
    assert 0 < first <= 1_500_000
    second = int(ranges[2][6:].split("-")[0])
    assert first < second <= first + 1_200_000
    assert seen[-1] == len(data)


def test_resume_when_server_ignores_range(scripted_server, layout):
    data = b"abcdefgh" * 400_000
    d = Digest.of(data)
    scripted_server.route("GET", f"/v2/x/blobs/{d}", blob(data, cut_after=1_500_000), blob(data, honour_range=False))
    fast_client(scripted_server).fetch_blob("x", d, len(data), layout)
    assert layout.read_blob(d) == data


def test_resume_with_bad_content_range_is_an_error(scripted_server, layout):
    data = b"z" * 3_000_000
    d = Digest.of(data)

    def wrong_range(h):
        Reply(206, {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}, data)(h)
    scripted_server.route("GET", f"/v2/x/blobs/{d}", blob(data, cut_after=1_500_000), wrong_range)
    with pytest.raises(RegistryError, match="Content-Range"):
        fast_client(scripted_server).fetch_blob("x", d, len(data), layout)
    assert not layout.has_blob(d)


def test_corrupt_resumed_tail_is_rejected(scripted_server, layout):
    data = b"q" * 3_000_000
    d = Digest.of(data)
    evil = b"q" * 1_500_000 + b"X" * 1_500_000
    scripted_server.route("GET", f"/v2/x/blobs/{d}", blob(data, cut_after=1_500_000), blob(evil))
    with pytest.raises(DigestMismatch):
        fast_client(scripted_server).fetch_blob("x", d, len(data), layout)
    assert visible_blobs(layout) == []


def test_drops_forever_give_a_bounded_clear_error(scripted_server, layout):
    data = b"y" * 2_000_000
    d = Digest.of(data)
    scripted_server.route("GET", f"/v2/x/blobs/{d}", blob(data, cut_after=10))
    with pytest.raises(RegistryError, match="lost at byte"):
        fast_client(scripted_server).fetch_blob("x", d, len(data), layout, what="pull x:v1")
    assert len(scripted_server.requests_to(f"/v2/x/blobs/{d}")) == 3
    assert not layout.has_blob(d)


def test_5xx_retried_then_clear_error(scripted_server):
    scripted_server.route("GET", "/v2/x/manifests/v1", err(503, "UNAVAILABLE", "service unavailable"))
    sleeps = []
    c = RegistryClient(scripted_server.host, credentials=None, backoff=0.01, sleep=sleeps.append)
    with pytest.raises(RegistryError) as e:
        c.get_manifest("x", "v1", what="pull x:v1")
    assert len(scripted_server.log) == 3
    assert sleeps == [0.01, 0.02]
    assert str(e.value) == f"pull x:v1: service unavailable ({scripted_server.host}, 503 UNAVAILABLE) after 3 tries"
    assert e.value.status == 503


def test_5xx_then_success(scripted_server):
    raw = manifest_bytes()
    scripted_server.route("GET", "/v2/x/manifests/v1", Reply(502), Reply(500),
                          Reply(200, {"Content-Type": OCI_MANIFEST}, raw))
    assert fast_client(scripted_server).get_manifest("x", "v1").raw == raw


def test_retry_count_is_configurable(scripted_server):
    scripted_server.route("GET", "/v2/x/manifests/v1", Reply(500))
    with pytest.raises(RegistryError):
        fast_client(scripted_server, retries=5).get_manifest("x", "v1")
    assert len(scripted_server.log) == 5


def test_connection_refused_is_a_clear_error():
    c = RegistryClient(f"127.0.0.1:{free_port()}", credentials=None, backoff=0, sleep=lambda s: None)
    with pytest.raises(RegistryError, match=r"pull x:v1: cannot reach 127\.0\.0\.1:\d+ \(connection refused, 3 tries\)"):
        c.get_manifest("x", "v1", what="pull x:v1")


def test_429_is_rate_limited_with_headers(scripted_server):
    scripted_server.route("GET", "/v2/library/debian/manifests/jessie",
                          err(429, "TOOMANYREQUESTS", "You have reached your pull rate limit",
                              {"Retry-After": "3600", "RateLimit-Limit": "100;w=21600",
                               "RateLimit-Remaining": "0;w=21600"}))
    with pytest.raises(RateLimited) as e:
        fast_client(scripted_server, name="docker.io").get_manifest("library/debian", "jessie",
                                                                    what="pull debian:jessie")
    assert e.value.retry_after == "3600"
    assert e.value.headers == {"Retry-After": "3600", "RateLimit-Limit": "100;w=21600",
                               "RateLimit-Remaining": "0;w=21600"}
    assert str(e.value).startswith("pull debian:jessie: You have reached your pull rate limit "
                                   "(docker.io, 429 TOOMANYREQUESTS)")
    assert "mirror" in str(e.value) and "3600" in str(e.value)
    assert len(scripted_server.log) == 1  # a long Retry-After is not waited for


def test_429_with_short_retry_after_is_retried(scripted_server):
    raw = manifest_bytes()
    scripted_server.route("GET", "/v2/x/manifests/v1", err(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "1"}),
                          Reply(200, {"Content-Type": OCI_MANIFEST}, raw))
    sleeps = []
    c = RegistryClient(scripted_server.host, credentials=None, sleep=sleeps.append)
    assert c.get_manifest("x", "v1").raw == raw
    assert sleeps == [1.0]


BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Registry Realm"'}


def basic_guarded(user: str, password: str, then):
    """Return a step answering 401 unless the request carries these Basic credentials."""
    want = "Basic " + b64(f"{user}:{password}")

    def step(h):
        if h.headers.get("Authorization") != want:
            return err(401, "UNAUTHORIZED", "authentication required", BASIC_CHALLENGE)(h)
        return then(h)
    return step


def test_basic_auth_answers_401_once(scripted_server):
    raw = manifest_bytes()
    scripted_server.route("GET", "/v2/x/manifests/v1",
                          basic_guarded("bob", "pw", Reply(200, {"Content-Type": OCI_MANIFEST}, raw)))
    c = fast_client(scripted_server, credentials=Credentials("bob", "pw"))
    assert c.get_manifest("x", "v1").raw == raw
    assert c.get_manifest("x", "v1").raw == raw  # second time: sent at once, no 401
    statuses = [e.status for e in c.trace]
    assert statuses == [401, 200, 200]
    assert all("pw" not in json.dumps(e.request_headers) for e in c.trace)
    assert c.trace.exchanges[1].request_headers["Authorization"] == "Basic <redacted>"


def test_bad_credentials_are_a_clear_error_without_the_password(scripted_server):
    scripted_server.route("GET", "/v2/x/manifests/v1", basic_guarded("bob", "right", Reply(200)))
    c = fast_client(scripted_server, credentials=Credentials("bob", "wrong-secret"))
    with pytest.raises(AuthRequired) as e:
        c.get_manifest("x", "v1", what="pull x:v1")
    msg = str(e.value)
    assert msg == (f"pull x:v1: authentication required ({scripted_server.host}, 401 UNAUTHORIZED); "
                   "the credentials were refused")
    assert "wrong-secret" not in msg + repr(e.value) + e.value.body
    assert len(scripted_server.log) == 2  # asked once, answered once, then gave up


def test_no_credentials_suggests_login(scripted_server):
    scripted_server.route("GET", "/v2/x/manifests/v1", basic_guarded("bob", "right", Reply(200)))
    with pytest.raises(AuthRequired, match="log in with `labkit login"):
        fast_client(scripted_server).get_manifest("x", "v1", what="pull x:v1")


def test_cross_host_redirect_drops_authorization(scripted_server, layout):
    data = b"blob behind a redirect" * 1000
    d = Digest.of(data)
    # 127.0.0.1 (the registry, Basic auth) redirects to localhost (another host: the same server by name).
    storage = f"http://localhost:{scripted_server.port}/storage/{d.hex}?X-Amz-Signature=sekrit"
    scripted_server.route("GET", f"/v2/x/blobs/{d}", basic_guarded("bob", "pw", Reply(307, {"Location": storage})))
    scripted_server.route("GET", f"/storage/{d.hex}", blob(data))
    c = fast_client(scripted_server, credentials=Credentials("bob", "pw"))
    assert c.fetch_blob("x", d, len(data), layout)
    assert layout.read_blob(d) == data
    (storage_req,) = scripted_server.requests_to(f"/storage/{d.hex}")
    assert "Authorization" not in storage_req[2]
    assert storage_req[2]["Host"].startswith("localhost:")
    assert "sekrit" not in "\n".join(c.trace.lines())


def test_same_host_redirect_keeps_authorization(scripted_server, layout):
    data = b"same host" * 100
    d = Digest.of(data)
    scripted_server.route("GET", f"/v2/x/blobs/{d}",
                          basic_guarded("bob", "pw", Reply(302, {"Location": f"/v2/x/real/{d.hex}"})))
    scripted_server.route("GET", f"/v2/x/real/{d.hex}", basic_guarded("bob", "pw", blob(data)))
    fast_client(scripted_server, credentials=Credentials("bob", "pw")).fetch_blob("x", d, len(data), layout)
    assert layout.read_blob(d) == data


def test_token_flow_against_scripted_server(scripted_server):
    """Bearer: realm?service=&scope= with Basic at the realm, cached per scope, never an empty token."""
    raw = manifest_bytes()
    realm = f"{scripted_server.url}/token"
    challenge = {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg",scope="repository:x:pull"'}
    tokens = iter(["tok-1", "tok-2"])

    def token(h):
        Reply(200, {"Content-Type": "application/json"},
              json.dumps({"token": next(tokens), "expires_in": 300}).encode())(h)

    def guarded(h):
        if h.headers.get("Authorization") == "Bearer tok-1":
            return Reply(200, {"Content-Type": OCI_MANIFEST}, raw)(h)
        return err(401, "UNAUTHORIZED", "authentication required", challenge)(h)
    scripted_server.route("GET", "/token", token).route("GET", "/v2/x/manifests/v1", guarded)
    c = fast_client(scripted_server, credentials=Credentials("bob", "pw"))
    assert c.get_manifest("x", "v1").raw == raw
    assert c.get_manifest("x", "v1").raw == raw
    token_reqs = scripted_server.requests_to("/token")
    assert len(token_reqs) == 1  # cached
    assert "service=reg" in token_reqs[0][1] and "scope=repository%3Ax%3Apull" in token_reqs[0][1]
    assert token_reqs[0][2]["Authorization"] == "Basic " + b64("bob:pw")


@pytest.mark.parametrize("answer", [{"token": ""}, {"token": "None"}, {"token": None}, {}, {"access_token": "null"}])
def test_empty_or_none_token_is_never_sent(scripted_server, answer):
    realm = f"{scripted_server.url}/token"
    scripted_server.route("GET", "/token",
                          Reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode()))
    scripted_server.route("GET", "/v2/x/manifests/v1",
                          err(401, "UNAUTHORIZED", "authentication required",
                              {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}))
    with pytest.raises(AuthRequired, match="without a token"):
        fast_client(scripted_server).get_manifest("x", "v1", what="pull x:v1")
    assert all(not r[2].get("Authorization", "").startswith("Bearer")
               for r in scripted_server.requests_to("/v2/x/manifests/v1"))


def test_token_expiry_default_60s(scripted_server):
    """Without expires_in a token lives 60 s (token.md); after that a new one is fetched."""
    now = [1000.0]
    realm = f"{scripted_server.url}/token"
    n = [0]

    def token(h):
        n[0] += 1
        Reply(200, {}, json.dumps({"token": f"t{n[0]}"}).encode())(h)

    def guarded(h):
        if h.headers.get("Authorization", "").startswith("Bearer t"):
            return Reply(200, {"Content-Type": OCI_MANIFEST}, manifest_bytes())(h)
        return err(401, "UNAUTHORIZED", "x", {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})(h)
    scripted_server.route("GET", "/token", token).route("GET", "/v2/x/manifests/v1", guarded)
    auth = RegistryAuth(None, clock=lambda: now[0])
    c = RegistryClient(scripted_server.host, auth=auth, credentials=None)
    c.get_manifest("x", "v1")
    now[0] += 30
    c.get_manifest("x", "v1")
    assert auth.token_requests == 1
    now[0] += 31
    c.get_manifest("x", "v1")
    assert auth.token_requests == 2


def test_trace_is_optional_and_redacted(scripted_server):
    scripted_server.route("GET", "/v2/", basic_guarded("u", "topsecret", Reply(200)))
    c = RegistryClient(scripted_server.host, credentials=Credentials("u", "topsecret"))
    assert c.trace is None
    c.ping()
    t = Trace()
    c2 = RegistryClient(scripted_server.host, credentials=Credentials("u", "topsecret"), trace=t)
    assert c2.ping()["status"] == 200
    assert t.lines() == [f"GET {scripted_server.url}/v2/ -> 401", f"GET {scripted_server.url}/v2/ -> 200"]
    assert "topsecret" not in repr(t.exchanges) and b64("u:topsecret") not in repr(t.exchanges)


# ---------------------------------------------------------------------------------------------------------
# Against the real distribution registry (docker-registry), seeded with skopeo
# ---------------------------------------------------------------------------------------------------------

def _seed(tmp_path, host: str, repo_tag: str, creds: str | None = None):
    """Push a small built image to host/repo_tag with skopeo; return the BuiltImage."""
    img = factory.make_image([{"a.txt": b"client " * 500}, {"b.txt": b"test " * 900}])
    skopeo.push_built(tmp_path, img, f"{host}/{repo_tag}", creds=creds)
    return img


@pytest.mark.interop("docker-registry", "skopeo")
def test_real_registry_plain(distribution_registry, tmp_path, layout):
    host = distribution_registry.host
    img = _seed(tmp_path, host, "lab/x:v1")
    c = RegistryClient(host, credentials=None, trace=True)
    assert c.base_url == f"http://{host}"  # loopback: plain HTTP
    assert c.ping() == {"url": f"{distribution_registry.url}/v2/", "status": 200,
                        "api_version": "registry/2.0"}
    head = c.head_manifest("lab/x", "v1")
    assert (head.media_type, head.digest, head.size) == (OCI_MANIFEST, img.manifest_digest, len(img.manifest))
    by_tag = c.get_manifest("lab/x", "v1")
    by_digest = c.get_manifest("lab/x", img.manifest_digest)
    assert by_tag.raw == by_digest.raw == img.manifest and by_tag.digest == img.manifest_digest
    for lb in img.layers:
        assert c.fetch_blob("lab/x", lb.digest, lb.size, layout) is True
        assert c.fetch_blob("lab/x", lb.digest, lb.size, layout) is False  # already stored: no request
        assert layout.read_blob(lb.digest) == lb.data
    assert c.get_blob_bytes("lab/x", img.config_digest, len(img.config)) == img.config
    with pytest.raises(RegistryNotFound, match=rf"pull lab/x:nope: manifest unknown \({host}, 404 MANIFEST_UNKNOWN\)"):
        c.get_manifest("lab/x", "nope", what="pull lab/x:nope")
    with pytest.raises(RegistryNotFound, match=r"BLOB_UNKNOWN"):
        c.fetch_blob("lab/x", Digest.of(b"nope"), 4, layout, what="pull lab/x:v1")
    assert visible_blobs(layout) == sorted(lb.digest.hex for lb in img.layers)
    assert sum(1 for e in c.trace if "/blobs/" in e.url) == 4  # 2 layers, config, the missing blob


@pytest.mark.interop("docker-registry", "htpasswd", "skopeo")
def test_real_registry_htpasswd(htpasswd_registry, tmp_path):
    host = htpasswd_registry.host
    img = _seed(tmp_path, host, "x:v1", creds="alice:wonder-land")
    good = RegistryClient(host, credentials=Credentials("alice", "wonder-land"), trace=True)
    assert good.ping()["status"] == 200
    assert good.get_manifest("x", "v1").digest == img.manifest_digest
    assert [e.status for e in good.trace] == [401, 200, 200]  # one challenge, then Basic sent at once
    with pytest.raises(AuthRequired) as e:
        RegistryClient(host, credentials=Credentials("alice", "bad-pass")).get_manifest("x", "v1", what="pull x:v1")
    assert str(e.value) == (f"pull x:v1: authentication required ({host}, 401 UNAUTHORIZED); "
                            "the credentials were refused")
    assert "bad-pass" not in str(e.value) + e.value.body
    with pytest.raises(AuthRequired, match="labkit login"):
        RegistryClient(host, credentials=None).ping()


@pytest.mark.interop("docker-registry", "skopeo", "cryptography")
def test_real_registry_token_auth(token_registry, token_server, tmp_path):
    host = token_registry.host
    img = _seed(tmp_path, host, "team/x:v1", creds="alice:s3cret")
    token_server.requests.clear()
    c = RegistryClient(host, credentials=Credentials("alice", "s3cret"), trace=True)
    assert c.ping()["status"] == 200
    assert c.get_manifest("team/x", "v1").digest == img.manifest_digest
    assert c.get_manifest("team/x", img.manifest_digest).digest == img.manifest_digest
    # one token for /v2/ (no scope), one for repository:team/x:pull, then cached
    assert [r["scopes"] for r in token_server.requests] == [[], ["repository:team/x:pull"]]
    assert [e.status for e in c.trace if e.url.startswith(token_registry.url)] == [401, 200, 200, 200]
    assert all("s3cret" not in json.dumps(e.request_headers) for e in c.trace)

    # insufficient_scope: the first token for a scope grants nothing; the client asks again, once
    token_server.starve_first_tokens()
    token_server.requests.clear()
    c2 = RegistryClient(host, credentials=Credentials("alice", "s3cret"))
    c2.ping()
    assert c2.get_manifest("team/x", "v1").digest == img.manifest_digest
    assert [r["scopes"] for r in token_server.requests].count(["repository:team/x:pull"]) == 2

    # wrong password at the token server
    with pytest.raises(AuthRequired, match=rf"pull team/x:v1: token server 127\.0\.0\.1:\d+ refused the "
                                           rf"credentials for repository:team/x:pull \({host}, 401\)"):
        RegistryClient(host, credentials=Credentials("alice", "nope")).get_manifest("team/x", "v1",
                                                                                    what="pull team/x:v1")
