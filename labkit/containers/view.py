"""A container's merged view: its read-write layer (upper/ and changes.json) over the image's read-only view,
with overlayfs's rules; lookups follow symlinks inside the container, never out of it."""

from __future__ import annotations

import errno
import os
import posixpath
import stat as stat_mod
from pathlib import Path
from typing import Iterator

from ..fsutil import FileRegion
from ..imageview import SymlinkLoop
from ..paths import MAX_SYMLINKS, ancestors, norm, parent
from .ops import CONTAINER_LAYER, Node, os_error


class MergedView:
    """Reads of the merged view (a part of Container). Uses the container's `upper` directory, its `changes`
    (whiteouts, opaque dirs, per-path metadata) and `lower`, the image's ImageView.

    Methods taking `p` want a symlink-free clean container path (what resolve() returns); the others take any
    container path and follow symlinks like the kernel does.
    """

    def upper_path(self, p: str) -> Path:
        """Return where the symlink-free container path `p` lives in upper/."""
        return Path(f"{self.upper}{p}") if p != "/" else self.upper

    def upper_lstat(self, p: str) -> "os.stat_result | None":
        """Return the lstat of `p` in upper/, None when upper/ does not hold it."""
        # a plain string join: this runs for every path component of every lookup (pathlib costs 10x)
        try:
            return os.lstat(f"{self.upper}{p}" if p != "/" else str(self.upper))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _upper_node(self, p: str, st: os.stat_result) -> Node:
        meta = self.changes["meta"].get(p, {})
        if stat_mod.S_ISDIR(st.st_mode):
            kind, size, link = "dir", 0, ""
        elif stat_mod.S_ISLNK(st.st_mode):
            kind, size, link = "symlink", 0, os.readlink(f"{self.upper}{p}")
            size = len(link.encode("utf-8", "surrogateescape"))
        else:
            kind, size, link = "file", st.st_size, ""
        default = 0o777 if kind == "symlink" else (0o755 if kind == "dir" else 0o644)
        return Node(p, kind, int(meta.get("mode", default)), int(meta.get("uid", 0)), int(meta.get("gid", 0)),
                    size, int(meta.get("mtime", int(st.st_mtime))), link, CONTAINER_LAYER,
                    FileRegion(f"{self.upper}{p}", 0, size) if kind == "file" else None)

    def _lower_hidden(self, p: str) -> bool:
        """Return True when something of this container hides the image's `p` via an ancestor."""
        c = self.changes
        for a in ancestors(p):
            if a in c["opaque"] or a in c["whiteouts"]:
                return True
            if a != "/":
                st = self.upper_lstat(a)
                if st is not None and not stat_mod.S_ISDIR(st.st_mode):
                    return True
        return False

    def lower_node(self, p: str) -> "Node | None":
        """Return the image's node at `p` unless an ancestor change hides it (p's own whiteout ignored)."""
        # the image's in-memory index first: most paths a container asks about are not in the image, and
        # then no ancestor needs an lstat of the upper directory
        try:
            n = self.lower.lookup(p)
        except SymlinkLoop:
            return None        # the image's looping symlink in p's parents was replaced by a directory
        if n is None or n.path != p.lstrip("/"):
            return None        # the image view followed a symlinked parent the container replaced
        if self._lower_hidden(p):
            return None
        return Node(p, n.type, int(n.mode) & 0o7777, int(n.uid), int(n.gid), int(n.size or 0), int(n.mtime or 0),
                    n.linkname or "", n.layer_index, n.data)

    def node_at(self, p: str) -> "Node | None":
        """Return the merged node at a symlink-free path `p`, without following `p` itself."""
        st = self.upper_lstat(p) if p != "/" or "/" in self.changes["meta"] else None
        if st is not None:
            return self._upper_node(p, st)
        if p != "/" and p in self.changes["whiteouts"]:
            return None
        n = self.lower_node(p)
        if n is None and p == "/":
            return Node("/", "dir", 0o755, 0, 0, 0, 0, "", CONTAINER_LAYER, None)
        return n

    def resolve(self, path: str, follow: bool = True, cwd: str = "/") -> str:
        """Return the symlink-free container path `path` names (its last part followed only with `follow`);
        FileNotFoundError / NotADirectoryError for a missing or non-directory parent, ELOOP for loops."""
        todo = [x for x in norm(path, cwd).split("/") if x]
        todo.reverse()
        cur, hops = "/", 0
        while todo:
            name = todo.pop()
            if name == "..":
                cur = parent(cur)
                continue
            if name == ".":
                continue
            cand = posixpath.join(cur, name)
            last = not todo
            if last and not follow:
                cur = cand
                break
            node = self.node_at(cand)
            if node is None:
                if last:
                    cur = cand
                    break
                raise os_error(errno.ENOENT, path)
            if node.type == "symlink":
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise os_error(errno.ELOOP, path)
                target = node.linkname
                parts = [x for x in target.split("/") if x]
                if target.startswith("/"):
                    cur = "/"
                todo.extend(reversed(parts))
                continue
            if node.type != "dir" and not last:
                raise os_error(errno.ENOTDIR, path)
            cur = cand
        return cur

    def lstat(self, path: str) -> Node:
        """Return the merged node at `path` without following a final symlink; FileNotFoundError if absent."""
        p = self.resolve(path, follow=False)
        n = self.node_at(p)
        if n is None:
            raise os_error(errno.ENOENT, path)
        return n

    def stat(self, path: str) -> Node:
        """Return the merged node at `path`, following symlinks; FileNotFoundError if absent."""
        p = self.resolve(path)
        n = self.node_at(p)
        if n is None:
            raise os_error(errno.ENOENT, path)
        return n

    def exists(self, path: str) -> bool:
        """Return True if `path` exists in the merged view (following symlinks, like os.path.exists)."""
        try:
            self.stat(path)
        except OSError:
            return False
        return True

    def lexists(self, path: str) -> bool:
        """Return True if `path` exists, a dangling symlink included."""
        try:
            self.lstat(path)
        except OSError:
            return False
        return True

    def names(self, p: str) -> list[str]:
        """Return the merged names in the symlink-free directory `p`."""
        c = self.changes
        names: set[str] = set()
        st = self.upper_lstat(p)
        upper_is_dir = st is not None and stat_mod.S_ISDIR(st.st_mode)
        if upper_is_dir:
            names.update(os.listdir(self.upper_path(p)))
        lower_ok = (st is None or upper_is_dir) and p not in c["opaque"] and (p == "/" or p not in c["whiteouts"])
        if lower_ok:
            ln = self.lower_node(p)
            if ln is not None and ln.type == "dir":
                for name in self.lower.listdir(p):
                    child = posixpath.join(p, name)
                    if child not in c["whiteouts"]:
                        names.add(name)
        return sorted(names)

    def listdir(self, path: str = "/") -> list[str]:
        """Return the sorted names in a directory of the merged view."""
        p = self.resolve(path)
        n = self.node_at(p)
        if n is None:
            raise os_error(errno.ENOENT, path)
        if n.type != "dir":
            raise os_error(errno.ENOTDIR, path)
        return self.names(p)

    def walk(self, top: str = "/") -> Iterator[Node]:
        """Yield every node below `top` (not `top` itself), parents before children, names sorted."""
        p = self.resolve(top)
        n = self.node_at(p)
        if n is None:
            raise os_error(errno.ENOENT, top)
        if n.type != "dir":
            return
        stack = [p]
        while stack:
            d = stack.pop()
            children = []
            for name in self.names(d):
                cp = posixpath.join(d, name)
                cn = self.node_at(cp)
                if cn is None:
                    continue
                yield cn
                if cn.type == "dir":
                    children.append(cp)
            stack.extend(reversed(children))

    def read(self, path: str) -> bytes:
        """Return the contents of a file (following symlinks); nothing is copied."""
        n = self.stat(path)
        if n.type == "dir":
            raise os_error(errno.EISDIR, path)
        if n.type != "file":
            return b""                      # a device node or fifo: nothing to read in a container at rest
        if n.layer_index == CONTAINER_LAYER:
            return Path(n.data.path).read_bytes()      # the whole file as it is now
        if n.data is not None:
            return n.data.read()
        return self.lower.read(n.path)
