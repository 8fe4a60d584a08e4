"""The lab's exercises (labkit.lessons): each checker against a lab in its notebook's state.

For every lesson: its accepted answers pass; each typical wrong answer fails with feedback naming the
misconception (a word the test expects); an empty answer says what to type; the solution is computed only when
asked. Lessons that check what the student did start "not yet" and pass once the task is really done.
"""

from __future__ import annotations

import pytest

from helpers.lessons import notebook_state
from helpers.registries import start_lab_registry
from labkit.home import save_settings
from labkit.lessons import as_exercise, exercise, lesson, lessons
from labkit.lessons.base import parse_size, yes_no

TYPED = [key for key, found in lessons().items() if not found.state]


def test_keys_are_unique_and_name_their_notebook():
    found = lessons()
    assert len(found) >= 18
    for key, item in found.items():
        assert item.key == key and key[:2].isdigit() and key[2] == "-"
        assert item.question and item.title
    assert {item.notebook for item in found.values()} == {f"{n:02}" for n in range(11)}


def test_an_unknown_key_names_the_known_ones():
    with pytest.raises(KeyError, match="05-shared-size"):
        lesson("05-no-such-thing")


@pytest.mark.parametrize("key", TYPED)
def test_right_answers_pass_and_wrong_ones_name_the_misconception(key, lab):
    item = lesson(key)
    notebook_state(lab, item.notebook)
    if item.task:
        item.task(lab)
    right = item.answers(lab)
    assert right, f"{key} declares no accepted answer"
    for answer in right:
        verdict = item.check(lab, answer)
        assert verdict.ok, f"{key}: {answer!r} -> {verdict}"
    wrong = item.wrong(lab)
    assert wrong, f"{key} declares no typical wrong answer"
    for answer, word in wrong:
        verdict = item.check(lab, answer)
        assert not verdict.ok, f"{key}: {answer!r} passed"
        assert word.lower() in verdict.message.lower(), f"{key}: {answer!r} -> {verdict.message}"
    assert not item.check(lab, "").ok and not item.check(lab, None).ok
    assert item.solution(lab)


def test_the_shared_size_lesson_accepts_either_dockers_figure_and_says_which(lab):
    """05: the notebook shows `system df -v` on both stores; each store's SHARED SIZE is right, and the feedback
    names the other Docker's figure and why they differ (Docker 29 also counts the compressed blob)."""
    from labkit.lessons.base import both_stores

    notebook_state(lab, "05")
    rows = {store: next(r for r in each.system_df()["images"] if r["repository"] == "httpd")
            for store, each in both_stores(lab).items()}
    assert rows["containerd"]["shared_size"] > rows["graphdriver"]["shared_size"] > 0
    item = lesson("05-shared-size")
    on_29 = item.check(lab, f"{rows['containerd']['shared_size'] / 1e6:.2f}MB")
    assert on_29.ok and "Docker 29" in on_29.message and "compressed" in on_29.message
    on_text = item.check(lab, f"{rows['graphdriver']['shared_size'] / 1e6:.2f} MB")
    assert on_text.ok and "unpacked files" in on_text.message
    whole_29 = item.check(lab, f"{rows['containerd']['size'] / 1e6:.2f}MB")
    assert not whole_29.ok and "whole SIZE" in whole_29.message
    assert "on Docker 29" in item.solution(lab) and "on the lab text's Docker" in item.solution(lab)


def test_the_id_to_pin_lesson_takes_docker_29s_id_and_refuses_the_config_digest(lab):
    notebook_state(lab, "09")
    record = lab.image("ubuntu")
    assert record.target != record.image_id                  # two stores, two IMAGE IDs
    item = lesson("09-id-to-pin")
    for typed in (record.target.hex[:12], str(record.target), "docker 29's", "containerd"):
        assert item.check(lab, typed).ok, typed
    refused = item.check(lab, record.image_id.hex[:12])
    assert not refused.ok and "config" in refused.message
    assert "ID" in item.check(lab, "banana").message


def test_a_pinned_digest_is_named_as_docker_29s_image_id(lab):
    from labkit.lessons.pulling import pull_digest

    notebook_state(lab, "07")
    digest = pull_digest(lab.image("debian:jessie"))
    verdict = lesson("07-pin").check(lab, f"debian:jessie@{digest}")
    assert verdict.ok and "IMAGE ID Docker 29 shows" in verdict.message


def test_the_change_task_lesson_checks_the_container(lab):
    from labkit.lessons.containers import do_task

    notebook_state(lab, "02")
    lab.create("ubuntu", name="task")
    item = lesson("02-change-task")
    before = item.check(lab, None)
    assert not before.ok and "A /etc/motd" in before.message
    do_task(lab)
    assert item.check(lab, None).ok


def test_the_build_lessons_check_by_building(lab):
    from labkit.lessons import building

    notebook_state(lab, "10")
    building.reorder_context(lab)
    reorder = lesson("10-reorder")
    before = reorder.check(lab, None)
    assert not before.ok and "COPY . ." in before.message              # the misconception, named
    building.do_reorder(lab)
    assert reorder.check(lab, None).ok
    (building.reorder_dir(lab) / "Dockerfile").write_text("FROM busybox\nCOPY app.py /app/\n")
    assert "dependencies" in reorder.check(lab, None).message
    fat = building.fat_context(lab)
    lab.build(fat, tags=[building.FAT])
    shrink = lesson("10-multi-stage")
    assert "no image" in shrink.check(lab, None).message
    (fat / "Dockerfile.rm").write_text(building.FAT_DOCKERFILE + "RUN rm -r /opt/toolchain /src\n")
    lab.build(fat, tags=[building.SMALL], dockerfile=fat / "Dockerfile.rm")
    assert "still weighs" in shrink.check(lab, None).message            # deleted later: still in a layer
    building.do_multi_stage(lab)
    assert shrink.check(lab, None).ok


def test_the_one_more_layer_lesson_checks_the_image(lab):
    from labkit.lessons.making import make_v2

    notebook_state(lab, "03")
    item = lesson("03-one-more-layer")
    assert "no image" in item.check(lab, "myubuntu:v2").message
    make_v2(lab)
    assert item.check(lab, "myubuntu:v2").ok


def test_the_push_lesson_asks_the_registry(lab, tmp_path):
    registry = start_lab_registry(tmp_path)
    try:
        save_settings(lab.home, {"registry-mirrors": [lab.settings()["registry-mirrors"][0]]})
        lab.pull("busybox")
        save_settings(lab.home, {"registry-mirrors": [registry.url]})
        item = lesson("04-push-training")
        assert "no training/busybox" in item.check(lab, None).message
        lab.tag("busybox", f"{registry.address}/training/busybox:latest")
        lab.push(f"{registry.address}/training/busybox:latest")
        assert "not v1" in item.check(lab, None).message
        lab.tag("busybox", f"{registry.address}/training/busybox:v1")
        lab.push(f"{registry.address}/training/busybox:v1")
        assert item.check(lab, None).ok
    finally:
        registry.stop()


def test_the_widget_checks_and_shows_the_solution_only_when_asked(lab):
    notebook_state(lab, "07")
    view = exercise("07-pin", lab)
    assert view.solution_area.value == "" and "sha256" not in view.fallback_text()
    view.answer.value = "debian:jessie"
    assert not view.check().ok and "Not yet" in view.feedback.value
    view.answer.value = lesson("07-pin").answers(lab)[0]
    assert view.check().ok and "Correct" in view.feedback.value
    view.toggle_solution()
    assert "@sha256:" in view.solution_area.value


def test_a_lesson_needs_a_lab_when_no_notebook_ran(monkeypatch):
    from labkit import notebook

    monkeypatch.setattr(notebook, "_CURRENT", [])
    with pytest.raises(Exception, match="setup"):
        as_exercise("00-one-name")


@pytest.mark.parametrize("text, size", [("7.47 MB", 7470000), ("7.47MB", 7470000), ("7473152", 7473152),
                                        ("0", 0), ("0 B", 0), ("2 mb", 2000000), ("1,5 kB", 1500), ("12 KiB", 12288),
                                        ("lots", None), ("", None), ("7.47 XB", None)])
def test_sizes_as_students_type_them(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text, said", [("yes", True), ("No.", False), ("  n ", False), ("no, never", False),
                                        ("maybe", None), ("", None)])
def test_yes_and_no(text, said):
    assert yes_no(text) is said


@pytest.mark.parametrize("umask", [0o002, 0o000])
def test_the_build_contexts_make_the_same_image_whatever_the_umask(lab, umask):
    """COPY keeps a file's mode: the lessons' contexts set theirs, so notebook 10's image IDs are everyone's
    (a umask of 002, or none at all as in the browser, would otherwise change them)."""
    import os

    from labkit.lessons import building

    notebook_state(lab, "10")
    lab.build(building.hello_context(lab), tags=["hello:022"])
    old = os.umask(umask)
    try:
        ctx = building.hello_context(lab)
        assert {oct(p.stat().st_mode & 0o777) for p in ctx.iterdir()} == {"0o644"}
        assert oct(ctx.stat().st_mode & 0o777) == "0o755"
        lab.build(ctx, tags=["hello:other"])
    finally:
        os.umask(old)
    assert lab.image("hello:other").digest == lab.image("hello:022").digest
