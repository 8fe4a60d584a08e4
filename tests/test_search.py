"""docker search: the lab registry's /v1/search with labelled images, a scripted stand-in for Docker Hub's
index, host-qualified terms, mirrors first, filters, the table and JSON lines, and the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from labkit.errors import LabkitError, UsageError
from labkit.registry.search import (SearchResult, apply_filters, endpoints_for, parse_filters, search, search_json,
                                    search_table, split_term)

from helpers import imagefactory as factory
from helpers.net import free_port
from helpers.registries import seed_lab_registry, start_lab_registry
from helpers.scriptedserver import Reply, ScriptedServer

DEBIAN_DESC = "Debian is a Linux distribution that's composed entirely of free and open-source software."


def labelled(name: str, description: str = "", stars: int | None = None, official: bool = False,
             automated: bool = False):
    labels = {}
    if description:
        labels["io.labkit.description"] = description
    if stars is not None:
        labels["io.labkit.stars"] = str(stars)
    if official:
        labels["io.labkit.official"] = "true"
    if automated:
        labels["io.labkit.automated"] = "true"
    return factory.make_image([{name: name.encode()}], labels=labels or None)


@pytest.fixture
def lab_registry(lab_registry):
    """Return the empty lab registry holding three labelled images (debian, zoo/wordpress, zoo/empty)."""
    seed_lab_registry(lab_registry, "library/debian:latest", labelled("debian", DEBIAN_DESC, 4500, official=True))
    seed_lab_registry(lab_registry, "zoo/wordpress:latest",
                      labelled("wp", "The WordPress rich content\nmanagement system", 12, automated=True))
    seed_lab_registry(lab_registry, "zoo/empty:latest", labelled("empty"))
    return lab_registry


@pytest.fixture
def hub(scripted_server):
    """Return the scripted server, playing Docker Hub's search API."""
    return scripted_server


def hub_answer(results, query="debian") -> Reply:
    body = {"num_pages": 1, "num_results": len(results), "page_size": 25, "query": query, "page": 1,
            "results": results}
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


HUB_RESULTS = [
    {"star_count": 4700, "is_official": True, "name": "debian", "is_automated": False,
     "description": DEBIAN_DESC},
    {"star_count": 3, "is_official": False, "name": "someone/debian-tools", "is_automated": True,
     "description": "tools\r\non debian"},
    {"star_count": 0, "is_official": False, "name": "nobody/debian", "is_automated": False, "description": None},
]


# ---------------------------------------------------------------------------------------------------------
# Pure rules
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("term,expected", [
    ("ubuntu", ("docker.io", "ubuntu")),
    ("samalba/hipache", ("docker.io", "samalba/hipache")),
    ("localhost/zoo", ("localhost", "zoo")),
    ("localhost:5000/zoo", ("localhost:5000", "zoo")),
    ("127.0.0.1:5000/zoo/app", ("127.0.0.1:5000", "zoo/app")),
    ("registry.example.com/a", ("registry.example.com", "a")),
    ("Upper/case", ("docker.io", "Upper/case")),  # docker's splitReposSearchTerm: only ".", ":" or localhost
])
def test_split_term(term, expected):
    assert split_term(term) == expected


def test_endpoints_mirrors_first_then_hub():
    eps = endpoints_for("debian", {"registry-mirrors": ["http://127.0.0.1:5000/", "mirror.example:443"]})
    assert [(e.base_url, e.name, e.mirror) for e in eps] == [
        ("http://127.0.0.1:5000", "127.0.0.1:5000", True),
        ("https://mirror.example:443", "mirror.example:443", True),
        ("https://index.docker.io", "index.docker.io", False)]
    eps = endpoints_for("localhost:5000/zoo", {"registry-mirrors": ["http://127.0.0.1:6000"]})
    assert [(e.base_url, e.term) for e in eps] == [("http://localhost:5000", "zoo")]  # no mirror, no Hub
    eps = endpoints_for("reg.example:5000/zoo", {"insecure-registries": ["reg.example:5000"]})
    assert eps[0].base_url == "http://reg.example:5000"


@pytest.mark.parametrize("filters,expected", [
    ([], {}),
    (["stars=3"], {"stars": 3}),
    (["stars=3", "stars=10"], {"stars": 10}),
    (["is-official=true"], {"is-official": True}),
    (["is-automated=false", "is-automated=false"], {"is-automated": False}),
])
def test_parse_filters(filters, expected):
    assert parse_filters(filters) == expected


@pytest.mark.parametrize("filters,message", [
    (["foo=1"], "invalid filter 'foo'"),
    (["stars=many"], "invalid filter 'stars=many'"),
    (["is-official=yes"], "invalid filter 'is-official=yes'"),
    (["is-official=true", "is-official=false"], "invalid filter 'is-official=false'"),
])
def test_bad_filters(filters, message):
    with pytest.raises(LabkitError, match=message):
        parse_filters(filters)


def test_filter_without_equals_is_a_usage_error():
    with pytest.raises(UsageError, match="expected name=value"):
        parse_filters(["stars"])


def test_apply_filters():
    rs = [SearchResult("a", star_count=5, is_official=True), SearchResult("b", star_count=1, is_automated=True),
          SearchResult("c")]
    assert [r.name for r in apply_filters(rs, {"stars": 1})] == ["a", "b"]
    assert [r.name for r in apply_filters(rs, {"is-official": False})] == ["b", "c"]
    assert [r.name for r in apply_filters(rs, {"is-automated": True, "stars": 1})] == ["b"]


def test_table_truncates_at_45_and_collapses_newlines():
    rs = [SearchResult("x", "a" * 45), SearchResult("y", "b" * 46), SearchResult("z", "line\none\rtwo")]
    table = search_table(rs)
    assert table.splitlines() == [
        "NAME      DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED",
        "x         " + "a" * 45 + "   0" + " " * 20,
        "y         " + "b" * 42 + "...   0" + " " * 20,
        "z         line one two" + " " * 36 + "0" + " " * 20]
    assert "b" * 46 in search_table(rs, no_trunc=True)


# ---------------------------------------------------------------------------------------------------------
# The lab registry's /v1/search
# ---------------------------------------------------------------------------------------------------------

def test_host_qualified_term_asks_that_registry_table_exact(lab_registry):
    table = search_table(search(f"{lab_registry.address}/zoo", settings={}))
    assert table == (
        "NAME            DESCRIPTION                                    STARS     OFFICIAL   AUTOMATED\n"
        "zoo/wordpress   The WordPress rich content management system   12                   [OK]\n"
        "zoo/empty                                                      0                    \n")


def test_truncation_and_official_column(lab_registry):
    results = search(f"{lab_registry.address}/debian", settings={})
    assert results == [SearchResult("debian", DEBIAN_DESC, 4500, True, False)]
    assert search_table(results) == (
        "NAME      DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED\n"
        "debian    Debian is a Linux distribution that's comp...   4500      [OK]       \n")
    assert search_table(results, no_trunc=True).splitlines()[1] == f"debian    {DEBIAN_DESC}   4500      [OK]       "


def test_filters_on_the_lab_registry(lab_registry):
    host = lab_registry.address
    assert [r.name for r in search(f"{host}/e", settings={})] == ["debian", "zoo/wordpress", "zoo/empty"]
    assert [r.name for r in search(f"{host}/e", filters=["stars=12"], settings={})] == ["debian", "zoo/wordpress"]
    assert [r.name for r in search(f"{host}/e", filters=["is-official=true"], settings={})] == ["debian"]
    assert [r.name for r in search(f"{host}/e", filters=["is-automated=true"], settings={})] == ["zoo/wordpress"]
    assert [r.name for r in search(f"{host}/e", filters=["is-official=false", "is-automated=false"],
                                   settings={})] == ["zoo/empty"]
    assert [r.name for r in search(f"{host}/e", limit=1, settings={})] == ["debian"]


def test_json_lines_have_dockers_keys_and_string_values(lab_registry):
    rows = search_json(search(f"{lab_registry.address}/e", settings={}))
    assert rows[0] == {"Name": "debian", "Description": "Debian is a Linux distribution that's comp...",
                       "StarCount": "4500", "IsOfficial": "true", "IsAutomated": "false"}
    assert rows[1]["Description"] == "The WordPress rich content management system"
    full = search_json(search(f"{lab_registry.address}/debian", settings={}), no_trunc=True)
    assert full[0]["Description"] == DEBIAN_DESC


def test_limit_range():
    for bad in (0, 101):
        with pytest.raises(UsageError, match=rf"limit {bad} is outside the range of \[1, 100\]"):
            search("x", limit=bad, settings={})


# ---------------------------------------------------------------------------------------------------------
# Docker Hub's endpoint shape (a scripted stand-in), mirrors first
# ---------------------------------------------------------------------------------------------------------

def test_hub_endpoint_shape_and_query(hub):
    hub.route("GET", "/v1/search", hub_answer(HUB_RESULTS))
    results = search("debian", limit=10, settings={}, index_url=hub.url)
    assert [r.name for r in results] == ["debian", "someone/debian-tools", "nobody/debian"]
    assert results[2].description == "" and results[1].is_automated
    (method, path, headers), = hub.log
    assert method == "GET" and path == "/v1/search?q=debian&n=10"
    assert search_table(results).splitlines()[2] == \
        "someone/debian-tools   tools  on debian                                3                    [OK]"


def test_mirror_answers_first_and_hub_is_not_asked(lab_registry, hub):
    hub.route("GET", "/v1/search", hub_answer(HUB_RESULTS))
    results = search("debian", settings={"registry-mirrors": [lab_registry.url]}, index_url=hub.url)
    assert [(r.name, r.star_count) for r in results] == [("debian", 4500)]  # the mirror's, not the Hub's 4700
    assert hub.log == []


def test_mirror_that_fails_falls_through_to_the_hub(hub, tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    no_search = ScriptedServer()  # a mirror without /v1/search (a plain distribution registry answers 404)
    try:
        hub.route("GET", "/v1/search", hub_answer(HUB_RESULTS))
        results = search("debian", settings={"registry-mirrors": [down, no_search.url]}, index_url=hub.url)
        assert [r.star_count for r in results] == [4700, 3, 0]
        assert len(no_search.log) == 1 and len(hub.log) == 1
    finally:
        no_search.close()


def test_no_index_answers_names_each_host(hub):
    down = free_port()
    hub.route("GET", "/v1/search", Reply(503, {}, b"maintenance"))
    with pytest.raises(LabkitError) as e:
        search("debian", settings={"registry-mirrors": [f"http://127.0.0.1:{down}"]}, index_url=hub.url)
    assert str(e.value) == (f"search debian: no index answered (127.0.0.1:{down}: connection refused; "
                            f"{hub.host}: HTTP 503)")
    hub.route("GET", "/v1/search", Reply(200, {}, b'{"results": "nope"}'))
    with pytest.raises(LabkitError, match="no 'results' list"):
        search("debian", settings={}, index_url=hub.url)


def test_basic_auth_registry_search_uses_the_login(tmp_path):
    from labkit.registry.login import login

    reg = start_lab_registry(tmp_path, auth="basic", users={"lab": "labkit"})
    try:
        seed_lab_registry(reg, "zoo/secret:1", labelled("s", "secret things", 1))
        with pytest.raises(LabkitError, match=rf"{reg.address}: HTTP 401"):
            search(f"{reg.address}/zoo", settings={})
        login(reg.address, "lab", "labkit", settings={})
        assert [r.name for r in search(f"{reg.address}/zoo", settings={})] == ["zoo/secret"]
    finally:
        reg.stop()


# ---------------------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------------------

def run(*argv) -> tuple[int, str, str]:
    from labkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def test_cli_search_table_json_filters_and_mirror(lab_registry, labkit_home):
    (Path(labkit_home) / "daemon.json").write_text(json.dumps({"registry-mirrors": [lab_registry.url]}))
    status, out, err = run("search", "debian")
    assert (status, err) == (0, "")
    # Docker 29 (docker/cli registry/formatter_search.go): no AUTOMATED column, formatter.Ellipsis(desc, 45)
    assert out == ("NAME      DESCRIPTION                                     STARS     OFFICIAL\n"
                   "debian    Debian is a Linux distribution that's compos…   4500      [OK]\n")
    status, out, err = run("--image-store", "graphdriver", "search", "debian")  # the lab text's Docker
    assert out == ("NAME      DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED\n"
                   "debian    Debian is a Linux distribution that's comp...   4500      [OK]       \n")
    status, out, _ = run("search", "--format", "{{.Name}}: {{.StarCount}} {{.IsOfficial}} {{json .IsOfficial}}",
                         "debian")
    assert out == 'debian: 4500 [OK] "[OK]"\n'  # the JSON flags ("true") only in {{json .}}
    status, out, _ = run("search", "--no-trunc", "debian")
    assert DEBIAN_DESC in out
    status, out, _ = run("search", "--format", "json", "--filter", "stars=1", f"{lab_registry.address}/e")
    assert status == 0
    assert [json.loads(line)["Name"] for line in out.splitlines()] == ["debian", "zoo/wordpress"]
    assert out.splitlines()[1] == ('{"Description":"The WordPress rich content management system",'
                                   '"IsOfficial":"false","Name":"zoo/wordpress","StarCount":"12"}')
    status, out, _ = run("search", "--limit", "1", "-f", "is-official=false", f"{lab_registry.address}/e")
    assert out.splitlines()[1:] == []  # the one result (debian) is official: docker filters after the limit
    status, _, err = run("search", "--filter", "color=red", "debian")
    assert status == 1 and err == "Error: search: invalid filter 'color'\n"
    status, _, err = run("search", "--limit", "500", "debian")
    assert status == 2 and "limit 500 is outside the range of [1, 100]" in err
