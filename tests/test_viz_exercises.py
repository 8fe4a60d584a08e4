"""The self-check framework: checks in plain Python, and the widget driven with .value and .click()."""

from __future__ import annotations

import pytest

from labkit.errors import InvalidReference, LabkitError, NotFound
from labkit.viz.exercises import Exercise, ExerciseSheet, Feedback, expect_count, expect_reference, expect_text
from labkit.viz.messages import error_line


def layers_exercise() -> Exercise:
    return Exercise("Add a layer", "Commit a change so that your image has 3 layers.",
                    expect_count(3, "layer"), solution="labkit commit web1 myimage")


@pytest.mark.parametrize("result, expected", [
    (Feedback(True, "well done"), Feedback(True, "well done")),
    (True, Feedback(True, "")),
    (False, Feedback(False, "")),
    ("the tag is missing", Feedback(False, "the tag is missing")),
    ((True, "fine"), Feedback(True, "fine")),
])
def test_check_accepts_feedback_bool_message_or_pair(result, expected):
    assert Exercise("t", "p", lambda v: result).check("x") == expected


@pytest.mark.parametrize("exc, message", [
    (NotFound("image myimage: not found in the store"), "Error: image myimage: not found in the store"),
    (InvalidReference('invalid reference "Ubuntu": must be lowercase'),
     'Error: invalid reference "Ubuntu": must be lowercase'),
    (KeyError("Layers"), "Error: KeyError: 'Layers'"),
    (ValueError("first line\nsecond line\n  File x"), "Error: ValueError: first line"),
    (ZeroDivisionError(), "Error: ZeroDivisionError"),
])
def test_errors_in_a_check_become_one_line(exc, message):
    def check(value):
        raise exc

    fb = Exercise("t", "p", check).check(1)
    assert fb == Feedback(False, message)
    assert "\n" not in fb.message and "Traceback" not in fb.message


def test_a_check_returning_nonsense_is_reported_not_raised():
    fb = Exercise("t", "p", lambda v: 42).check(1)
    assert not fb.ok and fb.message == "Error: TypeError: a check must return Feedback, a bool or a message, not int"


def test_error_line():
    assert error_line(LabkitError("")) == "LabkitError"
    assert error_line(RuntimeError("  boom  \nmore")) == "RuntimeError: boom"


@pytest.mark.parametrize("count, message", [
    (2, "your image has 2 layers; the task asks for 3 (add one more)."),
    (1, "your image has 1 layer; the task asks for 3 (add two more)."),
    (7, "your image has 7 layers; the task asks for 3 (remove 4)."),
    (4, "your image has 4 layers; the task asks for 3 (remove one)."),
])
def test_expect_count_says_what_to_change(count, message):
    fb = layers_exercise().check(["layer"] * count)
    assert fb == Feedback(False, message)
    assert str(fb) == "Not yet: " + message


def test_expect_count_ok_and_custom_counter():
    assert layers_exercise().check([1, 2, 3]) == Feedback(True, "your image has 3 layers.")
    check = expect_count(2, "tag", "the repository", count=lambda repo: len(repo["tags"]))
    assert check({"tags": ["a"]}).message == "the repository has 1 tag; the task asks for 2 (add one more)."


def test_expect_text_and_expect_reference():
    check = expect_text(["library", "library/"], hint="official images live under one prefix")
    assert check("  Library ").ok
    assert check("") == Feedback(False, "type an answer first.")
    assert check("official").message == "official is not it. Hint: official images live under one prefix"
    ref = Exercise("Canonical", "Which image is this?", expect_reference("ubuntu"))
    assert ref.check("docker.io/library/ubuntu:latest") == Feedback(
        True, "docker.io/library/ubuntu:latest means docker.io/library/ubuntu:latest.")
    assert ref.check("ubuntu:22.04").message == ("ubuntu:22.04 means docker.io/library/ubuntu:22.04, "
                                                 "not docker.io/library/ubuntu:latest.")
    bad = ref.check("Ubuntu")
    assert not bad.ok and bad.message.startswith('Error: invalid reference "Ubuntu"')


def test_feedback_html_has_words_not_only_colour():
    assert ">Correct: fine<" in Feedback(True, "fine").html()
    assert ">Not yet: a &lt;b&gt;<" in Feedback(False, "a <b>").html()
    assert str(Feedback(True)) == "Correct"


# --- the widget ---------------------------------------------------------------------------------------

def test_widget_with_an_answer_field():
    ex = Exercise("Canonical form", "Write the canonical form of `ubuntu`.",
                  expect_text("docker.io/library/ubuntu:latest"), solution="docker.io/library/ubuntu:latest",
                  placeholder="registry/path:tag")
    box = ex.widget()
    assert box.answer.description == "Answer:" and box.answer.placeholder == "registry/path:tag"
    assert box.check_button.description == "Check" and box.solution_button.description == "Show solution"
    assert box.feedback.value == ""
    box.answer.value = "ubuntu:latest"
    box.check_button.click()
    assert "Not yet: ubuntu:latest is not it." in box.feedback.value
    box.answer.value = "docker.io/library/ubuntu:latest"
    box.check_button.click()
    assert "Correct: docker.io/library/ubuntu:latest is right." in box.feedback.value


def test_solution_is_hidden_until_clicked():
    box = layers_exercise().widget()
    assert "labkit commit" not in box.solution_area.value
    assert box.solution_area.layout.display == "none"
    box.solution_button.click()
    assert "labkit commit web1 myimage" in box.solution_area.value
    assert box.solution_area.layout.display is None
    assert box.solution_button.description == "Hide solution"
    box.solution_button.click()
    assert box.solution_area.value == "" and box.solution_button.description == "Show solution"


def test_widget_with_a_state_function():
    layers = ["base", "app"]
    box = layers_exercise().widget(state=lambda: layers)
    assert box.answer is None  # the notebook's state is checked, nothing to type
    box.check_button.click()
    assert "your image has 2 layers; the task asks for 3 (add one more)." in box.feedback.value
    layers.append("config")
    box.check_button.click()
    assert "Correct: your image has 3 layers." in box.feedback.value


@pytest.mark.parametrize("exc, shown", [
    (NotFound("image myimage: not found"), "Not yet: Error: image myimage: not found"),
    (AttributeError("'NoneType' object has no attribute 'layers'"),
     "Not yet: Error: AttributeError: &#x27;NoneType&#x27; object has no attribute &#x27;layers&#x27;"),
])
def test_errors_in_the_state_function_show_one_line(exc, shown):
    def state():
        raise exc

    box = layers_exercise().widget(state=state)
    box.check_button.click()
    assert shown in box.feedback.value
    assert "Traceback" not in box.feedback.value


def test_errors_in_the_check_show_one_line_in_the_widget():
    def check(value):
        raise LabkitError("inspect x: no such container\nsecond line")

    box = Exercise("t", "p", check).widget()
    box.answer.value = "x"
    box.check_button.click()
    assert "Not yet: Error: inspect x: no such container<" in box.feedback.value
    assert "second line" not in box.feedback.value


def test_prompt_and_title_are_escaped():
    box = Exercise("<script>", "a < b", bool).widget()
    html_text = box.widget.children[0].value + box.widget.children[1].value
    assert "<script>" not in html_text and "&lt;script&gt;" in html_text and "a &lt; b" in html_text


# --- the exercise is data, the widget its face -------------------------------------------------------------

def test_an_exercise_is_plain_data():
    ex = layers_exercise()
    assert (ex.title, ex.question, ex.solution) == ("Add a layer", "Commit a change so that your image has 3 layers.",
                                                    "labkit commit web1 myimage")
    assert ex.checker(["a", "b", "c"]) == Feedback(True, "your image has 3 layers.")
    with pytest.raises(AttributeError):
        ex.title = "changed"  # frozen: a lesson's exercise is shared by every widget made from it
    assert ex.check_state(lambda: [1, 2, 3]).ok
    assert ex.check_state(lambda: {}["missing"]) == Feedback(False, "Error: KeyError: 'missing'")


def test_widget_methods_check_and_toggle_like_the_buttons():
    box = layers_exercise().widget(state=lambda: [1, 2, 3])
    assert box.check() == Feedback(True, "your image has 3 layers.")
    assert "Correct" in box.feedback.value
    box.toggle_solution()
    assert box.solution_shown and "labkit commit" in box.solution_area.value
    box.toggle_solution()
    assert not box.solution_shown and box.solution_area.value == ""


def test_a_saved_notebook_shows_the_question_but_never_the_solution():
    bundle = layers_exercise().widget()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == ("Exercise: Add a layer \u2014 run this cell to use it\n"
                                    "Commit a change so that your image has 3 layers.")
    assert "<p>Commit a change so that your image has 3 layers.</p>" in bundle["text/html"]
    assert "labkit commit" not in bundle["text/plain"] + bundle["text/html"]


def test_an_exercise_sheet_shows_several_exercises_in_one_output():
    quiz = [Exercise("Namespaces (1/2)", "Where is <hcscompany/clock>?", expect_text("user"), solution="user"),
            layers_exercise()]
    sheet = ExerciseSheet(quiz)
    assert [e.exercise for e in sheet.exercises] == quiz
    assert sheet.widget.children == tuple(e.widget for e in sheet.exercises)
    sheet.exercises[0].answer.value = "user"
    sheet.exercises[0].check_button.click()
    assert "Correct: user is right." in sheet.exercises[0].feedback.value
    bundle = sheet._repr_mimebundle_()
    assert bundle["text/plain"] == ("2 exercises \u2014 run this cell to use it\n"
                                    "Namespaces (1/2): Where is <hcscompany/clock>?\n"
                                    "Add a layer: Commit a change so that your image has 3 layers.")
    assert "<li><b>Namespaces (1/2)</b>: Where is &lt;hcscompany/clock&gt;?</li>" in bundle["text/html"]
