"""Finding a program in a container's files, as the runtime and a shell do, and telling what the file is.

- `look_path` is Go's os/exec.LookPath, which runc calls for a container's first word before it starts the
  process (runc libcontainer/standard_init_linux.go): a name with a slash is checked as it is, otherwise each
  directory of the process's PATH is tried; the error texts are Go's (`exec: "cat": executable file not found
  in $PATH`, `exec: "/x": stat /x: no such file or directory`).
- `search` is a shell's own PATH search (XCU 2.9.1.1): the first executable regular file, or None.
- `identify` says what the kernel would do with the file: an ELF binary (known by its file name, as busybox
  knows its applets), a `#!` script (its interpreter and optional argument), or neither (execve answers
  ENOEXEC, "exec format error").

The default PATH, when the image sets none, is Docker's (moby daemon/pkg/oci/defaults.go).
"""

from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import dataclass

from ..paths import norm

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ELF_MAGIC = b"\x7fELF"


class ExecError(Exception):
    """A program that could not be started: `message` is the runtime's text, `status` Docker's exit code (127
    for a missing file, 126 for one that cannot be executed; moby daemon/errors.go setExitCodeFromError)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Program:
    """What a file is when executed: kind "elf" (`name` is the file's name), "script" (`interpreter` and its
    optional `argument` from the #! line) or "text" (no magic number: exec format error)."""

    path: str
    kind: str
    name: str = ""
    interpreter: str = ""
    argument: "str | None" = None


def _stat(fs, path: str):
    """Return the merged node at `path`, following symlinks (FileNotFoundError, NotADirectoryError, ...)."""
    return fs.stat(path)


def _executable(fs, path: str) -> "str | None":
    """Return None when `path` is an executable regular file, else the errno text Go's findExecutable gives."""
    try:
        n = _stat(fs, path)
    except OSError as e:
        return f"stat {path}: {os.strerror(e.errno or errno.ENOENT).lower()}" if e.errno else f"stat {path}: {e}"
    if n.type == "dir":
        return "is a directory"
    if n.type != "file" or not n.mode & 0o111:
        return "permission denied"
    return None


def look_path(fs, name: str, path_var: "str | None", cwd: str = "/") -> str:
    """Return the container path the runtime executes for `name` (Go's exec.LookPath); ExecError otherwise."""
    if "/" in name:
        full = norm(name, cwd)
        why = _executable(fs, full)
        if why is not None:
            raise ExecError(f'exec: "{name}": {why}', 126 if why in ("is a directory", "permission denied") else 127)
        return full
    for d in (DEFAULT_PATH if path_var is None else path_var).split(":"):
        d = d or "."
        full = norm(posixpath.join(d, name), cwd)
        if _executable(fs, full) is None:
            return full
    raise ExecError(f'exec: "{name}": executable file not found in $PATH', 127)


def search(fs, name: str, path_var: "str | None", cwd: str = "/") -> "str | None":
    """Return the file a shell runs for a command `name` without a slash (first executable regular file in
    PATH), or None."""
    for d in (DEFAULT_PATH if path_var is None else path_var).split(":"):
        full = norm(posixpath.join(d or ".", name), cwd)
        if _executable(fs, full) is None:
            return full
    return None


def head(fs, path: str, size: int = 256) -> bytes:
    """Return the first bytes of a file (without reading a big binary whole when it lies on disk)."""
    n = _stat(fs, path)
    data = getattr(n, "data", None)
    if data is not None:
        return data.head(size)
    return fs.read(path)[:size]


def identify(fs, path: str) -> Program:
    """Return what executing the file at `path` runs (the kernel's choice between binfmt_elf and
    binfmt_script); the ELF's name is the file name once symlinks are followed (how busybox picks an applet
    through a hard link, and how a symlink like /bin/sh -> dash names dash)."""
    data = head(fs, path)
    if data.startswith(ELF_MAGIC):
        real = fs.resolve(path)
        return Program(path, "elf", name=posixpath.basename(real))
    if data.startswith(b"#!"):
        line = data[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        interpreter, _, argument = line.partition(" ")
        argument = argument.strip()
        return Program(path, "script", interpreter=interpreter, argument=argument or None)
    return Program(path, "text")
