"""08 · Tags: a script that must get the same image again, and whether a version tag is enough."""

from __future__ import annotations

from .base import Feedback, Lesson, empty, yes_no
from .pulling import check_pin, pull_digest

MYAPP = "localhost:5000/myapp"


def check_repeatable(lab, answer) -> Feedback:
    return check_pin(lab, answer, image=MYAPP, verb="is now (version 2)")


def check_version_tag(lab, answer) -> Feedback:
    said = yes_no(answer)
    if said is None:
        return empty("yes or no")
    if said is False:
        return Feedback(True, "no: a version tag names a version, not bytes. Publishers rebuild debian:8 (or "
                              "bookworm) for every security fix and move the tag, so two servers a month apart can "
                              "get different images. Only a digest never moves.")
    return Feedback(False, "that assumes a version tag is frozen. Only `latest` moves often, but version tags move "
                           "too: each rebuild with fixes gets the same tag and a new digest.")


LESSONS = [
    Lesson("08-repeatable", "Decide: make the script repeatable",
           f"Rewrite `docker pull {MYAPP}` so the script always gets version 2, as it is now.",
           check_repeatable,
           solution=lambda lab: f"{MYAPP}@{pull_digest(lab.image(MYAPP))}: the Digest: line of the last pull.",
           answers=lambda lab: (f"{MYAPP}@{pull_digest(lab.image(MYAPP))}",),
           wrong=lambda lab: ((f"{MYAPP}:latest", "tag"),),
           placeholder=f"{MYAPP}..."),
    Lesson("08-version-tag", "Predict: is a version tag enough?",
           "Two servers run `docker pull debian:8` a month apart. Will they always get the same image (yes/no)?",
           check_version_tag,
           solution=lambda lab: "No: version tags are moved to each rebuild; a digest is the only fixed name.",
           answers=lambda lab: ("no",), wrong=lambda lab: (("yes", "frozen"),),
           placeholder="yes or no"),
]
