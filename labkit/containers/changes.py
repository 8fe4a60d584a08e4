"""`docker diff` of a container: which paths its read-write layer added, changed or deleted."""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING

from ..paths import ancestors

if TYPE_CHECKING:
    from .container import Container


def diff(container: Container) -> list[str]:
    """Return `docker diff` lines ("A /path", "C /path", "D /path").

    moby archive.changes(): a walk of the read-write layer in name order (depth first); a path the image has
    is C, a new one A; a whiteout is one D (nothing listed below a deleted directory); the parents of every
    A and D are C; an upper directory that exists in the image is C. The order is that walk order.
    """
    c = container.changes
    lower = container.lower
    kinds: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(container.upper):
        rel = os.path.relpath(dirpath, container.upper)
        base = "/" if rel == "." else "/" + rel.replace(os.sep, "/")
        for name in dirnames + filenames:
            p = posixpath.join(base, name)
            n = lower.lookup(p)
            kinds[p] = "C" if n is not None and n.path == p.lstrip("/") else "A"
    for p in c["whiteouts"]:
        kinds[p] = "D"
    for p, k in list(kinds.items()):
        if k in ("A", "D"):
            for a in ancestors(p)[1:]:
                kinds.setdefault(a, "C")
    return [f"{kinds[p]} {p}" for p in sorted(kinds, key=_walk_key)]


def _walk_key(p: str) -> tuple:
    return tuple(x.encode("utf-8", "surrogateescape") for x in p.split("/") if x)
