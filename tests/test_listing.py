"""Tags and catalog listing: Link header parsing (table), pagination on the lab registry, the real registry and
a scripted server (relative and absolute links, loops)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from labkit.errors import RegistryError
from labkit.registry.auth import Credentials
from labkit.registry.client import RegistryClient
from labkit.registry.listing import catalog, list_tags, next_link, parse_link_header

from helpers import imagefactory as factory
from helpers import skopeo
from helpers.registries import seed_lab_registry, start_lab_registry
from helpers.scriptedserver import Reply

BASE = "http://127.0.0.1:5000/v2/_catalog?n=2"


@pytest.mark.parametrize("header,expected", [
    (None, []),
    ("", []),
    ('</v2/_catalog?last=b&n=2>; rel="next"', [("/v2/_catalog?last=b&n=2", {"rel": "next"})]),
    ("</v2/x/tags/list?n=1&last=a>; rel=next", [("/v2/x/tags/list?n=1&last=a", {"rel": "next"})]),
    ('<https://r.example/v2/_catalog?last=z>;rel="next";title="more, please"',
     [("https://r.example/v2/_catalog?last=z", {"rel": "next", "title": "more, please"})]),
    ('<a>; rel="prev", <b>; rel="next"', [("a", {"rel": "prev"}), ("b", {"rel": "next"})]),
    ('<a>; REL="next"; rel="prev"', [("a", {"rel": "next"})]),  # RFC 8288 3.3: the first rel wins
    ('<a>; title="quoted \\"q\\""', [("a", {"title": 'quoted "q"'})]),
    ("garbage", []),
])
def test_parse_link_header(header, expected):
    assert parse_link_header(header) == expected


@pytest.mark.parametrize("header,expected", [
    ('</v2/_catalog?last=b&n=2>; rel="next"', "http://127.0.0.1:5000/v2/_catalog?last=b&n=2"),
    ('<_catalog?last=b>; rel="next"', "http://127.0.0.1:5000/v2/_catalog?last=b"),  # relative to the page
    ('<http://other:1/v2/_catalog?last=b>; rel="next"', "http://other:1/v2/_catalog?last=b"),
    ('<a>; rel="prev", </v2/_catalog?last=c>; rel="last next"', "http://127.0.0.1:5000/v2/_catalog?last=c"),
    ('<a>; rel="prev"', None),
    (None, None),
])
def test_next_link(header, expected):
    assert next_link(header, BASE) == expected


_targets = st.text(st.characters(blacklist_characters="<>", blacklist_categories=("Cs", "Cc")), max_size=40)
_quoted = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@given(st.lists(st.tuples(_targets, st.sampled_from(["next", "prev", "last", "first"]), _quoted), max_size=4))
def test_link_header_round_trip(links):
    def quote(text):  # RFC 9110 quoted-string: backslash-escape \\ and "
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    header = ", ".join(f'<{t}>; rel="{rel}"; title={quote(q)}' for t, rel, q in links)
    assert parse_link_header(header) == [(t.strip(), {"rel": rel, "title": q}) for t, rel, q in links]


# ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def lab_registry(lab_registry):
    """Return the empty lab registry holding REPOS, and TAGS of alpha."""
    img = factory.make_image([{"x": b"x"}])
    for repo in REPOS:
        seed_lab_registry(lab_registry, f"{repo}:latest", img)
    for tag in TAGS:
        seed_lab_registry(lab_registry, f"alpha:{tag}", img)
    return lab_registry


REPOS = ["alpha", "beta", "gamma/one", "gamma/two", "zeta"]
TAGS = ["1", "1.1", "2", "edge", "latest"]


@pytest.mark.parametrize("n", [None, 1, 2, 3, 5, 100])
def test_lab_registry_pagination(lab_registry, n):
    c = RegistryClient(lab_registry.address, credentials=None, trace=True)
    assert catalog(c, n=n) == REPOS
    assert sorted(list_tags(c, "alpha", n=n)) == TAGS
    if n in (1, 2):  # one request per page (the last page may be empty only when n divides the total)
        pages = [e for e in c.trace if "/v2/_catalog" in e.url]
        assert len(pages) == -(-len(REPOS) // n)
        assert "last=" in pages[-1].url


def test_lab_registry_unknown_repository(lab_registry):
    c = RegistryClient(lab_registry.address, credentials=None)
    with pytest.raises(RegistryError, match="list tags of nope: .*404 NAME_UNKNOWN"):
        list_tags(c, "nope")


def test_lab_registry_token_mode_catalog(tmp_path):
    reg = start_lab_registry(tmp_path, auth="token", users={"lab": "labkit"})
    try:
        img = factory.make_image([{"x": b"x"}])
        for repo in ("a", "b", "c"):
            seed_lab_registry(reg, f"{repo}:1", img)
        c = RegistryClient(reg.address, credentials=Credentials("lab", "labkit"))
        assert catalog(c, n=2) == ["a", "b", "c"]
        assert list_tags(c, "b", n=1) == ["1"]
        anon = RegistryClient(reg.address, credentials=None)
        assert catalog(anon) == ["a", "b", "c"]  # anonymous tokens may list the catalog here
    finally:
        reg.stop()


# ---------------------------------------------------------------------------------------------------------

def _page(items, key="repositories", link=None):
    headers = {"Content-Type": "application/json"}
    if link:
        headers["Link"] = link
    return Reply(200, headers, json.dumps({key: items}).encode())


def test_scripted_absolute_links_and_a_loop(scripted_server):
    s = scripted_server
    s.route("GET", "/v2/_catalog",
            _page(["a"], link=f'<{s.url}/v2/_catalog?last=a&n=1>; rel="next"'),
            _page(["b"], link='</v2/_catalog?last=b&n=1>; rel="next"'),
            _page(["c"]))
    c = RegistryClient(s.host, credentials=None)
    assert catalog(c, n=1) == ["a", "b", "c"]
    assert [r[1] for r in s.log] == ["/v2/_catalog?n=1", "/v2/_catalog?last=a&n=1", "/v2/_catalog?last=b&n=1"]

    s.routes.clear(), s.hits.clear()
    s.route("GET", "/v2/x/tags/list", _page(["1"], "tags", '</v2/x/tags/list?last=1>; rel="next"'))
    with pytest.raises(RegistryError, match="Link back to a page it already answered"):
        list_tags(c, "x")

    s.routes.clear(), s.hits.clear()
    s.route("GET", "/v2/x/tags/list", Reply(200, {}, b"{not json"))
    with pytest.raises(RegistryError, match="not JSON"):
        list_tags(c, "x")
    s.hits.clear()
    s.route("GET", "/v2/x/tags/list", Reply(200, {}, b'{"name": "x", "tags": null}'))
    assert list_tags(c, "x") == []  # distribution answers null for a repository without tags


@pytest.mark.interop("docker-registry")
def test_real_registry_pagination(distribution_registry, tmp_path):
    from labkit.push import push
    from labkit.store import Store

    host = distribution_registry.host
    store = Store(tmp_path / "home")
    img = factory.make_image([{"x": b"real"}])
    for repo in REPOS:
        factory.store_image(store, img, f"{host}/{repo}:latest")
        push(store, f"{host}/{repo}:latest")
    for tag in TAGS:
        store.tag(f"{host}/alpha:latest", f"{host}/alpha:{tag}")
        push(store, f"{host}/alpha:{tag}")
    for n in (None, 1, 2, 3):
        c = RegistryClient(host, credentials=None, trace=True)
        assert catalog(c, n=n) == REPOS
        assert sorted(list_tags(c, "alpha", n=n)) == TAGS
        if n == 2:
            assert sum(1 for e in c.trace if "/v2/_catalog" in e.url) == 3


@pytest.mark.interop("docker-registry", "skopeo", "cryptography")
def test_real_registry_token_catalog(token_registry, token_server, tmp_path):
    host = token_registry.host
    img = factory.make_image([{"x": b"tok"}])
    src = factory.write_oci_dir(tmp_path / "src", img, "v1")
    for repo in ("a", "b", "c"):
        skopeo.copy_to_registry(f"oci:{src}:v1", f"{host}/{repo}:v1", creds="alice:s3cret")
    c = RegistryClient(host, credentials=Credentials("alice", "s3cret"))
    assert catalog(c, n=2) == ["a", "b", "c"]
    assert list_tags(c, "a") == ["v1"]
    assert any("registry:catalog:*" in r["scopes"] for r in token_server.requests)
