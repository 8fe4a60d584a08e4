"""The value types of containers: Op, Node, their states and limits, and the errors file operations raise."""

from __future__ import annotations

import errno
import os
from dataclasses import asdict, dataclass

from ..fsutil import FileRegion

CONTAINER_LAYER = -1         # Node.layer_index of a path that lives in the container's read-write layer

STATE_CREATED, STATE_RUNNING, STATE_EXITED = "created", "running", "exited"


# --- what happened: the data a diagram draws ------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    """One step of a file operation: kind is copy-up, whiteout, opaque, create, write, mkdir, remove, rename,
    chmod, chown or link; `path` the container path; `size` bytes involved; `detail` the rest (rename target,
    link target, mode)."""

    kind: str
    path: str
    size: int = 0
    detail: str = ""

    def __str__(self) -> str:
        from ..formatting import human_size

        k, p, d = self.kind, self.path, self.detail
        if k == "copy-up":
            if d in ("dir", "symlink"):
                return f"copied up {p} ({'directory' if d == 'dir' else 'symlink'})"
            return f"copied up {p} ({human_size(self.size)})"
        if k == "whiteout":
            return f"whiteout {p}"
        if k == "opaque":
            return f"opaque {p} (hides the image's {p})"
        if k == "create":
            return f"created {p} ({human_size(self.size)})"
        if k == "write":
            return f"wrote {human_size(self.size)} to {p}" + (f" ({d})" if d else "")
        if k == "mkdir":
            return f"mkdir {p}"
        if k == "remove":
            return f"removed {p}" + (f" ({d})" if d else "")
        if k == "rename":
            return f"renamed {p} -> {d}"
        if k == "chmod":
            return f"chmod {d} {p}"
        if k == "link":
            return f"linked {p} -> {d}"
        if k == "chown":
            return f"chown {d} {p}"
        return f"{k} {p} {d}".strip()

    def to_json(self) -> dict:
        """Return the op as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Op":
        """Return the Op a to_json() dict describes."""
        return cls(str(data["kind"]), str(data["path"]), int(data.get("size", 0)), str(data.get("detail", "")))


@dataclass(frozen=True)
class Node:
    """One path of the merged view: like imageview.Node; layer_index is CONTAINER_LAYER (-1) for the
    container's read-write layer, else the image layer the path comes from."""

    path: str
    type: str            # "file", "dir", "symlink" (or whatever the image view reports for specials)
    mode: int            # permission bits (0o7777)
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str
    layer_index: int
    data: "FileRegion | None"   # a file's bytes: its whole file in upper/, or its region of an image layer


def os_error(code: int, path: str, path2: "str | None" = None) -> OSError:
    """Return the OSError a file system raises for `code` (FileNotFoundError for ENOENT, ...), errno and
    filename(s) set, so callers can word it like a shell."""
    cls = {errno.ENOENT: FileNotFoundError, errno.EEXIST: FileExistsError, errno.EISDIR: IsADirectoryError,
           errno.ENOTDIR: NotADirectoryError, errno.EACCES: PermissionError}.get(code, OSError)
    if path2 is not None:
        return cls(code, os.strerror(code), path, None, path2)
    return cls(code, os.strerror(code), path)

