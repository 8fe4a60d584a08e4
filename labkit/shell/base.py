"""What a program of labkit's shell gets (Invocation) and may answer besides an exit status (Block, Exec,
WaitInput); the errors that stop a command the way a real one stops."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field


@dataclass
class Block:
    """The program keeps running until `until` (seconds since the epoch; None: until a signal ends it), then
    exits with `status`: `sleep 5`, `sleep infinity`, `tail -f`, a server in the foreground."""

    until: "float | None"
    status: int = 0


@dataclass
class Exec:
    """The program replaces itself with another (execve): `argv` run from `path` (what `env CMD` and a shell's
    `exec` do)."""

    path: str
    argv: list


@dataclass
class WaitInput:
    """The program needs its standard input to end first (`cat` with no file reading a terminal that is still
    open): run it again when input arrives or ends."""


class Fail(Exception):
    """A command's error: the message line (without newline) and its exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.message = message
        self.status = status


def why(e: OSError) -> str:
    """Return the strerror text a C program prints for an OSError ("No such file or directory")."""
    return e.strerror or os.strerror(e.errno or errno.EIO)


@dataclass
class Invocation:
    """One program run: its argument vector, environment and working directory, and where its output goes.

    `out`/`err` collect text; `stdin` is the text available on standard input and `stdin_eof` whether it has
    ended (False: a terminal or pipe still open). `fs` is the container (its merged view and copy-on-write
    operations), `now` the process's clock (seconds since the epoch), `ops` what the program did to files."""

    machine: object
    path: str
    argv: list
    env: dict
    cwd: str
    stdin: str = ""
    stdin_eof: bool = True
    out: list = field(default_factory=list)
    err: list = field(default_factory=list)
    stdin_used: bool = False

    @property
    def fs(self):
        """Return the container the program acts on."""
        return self.machine.fs

    @property
    def now(self) -> float:
        """Return the process's clock (seconds since the epoch)."""
        return self.machine.t

    def write(self, text: str) -> None:
        """Write to standard output."""
        self.out.append(text)

    def error(self, text: str) -> None:
        """Write a line to standard error."""
        self.err.append(text if text.endswith("\n") else text + "\n")

    def read_all(self) -> "str | None":
        """Return all of standard input, or None when it has not ended yet (the program must wait)."""
        if not self.stdin_eof:
            return None
        self.stdin_used = True
        return self.stdin

    def op(self, ops) -> None:
        """Record the container Ops a file operation returned."""
        self.machine.ops.extend(ops)

    def path_of(self, p: str) -> str:
        """Return `p` as an absolute container path (relative to the working directory)."""
        from ..paths import norm

        return norm(p, self.cwd)
