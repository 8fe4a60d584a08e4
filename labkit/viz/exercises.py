"""Self-check exercises: a question, a checker that gives specific feedback, and a solution shown on request.

An `Exercise` is plain data (no widgets): `exercise.check(value)` works in plain Python (text use, tests, a
lesson's checker tests). `ExerciseWidget` is its notebook face (ipywidgets, imported only then), and
`ExerciseSheet` shows several in one output. A checker returns Feedback (or a bool, a (bool, message) pair,
or a message string meaning "not yet"); whatever it raises becomes one line of feedback, never a traceback.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from .messages import ERROR_COLOUR, OK_COLOUR, error_text
from .widgetbase import NotebookWidget

OK_MARK = "Correct"
NOT_YET_MARK = "Not yet"


@dataclass(frozen=True)
class Feedback:
    """The verdict of a check: ok or not, and a message that says what to change."""

    ok: bool
    message: str = ""

    def __str__(self) -> str:
        mark = OK_MARK if self.ok else NOT_YET_MARK
        return f"{mark}: {self.message}" if self.message else mark

    def html(self) -> str:
        """Return the feedback as a small HTML block (colour plus the words Correct / Not yet)."""
        colour = OK_COLOUR if self.ok else ERROR_COLOUR
        return f'<div class="labkit-feedback" style="color:{colour}">{html.escape(str(self))}</div>'


def _as_feedback(result: Any) -> Feedback:
    if isinstance(result, Feedback):
        return result
    if isinstance(result, bool):
        return Feedback(result, "")
    if isinstance(result, str):
        return Feedback(False, result)
    if isinstance(result, tuple) and len(result) == 2:
        return Feedback(bool(result[0]), str(result[1]))
    raise TypeError(f"a check must return Feedback, a bool or a message, not {type(result).__name__}")


@dataclass(frozen=True)
class Exercise:
    """A question, a checker (answer -> Feedback), a solution kept hidden, and a placeholder for the answer field.

    `checker` receives what the student typed, or what a widget's `state` function returns (the notebook's state,
    e.g. a container the student changed). `solution` is text, or a function computing it when it is asked for
    (so it exists nowhere until a student presses Show solution). `widget()` builds its notebook face.
    """

    title: str
    question: str
    checker: Callable[[Any], Any]
    solution: "str | Callable[[], str]" = ""
    placeholder: str = ""

    def solution_text(self) -> str:
        """Return the solution (computed now when it is a function; an error reading the state is said in one line)."""
        if not callable(self.solution):
            return self.solution or "(no solution given)"
        try:
            return self.solution()
        except Exception as e:  # noqa: BLE001 - like a checker's: the state may be anything, the message is news
            return error_text(e)

    def check(self, value: Any = None) -> Feedback:
        """Return the Feedback for `value`."""
        return self._verdict(lambda: self.checker(value))

    def check_state(self, state: Callable[[], Any]) -> Feedback:
        """Return the Feedback for what `state()` returns now (an error reading the state is feedback too)."""
        return self._verdict(lambda: self.checker(state()))

    @staticmethod
    def _verdict(run: Callable[[], Any]) -> Feedback:
        # The one place lesson code meets whatever a student made: a checker (or a state function) may
        # trip over any shape of answer or state (a None, a missing key, a container in a strange state), and
        # each is news for the student, so every exception becomes Feedback(False, "Error: <one line>").
        try:
            return _as_feedback(run())
        except Exception as e:  # noqa: BLE001 - see above: any error of a checker is feedback
            return Feedback(False, error_text(e))

    def widget(self, state: "Optional[Callable[[], Any]]" = None) -> "ExerciseWidget":
        """Return the notebook face: the question, an answer field (unless `state` is given), Check, Show solution."""
        return ExerciseWidget(self, state)


class ExerciseWidget(NotebookWidget):
    """An exercise in a notebook: the question, an answer field, Check and Show solution buttons, the feedback.

    With `state` (a function the notebook passes, e.g. `lambda: lab.container("task")`), Check checks what
    `state()` returns and there is no answer field; otherwise it checks the text typed in `.answer`.
    Controls: .answer (Text or None), .check_button, .solution_button, .feedback (HTML), .solution_area (HTML).
    """

    def __init__(self, exercise: Exercise, state: "Optional[Callable[[], Any]]" = None):
        import ipywidgets as w

        self.exercise = exercise
        self.state = state
        self.solution_shown = False
        self.answer = None
        if state is None:
            self.answer = w.Text(placeholder=exercise.placeholder, description="Answer:",
                                 layout=w.Layout(width="32em"), continuous_update=False)
        self.check_button = w.Button(description="Check", tooltip=f"Check your answer to: {exercise.title}",
                                     button_style="primary", icon="check")
        self.solution_button = w.Button(description="Show solution", tooltip="Reveal the solution", icon="eye")
        self.feedback = w.HTML("")
        self.solution_area = w.HTML("", layout=w.Layout(display="none"))
        self.check_button.on_click(self.check)
        self.solution_button.on_click(self.toggle_solution)
        rows = [w.HTML(f"<b>{html.escape(exercise.title)}</b>"),
                w.HTML(f"<div>{html.escape(exercise.question)}</div>")]
        rows += [self.answer] if self.answer is not None else []
        rows += [w.HBox([self.check_button, self.solution_button]), self.feedback, self.solution_area]
        self.widget = w.VBox(rows)
        self.widget.add_class("labkit-exercise")

    def check(self, _button=None) -> Feedback:
        """Check the answer (or the notebook's state) and show the Feedback; return it."""
        if self.state is not None:
            verdict = self.exercise.check_state(self.state)
        else:
            verdict = self.exercise.check(self.answer.value)
        self.feedback.value = verdict.html()
        return verdict

    def toggle_solution(self, _button=None) -> None:
        """Show the solution, or hide it again."""
        self.solution_shown = not self.solution_shown
        if self.solution_shown:
            self.solution_area.value = f"<pre>{html.escape(self.exercise.solution_text())}</pre>"
            self.solution_area.layout.display = None
            self.solution_button.description = "Hide solution"
        else:
            self.solution_area.value = ""
            self.solution_area.layout.display = "none"
            self.solution_button.description = "Show solution"

    def describe(self) -> str:
        return f"Exercise: {self.exercise.title}"

    def details(self) -> str:
        return self.exercise.question

    def details_html(self) -> str:
        return f"<p>{html.escape(self.exercise.question)}</p>"


class ExerciseSheet(NotebookWidget):
    """Several exercises in one output, one under the other; `.exercises` holds their ExerciseWidgets."""

    def __init__(self, exercises: Iterable[Exercise]):
        import ipywidgets as w

        self.exercises = [e if isinstance(e, ExerciseWidget) else e.widget() for e in exercises]
        self.widget = w.VBox([e.widget for e in self.exercises])
        self.widget.add_class("labkit-exercise-sheet")

    def describe(self) -> str:
        return f"{len(self.exercises)} exercises"

    def details(self) -> str:
        return "\n".join(f"{e.exercise.title}: {e.exercise.question}" for e in self.exercises)

    def details_html(self) -> str:
        items = "".join(f"<li><b>{html.escape(e.exercise.title)}</b>: {html.escape(e.exercise.question)}</li>"
                        for e in self.exercises)
        return f"<ul>{items}</ul>"


# --- ready-made checks ---------------------------------------------------------------------------------

def expect_count(expected: int, noun: str, subject: str = "your image",
                 count: Callable[[Any], int] = len) -> Callable[[Any], Feedback]:
    """Return a check that counts things in a value: "your image has 2 layers; the task asks for 3 (add one more)"."""
    words = {1: "one", 2: "two", 3: "three"}

    def plural(n: int) -> str:
        return f"{n} {noun}" + ("" if n == 1 else "s")

    def check(value: Any) -> Feedback:
        n = count(value)
        if n == expected:
            return Feedback(True, f"{subject} has {plural(n)}.")
        diff = expected - n
        how = f"add {words.get(diff, str(diff))} more" if diff > 0 else \
            f"remove {words.get(-diff, str(-diff))}"
        return Feedback(False, f"{subject} has {plural(n)}; the task asks for {expected} ({how}).")

    return check


def expect_text(answers: "str | Iterable[str]", hint: str = "",
                normalize: "Optional[Callable[[str], str]]" = None) -> Callable[[Any], Feedback]:
    """Return a check that accepts any of `answers` (compared after `normalize`, default: strip + lower case)."""
    norm = normalize or (lambda s: " ".join(str(s).split()).lower())
    accepted = [answers] if isinstance(answers, str) else list(answers)
    wanted = {norm(a) for a in accepted}

    def check(value: Any) -> Feedback:
        text = "" if value is None else str(value)
        if not text.strip():
            return Feedback(False, "type an answer first.")
        if norm(text) in wanted:
            return Feedback(True, f"{text.strip()} is right.")
        return Feedback(False, f"{text.strip()} is not it." + (f" Hint: {hint}" if hint else ""))

    return check


def expect_reference(canonical: str, hint: str = "") -> Callable[[Any], Feedback]:
    """Return a check accepting any reference that means `canonical` ("ubuntu" is docker.io/library/ubuntu:latest)."""
    from ..reference import Reference

    want = Reference.parse(canonical).canonical

    def check(value: Any) -> Feedback:
        text = "" if value is None else str(value).strip()
        if not text:
            return Feedback(False, "type an image reference first.")
        got = Reference.parse(text)  # InvalidReference becomes one line of feedback (Exercise.check)
        if got.canonical == want:
            return Feedback(True, f"{text} means {want}.")
        return Feedback(False, f"{text} means {got.canonical}, not {want}." + (f" Hint: {hint}" if hint else ""))

    return check
