"""The image view: an image's merged root filesystem over its applied layers, with overlay2's rules.

Layers are merged bottom to top from each layer's entry index (layer.json), once per view; lookups are
dictionary hits, never a walk of the layer trees. The rules (OCI image-spec layer.md "Whiteouts", and what
docker's overlay2 driver shows in a container's merged directory):

- the topmost layer holding a path wins (its type, mode, owner, content);
- a whiteout `.wh.x` in layer N hides x (and everything below it) from layers below N only; the same
  layer may add x again;
- an opaque marker in directory d of layer N hides everything below N inside d; it applies before the
  layer's own entries ("opaque applies first");
- a file in an upper layer replaces a lower directory with its whole subtree, and a directory replaces a
  lower file;
- a directory in an upper layer over a lower SYMLINK at the same path replaces the symlink: overlay2's
  upper directory wins, the lower symlink and the content of its target are not merged into it.
  A directory the upper layer only implies (it lists `lib/x` but no `lib/` entry) counts the same:
  docker extracts each layer into its own diff directory and creates the missing parent there.
  umoci (like any tool that extracts every layer into one directory) instead writes such an entry
  THROUGH the lower symlink, into its target (`lib -> usr/lib` plus a later bare `lib/x` gives
  `usr/lib/x` and keeps the symlink); with an explicit `lib/` entry umoci replaces the symlink too.
  tests/test_unpack_umoci.py checks both tools' behaviour;
- a directory's metadata comes from the topmost layer that lists it; a parent a layer only implies (no
  entry of its own) changes nothing below it, or is 0755 root:root with mtime 0 when nothing is below.

A file's bytes are a FileRegion (`Node.data`): a range of its layer's pack (layers/store.py), or a whole
file of a layer tree (a home applied by labkit before packs, or `apply_layer`'s trees).

Hard links: nodes that share an inode carry the same `link_group` (and the same bytes). A hard link to a file
of a LOWER layer (legal per the OCI image spec) is applied as containerd applies it on an overlay mount:
link() copies the target up into the new layer, then links it, so the link and the target become one new inode
of that layer with the lower file's bytes and metadata (the lower file's other hard links, if any, keep the
old inode, as overlayfs without index=on does). The layer holds no bytes for them: their nodes read the lower
file's (`Node.source`). The target is found in the layers below (symlinks in its parents followed inside the
image, as containerd's and umoci's link targets are); an image whose link names no regular file there, or a
file this layer deletes, is refused (UnsafeLayer), as containerd's link() fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, NamedTuple

from .errors import LabkitError, NotFound, UnsafeLayer
from .fsutil import FileRegion
from .paths import MAX_SYMLINKS

_DEVICE_TYPES = ("char", "block", "fifo")
_S_IFMT = {"file": 0o100000, "dir": 0o040000, "symlink": 0o120000, "char": 0o020000, "block": 0o060000,
           "fifo": 0o010000}


class SymlinkLoop(LabkitError):
    """A path whose symlinks do not resolve within MAX_SYMLINKS hops (a loop, like ELOOP)."""


class Node(NamedTuple):
    """One path of the merged image: what `ls -l` shows, plus the layer it comes from.

    `mode` holds the permission bits with setuid/setgid/sticky (0o7777) as the image records them
    (the layer trees on disk never carry those bits); `type` is file, dir, symlink, char, block or fifo.
    """

    path: str                 # "etc/passwd"; "" is the root
    type: str
    mode: int
    uid: int
    gid: int
    size: int                 # file bytes (0 for the other types)
    mtime: int
    linkname: str = ""        # a symlink's target, as stored
    layer_index: int = -1     # the layer (0 = bottom) whose entry this is
    layer_root: str = ""      # where that layer keeps its files' bytes: its pack, or its tree directory
    link_group: "tuple | None" = None   # (layer_index, n): shared by the paths of one inode (hard links)
    major: int = 0            # device numbers (char/block)
    minor: int = 0
    implicit: bool = False    # a directory no layer lists itself (a parent some layer implies)
    source: "FileRegion | None" = None  # the bytes of a file copied up by a hard link to a lower layer's file
    offset: int = -1          # a file's bytes in the pack at layer_root (-1: layer_root is a tree directory)

    @property
    def name(self) -> str:
        """Return the last path component ("" for the root)."""
        return self.path.rpartition("/")[2]

    @property
    def data(self) -> "FileRegion | None":
        """Return where a regular file's bytes are (None for every other type)."""
        if self.type != "file":
            return None
        if self.source is not None:
            return self.source
        if self.offset >= 0:
            return FileRegion(self.layer_root, self.offset, self.size, True)
        return FileRegion(f"{self.layer_root}/{self.path}", 0, self.size)

    @property
    def st_mode(self) -> int:
        """Return the full st_mode (file type bits | mode)."""
        return _S_IFMT[self.type] | self.mode

    def is_dir(self) -> bool:
        """Return True for a directory."""
        return self.type == "dir"

    def is_file(self) -> bool:
        """Return True for a regular file."""
        return self.type == "file"

    def is_symlink(self) -> bool:
        """Return True for a symbolic link."""
        return self.type == "symlink"


class _LayerState(NamedTuple):
    """One layer's own final state: its nodes (later tar entries applied), whiteouts, opaque dirs, root."""

    nodes: dict          # path -> Node (implicit parents included)
    whiteouts: list
    opaque_dirs: list
    root: "Node | None"
    lower_links: dict = {}     # path -> the lower path (as the tar names it) whose file it links: resolved
                               # against the layers below by _resolve_lower_links (until then a placeholder)
    copied_up: tuple = ()      # paths the layer holds only because a hard link copied them up (not tar entries)


def _norm_parts(path: "str | os.PathLike") -> list[str]:
    return [c for c in os.fspath(path).split("/") if c not in ("", ".")]


def _depth_key(path: str) -> int:
    return path.count("/")


def _layer_state(index: int, applied) -> _LayerState:
    """Return the final state of one layer from its AppliedLayer (tar order replayed on the index)."""
    root_dir = str(applied.path)
    final: dict[str, Node] = {}
    root = None
    group_no = 0
    devices = applied.devices
    offsets = applied.offsets if applied.packed else None     # a file entry's bytes in the layer's pack
    lower_groups: dict[tuple, str] = {}     # link_group of a placeholder -> the lower target it copies up
    for i, e in enumerate(applied.index):
        t = e.type
        if t in ("whiteout", "opaque"):
            continue
        p = e.path
        if not p:
            if t == "dir":
                root = Node("", "dir", e.mode, e.uid, e.gid, 0, e.mtime, "", index, root_dir)
            continue
        old = final.get(p)
        if old is not None and old.type == "dir" and t != "dir":
            prefix = p + "/"
            for k in [k for k in final if k.startswith(prefix)]:
                del final[k]
        if t == "file":
            group_no += 1
            node = Node(p, "file", e.mode, e.uid, e.gid, e.size, e.mtime, "", index, root_dir, (index, group_no),
                        offset=offsets[i] if offsets is not None else -1)
        elif t == "hardlink":
            src = final.get(e.linkname)
            if src is None and e.linkname:
                # a link to a lower layer's file: a placeholder inode, made real by _resolve_lower_links
                group_no += 1
                src = final[e.linkname] = Node(e.linkname, "file", 0, 0, 0, 0, 0, "", index, root_dir,
                                               (index, group_no))
                lower_groups[src.link_group] = e.linkname
            if src is None or src.type != "file":     # apply.py refuses these; stay safe on odd metadata
                continue
            # one inode: the link shows the target's mode, owner, size and mtime
            node = src._replace(path=p)
        elif t == "dir":
            node = Node(p, "dir", e.mode, e.uid, e.gid, 0, e.mtime, "", index, root_dir)
        elif t == "symlink":
            node = Node(p, "symlink", e.mode, e.uid, e.gid, 0, e.mtime, e.linkname, index, root_dir)
        elif t in _DEVICE_TYPES:
            dev = devices.get(p, {})
            node = Node(p, t, e.mode, e.uid, e.gid, 0, e.mtime, "", index, root_dir, None,
                        int(dev.get("major", 0) or 0), int(dev.get("minor", 0) or 0))
        else:
            continue
        final[p] = node
    for p in applied.implicit_dirs:
        if p and p not in final:
            final[p] = Node(p, "dir", 0o755, 0, 0, 0, 0, "", index, root_dir, implicit=True)
    lower = {p: lower_groups[n.link_group] for p, n in final.items() if n.link_group in lower_groups} \
        if lower_groups else {}
    return _LayerState(final, list(applied.whiteouts), list(applied.opaque_dirs), root, lower)


def _resolve_lower_links(state: _LayerState, nodes: dict) -> _LayerState:
    """Return `state` with its hard links to lower files made real: the paths of each placeholder inode
    become one inode copied up from the file the layers below (`nodes`, their merged index) hold at the
    target, at the target's resolved path. UnsafeLayer when there is no regular file there, or when this
    layer deletes or replaces it or a directory on its way."""
    if not state.lower_links:
        return state
    final = dict(state.nodes)
    copied: list[str] = []
    done: dict[str, Node] = {}                       # lower target as written -> the copied-up inode
    for p, target in state.lower_links.items():
        node = done.get(target)
        if node is None:
            placeholder = state.nodes[p]
            real = _lower_target(state, nodes, p, target)
            src = nodes[real]
            node = done[target] = Node(real, "file", src.mode, src.uid, src.gid, src.size, src.mtime, "",
                                       placeholder.layer_index, placeholder.layer_root, placeholder.link_group,
                                       source=src.data)
            stale = final.get(target)
            if target != real and stale is not None and stale.link_group == node.link_group:
                del final[target]                  # the copy-up lives where the target really is
            here = final.get(real)
            if here is None or here.link_group == node.link_group:
                final[real] = node
                copied.append(real)
        if p != target and p != node.path:
            final[p] = node._replace(path=p)
    return state._replace(nodes=final, lower_links={}, copied_up=tuple(copied))


def _lower_target(state: _LayerState, nodes: dict, link: str, target: str) -> str:
    """Return the merged path of the lower regular file a hard link of this layer names (parent symlinks
    followed inside the image), or raise UnsafeLayer."""
    def refuse(why: str):
        return UnsafeLayer(link, f"hard link target {target!r} is not an earlier file of this layer, and {why}")

    own = state.nodes
    for a in _ancestors(target)[1:]:
        mine, below = own.get(a), nodes.get(a)
        if mine is not None and (mine.type != "dir" or below is None or below.type != "dir"):
            raise refuse(f"this layer replaces its parent {a!r}")
    try:
        src = _resolve(nodes, target, follow_symlinks=False)
    except SymlinkLoop:
        src = None
    if src is None or src.type != "file":
        raise refuse("no lower layer has a regular file there" if src is None else f"below it is a {src.type}")
    real = src.path
    mine = own.get(real)
    if mine is not None and mine.link_group != own[link].link_group:
        raise refuse("this layer also writes that path")
    hides = set(state.whiteouts)
    opaque = set(state.opaque_dirs)
    ups = _ancestors(real)
    if real in hides or any(a in hides or a in opaque for a in ups):
        raise refuse("this layer deletes it")
    if any(a in own and own[a].type != "dir" for a in ups[1:]):
        raise refuse("this layer replaces a directory on its way")
    return real


def _ancestors(path: str) -> list[str]:
    """Return the proper ancestors of a merged path, the root ("") first."""
    parts = path.split("/")
    return [""] + ["/".join(parts[:i]) for i in range(1, len(parts))]


class _Merged:
    """The merged index: nodes by path and each directory's children."""

    __slots__ = ("nodes", "children")

    def __init__(self):
        self.nodes: dict[str, Node] = {"": Node("", "dir", 0o755, 0, 0, 0, 0, "", -1, "", implicit=True)}
        self.children: dict[str, dict[str, None]] = {"": {}}

    def remove(self, path: str) -> None:
        """Drop `path` and, for a directory, its whole subtree."""
        node = self.nodes.pop(path, None)
        if node is None:
            return
        parent, _, name = path.rpartition("/")
        siblings = self.children.get(parent)
        if siblings is not None:
            siblings.pop(name, None)
        if node.type == "dir":
            self._drop_below(path)

    def _drop_below(self, path: str) -> None:
        stack = [path]
        nodes, children = self.nodes, self.children
        while stack:
            d = stack.pop()
            names = children.pop(d, None)
            if not names:
                continue
            for name in names:
                child = f"{d}/{name}" if d else name
                n = nodes.pop(child, None)
                if n is not None and n.type == "dir":
                    stack.append(child)

    def clear_dir(self, path: str) -> None:
        """Empty the directory `path` (an opaque marker)."""
        if path in self.children:
            self._drop_below(path)
            self.children[path] = {}

    def apply(self, state: _LayerState) -> None:
        """Put one layer on top: opaque dirs and whiteouts first (lower layers only), then its entries."""
        nodes, children = self.nodes, self.children
        for d in state.opaque_dirs:
            n = nodes.get(d)
            if n is not None and n.type == "dir":
                self.clear_dir(d)
        for w in state.whiteouts:
            if w:
                self.remove(w)
        if state.root is not None:
            nodes[""] = state.root
        for p in sorted(state.nodes, key=_depth_key):     # parents before children
            new = state.nodes[p]
            old = nodes.get(p)
            if old is not None:
                if old.type == "dir" and new.type == "dir":
                    if not new.implicit:
                        nodes[p] = new                     # same directory, upper metadata; children merge
                    continue
                self.remove(p)                             # file <-> dir, symlink -> dir: upper replaces
            parent, _, name = p.rpartition("/")
            siblings = children.get(parent)
            if siblings is None:                           # cannot happen for a layer apply.py accepted
                continue
            siblings[name] = None
            nodes[p] = new
            if new.type == "dir":
                children[p] = {}


class ImageView:
    """The merged filesystem of an image: lookup/stat/listdir/read/walk over its layers, bottom to top."""

    def __init__(self, layer_trees):
        """Build a view over `layer_trees` (LayerTree or AppliedLayer values, bottom first); merging is lazy."""
        self.layer_trees = list(layer_trees)
        self._applied: list = [None] * len(self.layer_trees)
        self._states: list = [None] * len(self.layer_trees)
        self._merged: "_Merged | None" = None
        self._below: dict[int, ImageView] = {}
        self.image_id = None          # set by open(): the image (config digest) the layers belong to

    def __repr__(self) -> str:
        return f"ImageView({len(self.layer_trees)} layers)"

    # ---- building ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, store, layer_store, ref) -> "ImageView":
        """Return the view of image `ref` (a reference, image ID or ImageRecord) in `store` (a Store), applying
        any layer not applied yet from the stored blobs into `layer_store` (a LayerStore)."""
        from .store import ImageRecord

        record = ref if isinstance(ref, ImageRecord) else store.resolve(ref)
        trees = ensure_layers(store, layer_store, record)
        key = (str(record.image_id), *(str(t.root) for t in trees))
        stamp = tuple(_mtime(t.metadata_path) for t in trees)
        hit = _OPEN_CACHE.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        view = cls(trees)
        view.image_id = record.image_id
        _OPEN_CACHE[key] = (stamp, view)
        while len(_OPEN_CACHE) > _OPEN_CACHE_SIZE:
            _OPEN_CACHE.pop(next(iter(_OPEN_CACHE)))
        return view

    def applied(self, i: int):
        """Return layer i's AppliedLayer metadata (read once)."""
        a = self._applied[i]
        if a is None:
            t = self.layer_trees[i]
            a = t.applied() if hasattr(t, "applied") else t
            self._applied[i] = a
        return a

    def layer_state(self, i: int) -> _LayerState:
        """Return layer i's own final state (its nodes, whiteouts, opaque dirs), with its hard links to lower
        files resolved against the layers below."""
        s = self._states[i]
        if s is None:
            s = _layer_state(i, self.applied(i))
            if s.lower_links:
                s = _resolve_lower_links(s, self.below(i).merged_nodes())
            self._states[i] = s
        return s

    def _index(self) -> _Merged:
        m = self._merged
        if m is None:
            m = _Merged()
            if self.layer_trees:
                m.nodes[""] = m.nodes[""]._replace(layer_index=0, layer_root=str(self.applied(0).path))
            for i in range(len(self.layer_trees)):
                s = self._states[i]
                if s is None:
                    s = _layer_state(i, self.applied(i))
                    if s.lower_links:
                        s = _resolve_lower_links(s, m.nodes)     # m holds layers 0..i-1 merged
                    self._states[i] = s
                m.apply(s)
            self._merged = m
        return m

    def merged_nodes(self) -> dict:
        """Return {path: Node} of the merged filesystem ("" is the root), built once; callers must not change it."""
        return self._index().nodes

    def below(self, i: int) -> "ImageView":
        """Return the view of layers 0..i-1 (what layer i was put on), sharing this view's layer data."""
        v = self._below.get(i)
        if v is None:
            v = ImageView(self.layer_trees[:i])
            v._applied = self._applied[:i]
            v._states = self._states[:i]
            for j in range(i):            # share what either side reads later
                if v._states[j] is None:
                    v._states[j] = self.layer_state(j)
            self._below[i] = v
        return v

    def extend(self, layer_trees) -> "ImageView":
        """Return the view of this view's layers plus `layer_trees` on top (a build's next step), sharing what
        was already read of the layers below."""
        v = ImageView([*self.layer_trees, *layer_trees])
        n = len(self.layer_trees)
        v._applied[:n] = self._applied
        v._states[:n] = self._states
        return v

    # ---- reading ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index().nodes)

    def __contains__(self, path) -> bool:
        return self.lookup(path) is not None

    def resolve(self, path: "str | os.PathLike", follow_symlinks: bool = True) -> "Node | None":
        """Return the node `path` names, resolving symlinks inside the image root (absolute targets start at
        the root, `..` stops there); the last component is followed only when `follow_symlinks`."""
        return _resolve(self._index().nodes, path, follow_symlinks)

    def lookup(self, path: "str | os.PathLike", follow_symlinks: bool = False) -> "Node | None":
        """Return the node at `path` (like lstat: symlinks in the parents are followed, the last one is not
        unless `follow_symlinks`), or None."""
        return self.resolve(path, follow_symlinks)

    def stat(self, path: "str | os.PathLike", follow_symlinks: bool = False) -> Node:
        """Return the node at `path` like lookup(), or raise NotFound."""
        n = self.resolve(path, follow_symlinks)
        if n is None:
            raise NotFound(f"stat /{'/'.join(_norm_parts(path))}: no such file or directory in the image")
        return n

    def listdir(self, path: "str | os.PathLike" = "") -> list[str]:
        """Return the sorted names in the directory `path` (symlinks followed)."""
        n = self.stat(path, follow_symlinks=True)
        if n.type != "dir":
            raise LabkitError(f"list /{'/'.join(_norm_parts(path))}: not a directory (a {n.type})")
        return sorted(self._index().children.get(n.path, ()))

    def read(self, path: "str | os.PathLike") -> bytes:
        """Return the bytes of the file at `path` (symlinks followed inside the image root)."""
        n = self.stat(path, follow_symlinks=True)
        if n.type != "file":
            raise LabkitError(f"read /{'/'.join(_norm_parts(path))}: not a regular file (a {n.type})")
        return n.data.read()

    def children(self, path: str) -> list[Node]:
        """Return the nodes directly in directory `path` (an exact merged path), sorted by name."""
        m = self._index()
        prefix = f"{path}/" if path else ""
        return [m.nodes[prefix + name] for name in sorted(m.children.get(path, ()))]

    def walk(self, top: str = "") -> Iterator[Node]:
        """Yield every node at and below `top` (the root "" first) in path order: parents before
        children, siblings by name."""
        m = self._index()
        start = m.nodes.get("/".join(_norm_parts(top)))
        if start is None:
            return
        nodes, children = m.nodes, m.children
        stack = [start]
        while stack:
            node = stack.pop()
            yield node
            if node.type == "dir":
                names = children.get(node.path)
                if names:
                    prefix = f"{node.path}/" if node.path else ""
                    stack.extend(nodes[prefix + name] for name in sorted(names, reverse=True))

    def paths(self) -> list[str]:
        """Return every path of the image in path order (root excluded)."""
        return [n.path for n in self.walk() if n.path]

    def hardlink_groups(self) -> dict:
        """Return link_group -> sorted paths for every inode the merged image shows under two or more paths."""
        groups: dict = {}
        for n in self._index().nodes.values():
            if n.link_group is not None:
                groups.setdefault(n.link_group, []).append(n.path)
        return {g: sorted(p) for g, p in groups.items() if len(p) > 1}


def _resolve(nodes: dict, path: "str | os.PathLike", follow_symlinks: bool) -> "Node | None":
    """Return the node of merged index `nodes` that `path` names (see ImageView.resolve)."""
    parts = _norm_parts(path)
    if ".." not in parts:
        n = nodes.get("/".join(parts))
        if n is not None and not (follow_symlinks and n.type == "symlink"):
            return n               # a key exists only when every parent is a directory of the view
    stack = parts[::-1]
    cur = ""
    hops = 0
    while stack:
        comp = stack.pop()
        if comp == "..":
            cur = cur.rpartition("/")[0]
            continue
        nxt = f"{cur}/{comp}" if cur else comp
        node = nodes.get(nxt)
        if node is None:
            return None
        if node.type == "symlink" and (stack or follow_symlinks):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise SymlinkLoop(f"resolve /{'/'.join(parts)}: too many levels of symbolic links "
                                  f"(a loop through /{nxt})")
            if node.linkname.startswith("/"):
                cur = ""
            stack.extend(_norm_parts(node.linkname)[::-1])
            continue
        if stack and node.type != "dir":
            return None            # ENOTDIR
        cur = nxt
    return nodes[cur]


# ---- opening images -------------------------------------------------------------------------------------

_OPEN_CACHE: dict = {}
_OPEN_CACHE_SIZE = 8


def _mtime(p: Path) -> int:
    try:
        return p.stat().st_mtime_ns
    except OSError:
        return -1


def ensure_layers(store, layer_store, record) -> list:
    """Return the image's LayerTrees bottom first, applying any missing layer from its stored blob (so an image
    copied in by skopeo or pulled with --no-extract works)."""
    manifest = store.manifest(record)
    config = store.config(record)
    if len(config.diff_ids) != len(manifest.layers):
        raise LabkitError(f"open image {record.image_id.short}: the manifest lists {len(manifest.layers)} layers "
                          f"but the config has {len(config.diff_ids)} diff IDs")
    trees = []
    for diff_id, desc in zip(config.diff_ids, manifest.layers):
        if layer_store.has(diff_id):
            trees.append(layer_store.tree(diff_id))
            continue
        if not store.layout.has_blob(desc.digest):
            raise NotFound(f"open image {record.image_id.short}: layer {desc.digest} is neither applied nor "
                           "stored (pull the image again)")
        trees.append(layer_store.ensure(diff_id, store.layout.blob_path(desc.digest), desc.media_type))
    return trees
