"""The pull widget, driven in Python with a real pull from the seeded lab registry (conftest's `lab`)."""

from __future__ import annotations

import pytest

from labkit.progress import ALREADY_EXISTS, PULL_COMPLETE
from labkit.viz import widgets as wd


def test_pull_shows_one_bar_per_layer_and_the_status(lab):
    box = wd.pull_widget(lab, initial="debian:jessie")
    box.button.click()
    p = box.progress
    assert p is not None and box.area.children == (p.widget,)
    assert len(p.bars) == 1
    (lid, bar), = p.bars.items()
    assert bar.value == bar.max and bar.bar_style == "success" and p.status(lid) == PULL_COMPLETE
    assert p.lines[0] == "jessie: Pulling from library/debian"
    assert any(line.startswith("Digest: sha256:") for line in p.lines)
    assert "Status: Downloaded newer image for debian:jessie" in box.output.value
    assert box.result.record.repository == "debian" and not box.button.disabled
    assert lab.image("debian:jessie").image_id == box.result.record.image_id


def test_second_pull_of_a_shared_layer_says_already_exists(lab):
    box = wd.pull_widget(lab, initial="debian:jessie")
    box.button.click()
    first = box.progress
    box.text.value = "httpd"  # built on debian:jessie's layer
    box.button.click()
    assert box.progress is not first and box.area.children == (box.progress.widget,)
    statuses = [box.progress.status(lid) for lid in box.progress.bars]
    assert statuses[0] == ALREADY_EXISTS and set(statuses[1:]) == {PULL_COMPLETE}
    assert "Downloaded newer image for httpd:latest" in box.output.value


def test_another_tag_of_an_image_the_store_has_moves_no_layer(lab):
    box = wd.pull_widget(lab, initial="debian:jessie")
    box.button.click()
    box.text.value = "debian:8"  # the same image: docker prints no layer line, and the tag is new
    box.button.click()
    assert box.progress.bars == {}
    assert "Downloaded newer image for debian:8" in box.output.value


def test_multi_layer_image_gets_a_bar_per_layer(lab):
    box = wd.pull_widget(lab, initial="labkit/webapp:1.0")
    box.button.click()
    manifest = lab.store.manifest(lab.image("labkit/webapp:1.0"))
    assert list(box.progress.bars) == [d.digest.short for d in manifest.layers]
    assert len(box.progress.bars) > 1
    assert all(b.value == b.max for b in box.progress.bars.values())


@pytest.mark.parametrize("ref, shown", [
    ("{registry}/library/debian:jessi", "manifest unknown"),
    ("Not A Reference", "Error: "),
])
def test_a_mistake_is_one_line_in_the_output_area(lab, lab_images_registry, ref, shown):
    box = wd.pull_widget(lab, initial=ref.format(registry=lab_images_registry.address))
    box.button.click()
    assert shown in box.output.value and "Traceback" not in box.output.value
    assert box.result is None and not box.button.disabled
    assert box.progress.lines[-1].startswith("Error: ")


def test_empty_reference_asks_for_one(lab):
    box = wd.pull_widget(lab, initial=" ")
    box.button.click()
    assert "Type an image reference first" in box.output.value and box.progress is None


def test_fallback_says_what_the_widget_pulls(lab):
    box = wd.pull_widget(lab, initial="node")
    assert box._repr_mimebundle_()["text/plain"] == "Pull an image: docker pull node \u2014 run this cell to use it"
    box.button.click()
    text = box._repr_mimebundle_()["text/plain"]
    assert "Status: Downloaded newer image for node:latest" in text and ": Pull complete" in text
