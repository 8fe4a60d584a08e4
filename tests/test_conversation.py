"""The HTTP conversation of a pull and a push, request by request, as Docker holds it (issue 13).

A recording proxy (helpers.recorder) sits between labkit and the real distribution registry (`docker-registry`),
and in front of the token server, so the tests see every request in the order labkit sent it. Each scenario
runs against the three ways a registry asks for credentials: none, htpasswd (Basic) and a token server
(Bearer), and the sequence is asserted exactly:

- the ping (`GET /v2/`) only learns the challenge; no second ping;
- the first repository request carries a token for exactly its scope (`repository:NAME:pull`, or
  `pull,push` on push; a mount adds `repository:FROM:pull`), reused until it expires; Basic goes
  pre-emptively once the challenge says Basic;
- a tag is resolved with `HEAD manifests/TAG`; the manifest is fetched by digest only when the store lacks it;
  an image the store has stops the pull there ("Image is up to date");
- a push HEADs each blob before uploading it and mounts blobs another repository of the registry holds.

Transfers go one at a time here (max-concurrent-downloads/uploads = 1 in daemon.json) so the order is exact;
one test checks that the default concurrency sends the same requests.
"""

from __future__ import annotations

import re

import pytest

from labkit.progress import Recorder
from labkit.pull import UP_TO_DATE, pull
from labkit.push import push
from labkit.registry.auth import Credentials
from labkit.store import Store

from helpers import imagefactory as factory
from helpers import peers, skopeo
from helpers.recorder import Conversation, RecordingProxy
from helpers.registries import HTPASSWD_USERS, TOKEN_USERS, start_distribution_registry, start_htpasswd_registry
SERIAL = {"max-concurrent-downloads": 1, "max-concurrent-uploads": 1}
_UPLOAD = re.compile(r"/blobs/uploads/[^/?\s]+")


class Recorded:
    """A docker-registry in one auth mode behind a recording proxy, with what a test needs to talk to it."""

    def __init__(self, mode: str, host: str, talk: Conversation, direct: str, credentials):
        self.mode = mode
        self.host = host  # the proxy: what labkit talks to
        self.talk = talk
        self.direct = direct  # the registry itself: seeding bypasses the proxy
        self.credentials = credentials

    def seed(self, tmp_path, built, repo_tag: str) -> None:
        creds = f"{self.credentials.username}:{self.credentials.password}" if self.credentials else None
        skopeo.push_built(tmp_path, built, f"{self.direct}/{repo_tag}", creds=creds)
        self.talk.clear()  # skopeo's own token requests went through the token proxy

    def lines(self, names: dict) -> list[str]:
        return [_UPLOAD.sub("/blobs/uploads/<session>", line) for line in self.talk.lines(names)]

    def expect(self, *, scope: str, requests: list[str]) -> list[str]:
        """Return the whole conversation Docker has: the ping, the token (if any), then `requests`."""
        auth = {"plain": "", "basic": " [Basic]", "token": " [Bearer]"}[self.mode]
        first = ["GET /v2/ -> 200" if self.mode == "plain" else "GET /v2/ -> 401"]
        if self.mode == "token":  # the token server gets the credentials (Basic), the registry the token
            first.append(f"GET /token scope={scope} [Basic] -> 200")
        out = []
        for r in requests:
            if r.startswith("TOKEN "):
                if self.mode == "token":
                    out.append(f"GET /token scope={r[6:]} [Basic] -> 200")
                continue
            method_path, status = r.rsplit(" -> ", 1)
            out.append(f"{method_path}{auth} -> {status}")
        return first + out


@pytest.fixture(params=["plain", "basic", "token"])
def recorded(request, tmp_path):
    """Return a Recorded docker-registry: plain, htpasswd (Basic) or with a token server (Bearer)."""
    mode = request.param
    peers.require("docker-registry", "skopeo", *{"basic": ["htpasswd"], "token": ["cryptography"]}.get(mode, []))
    talk = Conversation()
    stops = []
    users = None
    if mode == "plain":
        registry = start_distribution_registry(tmp_path)
    elif mode == "basic":
        users = HTPASSWD_USERS
        registry = start_htpasswd_registry(tmp_path, users)
    else:
        from helpers.tokenserver import TokenServer  # signs with cryptography: imported once it is there

        users = TOKEN_USERS
        ts = TokenServer(tmp_path, users=users).start()
        stops.append(ts.stop)
        tokens = RecordingProxy(ts.realm.rsplit("/", 1)[0], talk, "token")
        stops.append(tokens.stop)
        config = ts.registry_auth_config()
        config["token"]["realm"] = f"{tokens.url}/token"  # the registry sends clients through the proxy
        registry = start_distribution_registry(tmp_path, {"auth": config})
    stops.append(registry.stop)
    proxy = RecordingProxy(registry.url, talk, "registry")
    stops.append(proxy.stop)
    credentials = Credentials(*next(iter(users.items()))) if users else None
    yield Recorded(mode, proxy.host, talk, registry.host, credentials)
    for stop in reversed(stops):
        stop()


def names_of(*images, index=None) -> dict:
    """Return {digest: short name} for the lines: manifest, config, layer1..n (per image when several)."""
    out = {}
    for n, img in enumerate(images):
        suffix = f"-{img.platform.split('/')[1]}" if len(images) > 1 else ""
        out[str(img.manifest_digest)] = f"manifest{suffix}"
        out[str(img.config_digest)] = f"config{suffix}"
        for i, lb in enumerate(img.layers, 1):
            out[str(lb.digest)] = f"layer{i}{suffix}"
    if index is not None:
        out[str(index.digest)] = "index"
    return out


def mounts(repo: str, source: str, *blobs: str) -> list[str]:
    """Return the requests of a push whose `blobs` another repository holds: HEAD each, then mount it."""
    out = []
    for b in blobs:
        out += [f"HEAD /v2/{repo}/blobs/{b} -> 404", f"POST /v2/{repo}/blobs/uploads/?mount={b}&from={source} -> 201"]
    return out


def two_layers(text: str = "x"):
    return factory.make_image([{"a.txt": f"{text} a".encode() * 400}, {"b.txt": f"{text} b".encode() * 900}])


@pytest.mark.interop("docker-registry", "skopeo")
def test_fresh_pull(recorded, tmp_path):
    img = two_layers()
    recorded.seed(tmp_path, img, "lab/x:v1")
    rec = Recorder()
    res = pull(Store(tmp_path / "home"), f"{recorded.host}/lab/x:v1", credentials=recorded.credentials, progress=rec,
               settings=SERIAL)
    assert res.manifest_digest == img.manifest_digest
    assert recorded.lines(names_of(img)) == recorded.expect(scope="repository:lab/x:pull", requests=[
        "HEAD /v2/lab/x/manifests/v1 -> 200",
        "GET /v2/lab/x/manifests/manifest -> 200",
        "GET /v2/lab/x/blobs/config -> 200",
        "GET /v2/lab/x/blobs/layer1 -> 200",
        "GET /v2/lab/x/blobs/layer2 -> 200",
    ])


@pytest.mark.interop("docker-registry", "skopeo")
def test_up_to_date_pull_is_one_head(recorded, tmp_path):
    img = two_layers()
    recorded.seed(tmp_path, img, "lab/x:v1")
    store = Store(tmp_path / "home")
    pull(store, f"{recorded.host}/lab/x:v1", credentials=recorded.credentials, settings=SERIAL)
    recorded.talk.clear()
    rec = Recorder()
    res = pull(store, f"{recorded.host}/lab/x:v1", credentials=recorded.credentials, progress=rec, settings=SERIAL)
    assert res.status == UP_TO_DATE and res.downloaded == ()
    assert recorded.lines(names_of(img)) == recorded.expect(scope="repository:lab/x:pull", requests=[
        "HEAD /v2/lab/x/manifests/v1 -> 200",
    ])
    assert rec.lines() == ["v1: Pulling from lab/x", f"Digest: {img.manifest_digest}",
                           f"Status: Image is up to date for {recorded.host}/lab/x:v1", f"{recorded.host}/lab/x:v1"]


@pytest.mark.interop("docker-registry", "skopeo")
def test_index_pull_with_platform(recorded, tmp_path):
    idx = factory.make_index(files={"os-release": b"lab\n"})
    recorded.seed(tmp_path, idx, "lab/multi:v1")
    arm = idx.image_for("linux/arm64/v8")
    res = pull(Store(tmp_path / "home"), f"{recorded.host}/lab/multi:v1", "linux/arm64",
               credentials=recorded.credentials, settings=SERIAL)
    assert (res.index_digest, res.manifest_digest) == (idx.digest, arm.manifest_digest)
    names = names_of(*idx.images, index=idx)
    assert recorded.lines(names) == recorded.expect(scope="repository:lab/multi:pull", requests=[
        "HEAD /v2/lab/multi/manifests/v1 -> 200",
        "GET /v2/lab/multi/manifests/index -> 200",
        "GET /v2/lab/multi/manifests/manifest-arm64 -> 200",
        "GET /v2/lab/multi/blobs/config-arm64 -> 200",
        "GET /v2/lab/multi/blobs/layer1-arm64 -> 200",
    ])


@pytest.mark.interop("docker-registry", "skopeo")
def test_push_of_a_new_image(recorded, tmp_path):
    img = two_layers("pushed")
    store = Store(tmp_path / "home")
    factory.store_image(store, img, f"{recorded.host}/team/new:1")
    res = push(store, f"{recorded.host}/team/new:1", credentials=recorded.credentials, settings=SERIAL)
    assert res.digest == img.manifest_digest
    upload = ["POST /v2/team/new/blobs/uploads/ -> 202", "PUT /v2/team/new/blobs/uploads/<session> -> 201"]
    assert recorded.lines(names_of(img)) == recorded.expect(scope="repository:team/new:pull,push", requests=[
        "HEAD /v2/team/new/blobs/layer2 -> 404", *upload,  # docker's order: the top layer first
        "HEAD /v2/team/new/blobs/layer1 -> 404", *upload,
        "HEAD /v2/team/new/blobs/config -> 404", *upload,
        "PUT /v2/team/new/manifests/1 -> 201",
    ])


@pytest.mark.interop("docker-registry", "skopeo")
def test_push_mounts_layers_from_another_repository(recorded, tmp_path):
    img = two_layers("mounted")
    recorded.seed(tmp_path, img, "lab/x:v1")
    store = Store(tmp_path / "home")
    pull(store, f"{recorded.host}/lab/x:v1", credentials=recorded.credentials, settings=SERIAL)
    store.tag(f"{recorded.host}/lab/x:v1", f"{recorded.host}/team/copy:1")
    recorded.talk.clear()
    res = push(store, f"{recorded.host}/team/copy:1", credentials=recorded.credentials, settings=SERIAL)
    assert [b.outcome for b in res.blobs] == ["mounted"] * 3
    # the mount needs pull rights on the source repository too: one more token, then reused
    requests = mounts("team/copy", "lab/x", "layer2", "layer1", "config") + ["PUT /v2/team/copy/manifests/1 -> 201"]
    requests.insert(1, "TOKEN repository:team/copy:pull,push repository:lab/x:pull")
    assert recorded.lines(names_of(img)) == recorded.expect(scope="repository:team/copy:pull,push", requests=requests)


@pytest.mark.interop("docker-registry", "skopeo")
def test_default_concurrency_sends_the_same_requests(recorded, tmp_path):
    """With docker's defaults (3 downloads, 5 uploads at once) the order of blob requests varies, nothing else."""
    img = two_layers("parallel")
    recorded.seed(tmp_path, img, "lab/x:v1")
    store = Store(tmp_path / "home")
    pull(store, f"{recorded.host}/lab/x:v1", credentials=recorded.credentials, settings={})
    store.tag(f"{recorded.host}/lab/x:v1", f"{recorded.host}/lab/y:v1")
    push(store, f"{recorded.host}/lab/y:v1", credentials=recorded.credentials, settings={})
    pulled = recorded.expect(scope="repository:lab/x:pull", requests=[
        "HEAD /v2/lab/x/manifests/v1 -> 200", "GET /v2/lab/x/manifests/manifest -> 200",
        "GET /v2/lab/x/blobs/config -> 200", "GET /v2/lab/x/blobs/layer1 -> 200", "GET /v2/lab/x/blobs/layer2 -> 200"])
    pushed = recorded.expect(scope="repository:lab/y:pull,push", requests=[
        "TOKEN repository:lab/y:pull,push repository:lab/x:pull",
        *mounts("lab/y", "lab/x", "layer2", "layer1", "config"),
        "PUT /v2/lab/y/manifests/v1 -> 201"])
    lines = recorded.lines(names_of(img))
    assert lines[:4 if recorded.mode == "token" else 3] == pulled[:4 if recorded.mode == "token" else 3]
    assert sorted(lines) == sorted(pulled + pushed)


def test_pull_trace_marks_what_docker_hub_counts(lab_images_registry, labkit_home):
    """`labkit pull --trace` prints the conversation on stderr: the HEAD is a version check, the index and the
    platform manifest chosen from it are one pull, and pulling again (up to date) counts none."""
    import io

    from labkit.cli import main
    from labkit.home import save_settings

    save_settings(labkit_home, {"registry-mirrors": [lab_images_registry.url]})
    url = lab_images_registry.url

    def pull_traced() -> "tuple[str, list[str]]":
        out, err = io.StringIO(), io.StringIO()
        assert main(["pull", "--trace", "busybox"], out=out, err=err) == 0
        return out.getvalue(), err.getvalue().splitlines()

    out, lines = pull_traced()
    assert "Status: Downloaded newer image for busybox:latest" in out
    assert lines[:2] == [f"GET {url}/v2/ -> 200",
                         f"HEAD {url}/v2/library/busybox/manifests/latest -> 200  (version check: not a pull)"]
    assert [line.startswith(f"GET {url}/v2/library/busybox/manifests/sha256:") and
            line.endswith(" -> 200  (Docker Hub: pull 1)") for line in lines[2:4]] == [True, True]
    assert all("/blobs/sha256:" in line and line.endswith(" -> 200") for line in lines[4:-1])
    assert lines[-1] == "Docker Hub would count 1 pull (GETs of manifests; a HEAD is a version check)"

    out, lines = pull_traced()
    assert "Status: Image is up to date for busybox:latest" in out
    assert lines == [f"GET {url}/v2/ -> 200",
                     f"HEAD {url}/v2/library/busybox/manifests/latest -> 200  (version check: not a pull)",
                     "Docker Hub would count 0 pulls (GETs of manifests; a HEAD is a version check)"]
