"""Unpack an image's root filesystem into a standalone directory (`labkit unpack REF DIR`, like `umoci unpack`).

The tree is the ImageView's merged filesystem (overlay2 rules, see imageview.py), written as copies:
- every file's bytes are copied (copy_file_range/sendfile, kernel-side); nothing is hard-linked into the
  layer store, so no inode is shared with it and editing the tree never changes a stored layer;
- hard links inside the image (paths of one inode in one layer) become hard links within `dest`;
- nothing is written through a symlink: entries are written parents first, relative to an open
  descriptor of the parent directory this unpack created (O_DIRECTORY|O_NOFOLLOW; a path whose parent
  is not such a directory is refused, as in layers/apply.py), and the last component is created
  exclusively without following links (O_EXCL|O_NOFOLLOW, mkdir, symlink, link);
- permission bits are applied, except setuid/setgid: those are recorded in UnpackResult.special_modes,
  never set (a student's unpacked tree should not hold setuid-root programs; umoci --rootless keeps them).
  The sticky bit is kept (a sticky /tmp is harmless);
- owners are not changed (the tree belongs to whoever unpacks it, as with umoci --rootless); the image's
  owners are in UnpackResult.owners;
- device nodes (char/block) are not created, recorded in UnpackResult.devices (creating one needs root;
  umoci --rootless writes an empty regular file in their place); fifos are created (no privilege needed);
- xattrs are not written;
- mtimes are set; directories get their modes and mtimes last, deepest first (writing children changes them).
- speed: file bytes move in the kernel (copy_file_range, else sendfile, else 1 MiB reads); each name is
  created relative to its parent's descriptor, so the kernel never walks a long path.
`dest` must be empty or not exist; on failure what was written is removed.

In the browser (labkit.platform: no `dir_fd`, no hard links, no fifos, one process in a sandbox) names are
written by their full path under `dest`, still parents first and only below directories this unpack
created; hard links inside the image become copies and fifos are recorded in UnpackResult.devices.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from . import platform
from .errors import LabkitError
from .fsutil import link_or_copy, utime_nofollow

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 30           # per copy_file_range/sendfile call
_BUF = 1 << 20             # the read/write fallback's buffer
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}
_SETID = stat.S_ISUID | stat.S_ISGID


@dataclass
class UnpackResult:
    """What unpack wrote, and what the image holds that the tree does not."""

    dest: Path
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0            # extra paths linked to an inode already written
    fifos: int = 0
    bytes: int = 0                # file bytes copied
    devices: dict = field(default_factory=dict)        # path -> {type, major, minor, mode, uid, gid}: not created
    special_modes: dict = field(default_factory=dict)  # path -> full mode whose setuid/setgid bits were not set
    owners: dict = field(default_factory=dict)         # path -> (uid, gid) when not 0:0: not applied


def unpack(store, layer_store, ref, dest: "str | os.PathLike") -> UnpackResult:
    """Write image `ref`'s root filesystem (a reference, image ID or ImageRecord in the Store `store`) to `dest`
    (empty or missing) as a standalone tree; return what was written. Layers not applied yet are applied from
    the stored blobs into the LayerStore `layer_store` first."""
    from .imageview import ImageView

    _prepare(Path(os.path.abspath(dest)), check_only=True)     # a wrong dest fails before any layer is applied
    return unpack_view(ImageView.open(store, layer_store, ref), dest)


def unpack_view(view, dest: "str | os.PathLike") -> UnpackResult:
    """Write the merged filesystem of an ImageView to `dest` (empty or missing); return an UnpackResult."""
    dest = Path(os.path.abspath(dest))
    created = _prepare(dest)
    writer = _Writer(dest)
    try:
        for node in view.walk():
            writer.write(node)
        writer.finish()
    except BaseException as e:
        writer.close()
        _clean(dest, created)
        if isinstance(e, OSError):
            raise LabkitError(f"unpack into {dest}: {e.strerror or e} ({e.filename or ''})") from e
        raise
    return writer.result


def _prepare(dest: Path, check_only: bool = False) -> bool:
    """Check that dest is an empty directory or missing (then create it); return True if we created it."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        if not os.path.isdir(dest.parent):
            raise LabkitError(f"unpack into {dest}: the parent directory does not exist") from None
        if not check_only:
            os.mkdir(dest, 0o700)
        return True
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise LabkitError(f"unpack into {dest}: it exists and is not a directory")
    if any(os.scandir(dest)):
        raise LabkitError(f"unpack into {dest}: the directory is not empty")
    return False


def _clean(dest: Path, created: bool) -> None:
    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
        except OSError:
            pass
        func(p)
    try:
        os.chmod(dest, 0o700)
    except OSError:
        return
    if created:
        shutil.rmtree(dest, onerror=fix)
        return
    for entry in os.scandir(dest):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=fix)
        else:
            os.unlink(entry.path)


class _Writer:
    """Writes nodes in path order relative to open descriptors of the directories it created (a stack that
    follows the walk), so no component is ever looked up through a path that could hold a symlink."""

    def __init__(self, dest: Path):
        self.root = str(dest)
        self.result = UnpackResult(dest=dest)
        self.by_fd = platform.supports_dir_fd()  # else by full path (the browser), see the module's docstring
        self.stack: list[tuple[str, "int | None"]] = [("", os.open(self.root, _DIR) if self.by_fd else None)]
        self.dirs: list[tuple[str, int, int]] = []
        self.links: dict = {}                  # link_group -> the first path written for that inode

    def disk(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def _parent_fd(self, p: str) -> "int | None":
        parent = p.rpartition("/")[0]
        stack = self.stack
        while len(stack) > 1 and stack[-1][0] != parent:
            self._close(stack.pop()[1])
        if stack[-1][0] != parent:
            # the view yields parents first, so this means a path that would go through a non-directory
            raise LabkitError(f"unpack {p!r}: its parent {parent!r} is not a directory this unpack wrote")
        return stack[-1][1]

    def write(self, node) -> None:
        p = node.path
        r = self.result
        if node.uid or node.gid:
            r.owners[p] = (node.uid, node.gid)
        if not p:                                      # the root: dest itself
            self.dirs.append(("", self._mode(node), node.mtime))
            return
        t = node.type
        if t in ("char", "block"):
            r.devices[p] = {"type": t, "major": node.major, "minor": node.minor, "mode": node.mode,
                            "uid": node.uid, "gid": node.gid}
            return
        dfd = self._parent_fd(p)
        name = node.name if self.by_fd else self.disk(p)  # relative to dfd, or the full path (dfd None)
        if t == "dir":
            os.mkdir(name, 0o700, dir_fd=dfd)
            self.stack.append((p, os.open(name, _DIR, dir_fd=dfd) if self.by_fd else None))
            self.dirs.append((p, self._mode(node), node.mtime))
            r.dirs += 1
        elif t == "file":
            first = self.links.get(node.link_group) if node.link_group is not None else None
            if first is not None:
                if self.by_fd and platform.can_hard_link():
                    os.link(self.disk(first), name, dst_dir_fd=dfd, follow_symlinks=False)
                else:
                    link_or_copy(self.disk(first), name)
                if node.mode & _SETID:
                    r.special_modes[p] = node.mode
                r.hardlinks += 1
            else:
                self._copy(node, dfd, name)
                if node.link_group is not None:
                    self.links[node.link_group] = p
                r.files += 1
                r.bytes += node.size
        elif t == "symlink":
            os.symlink(node.linkname, name, dir_fd=dfd)
            try:
                if self.by_fd:
                    os.utime(name, (node.mtime, node.mtime), dir_fd=dfd, follow_symlinks=False)
                else:
                    utime_nofollow(name, node.mtime)
            except (NotImplementedError, OSError):
                pass
            r.symlinks += 1
        elif t == "fifo":
            if not hasattr(os, "mkfifo"):  # the browser's file system has none: recorded, like devices
                r.devices[p] = {"type": t, "major": 0, "minor": 0, "mode": node.mode, "uid": node.uid,
                                "gid": node.gid}
                return
            os.mkfifo(name, self._mode(node) & 0o777, dir_fd=dfd)
            if self.by_fd:
                os.utime(name, (node.mtime, node.mtime), dir_fd=dfd, follow_symlinks=False)
            else:
                utime_nofollow(name, node.mtime)
            r.fifos += 1

    def _mode(self, node) -> int:
        if node.mode & _SETID:
            self.result.special_modes[node.path] = node.mode
        return node.mode & 0o7777 & ~_SETID

    def _copy(self, node, dfd: int, name: str) -> None:
        source = node.source or f"{node.layer_root}/{node.path}"
        src = os.open(source, _READ)
        try:
            dst = os.open(name, _CREATE, 0o600, dir_fd=dfd)
            try:
                copied = _copy_fd(src, dst, node.size)
                if copied != node.size:
                    raise LabkitError(f"unpack {node.path!r}: copied {copied} bytes from {source}, the "
                                      f"layer index says {node.size} (was the layer tree changed?)")
                os.fchmod(dst, self._mode(node))
                os.utime(dst, (node.mtime, node.mtime))
            finally:
                os.close(dst)
        finally:
            os.close(src)

    @staticmethod
    def _close(fd: "int | None") -> None:
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Close every directory descriptor still open."""
        while self.stack:
            self._close(self.stack.pop()[1])

    def finish(self) -> None:
        """Set directory modes and mtimes, deepest first (writing children would change them)."""
        self.close()
        for path, mode, mtime in sorted(self.dirs, key=lambda d: -d[0].count("/") if d[0] else 1):
            if not self.by_fd:
                os.chmod(self.disk(path), mode)
                os.utime(self.disk(path), (mtime, mtime))
                continue
            fd = os.open(self.disk(path), _DIR)
            try:
                os.fchmod(fd, mode)
                os.utime(fd, (mtime, mtime))
            finally:
                os.close(fd)


def _copy_fd(src: int, dst: int, size: int) -> int:
    """Copy `size` bytes from src to dst in the kernel when it can (copy_file_range, then sendfile);
    return the bytes copied (less only when src is shorter)."""
    done = 0
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            while done < size:
                n = copy_range(src, dst, min(size - done, _CHUNK))
                if n == 0:
                    return done
                done += n
            return done
        except OSError as e:
            if done or e.errno not in _NO_KERNEL_COPY:
                raise
    try:
        if not hasattr(os, "sendfile"):  # the browser: plain reads and writes below
            raise OSError(errno.ENOSYS, "no sendfile")
        while done < size:
            n = os.sendfile(dst, src, done, min(size - done, _CHUNK))
            if n == 0:
                return done
            done += n
        return done
    except OSError as e:
        if done or e.errno not in _NO_KERNEL_COPY:
            raise
    while True:
        chunk = os.read(src, _BUF)
        if not chunk:
            return done
        view = memoryview(chunk)
        while view:
            n = os.write(dst, view)
            view = view[n:]
        done += len(chunk)
