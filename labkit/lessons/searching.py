"""06 · Searching: choose an image for 2026 by who publishes it and whether it is kept up to date.

`docker search` shows stars and the OFFICIAL flag; Docker Hub's pages add badges (Docker Official Image,
Verified Publisher, Sponsored OSS) and when each repository was last pushed. The lab registry knows the stars
of the lab text's day. The badges and push ages of CANDIDATES are imagined for the exercise (two of the
names, under example-*, are invented): they show the shape of the decision, not today's Docker Hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Feedback, Lesson, empty, words

OFFICIAL, VERIFIED, SPONSORED = "Docker Official Image", "Verified Publisher", "Sponsored OSS"
TRUSTED = (OFFICIAL, VERIFIED)
FRESH_DAYS = 90  # pushed within about three months: its base and packages get security fixes


@dataclass(frozen=True)
class Candidate:
    name: str
    badge: str          # "" when the repository has none
    pushed_days_ago: int

    @property
    def pushed(self) -> str:
        d = self.pushed_days_ago
        return f"{d} days ago" if d < 60 else (f"{d // 30} months ago" if d < 730 else f"{d // 365} years ago")


CANDIDATES = (
    Candidate("zookeeper", OFFICIAL, 9),
    Candidate("jplock/zookeeper", "", 7 * 365),
    Candidate("mesoscloud/zookeeper", "", 9 * 365),
    Candidate("example-oss/zookeeper", SPONSORED, 3 * 365),
    Candidate("example-corp/zookeeper", VERIFIED, 20),
)


def _stars(lab) -> dict:
    return {r.name.removeprefix("library/"): r.star_count for r in lab.search("zookeeper")}


def candidates_table(lab) -> str:
    """Return the candidates as a table: stars from the lab registry's search, badge and last push imagined."""
    stars = _stars(lab)
    rows = [("NAME", "STARS (2017)", "BADGE", "LAST PUSHED")]
    rows += [(c.name, str(stars[c.name]) if c.name in stars else "-", c.badge or "-", c.pushed) for c in CANDIDATES]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def good_choices() -> tuple[str, ...]:
    return tuple(c.name for c in CANDIDATES if c.badge in TRUSTED and c.pushed_days_ago <= FRESH_DAYS)


def check_choice(lab, answer) -> Feedback:
    name = words(answer).removeprefix("docker.io/").removeprefix("library/")
    if not name:
        return empty("a repository name from the table")
    found = {c.name: c for c in CANDIDATES}
    if name not in found:
        searched = _stars(lab)
        if name in searched:
            return Feedback(False, f"{name} was in the lab text's search, but its 'automated' flag only said its "
                                   "recipe was public, and says nothing about upkeep (Docker no longer shows it). "
                                   "Choose from the table, by badge and last push.")
        return Feedback(False, f"{name} is not one of the candidates in the table.")
    pick = found[name]
    stars = _stars(lab)
    most_starred = max((c for c in CANDIDATES if c.name in stars), key=lambda c: stars[c.name])
    if name in good_choices():
        why = "the Docker Official Image, rebuilt whenever its base gets fixes" if pick.badge == OFFICIAL else \
            "from a Verified Publisher, the company behind the software"
        return Feedback(True, f"{name}: {why}, and pushed {pick.pushed}. Then pin the digest you tested.")
    if name == most_starred.name:
        return Feedback(False, f"stars count past popularity: {name} collected them years ago and was last pushed "
                               f"{pick.pushed}, so it has had no security fix since. Look at badge and last push.")
    if pick.badge:
        return Feedback(False, f"a badge ({pick.badge}) says who publishes {name}, not that it is kept up to date: "
                               f"its last push was {pick.pushed}.")
    return Feedback(False, f"{name} has no badge (anyone can publish under their own account) and was last pushed "
                           f"{pick.pushed}.")


LESSONS = [
    Lesson("06-choose-zookeeper", "Decide: which ZooKeeper image in 2026?",
           "Which repository of the table would you run in 2026? Type its name.",
           check_choice,
           solution=lambda lab: " or ".join(good_choices()) + ": a trusted badge (Docker Official Image, Verified "
                                "Publisher) and a recent push. Stars and the old AUTOMATED flag say neither.",
           answers=lambda lab: good_choices(),
           wrong=lambda lab: (("jplock/zookeeper", "stars"), ("example-oss/zookeeper", "badge")),
           placeholder="user/name or name"),
]
