"""The lab's exercises, out of the notebooks: a notebook cell calls `exercise("05-shared-size")` and nothing more.

Each lesson (labkit.lessons.base.Lesson) asks for a prediction or a decision and checks it against the real
state of the notebook's lab (its images, containers, registry), with feedback that names the misconception
behind a wrong answer. The solution is computed only when a student presses "Show solution", so no saved
output holds it; the question's full text lives in the notebook's markdown above the widget.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .base import Lesson

_MODULES = ("start", "image", "containers", "making", "namespaces", "showing", "searching", "pulling", "tags",
            "summary", "building")


def lessons() -> "dict[str, Lesson]":
    """Return every lesson by key, in notebook order."""
    import importlib

    found = {}
    for name in _MODULES:
        for lesson in importlib.import_module(f".{name}", __name__).LESSONS:
            if lesson.key in found:
                raise ValueError(f"two lessons named {lesson.key}")
            found[lesson.key] = lesson
    return found


def lesson(key: str) -> Lesson:
    """Return the lesson named `key` ("05-shared-size"); a KeyError names the known ones."""
    known = lessons()
    if key not in known:
        raise KeyError(f"no lesson {key!r}; known: {', '.join(known)}")
    return known[key]


def _current_lab(lab: Any):
    if lab is not None:
        return lab
    from ..notebook import current_lab

    return current_lab()


def as_exercise(key: str, lab: Any = None):
    """Return the lesson as a plain Exercise bound to `lab` (default: the notebook's, from notebook.setup)."""
    from ..viz.exercises import Exercise

    found, lab = lesson(key), _current_lab(lab)
    return Exercise(found.title, found.question, partial(found.check, lab), solution=partial(found.solution, lab),
                    placeholder=found.placeholder)


def exercise(key: str, lab: Any = None):
    """Return the notebook widget of lesson `key`: the question, an answer field (none for a lesson that checks
    what the student did), Check, and Show solution."""
    found = lesson(key)
    return as_exercise(key, lab).widget(state=(lambda: None) if found.state else None)


def exercise_sheet(*keys: str, lab: Any = None):
    """Return several lessons' widgets in one output (the summary's self-check)."""
    from ..viz.exercises import ExerciseSheet

    return ExerciseSheet([exercise(key, lab) for key in keys])
