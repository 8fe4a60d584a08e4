"""Small file-system helpers: atomic writes and inter-process locks (none where there is one process: the browser)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path

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
