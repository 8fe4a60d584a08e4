"""A container's copy-on-write file operations: the first write or metadata change of an image file copies it
up into upper/ (its parents as directories); deleting an image path leaves a whiteout; a directory made over
a deleted image directory is opaque (kernel Documentation/filesystems/overlayfs.rst, without redirect_dir)."""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat as stat_mod

from ..clock import now_seconds
from ..fsutil import FileRegion, link_or_copy, region_of
from ..paths import is_under, norm, parent
from .ops import CONTAINER_LAYER, Node, Op, os_error


class CopyOnWrite:
    """Writes of the merged view (a part of Container). Uses the MergedView's lookups (node_at, lower_node,
    names, upper_path, upper_lstat, resolve, walk), the ContainerState's `changes` and mutation(), and `lower`.

    Each operation returns the Ops it did (copy-up first when there was one) and raises the OSError a file
    system raises (FileNotFoundError, IsADirectoryError, ...).
    """

    # the owner (uid, gid) of the entries the container's processes create: its user's (a Dockerfile RUN after
    # USER); root by default
    creator: tuple = (0, 0)

    def _meta_of(self, n: Node) -> dict:
        return {"mode": n.mode, "uid": n.uid, "gid": n.gid, "mtime": n.mtime}

    def _ensure_upper_dir(self, p: str) -> None:
        """Make the directory `p` (and its parents) exist in upper/, copying image dirs' metadata."""
        if p == "/":
            self.upper.mkdir(parents=True, exist_ok=True)
            return
        st = self.upper_lstat(p)
        if st is not None:
            if not stat_mod.S_ISDIR(st.st_mode):
                raise os_error(errno.ENOTDIR, p)
            return
        self._ensure_upper_dir(parent(p))
        n = self.node_at(p)
        if n is None or n.type != "dir":
            raise os_error(errno.ENOENT if n is None else errno.ENOTDIR, p)
        os.mkdir(self.upper_path(p), 0o755)
        self.changes["meta"][p] = self._meta_of(n)

    def _copy_up(self, p: str, n: Node, ops: list) -> None:
        """Copy the image's node `n` (file, symlink or bare dir) to `p` in upper/ (whole file); record an Op."""
        if n.type not in ("file", "dir", "symlink"):
            raise os_error(errno.EPERM, p)      # device nodes are image metadata only (layers/apply.py)
        self._ensure_upper_dir(parent(p))
        dest = self.upper_path(p)
        if n.type == "symlink":
            os.symlink(n.linkname, dest)
            size = 0
        elif n.type == "dir":
            if not dest.is_dir():
                os.mkdir(dest, 0o755)
            size = 0
        else:
            if n.data is None:
                dest.write_bytes(self.lower.read(n.path))
            else:
                n.data.copy_to(dest)
            os.chmod(dest, 0o644)
            size = n.size
        self.changes["meta"][p] = self._meta_of(n)
        ops.append(Op("copy-up", p, size, n.type))

    def _writable(self, p: str, ops: list) -> Node:
        """Return the node at `p` after making sure it lives in upper/ (copying it up if needed)."""
        n = self.node_at(p)
        if n is None:
            raise os_error(errno.ENOENT, p)
        if n.layer_index != CONTAINER_LAYER:
            self._copy_up(p, n, ops)
            n = self.node_at(p)
        return n

    def _new_entry_slot(self, p: str, kind: str, ops: list) -> None:
        """Prepare upper/ for a new entry at `p` (parent dir copied up; a whiteout there replaced)."""
        c = self.changes
        self._ensure_upper_dir(parent(p))
        if p in c["whiteouts"]:
            c["whiteouts"].discard(p)
            lower = self.lower_node(p)
            if kind == "dir" and lower is not None and lower.type == "dir":
                # the image's directory stays deleted: mark the new one opaque (image-spec layer.md#opaque-whiteout)
                c["opaque"].add(p)
                ops.append(Op("opaque", p))

    def _check_parent(self, p: str, path: str) -> None:
        above = self.node_at(parent(p))
        if above is None:
            raise os_error(errno.ENOENT, path)
        if above.type != "dir":
            raise os_error(errno.ENOTDIR, path)

    def _same_inode_paths(self, p: str) -> list[str]:
        """Return the upper paths hard-linked with `p` (itself included)."""
        st = self.upper_lstat(p)
        if st is None or st.st_nlink < 2 or not stat_mod.S_ISREG(st.st_mode):
            return [p]
        out = []
        for q in self.changes["meta"]:
            s2 = self.upper_lstat(q)
            if s2 is not None and (s2.st_ino, s2.st_dev) == (st.st_ino, st.st_dev):
                out.append(q)
        return out or [p]

    def _touch_meta(self, p: str, **fields) -> None:
        for q in self._same_inode_paths(p):
            meta = self.changes["meta"].setdefault(q, {"mode": 0o644, "uid": 0, "gid": 0, "mtime": now_seconds()})
            meta.update(fields)

    # -- file operations

    def write(self, path: str, data: bytes, mode: int = 0o644, append: bool = False) -> list[Op]:
        """Create or replace (or with `append`, extend) a file; return the Ops (copy-up first if needed)."""
        if isinstance(data, str):
            data = data.encode()
        with self.mutation() as ops:
            p = self.resolve(path)
            n = self.node_at(p)
            if n is None:
                self._check_parent(p, path)
                self._new_entry_slot(p, "file", ops)
                self.upper_path(p).write_bytes(data)
                self.changes["meta"][p] = {"mode": mode & 0o7777, "uid": self.creator[0], "gid": self.creator[1],
                                           "mtime": now_seconds()}
                ops.append(Op("create", p, len(data)))
                return ops
            if n.type == "dir":
                raise os_error(errno.EISDIR, path)
            n = self._writable(p, ops)
            with open(self.upper_path(p), "ab" if append else "wb") as f:
                f.write(data)
            self._touch_meta(p, mtime=now_seconds())
            ops.append(Op("write", p, len(data), "appended" if append else "replaced"))
            return ops

    def append(self, path: str, data: bytes) -> list[Op]:
        """Append to a file (creating it); return the Ops."""
        return self.write(path, data, append=True)

    def truncate(self, path: str, size: int = 0) -> list[Op]:
        """Cut (or zero-extend) a file to `size` bytes; return the Ops."""
        with self.mutation() as ops:
            p = self.resolve(path)
            n = self.node_at(p)
            if n is None:
                raise os_error(errno.ENOENT, path)
            if n.type == "dir":
                raise os_error(errno.EISDIR, path)
            self._writable(p, ops)
            os.truncate(self.upper_path(p), size)
            self._touch_meta(p, mtime=now_seconds())
            ops.append(Op("write", p, size, "truncated"))
            return ops

    def touch(self, path: str) -> list[Op]:
        """Create an empty file, or update an existing path's mtime (a metadata change: copy-up)."""
        p = self.resolve(path)
        if self.node_at(p) is None:
            return self.write(path, b"")
        with self.mutation() as ops:
            self._writable(p, ops)
            self._touch_meta(p, mtime=now_seconds())
            return ops

    def mkdir(self, path: str, parents: bool = False, mode: int = 0o755) -> list[Op]:
        """Create a directory (with `parents`, its missing parents too, and no error if it exists)."""
        with self.mutation() as ops:
            if not parents:
                p = self.resolve(path, follow=False)
                if self.node_at(p) is not None:
                    raise os_error(errno.EEXIST, path)
                self._check_parent(p, path)
                self._mkdir_one(p, mode, ops)
                return ops
            cur = "/"
            for part in [x for x in norm(path).split("/") if x]:
                cand = self.resolve(posixpath.join(cur, part), follow=False)
                n = self.node_at(cand)
                if n is not None and n.type == "symlink":
                    cand = self.resolve(cand)
                    n = self.node_at(cand)
                    if n is None:
                        raise os_error(errno.EEXIST, path)
                if n is None:
                    self._mkdir_one(cand, mode, ops)
                elif n.type != "dir":
                    raise os_error(errno.EEXIST if cand == self.resolve(path, follow=False) else errno.ENOTDIR, path)
                cur = cand
            return ops

    def _mkdir_one(self, p: str, mode: int, ops: list) -> None:
        at = len(ops)
        self._new_entry_slot(p, "dir", ops)
        os.mkdir(self.upper_path(p), 0o755)
        self.changes["meta"][p] = {"mode": mode & 0o7777, "uid": self.creator[0], "gid": self.creator[1],
                                   "mtime": now_seconds()}
        ops.insert(at, Op("mkdir", p))

    def _drop_upper(self, p: str) -> int:
        """Remove `p`'s upper entry and every record below it; return how many paths it held."""
        c = self.changes
        up = self.upper_path(p)
        st = self.upper_lstat(p)
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
        lower = self.lower_node(p)
        ops.append(Op("remove", p, 0, f"{count} entries" if count > 1 else ""))
        if lower is not None:
            self._ensure_upper_dir(parent(p))    # the whiteout lives in its parent, as in overlay's upper dir
            self.changes["whiteouts"].add(p)
            ops.append(Op("whiteout", p))

    def remove(self, path: str, recursive: bool = False) -> list[Op]:
        """Delete a file, symlink or empty directory (with `recursive`, any directory); an image path
        leaves a whiteout. Returns the Ops."""
        with self.mutation() as ops:
            p = self.resolve(path, follow=False)
            if p == "/":
                raise os_error(errno.EBUSY, path)
            n = self.node_at(p)
            if n is None:
                raise os_error(errno.ENOENT, path)
            if n.type == "dir" and not recursive and self.names(p):
                raise os_error(errno.ENOTEMPTY, path)
            self._remove(p, n, ops)
            return ops

    def chmod(self, path: str, mode: int) -> list[Op]:
        """Change a path's permission bits (following symlinks); an image path is copied up first."""
        with self.mutation() as ops:
            p = self.resolve(path)
            self._writable(p, ops)
            self._touch_meta(p, mode=mode & 0o7777)
            ops.append(Op("chmod", p, 0, f"{mode & 0o7777:o}"))
            return ops

    def chown(self, path: str, uid: int, gid: int, follow: bool = True) -> list[Op]:
        """Change a path's owner (following symlinks unless `follow` is False); an image path is copied up."""
        with self.mutation() as ops:
            p = self.resolve(path, follow=follow)
            self._writable(p, ops)
            self._touch_meta(p, uid=int(uid), gid=int(gid))
            ops.append(Op("chown", p, 0, f"{uid}:{gid}"))
            return ops

    def set_meta(self, path: str, mode: "int | None" = None, uid: "int | None" = None, gid: "int | None" = None,
                 mtime: "int | None" = None, follow: bool = True) -> list[Op]:
        """Set any of a path's permission bits, owner and modification time at once (what COPY gives each path
        it copies); an image path is copied up first. Returns the Ops."""
        fields = {k: int(v) for k, v in (("mode", mode), ("uid", uid), ("gid", gid), ("mtime", mtime))
                  if v is not None}
        if "mode" in fields:
            fields["mode"] &= 0o7777
        with self.mutation() as ops:
            p = self.resolve(path, follow=follow)
            self._writable(p, ops)
            self._touch_meta(p, **fields)
            return ops

    def put(self, path: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
            mtime: "int | None" = None, source: "FileRegion | str | os.PathLike | None" = None) -> list[Op]:
        """Create or replace the regular file `path` with new contents and metadata (a COPY of one file):
        nothing of a file it replaces is copied up first; a symlink at `path` is replaced, not followed.
        `source` copies the contents from a file on disk (a path, or a FileRegion: another image's file)
        instead of `data`. Returns the Ops."""
        with self.mutation() as ops:
            p = self.resolve(path, follow=False)
            n = self.node_at(p)
            if n is not None and n.type == "dir":
                raise os_error(errno.EISDIR, path)
            if n is None:
                self._check_parent(p, path)
            elif n.layer_index == CONTAINER_LAYER:
                self._drop_upper(p)        # replaced: a hard link's other names keep the old contents
            self._new_entry_slot(p, "file", ops)
            dest = self.upper_path(p)
            if source is not None:
                size = region_of(source).copy_to(dest)        # the kernel's copy, as for a copy-up
            else:
                dest.write_bytes(data)
                size = len(data)
            self.changes["meta"][p] = {"mode": mode & 0o7777, "uid": int(uid), "gid": int(gid),
                                       "mtime": now_seconds() if mtime is None else int(mtime)}
            ops.append(Op("create" if n is None else "write", p, size, "" if n is None else "replaced"))
            return ops

    def symlink(self, target: str, path: str) -> list[Op]:
        """Create the symlink `path` -> `target` (target is stored as given); return the Ops."""
        with self.mutation() as ops:
            p = self.resolve(path, follow=False)
            if self.node_at(p) is not None:
                raise os_error(errno.EEXIST, path)
            self._check_parent(p, path)
            self._new_entry_slot(p, "symlink", ops)
            os.symlink(target, self.upper_path(p))
            self.changes["meta"][p] = {"mode": 0o777, "uid": self.creator[0], "gid": self.creator[1],
                                       "mtime": now_seconds()}
            ops.append(Op("link", p, 0, target))
            return ops

    def link(self, existing: str, path: str) -> list[Op]:
        """Create the hard link `path` to the file `existing` (copied up first, as overlayfs does)."""
        with self.mutation() as ops:
            src = self.resolve(existing, follow=False)
            n = self.node_at(src)
            if n is None:
                raise os_error(errno.ENOENT, existing)
            if n.type == "dir":
                raise os_error(errno.EPERM, existing)
            p = self.resolve(path, follow=False)
            if self.node_at(p) is not None:
                raise os_error(errno.EEXIST, path)
            self._check_parent(p, path)
            self._writable(src, ops)
            self._new_entry_slot(p, "file", ops)
            link_or_copy(self.upper_path(src), self.upper_path(p))  # a copy where there are no hard links
            self.changes["meta"][p] = dict(self.changes["meta"][src])
            ops.append(Op("link", p, 0, f"{src} (hard link)"))
            return ops

    def rename(self, src: str, dst: str) -> list[Op]:
        """Rename a file or directory like rename(2) (dst replaced when allowed); an image directory's
        subtree is copied up under the new name and the old name whited out. Returns the Ops."""
        with self.mutation() as ops:
            s = self.resolve(src, follow=False)
            d = self.resolve(dst, follow=False)
            sn = self.node_at(s)
            if sn is None:
                raise os_error(errno.ENOENT, src, dst)
            self._check_parent(d, dst)
            if s == d:
                return ops
            if sn.type == "dir" and is_under(d, s):
                raise os_error(errno.EINVAL, src, dst)
            if s == "/":
                raise os_error(errno.EBUSY, src, dst)
            dn = self.node_at(d)
            if dn is not None:
                if sn.type == "dir" and dn.type != "dir":
                    raise os_error(errno.ENOTDIR, src, dst)
                if sn.type != "dir" and dn.type == "dir":
                    raise os_error(errno.EISDIR, src, dst)
                if dn.type == "dir" and self.names(d):
                    raise os_error(errno.ENOTEMPTY, src, dst)
                if sn.type != "dir" and sn.layer_index == CONTAINER_LAYER and dn.layer_index == CONTAINER_LAYER:
                    st1, st2 = self.upper_lstat(s), self.upper_lstat(d)
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
            lower = self.lower_node(p)
            if lower is not None and lower.type == "dir" and p not in self.changes["whiteouts"]:
                return False
        return all(self._pure_upper(posixpath.join(p, name), self.node_at(posixpath.join(p, name)))
                   for name in self.names(p))

    def _move(self, s: str, d: str, sn: Node, ops: list, top: bool = True) -> None:
        c = self.changes
        self._new_entry_slot(d, sn.type, ops)
        if self._pure_upper(s, sn):
            os.rename(self.upper_path(s), self.upper_path(d))
            moved = {q: m for q, m in c["meta"].items() if is_under(q, s)}
            for q in moved:
                del c["meta"][q]
            for q, m in moved.items():
                c["meta"][d + q[len(s):]] = m
            c["opaque"].discard(s)
        elif sn.type == "dir":
            # overlayfs without redirect_dir answers EXDEV and mv copies the tree (filesystems/overlayfs.rst)
            os.mkdir(self.upper_path(d), 0o755)
            c["meta"][d] = self._meta_of(sn)
            for name in self.names(s):
                cs, cd = posixpath.join(s, name), posixpath.join(d, name)
                self._move(cs, cd, self.node_at(cs), ops, top=False)
            self._drop_upper(s)
        else:
            self._copy_up(d, sn, ops)
            if sn.layer_index == CONTAINER_LAYER:
                self._drop_upper(s)
        if top and self.lower_node(s) is not None:
            self._ensure_upper_dir(parent(s))
            c["whiteouts"].add(s)
            ops.append(Op("whiteout", s))
