"""Container: one container's config and state, its merged view over the image, its copy-on-write file operations."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posixpath
import shutil
import stat as stat_mod
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .changes import diff
from ..paths import ancestors, is_under, norm, parent
from .ops import CONTAINER_LAYER, MAX_SYMLINKS, STATE_EXITED, STATE_RUNNING, Node, Op, _err, _now

if TYPE_CHECKING:
    from .manager import Containers


# --- the container --------------------------------------------------------------------------------------

class Container:
    """A container: its config, its read-write layer and the merged view over its image."""

    def __init__(self, manager: "Containers", root: Path):
        self.manager = manager
        self.root = Path(root)
        self.upper = self.root / "upper"
        self._config: dict = json.loads((self.root / "config.json").read_bytes())
        self._changes: "dict | None" = None
        self._lower = None

    # -- config and state

    def __repr__(self) -> str:
        return f"Container({self.short_id!r}, name={self.name!r}, image={self.image!r}, state={self.state!r})"

    @property
    def config(self) -> dict:
        """Return a copy of config.json's fields."""
        return dict(self._config)

    @property
    def id(self) -> str:
        """Return the 64-hex container ID."""
        return self._config["id"]

    @property
    def short_id(self) -> str:
        """Return the 12-hex ID docker shows."""
        return self.id[:12]

    @property
    def name(self) -> str:
        """Return the container's name."""
        return self._config["name"]

    @property
    def image(self) -> str:
        """Return the image as the user named it at create time ("debian:jessie")."""
        return self._config["image"]

    @property
    def image_id(self) -> "str | None":
        """Return the image ID ("sha256:...") the container was created from; None for scratch."""
        return self._config.get("image_id")

    @property
    def cmd(self) -> list:
        """Return the command the container runs (the image's Cmd unless one was given)."""
        return list(self._config.get("cmd") or [])

    @property
    def created(self) -> datetime:
        """Return when the container was created."""
        from ..clock import parse_time

        return parse_time(self._config["created"])

    @property
    def state(self) -> str:
        """Return "created", "running" or "exited"."""
        return self._config["state"]

    @property
    def running(self) -> bool:
        """Return True when the container is Up."""
        return self.state == STATE_RUNNING

    @property
    def exit_code(self) -> "int | None":
        """Return the last exit status (None if it never exited)."""
        return self._config.get("exit_code")

    def status(self, now: "datetime | None" = None) -> str:
        """Return docker's STATUS column: "Created", "Up 5 minutes", "Exited (0) 2 minutes ago"."""
        from ..clock import now as clock_now, parse_time
        from ..formatting import human_duration

        now = now or clock_now()
        if self.state == STATE_RUNNING:
            since = parse_time(self._config["started_at"])
            return "Up " + human_duration((now - since).total_seconds())
        if self.state == STATE_EXITED:
            since = parse_time(self._config["finished_at"])
            return f"Exited ({self.exit_code}) " + human_duration((now - since).total_seconds()) + " ago"
        return "Created"

    def _save_config(self) -> None:
        from ..fsutil import atomic_write_bytes

        atomic_write_bytes(self.root / "config.json", json.dumps(self._config, indent=1, sort_keys=True).encode())

    def _set_state(self, state: str, exit_code: "int | None" = None) -> None:
        from ..clock import now, rfc3339

        self._config["state"] = state
        if state == STATE_RUNNING:
            self._config["started_at"] = rfc3339(now())
        elif state == STATE_EXITED:
            self._config["finished_at"] = rfc3339(now())
            self._config["exit_code"] = exit_code
        self._save_config()

    # -- the image underneath

    @property
    def lower(self):
        """Return the image's read-only view (labkit.imageview.ImageView; empty for scratch)."""
        if self._lower is None:
            self._lower = self.manager.image_view(self.image_id)
        return self._lower

    # -- changes.json

    @property
    def changes(self) -> dict:
        """Return the metadata of the read-write layer: whiteouts, opaque dirs, per-path metadata."""
        if self._changes is None:
            try:
                data = json.loads((self.root / "changes.json").read_bytes())
            except FileNotFoundError:
                data = {}
            self._changes = {"whiteouts": set(data.get("whiteouts", ())), "opaque": set(data.get("opaque", ())),
                             "meta": dict(data.get("meta", {}))}
        return self._changes

    @property
    def whiteouts(self) -> list[str]:
        """Return the image paths this container deleted, sorted."""
        return sorted(self.changes["whiteouts"])

    @property
    def opaque_dirs(self) -> list[str]:
        """Return the directories that hide the image's contents at the same path, sorted."""
        return sorted(self.changes["opaque"])

    def _save_changes(self) -> None:
        from ..fsutil import atomic_write_bytes

        c = self.changes
        doc = {"whiteouts": sorted(c["whiteouts"]), "opaque": sorted(c["opaque"]),
               "meta": {k: c["meta"][k] for k in sorted(c["meta"])}}
        atomic_write_bytes(self.root / "changes.json", json.dumps(doc, sort_keys=True).encode())

    @contextlib.contextmanager
    def _mutation(self) -> Iterator[list]:
        """Hold the container's lock, reload its state, collect Ops; save changes and history on the way out."""
        from ..fsutil import file_lock

        ops: list[Op] = []
        with file_lock(self.root / "lock"):
            self._changes = None
            try:
                yield ops
            finally:
                self._save_changes()
                if ops:
                    with open(self.root / "history.jsonl", "a", encoding="utf-8") as f:
                        for op in ops:
                            f.write(json.dumps(op.to_json(), sort_keys=True) + "\n")

    def history(self) -> list[Op]:
        """Return every Op this container's file operations produced, oldest first."""
        try:
            lines = (self.root / "history.jsonl").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [Op.from_json(json.loads(line)) for line in lines if line.strip()]

    # -- the merged view: lookups

    def _upath(self, p: str) -> Path:
        return self.upper / p.lstrip("/") if p != "/" else self.upper

    def _upper_lstat(self, p: str) -> "os.stat_result | None":
        try:
            return os.lstat(self._upath(p))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _upper_node(self, p: str, st: os.stat_result) -> Node:
        meta = self.changes["meta"].get(p, {})
        if stat_mod.S_ISDIR(st.st_mode):
            kind, size, link = "dir", 0, ""
        elif stat_mod.S_ISLNK(st.st_mode):
            kind, size, link = "symlink", 0, os.readlink(self._upath(p))
            size = len(link.encode("utf-8", "surrogateescape"))
        else:
            kind, size, link = "file", st.st_size, ""
        default = 0o777 if kind == "symlink" else (0o755 if kind == "dir" else 0o644)
        return Node(p, kind, int(meta.get("mode", default)), int(meta.get("uid", 0)), int(meta.get("gid", 0)),
                    size, int(meta.get("mtime", int(st.st_mtime))), link, CONTAINER_LAYER, self._upath(p))

    def _lower_hidden(self, p: str) -> bool:
        """Return True when something of this container hides the image's `p` via an ancestor."""
        c = self.changes
        for a in ancestors(p):
            if a in c["opaque"] or a in c["whiteouts"]:
                return True
            if a != "/":
                st = self._upper_lstat(a)
                if st is not None and not stat_mod.S_ISDIR(st.st_mode):
                    return True
        return False

    def _lower_node(self, p: str) -> "Node | None":
        """Return the image's node at `p` unless an ancestor change hides it (p's own whiteout ignored)."""
        if self._lower_hidden(p):
            return None
        n = self.lower.lookup(p)
        if n is None or n.path != p.lstrip("/"):
            return None        # the image view followed a symlinked parent the container replaced
        return Node(p, n.type, int(n.mode) & 0o7777, int(n.uid), int(n.gid), int(n.size or 0), int(n.mtime or 0),
                    n.linkname or "", n.layer_index, n.disk_path)

    def _lookup(self, p: str) -> "Node | None":
        """Return the merged node at a symlink-free path `p`, without following `p` itself."""
        st = self._upper_lstat(p) if p != "/" or "/" in self.changes["meta"] else None
        if st is not None:
            return self._upper_node(p, st)
        if p != "/" and p in self.changes["whiteouts"]:
            return None
        n = self._lower_node(p)
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
            node = self._lookup(cand)
            if node is None:
                if last:
                    cur = cand
                    break
                raise _err(errno.ENOENT, path)
            if node.type == "symlink":
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise _err(errno.ELOOP, path)
                target = node.linkname
                parts = [x for x in target.split("/") if x]
                if target.startswith("/"):
                    cur = "/"
                todo.extend(reversed(parts))
                continue
            if node.type != "dir" and not last:
                raise _err(errno.ENOTDIR, path)
            cur = cand
        return cur

    def lstat(self, path: str) -> Node:
        """Return the merged node at `path` without following a final symlink; FileNotFoundError if absent."""
        p = self.resolve(path, follow=False)
        n = self._lookup(p)
        if n is None:
            raise _err(errno.ENOENT, path)
        return n

    def stat(self, path: str) -> Node:
        """Return the merged node at `path`, following symlinks; FileNotFoundError if absent."""
        p = self.resolve(path)
        n = self._lookup(p)
        if n is None:
            raise _err(errno.ENOENT, path)
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

    def _names(self, p: str) -> list[str]:
        """Return the merged names in the symlink-free directory `p`."""
        c = self.changes
        names: set[str] = set()
        st = self._upper_lstat(p)
        upper_is_dir = st is not None and stat_mod.S_ISDIR(st.st_mode)
        if upper_is_dir:
            names.update(os.listdir(self._upath(p)))
        lower_ok = (st is None or upper_is_dir) and p not in c["opaque"] and (p == "/" or p not in c["whiteouts"])
        if lower_ok:
            ln = self._lower_node(p)
            if ln is not None and ln.type == "dir":
                for name in self.lower.listdir(p):
                    child = posixpath.join(p, name)
                    if child not in c["whiteouts"]:
                        names.add(name)
        return sorted(names)

    def listdir(self, path: str = "/") -> list[str]:
        """Return the sorted names in a directory of the merged view."""
        p = self.resolve(path)
        n = self._lookup(p)
        if n is None:
            raise _err(errno.ENOENT, path)
        if n.type != "dir":
            raise _err(errno.ENOTDIR, path)
        return self._names(p)

    def walk(self, top: str = "/") -> Iterator[Node]:
        """Yield every node below `top` (not `top` itself), parents before children, names sorted."""
        p = self.resolve(top)
        n = self._lookup(p)
        if n is None:
            raise _err(errno.ENOENT, top)
        if n.type != "dir":
            return
        stack = [p]
        while stack:
            d = stack.pop()
            children = []
            for name in self._names(d):
                cp = posixpath.join(d, name)
                cn = self._lookup(cp)
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
            raise _err(errno.EISDIR, path)
        if n.type != "file":
            return b""                      # a device node or fifo: nothing to read in a container at rest
        if n.layer_index == CONTAINER_LAYER:
            return Path(n.disk_path).read_bytes()
        if n.disk_path is not None:
            return Path(n.disk_path).read_bytes()
        return self.lower.read(n.path)

    # -- the read-write layer: helpers

    def _meta_of(self, n: Node) -> dict:
        return {"mode": n.mode, "uid": n.uid, "gid": n.gid, "mtime": n.mtime}

    def _ensure_upper_dir(self, p: str) -> None:
        """Make the directory `p` (and its parents) exist in upper/, copying image dirs' metadata."""
        if p == "/":
            self.upper.mkdir(parents=True, exist_ok=True)
            return
        st = self._upper_lstat(p)
        if st is not None:
            if not stat_mod.S_ISDIR(st.st_mode):
                raise _err(errno.ENOTDIR, p)
            return
        self._ensure_upper_dir(parent(p))
        n = self._lookup(p)
        if n is None or n.type != "dir":
            raise _err(errno.ENOENT if n is None else errno.ENOTDIR, p)
        os.mkdir(self._upath(p), 0o755)
        self.changes["meta"][p] = self._meta_of(n)

    def _copy_up(self, p: str, n: Node, ops: list) -> None:
        """Copy the image's node `n` (file, symlink or bare dir) to `p` in upper/ (whole file); record an Op."""
        if n.type not in ("file", "dir", "symlink"):
            raise _err(errno.EPERM, p)      # device nodes are image metadata only (layers/apply.py)
        self._ensure_upper_dir(parent(p))
        dest = self._upath(p)
        if n.type == "symlink":
            os.symlink(n.linkname, dest)
            size = 0
        elif n.type == "dir":
            if not dest.is_dir():
                os.mkdir(dest, 0o755)
            size = 0
        else:
            if n.disk_path is None:
                dest.write_bytes(self.lower.read(n.path))
            else:
                shutil.copyfile(n.disk_path, dest, follow_symlinks=False)
            os.chmod(dest, 0o644)
            size = n.size
        self.changes["meta"][p] = self._meta_of(n)
        ops.append(Op("copy-up", p, size, n.type))

    def _writable(self, p: str, ops: list) -> Node:
        """Return the node at `p` after making sure it lives in upper/ (copying it up if needed)."""
        n = self._lookup(p)
        if n is None:
            raise _err(errno.ENOENT, p)
        if n.layer_index != CONTAINER_LAYER:
            self._copy_up(p, n, ops)
            n = self._lookup(p)
        return n

    def _new_entry_slot(self, p: str, kind: str, ops: list) -> None:
        """Prepare upper/ for a new entry at `p` (parent dir copied up; a whiteout there replaced)."""
        c = self.changes
        self._ensure_upper_dir(parent(p))
        if p in c["whiteouts"]:
            c["whiteouts"].discard(p)
            lower = self._lower_node(p)
            if kind == "dir" and lower is not None and lower.type == "dir":
                # the image's directory stays deleted: mark the new one opaque (image-spec layer.md#opaque-whiteout)
                c["opaque"].add(p)
                ops.append(Op("opaque", p))

    def _check_parent(self, p: str, path: str) -> None:
        above = self._lookup(parent(p))
        if above is None:
            raise _err(errno.ENOENT, path)
        if above.type != "dir":
            raise _err(errno.ENOTDIR, path)

    def _same_inode_paths(self, p: str) -> list[str]:
        """Return the upper paths hard-linked with `p` (itself included)."""
        st = self._upper_lstat(p)
        if st is None or st.st_nlink < 2 or not stat_mod.S_ISREG(st.st_mode):
            return [p]
        out = []
        for q in self.changes["meta"]:
            s2 = self._upper_lstat(q)
            if s2 is not None and (s2.st_ino, s2.st_dev) == (st.st_ino, st.st_dev):
                out.append(q)
        return out or [p]

    def _touch_meta(self, p: str, **fields) -> None:
        for q in self._same_inode_paths(p):
            meta = self.changes["meta"].setdefault(q, {"mode": 0o644, "uid": 0, "gid": 0, "mtime": _now()})
            meta.update(fields)

    # -- file operations

    def write(self, path: str, data: bytes, mode: int = 0o644, append: bool = False) -> list[Op]:
        """Create or replace (or with `append`, extend) a file; return the Ops (copy-up first if needed)."""
        if isinstance(data, str):
            data = data.encode()
        with self._mutation() as ops:
            p = self.resolve(path)
            n = self._lookup(p)
            if n is None:
                self._check_parent(p, path)
                self._new_entry_slot(p, "file", ops)
                self._upath(p).write_bytes(data)
                self.changes["meta"][p] = {"mode": mode & 0o7777, "uid": 0, "gid": 0, "mtime": _now()}
                ops.append(Op("create", p, len(data)))
                return ops
            if n.type == "dir":
                raise _err(errno.EISDIR, path)
            n = self._writable(p, ops)
            with open(self._upath(p), "ab" if append else "wb") as f:
                f.write(data)
            self._touch_meta(p, mtime=_now())
            ops.append(Op("write", p, len(data), "appended" if append else "replaced"))
            return ops

    def append(self, path: str, data: bytes) -> list[Op]:
        """Append to a file (creating it); return the Ops."""
        return self.write(path, data, append=True)

    def truncate(self, path: str, size: int = 0) -> list[Op]:
        """Cut (or zero-extend) a file to `size` bytes; return the Ops."""
        with self._mutation() as ops:
            p = self.resolve(path)
            n = self._lookup(p)
            if n is None:
                raise _err(errno.ENOENT, path)
            if n.type == "dir":
                raise _err(errno.EISDIR, path)
            self._writable(p, ops)
            os.truncate(self._upath(p), size)
            self._touch_meta(p, mtime=_now())
            ops.append(Op("write", p, size, "truncated"))
            return ops

    def touch(self, path: str) -> list[Op]:
        """Create an empty file, or update an existing path's mtime (a metadata change: copy-up)."""
        p = self.resolve(path)
        if self._lookup(p) is None:
            return self.write(path, b"")
        with self._mutation() as ops:
            self._writable(p, ops)
            self._touch_meta(p, mtime=_now())
            return ops

    def mkdir(self, path: str, parents: bool = False, mode: int = 0o755) -> list[Op]:
        """Create a directory (with `parents`, its missing parents too, and no error if it exists)."""
        with self._mutation() as ops:
            if not parents:
                p = self.resolve(path, follow=False)
                if self._lookup(p) is not None:
                    raise _err(errno.EEXIST, path)
                self._check_parent(p, path)
                self._mkdir_one(p, mode, ops)
                return ops
            cur = "/"
            for part in [x for x in norm(path).split("/") if x]:
                cand = self.resolve(posixpath.join(cur, part), follow=False)
                n = self._lookup(cand)
                if n is not None and n.type == "symlink":
                    cand = self.resolve(cand)
                    n = self._lookup(cand)
                    if n is None:
                        raise _err(errno.EEXIST, path)
                if n is None:
                    self._mkdir_one(cand, mode, ops)
                elif n.type != "dir":
                    raise _err(errno.EEXIST if cand == self.resolve(path, follow=False) else errno.ENOTDIR, path)
                cur = cand
            return ops

    def _mkdir_one(self, p: str, mode: int, ops: list) -> None:
        at = len(ops)
        self._new_entry_slot(p, "dir", ops)
        os.mkdir(self._upath(p), 0o755)
        self.changes["meta"][p] = {"mode": mode & 0o7777, "uid": 0, "gid": 0, "mtime": _now()}
        ops.insert(at, Op("mkdir", p))

    def _drop_upper(self, p: str) -> int:
        """Remove `p`'s upper entry and every record below it; return how many paths it held."""
        c = self.changes
        up = self._upath(p)
        st = self._upper_lstat(p)
        count = 0
        if st is not None:
            if stat_mod.S_ISDIR(st.st_mode):
                count = sum(1 for _ in up.rglob("*")) + 1
                shutil.rmtree(up)
            else:
                count = 1
                os.unlink(up)
        for key in ("whiteouts", "opaque"):
            c[key] = {q for q in c[key] if not (q == p or q.startswith(p + "/"))}
        for q in [q for q in c["meta"] if q == p or q.startswith(p + "/")]:
            del c["meta"][q]
        return count

    def _remove(self, p: str, n: Node, ops: list) -> None:
        count = len(list(self.walk(p))) + 1 if n.type == "dir" else 1
        self._drop_upper(p)
        lower = self._lower_node(p)
        ops.append(Op("remove", p, 0, f"{count} entries" if count > 1 else ""))
        if lower is not None:
            self._ensure_upper_dir(parent(p))    # the whiteout lives in its parent, as in overlay's upper dir
            self.changes["whiteouts"].add(p)
            ops.append(Op("whiteout", p))

    def remove(self, path: str, recursive: bool = False) -> list[Op]:
        """Delete a file, symlink or empty directory (with `recursive`, any directory); an image path
        leaves a whiteout. Returns the Ops."""
        with self._mutation() as ops:
            p = self.resolve(path, follow=False)
            if p == "/":
                raise _err(errno.EBUSY, path)
            n = self._lookup(p)
            if n is None:
                raise _err(errno.ENOENT, path)
            if n.type == "dir" and not recursive and self._names(p):
                raise _err(errno.ENOTEMPTY, path)
            self._remove(p, n, ops)
            return ops

    def chmod(self, path: str, mode: int) -> list[Op]:
        """Change a path's permission bits (following symlinks); an image path is copied up first."""
        with self._mutation() as ops:
            p = self.resolve(path)
            self._writable(p, ops)
            self._touch_meta(p, mode=mode & 0o7777)
            ops.append(Op("chmod", p, 0, f"{mode & 0o7777:o}"))
            return ops

    def symlink(self, target: str, path: str) -> list[Op]:
        """Create the symlink `path` -> `target` (target is stored as given); return the Ops."""
        with self._mutation() as ops:
            p = self.resolve(path, follow=False)
            if self._lookup(p) is not None:
                raise _err(errno.EEXIST, path)
            self._check_parent(p, path)
            self._new_entry_slot(p, "symlink", ops)
            os.symlink(target, self._upath(p))
            self.changes["meta"][p] = {"mode": 0o777, "uid": 0, "gid": 0, "mtime": _now()}
            ops.append(Op("link", p, 0, target))
            return ops

    def link(self, existing: str, path: str) -> list[Op]:
        """Create the hard link `path` to the file `existing` (copied up first, as overlayfs does)."""
        with self._mutation() as ops:
            src = self.resolve(existing, follow=False)
            n = self._lookup(src)
            if n is None:
                raise _err(errno.ENOENT, existing)
            if n.type == "dir":
                raise _err(errno.EPERM, existing)
            p = self.resolve(path, follow=False)
            if self._lookup(p) is not None:
                raise _err(errno.EEXIST, path)
            self._check_parent(p, path)
            self._writable(src, ops)
            self._new_entry_slot(p, "file", ops)
            os.link(self._upath(src), self._upath(p), follow_symlinks=False)
            self.changes["meta"][p] = dict(self.changes["meta"][src])
            ops.append(Op("link", p, 0, f"{src} (hard link)"))
            return ops

    def rename(self, src: str, dst: str) -> list[Op]:
        """Rename a file or directory like rename(2) (dst replaced when allowed); an image directory's
        subtree is copied up under the new name and the old name whited out. Returns the Ops."""
        with self._mutation() as ops:
            s = self.resolve(src, follow=False)
            d = self.resolve(dst, follow=False)
            sn = self._lookup(s)
            if sn is None:
                raise _err(errno.ENOENT, src, dst)
            self._check_parent(d, dst)
            if s == d:
                return ops
            if sn.type == "dir" and is_under(d, s):
                raise _err(errno.EINVAL, src, dst)
            if s == "/":
                raise _err(errno.EBUSY, src, dst)
            dn = self._lookup(d)
            if dn is not None:
                if sn.type == "dir" and dn.type != "dir":
                    raise _err(errno.ENOTDIR, src, dst)
                if sn.type != "dir" and dn.type == "dir":
                    raise _err(errno.EISDIR, src, dst)
                if dn.type == "dir" and self._names(d):
                    raise _err(errno.ENOTEMPTY, src, dst)
                if sn.type != "dir" and sn.layer_index == CONTAINER_LAYER and dn.layer_index == CONTAINER_LAYER:
                    st1, st2 = self._upper_lstat(s), self._upper_lstat(d)
                    if (st1.st_ino, st1.st_dev) == (st2.st_ino, st2.st_dev):
                        return ops  # rename(2): two links to the same file -> nothing happens
                self._remove(d, dn, ops)
            ops.append(Op("rename", s, 0, d))
            self._move(s, d, sn, ops)
            return ops

    def _pure_upper(self, p: str, n: Node) -> bool:
        """Return True when nothing of the image is visible at or below `p` (so upper/ can just rename it)."""
        if n.layer_index != CONTAINER_LAYER:
            return False
        if n.type != "dir":
            return True
        if p not in self.changes["opaque"]:
            lower = self._lower_node(p)
            if lower is not None and lower.type == "dir" and p not in self.changes["whiteouts"]:
                return False
        return all(self._pure_upper(posixpath.join(p, name), self._lookup(posixpath.join(p, name)))
                   for name in self._names(p))

    def _move(self, s: str, d: str, sn: Node, ops: list, top: bool = True) -> None:
        c = self.changes
        self._new_entry_slot(d, sn.type, ops)
        if self._pure_upper(s, sn):
            os.rename(self._upath(s), self._upath(d))
            moved = {q: m for q, m in c["meta"].items() if is_under(q, s)}
            for q in moved:
                del c["meta"][q]
            for q, m in moved.items():
                c["meta"][d + q[len(s):]] = m
            c["opaque"].discard(s)
        elif sn.type == "dir":
            # overlayfs without redirect_dir answers EXDEV and mv copies the tree (filesystems/overlayfs.rst)
            os.mkdir(self._upath(d), 0o755)
            c["meta"][d] = self._meta_of(sn)
            for name in self._names(s):
                cs, cd = posixpath.join(s, name), posixpath.join(d, name)
                self._move(cs, cd, self._lookup(cs), ops, top=False)
            self._drop_upper(s)
        else:
            self._copy_up(d, sn, ops)
            if sn.layer_index == CONTAINER_LAYER:
                self._drop_upper(s)
        if top and self._lower_node(s) is not None:
            self._ensure_upper_dir(parent(s))
            c["whiteouts"].add(s)
            ops.append(Op("whiteout", s))

    # -- reports

    def diff(self) -> list[str]:
        """Return `docker diff` lines for this container (see diff())."""
        return diff(self)

    def sh(self, script: str, cwd: str = "/"):
        """Run `script` in labkit's built-in shell on this container's files; return (output, status, ops)."""
        from ..shell import run

        return run(self, script, cwd)

    def size_rw(self) -> int:
        """Return the bytes in the read-write layer (docker's SIZE): files and symlinks, hard links once."""
        total = 0
        seen: set = set()
        if not self.upper.is_dir():
            return 0
        for dirpath, dirnames, filenames in os.walk(self.upper):
            for name in filenames + [x for x in dirnames if os.path.islink(os.path.join(dirpath, x))]:
                st = os.lstat(os.path.join(dirpath, name))
                if st.st_nlink > 1:
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                total += st.st_size
        return total

    def info(self, sizes: bool = False) -> dict:
        """Return a JSON-ready summary for `ps`: id, name, image, command, created, state, status, sizes."""
        out = {"id": self.id, "name": self.name, "image": self.image, "image_id": self.image_id,
               "command": " ".join(self.cmd), "created": self._config["created"], "state": self.state,
               "exit_code": self.exit_code, "status": self.status(), "running": self.running}
        if sizes:
            rw = self.size_rw()
            out["size"] = rw
            out["virtual_size"] = rw + self.manager.image_size(self.image_id)
        return out
