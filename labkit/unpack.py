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
  created relative to its parent's descriptor, so the kernel never walks a long path; files are created
  with their final mode (no chmod unless the umask removed bits); the regular files are written by a few
  threads while the walk goes on (creating inodes is kernel work, and the calls release the GIL), each
  relative to its parent's descriptor, which stays open until its files are written.
`dest` must be empty or not exist; on failure what was written is removed.

In the browser (labkit.platform: no `dir_fd`, no hard links, no fifos, one process in a sandbox) names are
written by their full path under `dest`, still parents first and only below directories this unpack
created; hard links inside the image become copies and fifos are recorded in UnpackResult.devices.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import platform
from .errors import LabkitError
from .fsutil import copy_fd_range, current_umask, link_or_copy, utime_nofollow

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SETID = stat.S_ISUID | stat.S_ISGID
WRITERS = 2                # threads writing files (the walk runs beside them)
BATCH = 64                 # files of one directory handed over together
IN_FLIGHT = 32             # batches handed over and not written yet (bounds the directories held open)


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
    writer = _Writer(dest, WRITERS if platform.can_use_threads() else 0)
    try:
        for node in view.walk():
            writer.write(node)
        writer.finish()
    except BaseException as e:
        writer.abort()
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

    def __init__(self, dest: Path, workers: int = 0):
        self.root = str(dest)
        self.result = UnpackResult(dest=dest)
        self.by_fd = platform.supports_dir_fd()  # else by full path (the browser), see the module's docstring
        self.stack: list[tuple[str, "int | None"]] = [("", os.open(self.root, _DIR) if self.by_fd else None)]
        self.dirs: list[tuple[str, int, int]] = []
        self.links: dict = {}                  # link_group -> the first path written for that inode
        self.umask = current_umask()
        self.pool = None
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor
            self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labkit-unpack")
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(IN_FLIGHT)
        self.held: dict[int, int] = {}         # directory fd -> files being written in it
        self.left: set[int] = set()            # directory fds the walk is done with (closed by their last file)
        self.written: dict = {}                # link_group -> Future of the batch holding its first file
        self.failed: list[BaseException] = []
        self.batch: list = []                  # (node, name, mode) of files in directory self.batch_fd
        self.batch_fd = -1
        self.sources: dict[str, int] = {}      # data file -> its descriptor (see _source_fd)

    def disk(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def _parent_fd(self, p: str) -> "int | None":
        parent = p.rpartition("/")[0]
        stack = self.stack
        while len(stack) > 1 and stack[-1][0] != parent:
            self._leave(stack.pop()[1])
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
                if node.link_group in self.written:    # its first name is being written by the pool
                    self._flush()
                    self.written.pop(node.link_group).result()   # the inode must exist before a second name
                if self.by_fd and platform.can_hard_link():
                    os.link(self.disk(first), name, dst_dir_fd=dfd, follow_symlinks=False)
                else:
                    link_or_copy(self.disk(first), name)
                if node.mode & _SETID:
                    r.special_modes[p] = node.mode
                r.hardlinks += 1
            else:
                mode = self._mode(node)
                if self.pool is None:
                    self._copy(node, dfd, name, mode)
                else:
                    self._hand_over(node, dfd, name, mode)
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

    def _source_fd(self, path: str) -> int:
        """Return a descriptor of a packed layer's data file, opened once and shared by the writer threads
        (copies name their offset and never move its position)."""
        with self.lock:
            fd = self.sources.get(path)
            if fd is None:
                fd = self.sources[path] = os.open(path, _READ)
            return fd

    def _copy(self, node, dfd: int, name: str, mode: int) -> None:
        data = node.data
        # created with its final mode inside a directory only this unpack writes to (0700 until finish())
        dst = os.open(name, _CREATE, mode, dir_fd=dfd)
        try:
            if node.size:
                if data.packed:
                    copied = copy_fd_range(self._source_fd(data.path), dst, data.size, data.offset)
                else:                                  # a file of an older home's layer tree
                    copied = data.copy_to_fd(dst)
                if copied != node.size:
                    raise LabkitError(f"unpack {node.path!r}: copied {copied} bytes from {data.path}, the "
                                      f"layer index says {node.size} (was the layer store changed?)")
            if mode & self.umask:
                os.fchmod(dst, mode)
            os.utime(dst, (node.mtime, node.mtime))
        finally:
            os.close(dst)

    # ---- files written by the pool: each holds its directory's descriptor open until it is written -------
    def _hand_over(self, node, dfd: int, name: str, mode: int) -> None:
        if dfd != self.batch_fd or len(self.batch) >= BATCH:
            self._flush()
            self.batch_fd = dfd
        self.batch.append((node, name, mode))
        if node.link_group is not None:
            self.written[node.link_group] = None       # set to the batch's Future when it is handed over

    def _flush(self) -> None:
        """Hand the files gathered for one directory to the pool."""
        batch, dfd = self.batch, self.batch_fd
        if not batch:
            return
        if self.failed:
            raise self.failed[0]
        self.batch = []
        self.slots.acquire()
        with self.lock:
            self.held[dfd] = self.held.get(dfd, 0) + 1
        future = self.pool.submit(self._copy_held, batch, dfd)
        for node, _name, _mode in batch:
            if node.link_group is not None:
                self.written[node.link_group] = future

    def _copy_held(self, batch: list, dfd: int) -> None:
        try:
            for node, name, mode in batch:
                self._copy(node, dfd, name, mode)
        except BaseException as e:
            self.failed.append(e)
            raise
        finally:
            self.slots.release()
            with self.lock:
                self.held[dfd] -= 1
                if not self.held[dfd]:
                    del self.held[dfd]
                    if dfd in self.left:
                        self.left.discard(dfd)
                        os.close(dfd)

    def _leave(self, fd: "int | None") -> None:
        """The walk is done with directory `fd`: close it now, or when its last file is written (None: the
        browser's by-path writing holds no descriptor)."""
        if fd is None:
            return
        if fd == self.batch_fd:
            self._flush()
        with self.lock:
            if fd in self.held:
                self.left.add(fd)
                return
        os.close(fd)

    def _drain(self) -> None:
        """Wait for every file handed to the pool; raise the first error one of them met."""
        if self.pool is not None:
            self._flush()
            self.pool.shutdown(wait=True)
            self.pool = None
        if self.failed:
            raise self.failed[0]

    def close(self) -> None:
        """Close every directory and source descriptor still open (after the pool is done)."""
        while self.stack:
            self._leave(self.stack.pop()[1])
        with self.lock:
            for fd in (*self.left, *self.sources.values()):
                os.close(fd)
            self.left.clear()
            self.sources.clear()

    def abort(self) -> None:
        """Stop after an error: let the files being written finish (nothing may write while the tree is
        removed), then close every descriptor."""
        self.batch = []
        try:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.pool = None
        finally:
            self.held.clear()
            self.close()

    def finish(self) -> None:
        """Wait for the files, then set directory modes and mtimes, deepest first (writing children would
        change them)."""
        self._drain()
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

