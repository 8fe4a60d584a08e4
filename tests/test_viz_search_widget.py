"""The search widget, driven in Python: type a term, click Search, read the table or the one-line error."""

from __future__ import annotations

import pytest

from labkit.errors import LabkitError
from labkit.registry.search import SearchResult
from labkit.viz import widgets as wd

HITS = [SearchResult("zookeeper", "Apache ZooKeeper <server>", 132, True, False),
        SearchResult("jplock/zookeeper", "Builds a docker image", 159, False, True)]


def test_results_html_has_dockers_columns_and_escapes():
    page = wd.search_results_html(HITS)
    for head in ("NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"):
        assert f">{head}</th>" in page
    assert "Apache ZooKeeper &lt;server&gt;" in page and "<server>" not in page
    assert page.count("[OK]") == 2 and ">132<" in page and ">159<" in page
    assert wd.search_results_html([]) == "<i>No image matches that term.</i>"


def test_click_shows_results_from_the_search_function():
    asked = []

    def fake(term, limit):
        asked.append((term, limit))
        return HITS

    box = wd.search_widget(search=fake, limit=7)
    box.text.value = "  zookeeper "  # Enter in the field searches too
    assert asked == [("zookeeper", 7)]
    box.button.click()
    assert asked == [("zookeeper", 7)] * 2
    assert box.output.value == "2 results for <code>zookeeper</code>"
    assert "jplock/zookeeper" in box.results.value


def test_empty_term_asks_for_one():
    box = wd.search_widget(search=lambda t, n: pytest.fail("must not search"))
    box.button.click()
    assert "Type a term first" in box.output.value and box.results.value == ""


@pytest.mark.parametrize("error, shown", [
    (LabkitError("search zoo: no index answered (docker.io: offline)"),
     "Error: search zoo: no index answered (docker.io: offline)"),
    (ConnectionError("boom\nsecond line"), "Error: ConnectionError: boom"),
])
def test_errors_are_one_line_in_the_output_area(error, shown):
    def failing(term, limit):
        raise error

    box = wd.search_widget(term="", search=failing)
    box.text.value = "zoo"
    assert shown in box.output.value and "Traceback" not in box.output.value
    assert "second line" not in box.output.value and box.results.value == ""


def test_a_bug_is_not_dressed_up_as_a_students_mistake():
    def broken(term, limit):
        raise TypeError("search() got an unexpected keyword argument")

    box = wd.search_widget(search=broken)
    with pytest.raises(TypeError):
        box.text.value = "zoo"


def test_real_search_on_the_lab_registry(lab):
    box = wd.search_widget(lab, index_url="http://127.0.0.1:9")  # Docker Hub stand-in: never reached
    box.text.value = "zookeeper"
    assert box.output.value == "7 results for <code>zookeeper</code>"
    assert "jplock/zookeeper" in box.results.value and "debezium/zookeeper" in box.results.value


def test_unreachable_indexes_give_one_line(tmp_path):
    box = wd.search_widget(mirrors=["http://127.0.0.1:9"], index_url="http://127.0.0.1:9", timeout=(1, 1))
    box.text.value = "zookeeper"
    assert "Error: search zookeeper: no index answered" in box.output.value


def test_fallback_shows_dockers_search_table():
    box = wd.search_widget(term="zookeeper", search=lambda term, limit: HITS)
    bundle = box._repr_mimebundle_()
    lines = bundle["text/plain"].splitlines()
    assert lines[0] == "Image search: docker search zookeeper \u2014 run this cell to use it"
    assert lines[1].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    assert lines[3].split() == ["jplock/zookeeper", "Builds", "a", "docker", "image", "159", "[OK]"]
    assert "2 results for <code>zookeeper</code>" in bundle["text/html"] and "jplock/zookeeper" in bundle["text/html"]
    assert wd.search_widget(search=lambda t, n: HITS)._repr_mimebundle_()["text/plain"] == \
        "Image search \u2014 run this cell to use it"
