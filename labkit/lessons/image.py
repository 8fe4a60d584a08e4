"""01 · What is an image: where the bytes of deleted files go."""

from __future__ import annotations

from ..layerchanges import layer_changes
from .base import Feedback, Lesson, empty, parse_number

IMAGE = "ubuntu"


def deleting_layer(view) -> int:
    """Return the index of the layer that only deletes files (its changes are all removals)."""
    for i in range(len(view.layer_trees)):
        kinds = {c.kind for c in layer_changes(view, i)}
        if kinds == {"removed"}:
            return i
    raise LookupError("no layer of this image only deletes files")


def holders(view) -> "tuple[int, list[str]]":
    """Return (deleting layer index, indexes of the layers below it that hold the deleted files' bytes)."""
    k = deleting_layer(view)
    gone = [c.path.rstrip("/") + "/" for c in layer_changes(view, k)]
    below = [i for i in range(k)
             if any((c.path.rstrip("/") + "/").startswith(g) and c.kind != "removed" and c.size
                    for c in layer_changes(view, i) for g in gone)]
    return k, below


def check_deleted_bytes(lab, answer) -> Feedback:
    view = lab.view(IMAGE)
    k, below = holders(view)
    text = str(answer or "").strip().lower()
    if text in ("none", "nowhere", "no layer", "0", "deleted", "gone"):
        return Feedback(False, "that assumes deleting frees the bytes. A layer never changes the layers below it: "
                               f"layer {k + 1} only hides the files, so their bytes still travel and sit on disk.")
    n = parse_number(answer)
    if n is None:
        return empty("a layer number")
    if not 1 <= n <= len(view.layer_trees):
        return Feedback(False, f"{IMAGE} has {len(view.layer_trees)} layers, numbered 1 (bottom) to "
                               f"{len(view.layer_trees)} (top).")
    if n - 1 in below:
        size = sum(c.size for c in layer_changes(view, k))
        return Feedback(True, f"layer {n} still holds them ({size:,} bytes): layer {k + 1} adds only whiteouts "
                              "that hide them. Delete temporary files in the step that creates them.")
    if n - 1 == k:
        return Feedback(False, f"layer {k + 1} is where they were deleted, and deleting stores no bytes: that "
                               "layer holds only whiteouts, empty .wh. markers. The bytes are where the files "
                               "were added.")
    return Feedback(False, f"layer {n} has no file under the deleted folder: look for the layer that *added* them "
                           "(the layer explorer, A lines).")


def solve_deleted_bytes(lab) -> str:
    k, below = holders(lab.view(IMAGE))
    return (f"Layer {', '.join(str(i + 1) for i in below)}: the files were added there; layer {k + 1} holds only "
            "whiteouts that hide them.")


LESSONS = [
    Lesson("01-deleted-bytes", "Where do deleted bytes go?",
           "Which layer of ubuntu still holds the bytes of the files that its layer 2 deletes?",
           check_deleted_bytes,
           solution=solve_deleted_bytes,
           answers=lambda lab: tuple(str(i + 1) for i in holders(lab.view(IMAGE))[1]),
           wrong=lambda lab: ((str(holders(lab.view(IMAGE))[0] + 1), "whiteouts"), ("none", "frees")),
           placeholder="a layer number"),
]
