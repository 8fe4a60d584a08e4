"""The small built-in shell whose commands act on a container's file system (no process runs).

`run(container, script)` parses a command line with shlex (quotes, `;`, `&&`, `||`, `>` and `>>`),
runs the built-in commands on the container's merged view and returns a ShellResult: the output a
terminal would show (stdout and stderr interleaved), the exit status and the container Ops the commands
caused. Errors are worded like GNU coreutils and bash ("rm: cannot remove 'x': No such file or directory",
status 1); a command labkit does not have answers "sh: NAME: not available in labkit's simulated shell"
with status 127, the status a shell gives for a command it cannot find.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import shlex
import stat as stat_mod
import time
from dataclasses import dataclass, field

from .paths import norm, printable

SHELLS = frozenset({"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash", "ash", "/bin/ash",
                    "dash", "/bin/dash"})
UMASK = 0o022


@dataclass
class ShellResult:
    """What a command line did: output text, exit status, and the container Ops in order."""

    output: str
    status: int
    ops: list = field(default_factory=list)

    def __iter__(self):
        """Return an iterator over (output, status, ops), so a result unpacks like a tuple."""
        return iter((self.output, self.status, self.ops))


class _Exit(Exception):
    def __init__(self, status: int):
        self.status = status


class _Fail(Exception):
    """A command's error: the message line and its exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.message = message
        self.status = status


def _why(e: OSError) -> str:
    return e.strerror or os.strerror(e.errno or errno.EIO)


# --- parsing -------------------------------------------------------------------------------------------

_OPERATORS = (";", "&&", "||")


def parse(script: str) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    """Return the command line as [(connector, argv, redirects)]: connector is "", ";", "&&" or "||" (how
    it joins the previous command); redirects are (">" or ">>", path). Raises _Fail on a syntax error."""
    lex = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|<>")
    lex.whitespace_split = True
    try:
        tokens = list(lex)
    except ValueError as e:
        raise _Fail(f"sh: syntax error: {e}", 2) from None
    out: list = []
    connector, argv, redirects = "", [], []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in _OPERATORS:
            if argv:
                out.append((connector, argv, redirects))
                connector, argv, redirects = t, [], []
            elif redirects or t != ";" or connector in ("&&", "||"):
                raise _Fail(f"sh: syntax error near unexpected token `{t}'", 2)
            # an empty ";" segment (a blank line) is skipped
        elif t in (">", ">>"):
            if i + 1 >= len(tokens) or set(tokens[i + 1]) <= set(";&|<>"):
                raise _Fail("sh: syntax error near unexpected token `newline'", 2)
            redirects.append((t, tokens[i + 1]))
            i += 1
        elif t and set(t) <= set(";&|<>"):
            if t == "|":
                raise _Fail("sh: pipes are not available in labkit's simulated shell", 2)
            raise _Fail(f"sh: syntax error near unexpected token `{t}'", 2)
        else:
            argv.append(t)
        i += 1
    if argv:
        out.append((connector, argv, redirects))
    elif redirects:
        raise _Fail("sh: syntax error near unexpected token `newline'", 2)
    elif connector in ("&&", "||"):
        raise _Fail("sh: syntax error: unexpected end of file", 2)
    return out


# --- the shell -----------------------------------------------------------------------------------------

class Shell:
    """A shell session on one container: a working directory and the built-in commands."""

    def __init__(self, container, cwd: str = "/"):
        self.c = container
        self.cwd = cwd
        self.ops: list = []

    def run(self, script: str) -> ShellResult:
        """Run a command line; return its ShellResult (output, status, ops)."""
        start = len(self.ops)
        out: list[str] = []
        try:
            commands = parse(script)
        except _Fail as e:
            return ShellResult(e.message + "\n", e.status, [])
        status = 0
        try:
            for connector, argv, redirects in commands:
                if connector == "&&" and status != 0:
                    continue
                if connector == "||" and status == 0:
                    continue
                status = self._one(argv, redirects, out)
        except _Exit as e:
            status = e.status
        return ShellResult(printable("".join(out)), status, self.ops[start:])

    def run_argv(self, argv: list[str]) -> ShellResult:
        """Run one command given as an argument vector (what docker's exec form passes)."""
        start = len(self.ops)
        out: list[str] = []
        try:
            status = self._one(list(argv), [], out)
        except _Exit as e:
            status = e.status
        return ShellResult(printable("".join(out)), status, self.ops[start:])

    # -- plumbing

    def _op(self, ops) -> None:
        self.ops.extend(ops)

    def _path(self, p: str) -> str:
        return norm(p, self.cwd)

    def _one(self, argv: list[str], redirects: list, out: list) -> int:
        if not argv:
            return 0
        name = argv[0]
        if name in SHELLS:
            return self._sh(argv, out)
        handler = getattr(self, "cmd_" + name.replace("-", "_"), None) if re.fullmatch(r"[a-z]+", name) else None
        if handler is None:
            out.append(f"sh: {name}: not available in labkit's simulated shell\n")
            return 127
        stdout: list[str] = []
        stderr: list[str] = []
        try:
            status = handler(argv[1:], stdout, stderr)
        except _Fail as e:
            stderr.append(e.message + "\n")
            status = e.status
        text = "".join(stdout)
        if redirects:
            for i, (kind, target) in enumerate(redirects):
                data = text.encode("utf-8", "surrogateescape") if i == len(redirects) - 1 else b""
                try:
                    self._redirect(kind, target, data)
                except OSError as e:
                    out.extend(stderr)
                    out.append(f"sh: {target}: {_why(e)}\n")
                    return 1
            text = ""
        out.append(text)
        out.extend(stderr)
        return status

    def _redirect(self, kind: str, target: str, data: bytes) -> None:
        p = self._path(target)
        try:
            n = self.c.stat(p)
        except FileNotFoundError:
            n = None
        if n is not None and n.type == "dir":
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target)
        if kind == ">>":
            self._op(self.c.write(p, data, mode=0o666 & ~UMASK, append=True))
        else:
            self._op(self.c.write(p, data, mode=0o666 & ~UMASK))

    def _sh(self, argv: list[str], out: list) -> int:
        args = argv[1:]
        while args and args[0].startswith("-") and args[0] != "-c" and len(args[0]) > 1:
            args = args[1:]            # -e, -x, -l, ...: accepted and ignored
        if not args:
            return 0                   # an interactive shell with no input ends at once
        if args[0] != "-c":
            out.append(f"sh: {args[0]}: scripts are not available in labkit's simulated shell (use sh -c)\n")
            return 127
        if len(args) < 2:
            out.append("sh: -c: option requires an argument\n")
            return 2
        sub = Shell(self.c, self.cwd)
        res = sub.run(args[1])
        self.ops.extend(res.ops)
        out.append(res.output)
        return res.status

    @staticmethod
    def _flags(args: list[str], allowed: str, cmd: str) -> tuple[set, list[str]]:
        flags: set = set()
        rest: list[str] = []
        done = False
        for a in args:
            if not done and a == "--":
                done = True
            elif not done and a.startswith("-") and len(a) > 1:
                if a.startswith("--"):
                    long = {"--recursive": "r", "--force": "f", "--parents": "p", "--all": "a",
                            "--symbolic": "s"}.get(a)
                    if long is None or long not in allowed:
                        raise _Fail(f"{cmd}: unrecognized option '{a}'", 2 if cmd == "ls" else 1)
                    flags.add(long)
                    continue
                for ch in a[1:]:
                    if ch not in allowed:
                        raise _Fail(f"{cmd}: invalid option -- '{ch}'", 2 if cmd == "ls" else 1)
                    flags.add(ch)
            else:
                rest.append(a)
        return flags, rest

    # -- commands (each returns the status; stdout/stderr are lists of text)

    def cmd_true(self, args, stdout, stderr) -> int:
        """Return 0."""
        return 0

    def cmd_false(self, args, stdout, stderr) -> int:
        """Return 1."""
        return 1

    def cmd_exit(self, args, stdout, stderr) -> int:
        """End the command line with a status (raises _Exit)."""
        try:
            code = int(args[0]) if args else 0
        except ValueError:
            raise _Fail(f"sh: exit: {args[0]}: numeric argument required", 2) from None
        raise _Exit(code & 0xFF)

    def cmd_pwd(self, args, stdout, stderr) -> int:
        """Print the working directory; return 0."""
        stdout.append(self.cwd + "\n")
        return 0

    def cmd_cd(self, args, stdout, stderr) -> int:
        """Change the working directory; return 0 or 1."""
        target = args[0] if args else "/"
        try:
            p = self.c.resolve(self._path(target))
            n = self.c.stat(p)
        except OSError as e:
            raise _Fail(f"sh: cd: {target}: {_why(e)}") from None
        if n.type != "dir":
            raise _Fail(f"sh: cd: {target}: Not a directory")
        self.cwd = self._path(target)
        return 0

    def cmd_echo(self, args, stdout, stderr) -> int:
        """Print the arguments (-n: no newline); return 0."""
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        stdout.append(" ".join(args) + ("\n" if newline else ""))
        return 0

    def cmd_cat(self, args, stdout, stderr) -> int:
        """Print files; return 1 if one is unreadable."""
        status = 0
        for a in args:
            try:
                stdout.append(self.c.read(self._path(a)).decode("utf-8", "replace"))
            except OSError as e:
                stderr.append(f"cat: {a}: {_why(e)}\n")
                status = 1
        return status

    def cmd_touch(self, args, stdout, stderr) -> int:
        """Create files or update their mtime; return 0 or 1."""
        if not args:
            raise _Fail("touch: missing file operand")
        status = 0
        for a in args:
            try:
                self._op(self.c.touch(self._path(a)))
            except OSError as e:
                stderr.append(f"touch: cannot touch '{a}': {_why(e)}\n")
                status = 1
        return status

    def cmd_mkdir(self, args, stdout, stderr) -> int:
        """Create directories (-p: parents); return 0 or 1."""
        flags, names = self._flags(args, "p", "mkdir")
        if not names:
            raise _Fail("mkdir: missing operand")
        status = 0
        for a in names:
            try:
                self._op(self.c.mkdir(self._path(a), parents="p" in flags, mode=0o777 & ~UMASK))
            except OSError as e:
                stderr.append(f"mkdir: cannot create directory '{a}': {_why(e)}\n")
                status = 1
        return status

    def cmd_rm(self, args, stdout, stderr) -> int:
        """Remove files (-r: trees, -f: no complaints); return 0 or 1."""
        flags, names = self._flags(args, "rRfdv", "rm")
        recursive = bool(flags & {"r", "R"})
        if not names:
            if "f" in flags:
                return 0
            raise _Fail("rm: missing operand")
        status = 0
        for a in names:
            p = self._path(a)
            if p == "/" and recursive:
                stderr.append("rm: it is dangerous to operate recursively on '/'\n"
                              "rm: use --no-preserve-root to override this failsafe\n")
                status = 1
                continue
            try:
                n = self.c.lstat(p)
                if n.type == "dir" and not recursive:
                    if "d" not in flags:
                        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), a)
                self._op(self.c.remove(p, recursive=recursive))
            except FileNotFoundError as e:
                if "f" not in flags:
                    stderr.append(f"rm: cannot remove '{a}': {_why(e)}\n")
                    status = 1
            except OSError as e:
                stderr.append(f"rm: cannot remove '{a}': {_why(e)}\n")
                status = 1
        return status

    def _dest(self, src: str, dst: str) -> str:
        """Return where `src` lands for `mv/cp/ln SRC DST`: inside DST when it is a directory."""
        d = self._path(dst)
        try:
            if self.c.stat(d).type == "dir":
                return posixpath.join(d, posixpath.basename(self._path(src)))
        except OSError:
            pass
        return d

    def _targets(self, names: list[str], cmd: str) -> tuple[list[str], str]:
        if not names:
            raise _Fail(f"{cmd}: missing file operand")
        if len(names) == 1:
            raise _Fail(f"{cmd}: missing destination file operand after '{names[0]}'")
        srcs, dst = names[:-1], names[-1]
        if len(srcs) > 1:
            try:
                is_dir = self.c.stat(self._path(dst)).type == "dir"
            except OSError:
                is_dir = False
            if not is_dir:
                raise _Fail(f"{cmd}: target '{dst}' is not a directory")
        return srcs, dst

    def cmd_mv(self, args, stdout, stderr) -> int:
        """Move or rename; return 0 or 1."""
        flags, names = self._flags(args, "fv", "mv")
        srcs, dst = self._targets(names, "mv")
        status = 0
        for a in srcs:
            try:
                self.c.lstat(self._path(a))
            except OSError as e:
                stderr.append(f"mv: cannot stat '{a}': {_why(e)}\n")
                status = 1
                continue
            target = self._dest(a, dst)
            src = self._path(a)
            if src == target or target.startswith(src + "/"):
                if src == target:
                    stderr.append(f"mv: '{a}' and '{dst}' are the same file\n")
                else:
                    stderr.append(f"mv: cannot move '{a}' to a subdirectory of itself, '{target}'\n")
                status = 1
                continue
            try:
                self._op(self.c.rename(src, target))
            except OSError as e:
                stderr.append(f"mv: cannot move '{a}' to '{target}': {_why(e)}\n")
                status = 1
        return status

    def _copy(self, src: str, dst: str, recursive: bool, top: bool = True) -> None:
        n = self.c.lstat(src) if recursive else self.c.stat(src)
        if n.type == "symlink":
            self._op(self.c.symlink(n.linkname, dst))
        elif n.type == "dir":
            try:
                existing = self.c.stat(dst)
            except FileNotFoundError:
                existing = None
            if existing is None:
                self._op(self.c.mkdir(dst, mode=n.mode & 0o777))
            elif existing.type != "dir":
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
            for name in self.c.listdir(src):
                self._copy(posixpath.join(src, name), posixpath.join(dst, name), recursive, False)
        elif n.type == "file":
            data = self.c.read(src)
            try:
                self.c.stat(dst)
                fresh = False
            except FileNotFoundError:
                fresh = True
            self._op(self.c.write(dst, data, mode=n.mode & 0o777 & ~UMASK if fresh else 0o644))
        else:
            raise OSError(errno.EPERM, f"cannot copy a {n.type} in labkit's shell", src)

    def cmd_cp(self, args, stdout, stderr) -> int:
        """Copy files (-r: trees, symlinks kept); return 0 or 1."""
        flags, names = self._flags(args, "rRafpv", "cp")
        recursive = bool(flags & {"r", "R", "a"})
        srcs, dst = self._targets(names, "cp")
        status = 0
        for a in srcs:
            try:
                n = self.c.lstat(self._path(a)) if recursive else self.c.stat(self._path(a))
            except OSError as e:
                stderr.append(f"cp: cannot stat '{a}': {_why(e)}\n")
                status = 1
                continue
            if n.type == "dir" and not recursive:
                stderr.append(f"cp: -r not specified; omitting directory '{a}'\n")
                status = 1
                continue
            src, target = self._path(a), self._dest(a, dst)
            if n.type == "dir" and (target == src or target.startswith(src + "/")):
                stderr.append(f"cp: cannot copy a directory, '{a}', into itself, '{target}'\n")
                status = 1
                continue
            try:
                self._copy(src, target, recursive)
            except OSError as e:
                stderr.append(f"cp: cannot create regular file '{target}': {_why(e)}\n")
                status = 1
        return status

    def cmd_chmod(self, args, stdout, stderr) -> int:
        """Change modes (octal or u+x style, -R); return 0 or 1."""
        flags, rest = self._flags([a for a in args if not re.fullmatch(r"-[rwxXst]+", a)] , "Rv", "chmod")
        # "-x" is a mode, not an option (chmod -x file)
        modes = [a for a in args if re.fullmatch(r"-[rwxXst]+", a)]
        if modes:
            rest = modes + rest
        if len(rest) < 2:
            raise _Fail("chmod: missing operand" if not rest else f"chmod: missing operand after '{rest[0]}'")
        spec, names = rest[0], rest[1:]
        status = 0
        for a in names:
            try:
                p = self._path(a)
                todo = [self.c.stat(p)]
                if "R" in flags and todo[0].type == "dir":
                    todo += [n for n in self.c.walk(p) if n.type != "symlink"]
                for n in todo:
                    new = parse_mode(spec, n.mode, n.type == "dir")
                    self._op(self.c.chmod(n.path, new))
            except ValueError:
                raise _Fail(f"chmod: invalid mode: '{spec}'") from None
            except OSError as e:
                stderr.append(f"chmod: cannot access '{a}': {_why(e)}\n")
                status = 1
        return status

    def cmd_ln(self, args, stdout, stderr) -> int:
        """Make hard links (-s: symbolic, -f: replace); return 0 or 1."""
        flags, names = self._flags(args, "sfv", "ln")
        srcs, dst = self._targets(names, "ln")
        status = 0
        for a in srcs:
            target = self._dest(a, dst) if "s" not in flags or len(srcs) > 1 or self._is_dir(dst) else self._path(dst)
            kind = "symbolic link" if "s" in flags else "hard link"
            try:
                if "f" in flags:
                    try:
                        if self.c.lstat(target).type != "dir":
                            self._op(self.c.remove(target))
                    except FileNotFoundError:
                        pass
                if "s" in flags:
                    self._op(self.c.symlink(a, target))
                else:
                    self._op(self.c.link(self._path(a), target))
            except FileNotFoundError as e:
                if "s" not in flags and not self.c.lexists(self._path(a)):
                    stderr.append(f"ln: failed to access '{a}': {_why(e)}\n")
                else:
                    stderr.append(f"ln: failed to create {kind} '{dst}': {_why(e)}\n")
                status = 1
            except OSError as e:
                if e.errno == errno.EPERM:
                    stderr.append(f"ln: {a}: hard link not allowed for directory\n")
                else:
                    stderr.append(f"ln: failed to create {kind} '{dst}': {_why(e)}\n")
                status = 1
        return status

    def _is_dir(self, path: str) -> bool:
        try:
            return self.c.stat(self._path(path)).type == "dir"
        except OSError:
            return False

    def cmd_ls(self, args, stdout, stderr) -> int:
        """List directories ([-l] [-a] [-d]); return 0, or 2 on a missing path."""
        flags, names = self._flags(args, "laA1dF", "ls")
        names = names or ["."]
        status = 0
        files, dirs = [], []
        for a in names:
            try:
                # like GNU ls: a symlink operand is followed, except with -l or -d (then the link is shown)
                n = self.c.lstat(self._path(a)) if flags & {"l", "d"} else self.c.stat(self._path(a))
            except OSError as e:
                stderr.append(f"ls: cannot access '{a}': {_why(e)}\n")
                status = 2
                continue
            (dirs if n.type == "dir" and "d" not in flags else files).append((a, n))
        blocks = []
        if files:
            blocks.append(self._ls_lines([(a, n) for a, n in sorted(files)], flags))
        for a, n in sorted(dirs, key=lambda x: x[0]):
            entries = []
            p = self._path(a)
            if "a" in flags:
                entries.append((".", n))
                entries.append(("..", self.c.stat(posixpath.dirname(p) or "/")))
            for name in self.c.listdir(p):
                if name.startswith(".") and not flags & {"a", "A"}:
                    continue
                entries.append((name, self.c.lstat(posixpath.join(p, name))))
            text = self._ls_lines(entries, flags)
            if len(names) > 1:
                text = f"{a}:\n{text}"
            blocks.append(text)
        stdout.append("\n".join(blocks))
        return status

    def _ls_lines(self, entries: list, flags: set) -> str:
        if "l" not in flags:
            return "".join(f"{name}\n" for name, _ in entries)
        rows = []
        for name, n in entries:
            size = 4096 if n.type == "dir" else len(n.linkname.encode("utf-8", "surrogateescape")) if n.type == "symlink" else n.size
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(n.mtime))
            shown = f"{name} -> {n.linkname}" if n.type == "symlink" else name
            rows.append((mode_string(n.type, n.mode), "2" if n.type == "dir" else "1", _user(n.uid),
                         _user(n.gid), str(size), when, shown))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        out = []
        for r in rows:
            out.append(f"{r[0]} {r[1]:>{widths[1]}} {r[2]:<{widths[2]}} {r[3]:<{widths[3]}} "
                       f"{r[4]:>{widths[4]}} {r[5]} {r[6]}\n")
        return "".join(out)


def _user(uid: int) -> str:
    return "root" if uid == 0 else str(uid)


_TYPE_CHAR = {"dir": "d", "symlink": "l", "file": "-", "char": "c", "block": "b", "fifo": "p"}


def mode_string(kind: str, mode: int) -> str:
    """Return ls -l's mode column ("drwxr-xr-x", "-rwsr-xr-x", "drwxrwxrwt")."""
    return _TYPE_CHAR.get(kind, "?") + stat_mod.filemode(mode & 0o7777)[1:]


def parse_mode(spec: str, current: int, is_dir: bool) -> int:
    """Return the new permission bits for a chmod mode: octal ("755") or symbolic ("u+x,go-w", "a=r");
    ValueError for an invalid mode."""
    if re.fullmatch(r"[0-7]{1,4}", spec):
        return int(spec, 8)
    mode = current & 0o7777
    for clause in spec.split(","):
        m = re.fullmatch(r"([ugoa]*)((?:[-+=][rwxXst]*)+)", clause)
        if not m:
            raise ValueError(spec)
        who = m.group(1)
        for op, perms in re.findall(r"([-+=])([rwxXst]*)", m.group(2)):
            mask = 0
            targets = who or "a"
            for w in targets.replace("a", "ugo"):
                shift = {"u": 6, "g": 3, "o": 0}[w]
                for p in perms:
                    if p == "r":
                        mask |= 4 << shift
                    elif p == "w":
                        mask |= 2 << shift
                    elif p == "x" or (p == "X" and (is_dir or mode & 0o111)):
                        mask |= 1 << shift
                    elif p == "s" and w in "ug":
                        mask |= 0o4000 if w == "u" else 0o2000
                    elif p == "t" and w == "o":
                        mask |= 0o1000
            if not who:
                mask &= ~UMASK        # no "who": the umask limits what changes (chmod(1))
            if op == "+":
                mode |= mask
            elif op == "-":
                mode &= ~mask
            else:
                clear = 0
                for w in targets.replace("a", "ugo"):
                    clear |= {"u": 0o4700, "g": 0o2070, "o": 0o1007}[w]
                mode = (mode & ~clear) | mask
    return mode


def run(container, script: str, cwd: str = "/") -> ShellResult:
    """Run a command line in the built-in shell on `container`; return ShellResult(output, status, ops)."""
    return Shell(container, cwd).run(script)


def run_argv(container, argv: "list[str] | None", cwd: str = "/") -> ShellResult:
    """Run an argument vector (docker's exec form: ["sh", "-c", "..."] or ["echo", "hi"]); no argv: status 0."""
    if not argv:
        return ShellResult("", 0, [])
    return Shell(container, cwd).run_argv(list(argv))
