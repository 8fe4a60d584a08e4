"""05 · Showing images: predict a SHARED SIZE before `docker system df -v` shows it.

Both Dockers' figures are right answers: the lab text's Docker (graphdriver store) counts a shared layer's
unpacked files; Docker 29's containerd store also keeps the compressed blob it pulled, and counts both
(moby issue 53398), so its SHARED SIZE is a little larger for the same shared layer.
"""

from __future__ import annotations

from ..daemonconfig import CONTAINERD, GRAPHDRIVER
from ..formatting import human_size
from ..tables import style_for
from .base import DOCKER_NAMES, Feedback, Lesson, both_stores, close_to, empty, parse_size

IMAGE = "httpd"


def _row(lab, repository: str) -> dict:
    return next(r for r in lab.system_df()["images"] if r["repository"] == repository)


def _rows(lab) -> "dict[str, dict]":
    """Return httpd's `system df -v` row as each Docker prints it, by image store."""
    return {store: _row(each, IMAGE) for store, each in both_stores(lab).items()}


def _nearest(size: int, rows: "dict[str, dict]", column: str) -> "str | None":
    """Return the store whose `column` figure `size` matches (the closer one when both do), or None."""
    near = [(abs(size - row[column]), store) for store, row in rows.items() if close_to(size, row[column])]
    return min(near)[1] if near else None


def _shown(store: str, size: int) -> str:
    """Return a size as that Docker's `system df` prints it ("7.4 MB", "7.59MB")."""
    return style_for(store == CONTAINERD).human(size)


def _both(rows: "dict[str, dict]", column: str) -> str:
    return ", ".join(f"{_shown(store, rows[store][column])} on {DOCKER_NAMES[store]}"
                     for store in (GRAPHDRIVER, CONTAINERD))


def check_shared_size(lab, answer) -> Feedback:
    size = parse_size(answer)
    if size is None:
        return empty("a size such as 1.2 MB")
    rows = _rows(lab)
    store = _nearest(size, rows, "shared_size")
    if store is not None:
        other = CONTAINERD if store == GRAPHDRIVER else GRAPHDRIVER
        why = ("The lab text's Docker counts the layer's unpacked files" if store == GRAPHDRIVER else
               "That is Docker 29's figure: its containerd store keeps the compressed layer it pulled beside the "
               "unpacked files, and counts both")
        return Feedback(True, f"{_shown(store, rows[store]['shared_size'])}: the layers {IMAGE} has in common with "
                              "another image (the Debian base it shares with node), counted once, whatever the "
                              f"number of images sharing them. {why}; "
                              f"{DOCKER_NAMES[other]} shows {_shown(other, rows[other]['shared_size'])} for the "
                              "same layer.")
    if size == 0:
        return Feedback(False, "0 assumes images share layers only when one is built on the other. Any two images "
                               f"that start from the same base share its layers: look at {IMAGE}'s bottom layer.")
    if _nearest(size, rows, "size"):
        return Feedback(False, f"that is {IMAGE}'s whole SIZE ({_both(rows, 'size')}): it counts every layer as "
                               "shared. Only layers another image also uses are shared.")
    if _nearest(size, rows, "unique_size"):
        return Feedback(False, f"that is the part no other image uses (UNIQUE SIZE: {_both(rows, 'unique_size')}), "
                               "the opposite of shared.")
    if any(close_to(size, k * row["shared_size"]) for row in rows.values() for k in (2, 3)):
        return Feedback(False, "that counts the shared layer once per image using it. SHARED SIZE counts each "
                               f"of {IMAGE}'s shared layers once.")
    return Feedback(False, f"{human_size(size)} does not add up: SHARED SIZE sums the sizes of {IMAGE}'s layers "
                           "that another image also uses (the diagram shows which).")


def solve_shared_size(lab) -> str:
    return (f"{_both(_rows(lab), 'shared_size')}: {IMAGE}'s bottom layer, the Debian base that node (and so "
            "mkerker/duckhunt) starts from too. Docker 29 counts its compressed blob as well as its files.")


LESSONS = [
    Lesson("05-shared-size", "Predict: httpd's SHARED SIZE",
           f"Before running `docker system df -v`: what will its SHARED SIZE column say for {IMAGE}?",
           check_shared_size, solution=solve_shared_size,
           answers=lambda lab: tuple(_shown(store, row["shared_size"]) for store, row in _rows(lab).items()),
           wrong=lambda lab: tuple(pair for store, row in _rows(lab).items()
                                   for pair in ((_shown(store, row["size"]), "whole"),
                                                (_shown(store, row["unique_size"]), "UNIQUE"))) + (("0", "base"),),
           placeholder="a size, e.g. 1.2 MB"),
]
