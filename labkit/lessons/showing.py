"""05 · Showing images: predict a SHARED SIZE before `docker system df -v` shows it."""

from __future__ import annotations

from ..formatting import human_size
from .base import Feedback, Lesson, close_to, empty, parse_size

IMAGE = "httpd"


def _row(lab, repository: str) -> dict:
    return next(r for r in lab.system_df()["images"] if r["repository"] == repository)


def check_shared_size(lab, answer) -> Feedback:
    size = parse_size(answer)
    if size is None:
        return empty("a size such as 1.2 MB")
    row = _row(lab, IMAGE)
    shared, total, unique = row["shared_size"], row["size"], row["unique_size"]
    if close_to(size, shared):
        return Feedback(True, f"{human_size(shared)}: the layers {IMAGE} has in common with another image (the "
                              "Debian base it shares with node), counted once, whatever the number of images "
                              "sharing them.")
    if size == 0:
        return Feedback(False, "0 assumes images share layers only when one is built on the other. Any two images "
                               f"that start from the same base share its layers: look at {IMAGE}'s bottom layer.")
    if close_to(size, total):
        return Feedback(False, f"{human_size(total)} is {IMAGE}'s whole SIZE: that counts every layer as shared. "
                               "Only layers another image also uses are shared.")
    if close_to(size, unique):
        return Feedback(False, f"{human_size(unique)} is the part no other image uses (UNIQUE SIZE), the opposite "
                               "of shared.")
    if close_to(size, 2 * shared) or close_to(size, 3 * shared):
        return Feedback(False, "that counts the shared layer once per image using it. SHARED SIZE counts each "
                               f"of {IMAGE}'s shared layers once.")
    return Feedback(False, f"{human_size(size)} does not add up: SHARED SIZE sums the sizes of {IMAGE}'s layers "
                           "that another image also uses (the diagram shows which).")


LESSONS = [
    Lesson("05-shared-size", "Predict: httpd's SHARED SIZE",
           f"Before running `docker system df -v`: what will its SHARED SIZE column say for {IMAGE}?",
           check_shared_size,
           solution=lambda lab: f"{human_size(_row(lab, IMAGE)['shared_size'])}: {IMAGE}'s bottom layer, the Debian "
                                "base that node (and so mkerker/duckhunt) starts from too.",
           answers=lambda lab: (human_size(_row(lab, IMAGE)["shared_size"]),),
           wrong=lambda lab: ((human_size(_row(lab, IMAGE)["size"]), "whole"), ("0", "base"),
                              (human_size(_row(lab, IMAGE)["unique_size"]), "UNIQUE")),
           placeholder="a size, e.g. 1.2 MB"),
]
