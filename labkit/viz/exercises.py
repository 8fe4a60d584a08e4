"""Self-check exercises: a task, a check that gives specific feedback, and a solution shown only on request.

`Exercise.check(value)` works in plain Python (text use, tests); `Exercise.widget()` builds the ipywidgets
face (imported only then). A check function returns Feedback (or a bool, or a message string meaning
"not yet"); whatever it raises is turned into one line of feedback, never a traceback (DESIGN section 4).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from ..errors import LabkitError

OK_MARK = "Correct"
NOT_YET_MARK = "Not yet"
ERROR_MARK = "Error"


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
        colour = "#1b5e20" if self.ok else "#8a1c1c"
        return f'<div class="labkit-feedback" style="color:{colour}">{html.escape(str(self))}</div>'


def error_line(exc: BaseException) -> str:
    """Return an exception as the one line a student sees (labkit errors: their message; others: type and message)."""
    text = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else ""
    if isinstance(exc, LabkitError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


class Exercise:
    """A task with a check (value -> Feedback) and a hidden solution; `.widget()` is its notebook face."""

    def __init__(self, title: str, prompt: str, check: Callable[[Any], Any], solution: str = "",
                 placeholder: str = ""):
        self.title = title
        self.prompt = prompt
        self.check_fn = check
        self.solution = solution
        self.placeholder = placeholder

    def __repr__(self) -> str:
        return f"Exercise({self.title!r})"

    def check(self, value: Any = None) -> Feedback:
        """Return the Feedback for `value`; an error in the check becomes Feedback(False, "Error: <one line>")."""
        try:
            return _as_feedback(self.check_fn(value))
        except (LabkitError, Exception) as e:  # noqa: B014 - both named on purpose (DESIGN 4)
            return Feedback(False, f"{ERROR_MARK}: {error_line(e)}")

    def widget(self, state: "Optional[Callable[[], Any]]" = None):
        """Return an ipywidgets box: the task, an answer field (unless `state` is given), Check and Show solution.

        With `state` (a function the notebook passes, e.g. `lambda: lab.image("myimage")`), Check runs the
        check on `state()`; otherwise on the text typed in the answer field. Attributes for tests and
        notebooks: .answer (Text or None), .check_button, .solution_button, .feedback (HTML), .solution_area (HTML).
        """
        import ipywidgets as w

        title = w.HTML(f"<b>{html.escape(self.title)}</b>")
        prompt = w.HTML(f"<div>{html.escape(self.prompt)}</div>")
        answer = None
        if state is None:
            answer = w.Text(placeholder=self.placeholder, description="Answer:",
                            layout=w.Layout(width="32em"), continuous_update=False)
        check_button = w.Button(description="Check", tooltip=f"Check your answer to: {self.title}",
                                button_style="primary", icon="check")
        solution_button = w.Button(description="Show solution", tooltip="Reveal the solution",
                                   icon="eye")
        feedback = w.HTML("")
        solution_area = w.HTML("", layout=w.Layout(display="none"))

        def on_check(_button=None) -> None:
            try:
                value = state() if state is not None else answer.value
            except (LabkitError, Exception) as e:  # noqa: B014
                feedback.value = Feedback(False, f"{ERROR_MARK}: {error_line(e)}").html()
                return
            feedback.value = self.check(value).html()

        def on_solution(_button=None) -> None:
            if solution_area.layout.display == "none":
                solution_area.value = f"<pre>{html.escape(self.solution or '(no solution given)')}</pre>"
                solution_area.layout.display = None
                solution_button.description = "Hide solution"
            else:
                solution_area.value = ""
                solution_area.layout.display = "none"
                solution_button.description = "Show solution"

        check_button.on_click(on_check)
        solution_button.on_click(on_solution)
        rows = [title, prompt] + ([answer] if answer is not None else []) + \
            [w.HBox([check_button, solution_button]), feedback, solution_area]
        box = w.VBox(rows)
        box.exercise = self
        box.answer = answer
        box.check_button = check_button
        box.solution_button = solution_button
        box.feedback = feedback
        box.solution_area = solution_area
        return box


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
        got = Reference.parse(text)  # InvalidReference becomes one line of feedback
        if got.canonical == want:
            return Feedback(True, f"{text} means {want}.")
        return Feedback(False, f"{text} means {got.canonical}, not {want}." + (f" Hint: {hint}" if hint else ""))

    return check
