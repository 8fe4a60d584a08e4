"""00 · Start here: one prediction about names, to learn how an exercise works."""

from __future__ import annotations

from ..reference import Reference
from .base import Feedback, Lesson, empty, parse_number


def _rows_after_pull(lab, repository: str, ref: str) -> int:
    """Return how many rows `images` shows for `repository` once `ref` is pulled too (one row per name)."""
    names = {r.name.canonical for r in lab.images() if r.repository == repository and r.tag != "<none>"}
    return len(names | {Reference.parse(ref).with_default_tag().canonical})


def check_one_name(lab, answer) -> Feedback:
    n = parse_number(answer, words=("rows", "row"))
    if n is None:
        return empty("a number of rows")
    if not any(r.repository == "busybox" for r in lab.images()):
        return Feedback(False, "busybox is not on this host yet: run the `%docker pull busybox` cell first.")
    want = _rows_after_pull(lab, "busybox", "busybox:latest")
    if n == want:
        return Feedback(True, f"{n}: `busybox` already meant busybox:latest. Docker fills in :latest when a name "
                              "has no tag, so both are one name, docker.io/library/busybox:latest, and one row.")
    if n > want:
        return Feedback(False, f"{n} rows would mean `busybox` and `busybox:latest` are different names. A name "
                               "without a tag gets :latest added: both are docker.io/library/busybox:latest.")
    return Feedback(False, f"{n} rows would mean pulling removes an image you have; a pull only adds or updates.")


LESSONS = [
    Lesson("00-one-name", "Predict: one row or two?",
           "After `%docker pull busybox:latest`, how many busybox rows will `%docker images` show?",
           check_one_name,
           solution=lambda lab: "1 row: `busybox` and `busybox:latest` are the same name "
                                "(docker.io/library/busybox:latest); the pull says the image is up to date.",
           answers=lambda lab: ("1",), wrong=lambda lab: (("2", ":latest"), ("0", "removes")),
           placeholder="a number"),
]
