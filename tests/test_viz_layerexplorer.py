"""The layer explorer on the lab's stand-in ubuntu (pulled from the seeded lab registry): the logic in plain
functions, and the widget driven in Python (set `.value`, read the HTML)."""

from __future__ import annotations

import pytest

from helpers.markup import visible_text
from labkit.viz import layerexplorer as le


@pytest.fixture
def lab(lab):
    """conftest's Lab holding ubuntu."""
    lab.pull("ubuntu")
    return lab


def test_layer_choices_name_each_layer_by_its_step_and_size(lab):
    choices = le.layer_choices(lab, "ubuntu")
    assert [c.index for c in choices] == [0, 1, 2, 3, 4]
    assert choices[1].label.startswith("layer 2/5: RUN rm -rf /var/lib/apt/lists/*")
    assert choices[0].label.startswith("layer 1/5: ADD file:") and choices[0].label.endswith("MB)")


def test_whiteout_layer_lists_removed_files_and_what_they_hid(lab):
    view = le.open_view(lab, "ubuntu")
    rows = le.change_rows(view, 1, "size")
    removed = [c for c in rows if c.kind == "removed"]
    assert len(removed) == 5 and rows[0].kind == "removed" and rows[0].size == 60 * 1024
    label = le.change_label(rows[0])
    assert label.startswith("D  /var/lib/apt/lists/") and "whiteout: hides 61.4 kB below" in label
    assert le.change_summary(rows).endswith("removes 5 (hides 246 kB of the layers below)")
    text = le.file_preview(view, 1, rows[0].path)
    assert text.startswith("whiteout: this layer deletes /var/lib/apt/lists/") and "of layer 1" in text


def test_sorting_by_size_puts_the_largest_first(lab):
    view = le.open_view(lab, "ubuntu")
    by_size = [c.size for c in le.change_rows(view, 0, "size")]
    assert by_size == sorted(by_size, reverse=True)
    by_path = [c.path for c in le.change_rows(view, 0, "path")]
    assert by_path[0] == "bin" and by_path != [c.path for c in le.change_rows(view, 0, "size")]


def test_file_preview_shows_text_symlinks_and_binaries(lab):
    view = le.open_view(lab, "ubuntu")
    assert "xenial universe" in le.file_preview(view, 3, "/etc/apt/sources.list")
    assert le.file_preview(view, 0, "lib") == "a symbolic link to usr/lib"
    assert le.file_preview(view, 0, "usr/bin/ls").startswith("an ELF program or library, ")
    assert le.file_preview(view, 0, "etc/nothing-here") == "/etc/nothing-here: nothing in this layer"


def test_modified_file_label_shows_both_sizes(lab):
    view = le.open_view(lab, "ubuntu")
    (change,) = le.change_rows(view, 3)
    assert change.kind == "modified"
    assert le.change_label(change) == "M  /etc/apt/sources.list  (321 B -> 317 B)"


def test_layer_explorer_widget_follows_image_layer_sort_and_selection(lab):
    lab.pull("httpd")
    box = le.layer_explorer(lab, image="ubuntu")
    assert box.image.value == "ubuntu:latest" and box.layer.value == 4    # the top layer first
    assert "adds" in box.summary.value and "/run/systemd/container" in str(box.changes.options)
    box.layer.value = 1
    assert all(label.startswith("D  ") for label, _ in box.changes.options)
    box.sort.value = "size"
    box.changes.value = box.changes.options[0][1]
    assert "whiteout: this layer deletes" in box.preview.value
    box.layer.value = 3
    box.changes.value = "etc/apt/sources.list"
    assert "xenial universe" in box.preview.value
    assert "Wasted space" in box.waste.value and "could be saved" in box.waste.value
    box.image.value = "httpd:latest"
    assert box.layer.value == len(box.layer.options) - 1
    assert len(box.layer.options) == len(lab.store.config(lab.image("httpd")).diff_ids)


def test_wasted_space_names_paths_written_twice(lab):
    view = le.open_view(lab, "ubuntu")
    text = visible_text(le.wasted_html(view))
    assert "/etc/apt/sources.list: 2 copies" in text


def test_layer_explorer_keeps_its_state_on_the_object(lab):
    box = le.layer_explorer(lab, image="ubuntu", layer=1)
    assert box.view is not None and box.layer.value == 1
    assert [c.kind for c in box.rows] == ["removed"] * 5
    box.show_file(box.rows[0].path)
    assert "whiteout: this layer deletes" in box.preview.value
    bundle = box._repr_mimebundle_()
    lines = bundle["text/plain"].splitlines()
    assert lines[0] == "Layer explorer for ubuntu:latest, layer 2 of 5 \u2014 run this cell to use it"
    assert lines[1] == ("layer 2/5: RUN rm -rf /var/lib/apt/lists/* (0 B): adds 0 (0 B), modifies 0, "
                        "removes 5 (hides 246 kB of the layers below)")
    assert lines[2].startswith("D  /var/lib/apt/lists/") and len(lines) == 7
    assert bundle["text/html"].startswith("<div class='labkit-widget-fallback'><p><b>Layer explorer for ubuntu")


def test_layer_explorer_of_an_image_removed_meanwhile_says_so_in_one_line(lab):
    box = le.layer_explorer(lab, refs=["ubuntu:latest", "gone:latest"])
    box.image.value = "gone:latest"
    assert box.view is None and "labkit-error" in box.summary.value
    assert "Error: open gone:latest: " in box.summary.value and "Traceback" not in box.summary.value
    assert box._repr_mimebundle_()["text/plain"].startswith("Layer explorer for gone:latest")
