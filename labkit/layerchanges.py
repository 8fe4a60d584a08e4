"""What each layer of an image changes and wastes, as a layer explorer (dive) shows it: the paths a layer
adds, modifies and removes over the layers below, and the bytes written by more than one layer."""

from __future__ import annotations

from typing import NamedTuple

from .errors import LabkitError
from .imageview import ImageView, Node


class Change(NamedTuple):
    """What one layer did to one path, compared with the layers below it."""

    path: str
    kind: str            # "added" | "modified" | "removed"
    size: int            # added/modified: the file's size now; removed: the bytes it hid (whole subtree)
    type: str            # the node type now (removed: the type it had)
    layer_index: int
    before_size: int = 0  # modified: the size below (a replaced directory: its subtree); removed: = size


def _subtree_bytes(view: ImageView, node: Node) -> int:
    if node.type != "dir":
        return node.size
    return sum(n.size for n in view.walk(node.path) if n.type == "file")


def _same(a: Node, b: Node) -> bool:
    """Return True when layer entry `b` leaves `a` unchanged (dive: same type, content, mode, owner)."""
    if a.type != b.type or a.mode != b.mode or a.uid != b.uid or a.gid != b.gid:
        return False
    if a.type == "symlink":
        return a.linkname == b.linkname
    if a.type in ("char", "block"):
        return (a.major, a.minor) == (b.major, b.minor)
    if a.type == "file":
        if a.size != b.size:
            return False
        return a.data.same_bytes(b.data)
    return True


def layer_changes(view: ImageView, i: int, sort: str = "path") -> list[Change]:
    """Return what layer i adds, modifies and removes relative to layers 0..i-1, sorted by "path" or by
    "size" (largest first). Unchanged entries (same type, content, mode and owner) are not listed; a removed
    directory is one change (its size is the bytes of the whole subtree it hid)."""
    if not 0 <= i < len(view.layer_trees):
        raise LabkitError(f"layer changes: the image has {len(view.layer_trees)} layers, no layer {i}")
    before = view.below(i)
    lower = before.merged_nodes()
    state = view.layer_state(i)
    out: list[Change] = []
    removed: set[str] = set()

    def remove(path: str) -> None:
        n = lower.get(path)
        if n is not None and path not in removed:
            removed.add(path)
            hidden = _subtree_bytes(before, n)
            out.append(Change(path, "removed", hidden, n.type, i, hidden))

    for d in state.opaque_dirs:
        if d in lower and lower[d].type == "dir":
            for child in before.children(d):
                if child.path not in state.nodes:
                    remove(child.path)
    for w in state.whiteouts:
        if w:
            remove(w)
    for p, new in state.nodes.items():
        old = lower.get(p)
        if old is None:
            out.append(Change(p, "added", new.size, new.type, i))
            continue
        if new.implicit and old.type == "dir":
            continue
        if not _same(old, new):
            before_size = _subtree_bytes(before, old) if old.type == "dir" and new.type != "dir" else old.size
            out.append(Change(p, "modified", new.size, new.type, i, before_size))
    if sort == "size":
        out.sort(key=lambda c: (-c.size, _path_key(c.path)))
    elif sort == "path":
        out.sort(key=lambda c: _path_key(c.path))
    else:
        raise LabkitError(f"layer changes: unknown sort {sort!r} (path or size)")
    return out


def _path_key(path: str) -> tuple:
    return tuple(path.split("/"))


class PathWaste(NamedTuple):
    """One path written by two or more layers (dive's "inefficiency")."""

    path: str
    copies: int          # how many layers hold it (whiteouts included)
    cumulative_size: int  # bytes of all copies (a whiteout counts what it hid if that was a directory)
    min_size: int         # the smallest copy


class WastedSpace(NamedTuple):
    """dive's image efficiency numbers."""

    wasted: int           # dive's "Potential wasted space": the cumulative size of every path in 2+ layers
    reclaimable: int      # sum over those paths of cumulative size minus the smallest copy
    efficiency: float     # dive's score: sum of smallest copies / sum of all copies, over every path
    paths: list           # PathWaste, largest cumulative size first


def wasted_space(view: ImageView) -> WastedSpace:
    """Return dive's efficiency analysis (filetree.Efficiency + its WastedBytes).

    Like dive: every leaf of each layer's own tree (files, symlinks, devices, empty directories, whiteouts;
    never the opaque marker) counts by its tar size (a hard link 0); a whiteout counts 0, or, when it hides
    a directory, the file bytes of that directory in the layers below. A path held by two or more layers is
    "wasted" in full: dive's WastedBytes sums the cumulative size of those paths, so it includes the copy
    the image finally shows; `reclaimable` subtracts the smallest copy of each (what squashing the layers
    could save at most). dive stacks the lower layers without opaque markers; we use the overlay view.
    """
    acc: dict[str, list] = {}

    def count(path: str, size: int) -> None:
        a = acc.get(path)
        if a is None:
            acc[path] = [1, size, size]
        else:
            a[0] += 1
            a[1] += size
            if size < a[2]:
                a[2] = size

    for i in range(len(view.layer_trees)):
        state = view.layer_state(i)
        a = view.applied(i)
        parents = {p.rpartition("/")[0] for p in state.nodes}
        for w in state.whiteouts:
            parents.add(w.rpartition("/")[0])
        for w in state.whiteouts:
            if not w:
                continue
            size = 0
            if i:
                before = view.below(i)
                n = before.resolve(w, follow_symlinks=False)
                if n is not None and n.type == "dir" and n.path == w:
                    size = _subtree_bytes(before, n)
            count(w, size)
        hardlinks = {e.path for e in a.index if e.type == "hardlink"}
        copied_up = set(state.copied_up)          # in the layer only because a hard link copied them up
        for p, n in state.nodes.items():
            if (n.type == "dir" and p in parents) or p in copied_up:
                continue
            count(p, 0 if p in hardlinks else n.size)
    paths = [PathWaste(p, c, cum, mn) for p, (c, cum, mn) in acc.items() if c > 1]
    paths.sort(key=lambda w: (-w.cumulative_size, _path_key(w.path)))
    total_min = sum(a[2] for a in acc.values())
    total = sum(a[1] for a in acc.values())
    return WastedSpace(wasted=sum(w.cumulative_size for w in paths),
                       reclaimable=sum(w.cumulative_size - w.min_size for w in paths),
                       efficiency=1.0 if total == 0 else total_min / total, paths=paths)
