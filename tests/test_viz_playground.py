"""The copy-on-write playground on the lab's stand-in images (pulled from the seeded lab registry): the
operations in plain functions, and the widget driven in Python (set `.value`, `.click()`, read the HTML)."""

from __future__ import annotations

import pytest

from helpers.markup import visible_text
from labkit.containers import Containers
from labkit.errors import UsageError
from labkit.viz import playground as pg


@pytest.fixture
def lab(lab):
    """conftest's Lab holding ubuntu."""
    lab.pull("ubuntu")
    return lab


# --- the logic ----------------------------------------------------------------------------------------------

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


# --- the widget ---------------------------------------------------------------------------------------------

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
    log = visible_text(box.log_area.value)
    assert "whiteout /var/lib/dpkg" in log and "opaque /var/lib/dpkg (hides the image's /var/lib/dpkg)" in log
    assert "marker /var/lib/dpkg/.wh..wh..opq" in box.diagram.value


def test_errors_are_one_line_in_the_log(lab):
    box = pg.cow_playground(lab, name="play")
    svg = box.diagram.value
    box.operation.value = "delete"
    box.path.value = "/does/not/exist"
    box.apply_button.click()
    assert "Error: delete: /does/not/exist: No such file or directory" in visible_text(box.log_area.value)
    assert "labkit-error" in box.log_area.value and "Traceback" not in box.log_area.value
    assert box.diagram.value == svg
    box.operation.value = "chmod"
    assert box.arg.value == "600" and box.arg.description == "Mode:"
    box.arg.value = "abc"
    box.path.value = "/etc/passwd"
    box.apply_button.click()
    assert "Error: chmod: a mode is octal digits like 600 or 755, not 'abc'" in visible_text(box.log_area.value)


def test_rename_chmod_and_read_from_the_widget(lab):
    box = pg.cow_playground(lab, name="play")
    box.operation.value = "rename"
    assert box.arg.value == "/etc/os-release.old"
    box.apply_button.click()
    box.operation.value = "read"
    box.path.value = "/etc/os-release.old"
    box.apply_button.click()
    log = visible_text(box.log_area.value)
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
    (message,) = box.widget.children
    assert "labkit-error" in message.value
    assert "Error: playground on Not A Reference: No such image: Not A Reference" in message.value  # as `run` says


# --- what a saved notebook shows -------------------------------------------------------------------------

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
        "Error: playground on Not A Reference: No such image")
