"""Container paths: absolute, "/"-separated, cleaned lexically ("/etc/hosts"); a leaf of the core level.

The merged view of a container, its copy-on-write writes and the built-in shell all speak these paths.
"""

from __future__ import annotations

import errno
import os
import posixpath

MAX_SYMLINKS = 40       # Linux's MAXSYMLINKS (include/linux/namei.h): more hops than this in one lookup is ELOOP


def norm(path: str, cwd: str = "/") -> str:
    """Return `path` as a clean absolute container path ("/etc/hosts"), lexically ('..' stops at '/')."""
    if not isinstance(path, str) or path == "":
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if "\x00" in path:
        raise ValueError(f"container path {path!r} contains a NUL byte")
    full = path if path.startswith("/") else posixpath.join(cwd or "/", path)
    out = posixpath.normpath(full)
    return "/" + out.lstrip("/") if out != "/" else "/"


def parent(path: str) -> str:
    """Return the directory holding the clean absolute `path` ("/" for "/" and for "/a")."""
    return posixpath.dirname(path) or "/"


def ancestors(path: str) -> list[str]:
    """Return the proper ancestors of a clean absolute path, root first ("/a/b/c" -> ["/", "/a", "/a/b"])."""
    out = ["/"]
    parts = [x for x in path.split("/") if x]
    for i in range(1, len(parts)):
        out.append("/" + "/".join(parts[:i]))
    return out if path != "/" else []


def is_under(path: str, top: str) -> bool:
    """Return True when `path` is `top` or lies below it (both clean absolute paths)."""
    return path == top or top == "/" or path.startswith(top + "/")


def printable(text: str) -> str:
    """Return `text` with the raw bytes of a name that is not UTF-8 shown as \\xNN escapes ("caf\\xe9.txt").

    labkit keeps such names as os.listdir returns them (PEP 383: each undecodable byte becomes a lone
    surrogate), which is lossless but cannot be printed or encoded as UTF-8; every face (the command line,
    the shell's output, tables, widgets) shows them through this.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:        # a surrogate that stands for no byte: show its code point
        return text.encode("utf-8", "backslashreplace").decode("ascii")
