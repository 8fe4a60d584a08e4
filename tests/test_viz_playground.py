"""The layer explorer and the copy-on-write playground, driven in Python on the lab's stand-in images
(pulled from an in-process lab registry on a free port): set `.value`, `.click()`, read the HTML."""

from __future__ import annotations

import re

import pytest

from labkit.containers import Containers
from labkit.errors import UsageError
from labkit.home import resolve_home, save_settings
from labkit.lab import Lab
from labkit.labctl import seed
from labkit.registry.server import LabRegistry
from labkit.viz import layerexplorer as le
from labkit.viz import playground as pg


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    seed(root)
    reg = LabRegistry(root, "127.0.0.1:0").start()
    yield reg
    reg.stop()


@pytest.fixture
def lab(registry):
    home = resolve_home()
    save_settings(home, {"registry-mirrors": [registry.url]})
    lab = Lab(home)
    lab.pull("ubuntu")
    return lab


def _text(html_value: str) -> str:
    return re.sub(r"<[^>]+>", "", html_value).replace("&gt;", ">").replace("&#x27;", "'")


# --- layer explorer -------------------------------------------------------------------------------------

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
    text = _text(le.wasted_html(view))
    assert "/etc/apt/sources.list: 2 copies" in text


# --- copy-on-write playground: the logic ---------------------------------------------------------------------

@pytest.fixture
def container(lab):
    return Containers(lab.home, store=lab.store, layer_store=lab.layers).create("ubuntu", name="t1")


@pytest.mark.parametrize("op, path, arg, expected", [
    ("write", "/etc/os-release", "hi\\n", ["copied up /etc/os-release (270 B)", "wrote 3 B to /etc/os-release (replaced)"]),
    ("append", "/etc/apt/sources.list", "x", ["copied up /etc/apt/sources.list (317 B)",
                                              "wrote 1 B to /etc/apt/sources.list (appended)"]),
    ("write", "/etc/hostname", "box", ["created /etc/hostname (3 B)"]),
    ("delete", "/usr/bin/ls", "", ["removed /usr/bin/ls", "whiteout /usr/bin/ls"]),
    ("rename", "/etc/lsb-release", "/etc/lsb", ["renamed /etc/lsb-release -> /etc/lsb", "copied up /etc/lsb (105 B)",
                                                "whiteout /etc/lsb-release"]),
    ("chmod", "/usr/bin/su", "755", ["copied up /usr/bin/su (41 kB)", "chmod 755 /usr/bin/su"]),
    ("mkdir", "/data", "", ["mkdir /data"]),
])
def test_apply_operation_reports_the_overlay_ops(container, op, path, arg, expected):
    ops, extra = pg.apply_operation(container, op, path, arg)
    assert [str(o) for o in ops] == expected and extra == ""


def test_read_copies_nothing(container):
    ops, extra = pg.apply_operation(container, "read", "/etc/lsb-release")
    assert ops == [] and extra.startswith("read /etc/lsb-release: 105 B from image layer 1; nothing copied\n")
    assert container.size_rw() == 0


@pytest.mark.parametrize("op, path, arg, error", [
    ("delete", "/nope", "", FileNotFoundError),
    ("chmod", "/etc/os-release", "rwx", UsageError),
    ("chmod", "/etc/os-release", "99999", UsageError),
    ("rename", "/etc/os-release", "", UsageError),
    ("write", "", "x", UsageError),
    ("mkdir", "/etc", "", FileExistsError),
    ("explode", "/etc", "", UsageError),
    ("write", "/etc/a\0b", "x", ValueError),
])
def test_apply_operation_refuses_like_a_file_system(container, op, path, arg, error):
    with pytest.raises(error):
        pg.apply_operation(container, op, path, arg)


def test_diagram_ops_point_at_the_layer_holding_the_file(container):
    ops = container.append("/etc/apt/sources.list", b"x") + container.remove("/var/lib/dpkg", recursive=True)
    ops += container.mkdir("/var/lib/dpkg")
    drawn = pg.ops_for_diagram(container, ops)
    assert [(d.kind, d.path, d.lower) for d in drawn] == [
        ("copy-up", "/etc/apt/sources.list", 3), ("write", "/etc/apt/sources.list", None),
        ("delete", "/var/lib/dpkg", None), ("whiteout", "/var/lib/dpkg", 0),
        ("mkdir", "/var/lib/dpkg", None), ("opaque", "/var/lib/dpkg", 0)]
    assert drawn[0].size == 317 and drawn[2].size is None


def test_default_path_is_an_image_file_so_the_first_apply_copies_up(container):
    assert pg.default_path(container) == "/etc/os-release"


# --- copy-on-write playground: the widget --------------------------------------------------------------------

def test_first_apply_with_the_defaults_copies_up_and_redraws(lab):
    box = pg.cow_playground(lab, image="ubuntu", name="play")
    assert "labkit-playground" in box.widget._dom_classes and "labkit-playground-log" in box.log_area._dom_classes
    assert box.apply_button.description == "Apply"
    log_before, svg_before = box.log_area.value, box.diagram.value
    assert "Nothing changed yet" in log_before and "<svg" in svg_before
    assert "nothing written yet" in svg_before
    box.apply_button.click()
    assert "copied up /etc/os-release (270 B)" in box.log_area.value
    assert box.diagram.value != svg_before and "copy&#45;up" in box.diagram.value
    assert "copied up from" in box.diagram.value and "/etc/os&#45;release" in box.diagram.value
    assert "C /etc/os-release" in box.summary.value


def test_whiteout_then_mkdir_makes_an_opaque_directory(lab):
    box = pg.cow_playground(lab, name="play")
    box.operation.value = "delete"
    assert box.arg.disabled
    box.path.value = "/var/lib/dpkg"
    box.apply_button.click()
    box.operation.value = "mkdir"
    box.apply_button.click()
    log = _text(box.log_area.value)
    assert "whiteout /var/lib/dpkg" in log and "opaque /var/lib/dpkg (hides the image's /var/lib/dpkg)" in log
    assert "marker /var/lib/dpkg/.wh..wh..opq" in box.diagram.value


def test_errors_are_one_line_in_the_log(lab):
    box = pg.cow_playground(lab, name="play")
    svg = box.diagram.value
    box.operation.value = "delete"
    box.path.value = "/does/not/exist"
    box.apply_button.click()
    assert "Error: delete: /does/not/exist: No such file or directory" in _text(box.log_area.value)
    assert "labkit-error" in box.log_area.value and "Traceback" not in box.log_area.value
    assert box.diagram.value == svg
    box.operation.value = "chmod"
    assert box.arg.value == "600" and box.arg.description == "Mode:"
    box.arg.value = "abc"
    box.path.value = "/etc/passwd"
    box.apply_button.click()
    assert "Error: chmod: a mode is octal digits like 600 or 755, not 'abc'" in _text(box.log_area.value)


def test_rename_chmod_and_read_from_the_widget(lab):
    box = pg.cow_playground(lab, name="play")
    box.operation.value = "rename"
    assert box.arg.value == "/etc/os-release.old"
    box.apply_button.click()
    box.operation.value = "read"
    box.path.value = "/etc/os-release.old"
    box.apply_button.click()
    log = _text(box.log_area.value)
    assert "renamed /etc/os-release -> /etc/os-release.old" in log and "whiteout /etc/os-release" in log
    assert "from the read-write layer; nothing copied" in log and "Ubuntu" in log


def test_reused_container_shows_its_history_and_start_over_resets(lab):
    first = pg.cow_playground(lab, name="play")
    first.apply_button.click()
    again = pg.cow_playground(lab, name="play")
    assert again.container.id == first.container.id and "copied up /etc/os-release" in again.log_area.value
    again.reset_button.click()
    assert again.container.id != first.container.id and "Nothing changed yet" in again.log_area.value
    assert "nothing written yet" in again.diagram.value and "(no changes)" in again.summary.value


def test_playground_pulls_a_missing_image(lab):
    box = pg.cow_playground(lab, image="busybox", name="bb")
    assert lab.image("busybox") is not None and box.container.image == "busybox"
    box.operation.value = "write"
    box.apply_button.click()
    assert "copied up" in box.log_area.value or "created" in box.log_area.value


def test_fresh_container_replaces_one_of_the_same_name(lab):
    first = pg.fresh_container(lab, "ubuntu", "again")
    first.write("/etc/hostname", b"x")
    second = pg.fresh_container(lab, "ubuntu", "again", start=True)
    assert second.id != first.id and second.running and second.diff() == []
    assert [c.name for c in lab.containers.list(all=True)] == ["again"]


def test_a_scratch_container_is_empty_and_drawn_without_layers(lab):
    empty = pg.fresh_container(lab, "scratch", "empty")
    assert empty.listdir("/") == [] and empty.image_id is None
    empty.write("/hello.txt", b"hi")
    source = pg.playground_diagram(lab, empty).source
    assert "no layers" in source and "1. create" in source


def test_an_image_that_cannot_be_had_is_one_line_not_a_traceback(lab):
    box = pg.cow_playground(lab, image="Not A Reference", name="bad")
    assert box.container is None and "labkit-playground" in box.widget._dom_classes
    assert "labkit-error" in box.widget.children[0].value and "playground on Not A Reference:" in box.widget.children[0].value


# --- the widgets' state and what a saved notebook shows ------------------------------------------------------

def test_layer_explorer_keeps_its_state_on_the_object(lab):
    box = le.layer_explorer(lab, image="ubuntu", layer=1)
    assert box.view is not None and box.layer.value == 1
    assert [c.kind for c in box.rows] == ["removed"] * 5
    box.show_file(box.rows[0].path)
    assert "whiteout: this layer deletes" in box.preview.value
    bundle = box._repr_mimebundle_()
    lines = bundle["text/plain"].splitlines()
    assert lines[0] == "Layer explorer for ubuntu:latest, layer 2 of 5 \u2014 run this cell to use it"
    assert lines[1] == ("layer 2/5: RUN rm -rf /var/lib/apt/lists/* (4.1 kB): adds 0 (0 B), modifies 0, "
                        "removes 5 (hides 246 kB of the layers below)")
    assert lines[2].startswith("D  /var/lib/apt/lists/") and len(lines) == 7
    assert bundle["text/html"].startswith("<div class='labkit-widget-fallback'><p><b>Layer explorer for ubuntu")


def test_layer_explorer_of_an_image_removed_meanwhile_says_so_in_one_line(lab):
    box = le.layer_explorer(lab, refs=["ubuntu:latest", "gone:latest"])
    box.image.value = "gone:latest"
    assert box.view is None and "labkit-error" in box.summary.value
    assert "Error: open gone:latest: " in box.summary.value and "Traceback" not in box.summary.value
    assert box._repr_mimebundle_()["text/plain"].startswith("Layer explorer for gone:latest")


def test_playground_fallback_shows_the_containers_diff(lab):
    box = pg.cow_playground(lab, name="play")
    box.apply()
    text = box._repr_mimebundle_()["text/plain"]
    assert text.splitlines()[0] == ("Copy-on-write playground: container play over the image ubuntu "
                                    "\u2014 run this cell to use it")
    assert "docker diff:\n  C /etc\n  C /etc/os-release" in text
    assert box.entries[0] == ("cmd", "append /etc/os-release '# changed in the playground'")
    bad = pg.cow_playground(lab, image="Not A Reference", name="bad")
    assert bad._repr_mimebundle_()["text/plain"].splitlines()[1].startswith(
        "Error: playground on Not A Reference: invalid reference")
