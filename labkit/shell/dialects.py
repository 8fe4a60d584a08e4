"""How each shell of the lab's images words its errors: dash (Debian's and Ubuntu's /bin/sh), bash, and
busybox's ash. A container's shell is the program its /bin/sh or /bin/bash file is (labkit.shell.lookup)."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """One shell's wording; `a0` is the shell's $0 ("sh", "/bin/sh", a script's path), `line` the line."""

    name: str
    echo_escapes: bool        # dash's builtin echo always interprets backslash escapes (XSI echo)
    redirect_status: int = 1  # the status of a command whose redirection fails (dash: 2)

    def _at(self, a0: str, line: int) -> str:
        return f"{a0}: {line}:" if self.name == "dash" else f"{a0}:"

    def not_found(self, a0: str, line: int, name: str, script: bool) -> str:
        """Return the line for a command the shell cannot find (status 127)."""
        if self.name == "dash":
            return f"{a0}: {line}: {name}: not found"
        if self.name == "bash":
            where = f"{a0}: line {line}:" if script else f"{a0}:"
            return f"{where} {name}: No such file or directory" if "/" in name else f"{where} {name}: command not found"
        return f"{a0}: {name}: not found"

    def cannot_execute(self, a0: str, line: int, name: str, reason: str) -> str:
        """Return the line for a file the shell found but cannot execute (status 126)."""
        return f"{self._at(a0, line)} {name}: {reason}"

    def bad_interpreter(self, a0: str, line: int, name: str, interpreter: str) -> str:
        """Return the line for a script whose #! interpreter is missing."""
        if self.name == "bash":
            return f"{a0}: {name}: {interpreter}: bad interpreter: No such file or directory"
        return f"{self._at(a0, line)} {name}: not found"

    def cannot_create(self, a0: str, line: int, path: str, e: OSError) -> str:
        """Return the line for an output redirection that cannot open its file."""
        if self.name == "dash":
            reason = "Directory nonexistent" if e.errno == errno.ENOENT else _why(e)
            return f"{a0}: {line}: cannot create {path}: {reason}"
        if self.name == "ash":
            reason = "nonexistent directory" if e.errno == errno.ENOENT else _why(e)
            return f"{a0}: can't create {path}: {reason}"
        return f"{a0}: {path}: {_why(e)}"

    def cannot_open(self, a0: str, line: int, path: str, e: OSError) -> str:
        """Return the line for an input redirection (<) of a missing file."""
        if self.name == "dash":
            return f"{a0}: {line}: cannot open {path}: No such file"
        if self.name == "ash":
            return f"{a0}: can't open '{path}': {_why(e)}"
        return f"{a0}: {path}: {_why(e)}"

    def cd_error(self, a0: str, line: int, target: str, e: OSError) -> str:
        """Return the line for a failed cd."""
        if self.name == "dash":
            return f"{a0}: {line}: cd: can't cd to {target}"
        if self.name == "ash":
            return f"{a0}: cd: can't cd to {target}: {_why(e)}"
        return f"{a0}: cd: {target}: {_why(e)}"

    def illegal_number(self, a0: str, line: int, builtin: str, arg: str) -> str:
        """Return the line for `exit x` / `shift x` with a non-number."""
        if self.name == "bash":
            return f"{a0}: {builtin}: {arg}: numeric argument required"
        return f"{self._at(a0, line)} {builtin}: Illegal number: {arg}"

    def syntax(self, a0: str, line: int, err, command_string: bool) -> list[str]:
        """Return the lines for a syntax error (labkit.shell.syntax.ParseError)."""
        if err.kind == "unsupported":
            return [f"{a0}: {err.token}: not available in labkit's simulated shell"]
        if self.name == "bash":
            where = f"{a0}: -c: line {line}:" if command_string else f"{a0}: line {line}:"
            if err.kind == "quote":
                return [f"{where} unexpected EOF while looking for matching `{err.token}'",
                        f"{where} syntax error: unexpected end of file"]
            if err.kind == "eof":
                return [f"{where} syntax error: unexpected end of file"]
            return [f"{where} syntax error near unexpected token `{err.token}'"]
        if self.name == "dash":
            if err.kind == "quote":
                what = "Unterminated quoted string"
            elif err.kind == "eof":
                what = "end of file unexpected" + (f' (expecting "{err.expecting}")' if err.expecting else "")
            else:
                what = f'"{err.token}" unexpected' + (f' (expecting "{err.expecting}")' if err.expecting else "")
            return [f"{a0}: {line}: Syntax error: {what}"]
        if err.kind == "quote":
            return [f"{a0}: syntax error: unterminated quoted string"]
        if err.kind == "eof":
            return [f"{a0}: syntax error: unexpected end of file" + (
                f' (expecting "{err.expecting}")' if err.expecting else "")]
        return [f'{a0}: syntax error: unexpected "{err.token}"']


def _why(e: OSError) -> str:
    return e.strerror or os.strerror(e.errno or errno.EIO)


DASH = Dialect("dash", echo_escapes=True, redirect_status=2)
BASH = Dialect("bash", echo_escapes=False)
ASH = Dialect("ash", echo_escapes=False)

# the shell a program name is: dash and bash by their own names, busybox's sh and ash by their applet names
SHELLS = {"dash": DASH, "bash": BASH, "sh": ASH, "ash": ASH}
