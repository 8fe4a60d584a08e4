"""What Docker Hub counts as a pull (labkit.registry.trace.hub_pull_marks), one table row per kind of pull, and
the trace's redaction. The rule, from Docker's "Docker Hub pull usage and limits" page, is quoted in the module:
a GET of a manifest is a pull (an index and the one platform manifest chosen from it count once together: one
pull per architecture), a HEAD of a manifest is a version check, and blobs and tokens count nothing."""

from __future__ import annotations

import pytest

from labkit.oci.mediatypes import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from labkit.registry.trace import Exchange, Trace, hub_pull_marks, is_version_check, redact_url

REG = "https://registry-1.docker.io"
D = {name: f"sha256:{c * 64}" for name, c in (("index", "1"), ("amd64", "2"), ("arm64", "3"), ("one", "4"),
                                               ("other", "5"))}


def ex(method: str, path: str, status: int = 200, ctype: str = "") -> Exchange:
    return Exchange(method, f"{REG}{path}", status, {}, {"Content-Type": ctype} if ctype else {})


PING = ex("GET", "/v2/", 401)
TOKEN = Exchange("GET", "https://auth.docker.io/token?scope=repository%3Alibrary%2Fx%3Apull", 200)


def head(repo="library/x", tag="latest", ctype=DOCKER_MANIFEST):
    return ex("HEAD", f"/v2/{repo}/manifests/{tag}", 200, ctype)


def get(name, repo="library/x", ctype=OCI_MANIFEST, status=200):
    return ex("GET", f"/v2/{repo}/manifests/{D.get(name, name)}", status, ctype)


def blob(repo="library/x"):
    return ex("GET", f"/v2/{repo}/blobs/sha256:{'9' * 64}")


@pytest.mark.parametrize("exchanges,marks", [
    # a fresh pull of an image with one manifest: one pull, on the GET of that manifest
    ([PING, TOKEN, head(), get("one"), blob(), blob()], [0, 0, 0, 1, 0, 0]),
    # a fresh pull of a multi-platform image: the index and the manifest chosen from it are one pull
    ([PING, TOKEN, head(ctype=OCI_INDEX), get("index", ctype=OCI_INDEX), get("amd64"), blob()], [0, 0, 0, 1, 1, 0]),
    ([head(ctype=DOCKER_MANIFEST_LIST), get("index", ctype=DOCKER_MANIFEST_LIST), get("amd64", ctype=DOCKER_MANIFEST)],
     [0, 1, 1]),
    # an up-to-date pull: the version check only, no pull
    ([PING, TOKEN, head()], [0, 0, 0]),
    # a second architecture of an index the store already holds: a pull of its own (one per architecture)
    ([head(ctype=OCI_INDEX), get("index", ctype=OCI_INDEX), get("amd64"), head(ctype=OCI_INDEX), get("arm64")],
     [0, 1, 1, 0, 2]),
    # a registry without HEAD: the GET by tag is the pull
    ([ex("HEAD", "/v2/library/x/manifests/latest", 405), get("latest")], [0, 1]),
    # two images in one trace: two pulls; an index GET never absorbs another repository's manifest
    ([get("index", ctype=OCI_INDEX), get("one", repo="library/y")], [1, 2]),
    ([get("one"), get("other", repo="library/y")], [1, 2]),
    # a manifest that was not served (unknown tag, refused) is not a pull
    ([get("latest", status=404), get("one", status=401), get("one", status=429)], [0, 0, 0]),
    # an index whose platform manifest the store already had: the index alone is the pull
    ([head(ctype=OCI_INDEX), get("index", ctype=OCI_INDEX), blob()], [0, 1, 0]),
])
def test_what_docker_hub_counts(exchanges, marks):
    assert hub_pull_marks(exchanges) == marks


def test_a_head_of_a_manifest_is_a_version_check_and_nothing_else_is():
    assert is_version_check(head())
    assert not is_version_check(get("one"))
    assert not is_version_check(ex("HEAD", f"/v2/library/x/blobs/{D['one']}"))
    assert not is_version_check(ex("HEAD", "/v2/"))


def test_the_report_marks_each_counted_request_and_totals_them():
    trace = Trace()
    trace.exchanges[:] = [PING, head(ctype=OCI_INDEX), get("index", ctype=OCI_INDEX), get("amd64"), blob()]
    assert trace.hub_pulls() == 1
    assert trace.report() == [
        f"GET {REG}/v2/ -> 401",
        f"HEAD {REG}/v2/library/x/manifests/latest -> 200  (version check: not a pull)",
        f"GET {REG}/v2/library/x/manifests/{D['index']} -> 200  (Docker Hub: pull 1)",
        f"GET {REG}/v2/library/x/manifests/{D['amd64']} -> 200  (Docker Hub: pull 1)",
        f"GET {REG}/v2/library/x/blobs/sha256:{'9' * 64} -> 200",
        "Docker Hub would count 1 pull (GETs of manifests; a HEAD is a version check)"]


@pytest.mark.parametrize("url,shown", [
    ("https://user:pw@r.example/v2/", "https://r.example/v2/"),
    ("https://cdn.example/blob?sig=abc&expires=1", "https://cdn.example/blob?sig=<redacted>&expires=1"),
    ("https://auth.example/token?scope=repository:x:pull&service=s", "https://auth.example/token?scope=repository:x:pull&service=s"),
])
def test_urls_are_shown_without_secrets(url, shown):
    assert redact_url(url) == shown
