"""What a lesson's exercise is: a question, a checker against the lab's real state, a solution kept hidden.

A `Lesson` is plain data: `check(lab, answer)` returns Feedback whose message, when the answer is wrong,
names the misconception behind it ("that counts the whole image as shared"), not only "wrong". `solution(lab)`
is computed when a student asks for it, never before, so no notebook output can hold it. `answers(lab)` and
`wrong(lab)` are the accepted answers and typical wrong ones with a word their feedback must contain: the
tests (and the browser test) type them. A lesson with `state=True` checks what the student did (a container,
a registry) and has no answer field; `task(lab)`, when given, does what such an exercise asks, so a test can
see the checker accept the real result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..viz.exercises import Feedback

Answers = Callable[[Any], "tuple[str, ...]"]


def _none(_lab) -> tuple:
    return ()


@dataclass(frozen=True)
class Lesson:
    """One exercise of one notebook ("05-shared-size"): see the module's docstring."""

    key: str
    title: str
    question: str
    check: Callable[[Any, Any], Feedback]
    solution: Callable[[Any], str]
    answers: Answers = field(default=_none)
    wrong: Callable[[Any], "tuple[tuple[str, str], ...]"] = field(default=_none)
    placeholder: str = ""
    state: bool = False
    task: "Callable[[Any], None] | None" = None  # does what the exercise asks (tests: the checker accepts the result)

    @property
    def notebook(self) -> str:
        """Return the notebook number the lesson belongs to ("05")."""
        return self.key[:2]


# --- reading what a student typed --------------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_SIZE = re.compile(r"^\s*~?\s*(\d+(?:[.,]\d+)?)\s*([a-z]*)\s*$")


def parse_size(text: Any) -> "int | None":
    """Return a size in bytes from what a student typed ("7.47 MB", "7.47MB", "7473152", "0", "2 mb"), or None."""
    match = _SIZE.match(str(text or "").lower())
    if not match or match.group(2) not in _UNITS:
        return None
    return int(float(match.group(1).replace(",", ".")) * _UNITS[match.group(2)])


def close_to(value: int, target: int, tolerance: float = 0.05) -> bool:
    """Return True when `value` is within `tolerance` (a fraction) of `target`: 3 shown digits round."""
    return abs(value - target) <= max(tolerance * target, 600)


def parse_number(text: Any, words: "tuple[str, ...]" = ("layer",)) -> "int | None":
    """Return the whole number a student typed ("2", "layer 2", " 2 "), or None."""
    cleaned = str(text or "").strip().lower()
    for word in words:
        cleaned = cleaned.replace(word, " ")
    cleaned = cleaned.strip(" .#")
    return int(cleaned) if cleaned.isdigit() else None


def words(text: Any) -> str:
    """Return an answer in lower case with single spaces ("  Docker  Hub " -> "docker hub")."""
    return " ".join(str(text or "").lower().split())


def yes_no(text: Any) -> "bool | None":
    """Return True for yes, False for no (with a few spellings), None for anything else."""
    first = words(text).split(" ")[0].strip(".,!") if words(text) else ""
    if first in ("yes", "y", "oui", "ja", "true"):
        return True
    if first in ("no", "n", "non", "nein", "false"):
        return False
    return None


def empty(kind: str) -> Feedback:
    """Return the feedback for an empty answer: say what to type."""
    return Feedback(False, f"type {kind} first.")


# --- the two Dockers ----------------------------------------------------------------------------------------

DOCKER_NAMES = {"graphdriver": "the lab text's Docker", "containerd": "Docker 29"}  # by image store


def both_stores(lab) -> "dict[str, Any]":
    """Return {"graphdriver": Lab, "containerd": Lab}: `lab`'s home as each Docker shows it. A student may
    read either Docker's figures (the notebook shows both), so a checker compares with both."""
    from ..daemonconfig import CONTAINERD, GRAPHDRIVER
    from ..lab import Lab

    return {store: lab if lab.image_store == store else Lab(lab.home, image_store=store)
            for store in (GRAPHDRIVER, CONTAINERD)}
