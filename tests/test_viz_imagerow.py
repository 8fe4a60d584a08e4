"""The `docker images` row explainer: facts per column and the layers SIZE adds up, on a real pulled store."""

from __future__ import annotations

import pytest

from labkit.clock import now
from labkit.formatting import human_size, time_ago
from labkit.viz import imagerow


@pytest.fixture
def lab(lab, monkeypatch):
    """conftest's Lab holding node, mkerker/duckhunt and busybox, seen from the lab's pinned now, playing the
    lab text's Docker (graphdriver store), as the notebooks' homes do."""
    monkeypatch.setenv("LABKIT_NOW", "2017-01-20T00:00:00Z")
    for ref in ("node", "mkerker/duckhunt", "busybox"):
        lab.pull(ref)
    return lab.with_image_store("graphdriver")


def test_layers_add_up_to_size_and_name_their_sharers(lab):
    rows = imagerow.layer_rows(lab, "mkerker/duckhunt")
    rec = lab.image("mkerker/duckhunt")
    assert sum(r.size for r in rows) == rec.size
    node_layers = len(lab.store.config(lab.image("node")).diff_ids)
    assert [r.shared_with for r in rows[:node_layers]] == [("node:latest",)] * node_layers
    assert all(r.shared_with == () for r in rows[node_layers:])
    assert [r.position for r in rows] == list(range(1, len(rows) + 1))
    assert imagerow.layer_rows(lab, "busybox")[0].shared_with == ()


def test_row_facts_say_where_each_column_comes_from(lab):
    facts = {c: (v, why) for c, v, why in imagerow.row_facts(lab, "node")}
    rec = lab.image("node")
    assert list(facts) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert facts["REPOSITORY"][0] == "node" and "docker.io/library/node" in facts["REPOSITORY"][1]
    assert facts["IMAGE ID"] == (rec.image_id.short, f"the first 12 hex digits of the config's digest, {rec.image_id}")
    assert facts["CREATED"][0] == time_ago(rec.created, now()) == "2 months ago"
    assert "now = 2017-01-20T00:00:00Z" in facts["CREATED"][1]
    assert facts["SIZE"][0] == human_size(rec.size)
    assert facts["SIZE"][1].startswith(f"the sum of the files in its 7 layer(s); {human_size(rec.size)} of it")
    assert "none is shared" in dict((c, w) for c, _, w in imagerow.row_facts(lab, "busybox"))["SIZE"]


def test_widget_follows_the_dropdown_and_shows_errors_in_one_line(lab):
    box = imagerow.image_row_explainer(lab, image="busybox:latest")
    assert box.images.value == "busybox:latest" and lab.image("busybox").image_id.short in box.result.value
    box.images.value = "node:latest"
    assert "only this image" not in box.result.value and "mkerker/duckhunt:latest" in box.result.value
    lab.rmi("busybox")
    box.refresh()
    assert "busybox:latest" not in box.images.options
    assert imagerow.image_row_html(lab, "busybox").startswith("<div class='labkit-error'")
    assert "Traceback" not in imagerow.image_row_html(lab, "nothere")
    assert imagerow.image_row_html(lab, "") == "<i>Pick an image.</i>"


def test_fallback_explains_the_row_it_showed(lab):
    box = imagerow.image_row_explainer(lab, image="busybox:latest")
    bundle = box._repr_mimebundle_()
    lines = bundle["text/plain"].splitlines()
    assert lines[0] == ("docker images row explainer for busybox:latest, lab text's Docker (graphdriver) "
                        "\u2014 run this cell to use it")
    assert lines[1] == ("REPOSITORY: busybox \u2014 the name you pulled or tagged, short form of "
                        "docker.io/library/busybox:latest")
    assert lines[3].startswith(f"IMAGE ID: {lab.image('busybox').image_id.short} \u2014 the first 12 hex")
    assert "<table class='labkit-row'>" in bundle["text/html"]


def test_docker29_row_facts_explain_the_containerd_columns(lab):
    d29 = lab.with_image_store("containerd")
    facts = {c: (v, why) for c, v, why in imagerow.row_facts(d29, "busybox")}
    assert list(facts) == ["IMAGE", "ID", "DISK USAGE", "CONTENT SIZE", "EXTRA"]  # docker/cli tree.go's columns
    summary = next(s for s in d29.image_summaries() if "busybox:latest" in s.repo_tags)
    rec = lab.image("busybox")
    assert facts["IMAGE"][0] == "busybox:latest"
    # busybox is a two-platform index here: the ID is the index's digest, not the config's
    assert facts["ID"][0] == str(summary.id)[7:19] != rec.image_id.short
    assert f"the index listing 2 platforms the name points at ({summary.id})" in facts["ID"][1]
    assert f"the lab text's Docker shows the config's digest, {rec.image_id}" in facts["ID"][1]
    assert facts["DISK USAGE"][0] == "1.11MB" and facts["CONTENT SIZE"][0] == "32.3kB"  # as `labkit images` shows
    assert "over the 1 platform(s) pulled of the 2 the index lists" in facts["DISK USAGE"][1]
    assert facts["EXTRA"][0] == ""
    d29.run("busybox", ["true"])
    assert dict((c, v) for c, v, _ in imagerow.row_facts(d29, "busybox"))["EXTRA"] == "U"


def test_the_widget_switches_between_the_two_dockers_rows(lab):
    box = imagerow.image_row_explainer(lab, image="node:latest")
    assert box.stores.value == "graphdriver" and "<th style='text-align:left;padding-right:1em;vertical-align:top'>IMAGE ID" in box.result.value
    box.stores.value = "containerd"
    assert box.lab.image_store == "containerd" and box.lab.home == lab.home
    assert "CONTENT SIZE" in box.result.value and "IMAGE ID" not in box.result.value
    assert "Docker 29 (containerd store)" in box.describe()
    box.stores.value = "graphdriver"
    assert "IMAGE ID" in box.result.value
