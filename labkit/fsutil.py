"""Small file-system helpers: atomic writes, inter-process locks (none where there is one process: the browser),
and FileRegion, the bytes of one file kept at an offset of a bigger one (a packed layer's file, layers/store.py)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from . import platform


def current_umask() -> int:
    """Return the process's umask without changing it (Linux's /proc/self/status); 0o777 when it cannot be
    read, so a caller that skips a chmod the umask would make needless never skips a needed one."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o777


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk so a rename into it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: "str | os.PathLike", data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never a part (temp, fsync, rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def file_lock(path: "str | os.PathLike", shared: bool = False):
    """Hold an flock on `path` (created if missing) for the duration of the block; works across processes.

    Where files cannot be locked (the browser) there is one process and, in labkit, one thread: nothing to wait for.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not platform.can_lock_files():
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_json_object(path: "str | os.PathLike", what: str) -> dict:
    """Return the JSON object in `path` ({} when the file is missing or empty); LabkitError naming `what`
    when it cannot be read or is not an object."""
    from .errors import LabkitError

    try:
        data = json.loads(Path(path).read_bytes() or b"{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise LabkitError(f"read {what} {path}: {e}") from None
    if not isinstance(data, dict):
        raise LabkitError(f"read {what} {path}: expected a JSON object")
    return data


def link_or_copy(src: "str | os.PathLike", dst: "str | os.PathLike") -> bool:
    """Hard-link `src` as `dst` (one inode, two names); where there are no hard links (the browser), copy
    the file with its mode and times instead. Return True when linked."""
    if platform.can_hard_link():
        os.link(src, dst, follow_symlinks=False)
        return True
    import shutil

    shutil.copy2(src, dst, follow_symlinks=False)
    return False


def utime_nofollow(path: "str | os.PathLike", mtime: float) -> None:
    """Set the access and modification times of `path` itself, not of a symlink's target. Where a
    symlink's own times cannot be set (the browser), a symlink keeps its times; anything else is set."""
    if platform.supports_nofollow_times():
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    elif not os.path.islink(path):
        os.utime(path, (mtime, mtime))


_COPY_CHUNK = 1 << 30      # per copy_file_range/sendfile call
_READ_CHUNK = 1 << 20      # the read/write fallback's buffer
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}


def _kernel_copies() -> list:
    """Return the kernel's ways to copy between descriptors here, best first, each as
    copy(src, dst, offset, count) -> bytes copied (0 at the end of src)."""
    ways = []
    if hasattr(os, "copy_file_range"):
        ways.append(lambda src, dst, offset, count: os.copy_file_range(src, dst, count, offset))
    if hasattr(os, "sendfile"):          # the browser has neither: plain reads and writes then
        ways.append(lambda src, dst, offset, count: os.sendfile(dst, src, offset, count))
    return ways


_KERNEL_COPIES = _kernel_copies()


def copy_fd_range(src: int, dst: int, size: int, offset: int = 0) -> int:
    """Copy `size` bytes at `offset` of `src` to the current position of `dst`, in the kernel when it can
    (copy_file_range, then sendfile), else by reads and writes; return the bytes copied (less only when src
    is shorter). `src`'s file position is neither used nor moved where the kernel copies or os.pread
    exists, so threads may share one source descriptor."""
    done = 0
    for copy in _KERNEL_COPIES:
        try:
            while done < size:
                n = copy(src, dst, offset + done, min(size - done, _COPY_CHUNK))
                if n == 0:
                    return done
                done += n
            return done
        except OSError as e:
            if done or e.errno not in _NO_KERNEL_COPY:
                raise
    pread = getattr(os, "pread", None)
    if pread is None:
        os.lseek(src, offset, os.SEEK_SET)
    while done < size:
        want = min(size - done, _READ_CHUNK)
        chunk = pread(src, want, offset + done) if pread is not None else os.read(src, want)
        if not chunk:
            return done
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]
        done += len(chunk)
    return done


class FileRegion(NamedTuple):
    """Where a regular file's bytes are: `size` bytes at `offset` of the file at `path` (a whole file on its
    own is offset 0, its size). Reading one never reads past it, so a packed layer's files stay apart."""

    path: str
    offset: int
    size: int
    packed: bool = False     # `path` holds many files' bytes (a layer's pack): worth keeping open for a while

    def open(self) -> "RegionReader":
        """Return a binary reader of the region (read(n), iteration by chunks, a context manager)."""
        return RegionReader(self)

    def read(self) -> bytes:
        """Return the region's bytes; LabkitError-free: an OSError when the file is gone."""
        with self.open() as f:
            return f.read()

    def head(self, n: int) -> bytes:
        """Return at most the first `n` bytes (a program's magic number, a preview)."""
        with self.open() as f:
            return f.read(n)

    def copy_to_fd(self, dst: int) -> int:
        """Write the region to the descriptor `dst` (at its position); return the bytes copied."""
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return copy_fd_range(fd, dst, self.size, self.offset)
        finally:
            os.close(fd)

    def copy_to(self, dest: "str | os.PathLike", mode: int = 0o644) -> int:
        """Create the file `dest` (exclusively, never through a symlink) holding the region; return its size."""
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        try:
            return self.copy_to_fd(fd)
        finally:
            os.close(fd)

    def same_bytes(self, other: "FileRegion", chunk: int = 1 << 20) -> bool:
        """Return True when both regions hold the same bytes."""
        if self.size != other.size:
            return False
        with self.open() as f, other.open() as g:
            while True:
                x, y = f.read(chunk), g.read(chunk)
                if x != y:
                    return False
                if not x:
                    return True


class RegionReader:
    """A read-only binary file of one FileRegion: read(n) never passes the region's end."""

    def __init__(self, region: FileRegion):
        self._f = open(region.path, "rb")
        if region.offset:
            self._f.seek(region.offset)
        self._left = region.size

    def read(self, n: int = -1) -> bytes:
        """Return up to `n` bytes (all that is left for n < 0)."""
        if n is None or n < 0 or n > self._left:
            n = self._left
        data = self._f.read(n) if n else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        """Close the underlying file."""
        self._f.close()

    def __enter__(self) -> "RegionReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def region_of(source: "FileRegion | str | os.PathLike") -> FileRegion:
    """Return `source` as a FileRegion: a region as it is, a path as its whole file."""
    if isinstance(source, FileRegion):
        return source
    return FileRegion(os.fspath(source), 0, os.stat(source).st_size)
