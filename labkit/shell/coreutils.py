"""The programs labkit's shell runs for the files of an image that stand for them: GNU coreutils' file commands
(ls, cat, cp, mv, rm, mkdir, ln, chmod, touch), and sleep, tail, head, date, env, id, uname, printf, test ...

A program runs only when the container has its file (labkit.shell.lookup); what it does acts on the
container's merged view through copy-on-write. Messages are worded like GNU coreutils ("rm: cannot remove 'x':
No such file or directory", status 1), in busybox images too.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import stat as stat_mod
import time
from datetime import datetime, timezone

from .base import Block, Exec, Fail, Invocation, WaitInput, why

UMASK = 0o022
_LONG = {"--recursive": "r", "--force": "f", "--parents": "p", "--all": "a", "--symbolic": "s", "--follow": "f",
         "--lines": "n"}


def flags(args: list, allowed: str, cmd: str, usage_status: int = 1) -> tuple[set, list]:
    """Split GNU-style options (single letters, a few long names) from operands; Fail on an unknown one."""
    found: set = set()
    rest: list = []
    done = False
    for a in args:
        if not done and a == "--":
            done = True
        elif not done and a.startswith("-") and len(a) > 1:
            if a.startswith("--"):
                long = _LONG.get(a)
                if long is None or long not in allowed:
                    raise Fail(f"{cmd}: unrecognized option '{a}'", usage_status)
                found.add(long)
                continue
            for ch in a[1:]:
                if ch not in allowed:
                    raise Fail(f"{cmd}: invalid option -- '{ch}'", usage_status)
                found.add(ch)
        else:
            rest.append(a)
    return found, rest


# --- simple ones ------------------------------------------------------------------------------------------

def true(inv: Invocation, args: list) -> int:
    """Return 0."""
    return 0


def false(inv: Invocation, args: list) -> int:
    """Return 1."""
    return 1


def pwd(inv: Invocation, args: list) -> int:
    """Print the working directory."""
    inv.write(inv.cwd + "\n")
    return 0


def echo(inv: Invocation, args: list, escapes: bool = False) -> int:
    """Print the arguments (-n: no newline; -e: backslash escapes, always on in dash's builtin)."""
    newline = True
    while args and re.fullmatch(r"-[neE]+", args[0]) and not (escapes and args[0] != "-n"):
        for ch in args[0][1:]:
            if ch == "n":
                newline = False
            elif ch == "e":
                escapes = True
            else:
                escapes = False
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text, stop = backslash_escapes(text)
        if stop:
            inv.write(text)
            return 0
    inv.write(text + ("\n" if newline else ""))
    return 0


def backslash_escapes(text: str) -> tuple[str, bool]:
    """Return `text` with echo's escapes (\\n, \\t, \\\\, \\0NNN ...) applied, and whether \\c stopped it."""
    out = []
    i = 0
    table = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "c":
                return "".join(out), True
            if n in table:
                out.append(table[n])
                i += 2
                continue
            if n == "0":
                m = re.match(r"0([0-7]{0,3})", text[i + 1:])
                out.append(chr(int(m.group(1) or "0", 8)))
                i += 1 + len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out), False


def printf(inv: Invocation, args: list) -> int:
    """Format and print the arguments (%s %d %i %x %o %c %b %%, backslash escapes), reusing the format."""
    if not args:
        raise Fail("printf: missing operand\nTry 'printf --help' for more information.")
    fmt, rest = args[0], args[1:]
    status = 0
    first = True
    while first or rest:
        first = False
        used = 0
        out = []
        i = 0
        while i < len(fmt):
            c = fmt[i]
            if c == "\\":
                text, _ = backslash_escapes(fmt[i:i + 2] if fmt[i + 1:i + 2] != "0" else fmt[i:i + 5])
                step = 2 if fmt[i + 1:i + 2] != "0" else 1 + len(re.match(r"0[0-7]{0,3}", fmt[i + 1:]).group(0))
                out.append(text)
                i += step
                continue
            if c == "%" and i + 1 < len(fmt):
                m = re.match(r"%([-+ 0#]*)(\d*)(?:\.(\d+))?([sdiuxXocb%])", fmt[i:])
                if not m:
                    out.append(c)
                    i += 1
                    continue
                conv = m.group(4)
                if conv == "%":
                    out.append("%")
                else:
                    arg = rest[used] if used < len(rest) else ""
                    used += 1
                    spec = "%" + m.group(1) + m.group(2) + (("." + m.group(3)) if m.group(3) else "")
                    if conv in "diuxXoc" and conv != "c":
                        try:
                            num = int(arg, 0) if arg else 0
                        except ValueError:
                            inv.error(f"printf: '{arg}': expected a numeric value")
                            status, num = 1, 0
                        out.append((spec + {"u": "d", "i": "d"}.get(conv, conv)) % num)
                    elif conv == "c":
                        out.append(arg[:1])
                    elif conv == "b":
                        out.append(backslash_escapes(arg)[0])
                    else:
                        out.append((spec + "s") % arg)
                i += len(m.group(0))
                continue
            out.append(c)
            i += 1
        inv.write("".join(out))
        rest = rest[used:] if used else []
    return status


def sleep(inv: Invocation, args: list) -> "int | Block":
    """Sleep NUMBER[smhd] ... (summed) or `infinity`: the program keeps running until then."""
    if not args:
        raise Fail("sleep: missing operand\nTry 'sleep --help' for more information.")
    total = 0.0
    for a in args:
        if a in ("infinity", "inf"):
            return Block(None)
        m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", a)
        if not m:
            raise Fail(f"sleep: invalid time interval '{a}'\nTry 'sleep --help' for more information.")
        total += float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return Block(inv.now + total)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _count(opt: str, cmd: str) -> tuple[int, bool]:
    """Return (N, from_start) for -n N / -n +N."""
    plus = opt.startswith("+")
    try:
        return int(opt.lstrip("+-")), plus
    except ValueError:
        raise Fail(f"{cmd}: invalid number of lines: '{opt}'") from None


def _head_tail_args(args: list, cmd: str, extra: str) -> tuple[int, bool, set, list]:
    n, plus, opts, names = 10, False, set(), []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-n", "--lines"):
            if i + 1 >= len(args):
                raise Fail(f"{cmd}: option requires an argument -- 'n'")
            n, plus = _count(args[i + 1], cmd)
            i += 2
            continue
        if re.fullmatch(r"-n[+-]?\d+", a):
            n, plus = _count(a[2:], cmd)
        elif re.fullmatch(r"-\d+", a):
            n = int(a[1:])
        elif a.startswith("-") and len(a) > 1 and a != "-":
            for ch in a[1:]:
                if ch not in extra:
                    raise Fail(f"{cmd}: invalid option -- '{ch}'")
                opts.add(ch)
        else:
            names.append(a)
        i += 1
    return n, plus, opts, names


def _inputs(inv: Invocation, names: list, cmd: str, why_text: str = "cannot open '{name}' for reading: {why}"):
    """Return ([(name, text)], status) for the files named ("-" or none: standard input), or None when
    standard input has not ended yet; an unreadable file is reported (`cmd: ...`) and skipped."""
    found, status = [], 0
    for name in names or ["-"]:
        if name == "-":
            data = inv.read_all()
            if data is None:
                return None
            found.append((name, data))
            continue
        try:
            found.append((name, inv.fs.read(inv.path_of(name)).decode("utf-8", "replace")))
        except OSError as e:
            inv.error(f"{cmd}: " + why_text.format(name=name, why=why(e)))
            status = 1
    return found, status


def _headed(inv: Invocation, names: list, found: list, pick) -> None:
    """Write each input's picked lines, under `==> name <==` when there are several (head and tail)."""
    for i, (name, data) in enumerate(found):
        if len(names) > 1:
            inv.write(("\n" if i else "") + f"==> {name} <==\n")
        inv.write("".join(pick(_lines(data))))


def tail(inv: Invocation, args: list) -> "int | Block | WaitInput":
    """Print the last lines of files (-n N, -n +N); -f/-F: then keep following, as long as the process runs."""
    n, plus, opts, names = _head_tail_args(args, "tail", "fFq")
    got = _inputs(inv, names, "tail")
    if got is None:
        return WaitInput()
    found, status = got
    _headed(inv, names, found, lambda lines: lines[n - 1:] if plus else lines[-n:] if n else [])
    if opts & {"f", "F"} and names:
        if not found:
            inv.error("tail: no files remaining")
            return 1
        return Block(None, status)
    return status


def head(inv: Invocation, args: list) -> "int | WaitInput":
    """Print the first lines of files (-n N)."""
    n, _, _, names = _head_tail_args(args, "head", "q")
    got = _inputs(inv, names, "head")
    if got is None:
        return WaitInput()
    found, status = got
    _headed(inv, names, found, lambda lines: lines[:n])
    return status


def cat(inv: Invocation, args: list) -> "int | WaitInput":
    """Print files (no file, or -: standard input); status 1 if one is unreadable."""
    got = _inputs(inv, args, "cat", "{name}: {why}")
    if got is None:
        return WaitInput()
    found, status = got
    inv.write("".join(data for _, data in found))
    return status


def wc(inv: Invocation, args: list) -> "int | WaitInput":
    """Count lines, words and bytes (-l -w -c)."""
    opts, names = flags(args, "lwcm", "wc")
    opts = opts or {"l", "w", "c"}
    got = _inputs(inv, names, "wc", "{name}: {why}")
    if got is None:
        return WaitInput()
    found, status = got
    rows = []
    for name, data in found:
        raw = data.encode("utf-8", "surrogateescape")
        counts = [raw.count(b"\n") if "l" in opts else None, len(raw.split()) if "w" in opts else None,
                  len(raw) if opts & {"c", "m"} else None]
        rows.append(([c for c in counts if c is not None], "" if name == "-" else name))
    if len(rows) > 1:
        rows.append(([sum(r[0][i] for r in rows) for i in range(len(rows[0][0]))], "total"))
    width = max([len(str(c)) for r in rows for c in r[0]] + [1]) if (len(rows) > 1 or len(opts) > 1) else 0
    for counts, name in rows:
        inv.write(" ".join(str(c).rjust(width) for c in counts) + (f" {name}" if name else "") + "\n")
    return status


def date(inv: Invocation, args: list) -> int:
    """Print the process's clock in UTC (the default format, or +FORMAT)."""
    when = datetime.fromtimestamp(int(inv.now), tz=timezone.utc)
    fmt = "%a %b %e %H:%M:%S %Z %Y"
    for a in args:
        if a.startswith("+"):
            fmt = a[1:]
        elif a not in ("-u", "--utc", "-R"):
            raise Fail(f"date: invalid date '{a}'")
        elif a == "-R":
            fmt = "%a, %d %b %Y %H:%M:%S +0000"
    inv.write(when.strftime(fmt) + "\n")
    return 0


def env(inv: Invocation, args: list) -> "int | Exec":
    """Print the environment, or run a command with NAME=VALUE settings added (-i: starting empty)."""
    environ = dict(inv.env)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-i", "--ignore-environment", "-"):
            environ = {}
        elif a == "-u" and i + 1 < len(args):
            environ.pop(args[i + 1], None)
            i += 1
        elif "=" in a and not a.startswith("="):
            k, _, v = a.partition("=")
            environ[k] = v
        else:
            break
        i += 1
    rest = args[i:]
    if not rest:
        for k, v in environ.items():
            inv.write(f"{k}={v}\n")
        return 0
    from .lookup import search

    name = rest[0]
    path = inv.path_of(name) if "/" in name else search(inv.fs, name, environ.get("PATH"), inv.cwd)
    if path is None or not inv.fs.exists(path):
        inv.error(f"env: {name}: No such file or directory")
        return 127
    inv.env = environ
    return Exec(path, rest)


def printenv(inv: Invocation, args: list) -> int:
    """Print the environment, or the values of the named variables (status 1 if one is unset)."""
    if not args:
        for k, v in inv.env.items():
            inv.write(f"{k}={v}\n")
        return 0
    status = 0
    for name in args:
        if name in inv.env:
            inv.write(inv.env[name] + "\n")
        else:
            status = 1
    return status


def hostname(inv: Invocation, args: list) -> int:
    """Print the container's host name (Docker's: the short container ID unless --hostname)."""
    inv.write(inv.env.get("HOSTNAME", "localhost") + "\n")
    return 0


def whoami(inv: Invocation, args: list) -> int:
    """Print the user name: the container's processes run as root."""
    inv.write("root\n")
    return 0


def id_(inv: Invocation, args: list) -> int:
    """Print the user and group IDs (root)."""
    if args in (["-u"], ["-g"]):
        inv.write("0\n")
    elif args in (["-un"], ["-nu"], ["-gn"], ["-ng"]):
        inv.write("root\n")
    else:
        inv.write("uid=0(root) gid=0(root) groups=0(root)\n")
    return 0


def uname(inv: Invocation, args: list) -> int:
    """Print the kernel's name (-a: everything): a container runs on the host's kernel, here the one labkit
    runs on."""
    u = os.uname()
    fields = {"s": "Linux", "n": inv.env.get("HOSTNAME", u.nodename), "r": u.release, "v": u.version,
              "m": u.machine, "o": "GNU/Linux"}
    opts, _ = flags(args, "snrvmpioa", "uname")
    if "a" in opts:
        order = "snrvmo"
    else:
        order = "".join(k for k in "snrvmpio" if k in opts) or "s"
    inv.write(" ".join(fields.get(k, "unknown") for k in order) + "\n")
    return 0


def basename(inv: Invocation, args: list) -> int:
    """Print a path's last component (minus a suffix)."""
    if not args:
        raise Fail("basename: missing operand\nTry 'basename --help' for more information.")
    name = args[0].rstrip("/") or "/"
    base = posixpath.basename(name) or "/"
    if len(args) > 1 and base != args[1] and base.endswith(args[1]):
        base = base[:-len(args[1])]
    inv.write(base + "\n")
    return 0


def dirname(inv: Invocation, args: list) -> int:
    """Print a path without its last component."""
    if not args:
        raise Fail("dirname: missing operand\nTry 'dirname --help' for more information.")
    for a in args:
        d = posixpath.dirname(a.rstrip("/")) if a.rstrip("/") else "/"
        inv.write((d.rstrip("/") or ("/" if a.startswith("/") else ".")) + "\n")
    return 0


# --- test / [ (XCU test) ----------------------------------------------------------------------------------

def test(inv: Invocation, args: list, bracket: bool = False) -> int:
    """Evaluate a condition: 0 true, 1 false, 2 on a usage error."""
    name = "[" if bracket else "test"
    if bracket:
        if not args or args[-1] != "]":
            raise Fail(f"{name}: missing ]", 2)
        args = args[:-1]
    try:
        return 0 if _test(inv, list(args)) else 1
    except ValueError as e:
        raise Fail(f"{name}: {e}", 2) from None


def _test(inv: Invocation, a: list) -> bool:
    if not a:
        return False
    if "-o" in a[1:-1]:
        i = a.index("-o", 1)
        return _test(inv, a[:i]) or _test(inv, a[i + 1:])
    if "-a" in a[1:-1]:
        i = a.index("-a", 1)
        return _test(inv, a[:i]) and _test(inv, a[i + 1:])
    if a[0] == "!" and len(a) > 1:
        return not _test(inv, a[1:])
    if len(a) == 1:
        return a[0] != ""
    if len(a) == 2:
        op, x = a
        if op == "-n":
            return x != ""
        if op == "-z":
            return x == ""
        return _file_test(inv, op, x)
    if len(a) == 3:
        x, op, y = a
        if op in ("=", "=="):
            return x == y
        if op == "!=":
            return x != y
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            try:
                xi, yi = int(x), int(y)
            except ValueError:
                bad = x if not re.fullmatch(r"-?\d+", x) else y
                raise ValueError(f"{bad}: integer expression expected") from None
            return {"-eq": xi == yi, "-ne": xi != yi, "-lt": xi < yi, "-le": xi <= yi, "-gt": xi > yi,
                    "-ge": xi >= yi}[op]
    raise ValueError(f"{a[0]}: unexpected operator" if len(a) > 3 else f"{a[1]}: binary operator expected")


def _file_test(inv: Invocation, op: str, name: str) -> bool:
    fs = inv.fs
    p = inv.path_of(name) if name else ""
    try:
        if op in ("-L", "-h"):
            return fs.lstat(p).type == "symlink"
        n = fs.stat(p)
    except (OSError, ValueError):
        if op in ("-e", "-f", "-d", "-x", "-r", "-w", "-s", "-L", "-h", "-S", "-p", "-b", "-c", "-g", "-u", "-k"):
            return False
        raise ValueError(f"{op}: unary operator expected") from None
    checks = {"-e": True, "-f": n.type == "file", "-d": n.type == "dir", "-x": bool(n.mode & 0o111) or n.type == "dir",
              "-r": True, "-w": True, "-s": n.size > 0 or n.type == "dir", "-S": False, "-p": n.type == "fifo",
              "-b": n.type == "block", "-c": n.type == "char", "-u": bool(n.mode & 0o4000),
              "-g": bool(n.mode & 0o2000), "-k": bool(n.mode & 0o1000)}
    if op not in checks:
        raise ValueError(f"{op}: unary operator expected")
    return checks[op]


# --- files ------------------------------------------------------------------------------------------------

def _each_operand(inv: Invocation, names: list, action, message: str) -> int:
    """Run `action(name)` for each operand; report an OSError with `message` ({a}: the operand, {why}); return
    1 if one failed."""
    status = 0
    for a in names:
        try:
            action(a)
        except OSError as e:
            inv.error(message.format(a=a, why=why(e)))
            status = 1
    return status


def _missing(cmd: str, what: str = "operand") -> Fail:
    return Fail(f"{cmd}: missing {what}\nTry '{cmd} --help' for more information.")


def touch(inv: Invocation, args: list) -> int:
    """Create files or update their mtime."""
    if not args:
        raise _missing("touch", "file operand")
    return _each_operand(inv, args, lambda a: inv.op(inv.fs.touch(inv.path_of(a))), "touch: cannot touch '{a}': {why}")


def mkdir(inv: Invocation, args: list) -> int:
    """Create directories (-p: parents)."""
    opts, names = flags(args, "pv", "mkdir")
    if not names:
        raise _missing("mkdir")
    return _each_operand(inv, names, lambda a: inv.op(inv.fs.mkdir(inv.path_of(a), parents="p" in opts,
                                                                   mode=0o777 & ~UMASK)),
                         "mkdir: cannot create directory '{a}': {why}")


def rmdir(inv: Invocation, args: list) -> int:
    """Remove empty directories."""
    if not args:
        raise _missing("rmdir")

    def remove(a):
        p = inv.path_of(a)
        if inv.fs.lstat(p).type != "dir":
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), a)
        if inv.fs.listdir(p):
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), a)
        inv.op(inv.fs.remove(p, recursive=True))
    return _each_operand(inv, args, remove, "rmdir: failed to remove '{a}': {why}")


def rm(inv: Invocation, args: list) -> int:
    """Remove files (-r: trees, -f: no complaints about missing ones)."""
    opts, names = flags(args, "rRfdvi", "rm")
    recursive = bool(opts & {"r", "R"})
    if not names:
        if "f" in opts:
            return 0
        raise Fail("rm: missing operand\nTry 'rm --help' for more information.")
    status = 0
    for a in names:
        p = inv.path_of(a)
        if p == "/" and recursive:
            inv.error("rm: it is dangerous to operate recursively on '/'")
            inv.error("rm: use --no-preserve-root to override this failsafe")
            status = 1
            continue
        try:
            n = inv.fs.lstat(p)
            if n.type == "dir" and not recursive and "d" not in opts:
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), a)
            inv.op(inv.fs.remove(p, recursive=recursive))
        except FileNotFoundError as e:
            if "f" not in opts:
                inv.error(f"rm: cannot remove '{a}': {why(e)}")
                status = 1
        except OSError as e:
            inv.error(f"rm: cannot remove '{a}': {why(e)}")
            status = 1
    return status


def _is_dir(inv: Invocation, path: str) -> bool:
    try:
        return inv.fs.stat(inv.path_of(path)).type == "dir"
    except OSError:
        return False


def _dest(inv: Invocation, src: str, dst: str) -> str:
    """Return where `src` lands for `mv/cp/ln SRC DST`: inside DST when it is a directory."""
    d = inv.path_of(dst)
    if _is_dir(inv, dst):
        return posixpath.join(d, posixpath.basename(inv.path_of(src)))
    return d


def _targets(inv: Invocation, names: list, cmd: str) -> tuple[list, str]:
    if not names:
        raise Fail(f"{cmd}: missing file operand\nTry '{cmd} --help' for more information.")
    if len(names) == 1:
        raise Fail(f"{cmd}: missing destination file operand after '{names[0]}'\n"
                   f"Try '{cmd} --help' for more information.")
    srcs, dst = names[:-1], names[-1]
    if len(srcs) > 1 and not _is_dir(inv, dst):
        raise Fail(f"{cmd}: target '{dst}' is not a directory")
    return srcs, dst


def mv(inv: Invocation, args: list) -> int:
    """Move or rename."""
    _, names = flags(args, "fvi", "mv")
    srcs, dst = _targets(inv, names, "mv")
    status = 0
    for a in srcs:
        try:
            inv.fs.lstat(inv.path_of(a))
        except OSError as e:
            inv.error(f"mv: cannot stat '{a}': {why(e)}")
            status = 1
            continue
        target = _dest(inv, a, dst)
        src = inv.path_of(a)
        if src == target:
            inv.error(f"mv: '{a}' and '{dst}' are the same file")
            status = 1
            continue
        if target.startswith(src + "/"):
            inv.error(f"mv: cannot move '{a}' to a subdirectory of itself, '{target}'")
            status = 1
            continue
        try:
            inv.op(inv.fs.rename(src, target))
        except OSError as e:
            inv.error(f"mv: cannot move '{a}' to '{target}': {why(e)}")
            status = 1
    return status


def _copy(inv: Invocation, src: str, dst: str, recursive: bool) -> None:
    fs = inv.fs
    n = fs.lstat(src) if recursive else fs.stat(src)
    if n.type == "symlink":
        inv.op(fs.symlink(n.linkname, dst))
    elif n.type == "dir":
        try:
            existing = fs.stat(dst)
        except FileNotFoundError:
            existing = None
        if existing is None:
            inv.op(fs.mkdir(dst, mode=n.mode & 0o777))
        elif existing.type != "dir":
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
        for name in fs.listdir(src):
            _copy(inv, posixpath.join(src, name), posixpath.join(dst, name), recursive)
    elif n.type == "file":
        data = fs.read(src)
        fresh = not fs.exists(dst)
        inv.op(fs.write(dst, data, mode=n.mode & 0o777 & ~UMASK if fresh else 0o644))
    else:
        raise OSError(errno.EPERM, f"cannot copy a {n.type} in labkit's shell", src)


def cp(inv: Invocation, args: list) -> int:
    """Copy files (-r: trees, symlinks kept)."""
    opts, names = flags(args, "rRafpvi", "cp")
    recursive = bool(opts & {"r", "R", "a"})
    srcs, dst = _targets(inv, names, "cp")
    status = 0
    for a in srcs:
        try:
            n = inv.fs.lstat(inv.path_of(a)) if recursive else inv.fs.stat(inv.path_of(a))
        except OSError as e:
            inv.error(f"cp: cannot stat '{a}': {why(e)}")
            status = 1
            continue
        if n.type == "dir" and not recursive:
            inv.error(f"cp: -r not specified; omitting directory '{a}'")
            status = 1
            continue
        src, target = inv.path_of(a), _dest(inv, a, dst)
        if n.type == "dir" and (target == src or target.startswith(src + "/")):
            inv.error(f"cp: cannot copy a directory, '{a}', into itself, '{target}'")
            status = 1
            continue
        try:
            _copy(inv, src, target, recursive)
        except OSError as e:
            inv.error(f"cp: cannot create regular file '{target}': {why(e)}")
            status = 1
    return status


def chmod(inv: Invocation, args: list) -> int:
    """Change modes (octal or u+x style, -R)."""
    modes = [a for a in args if re.fullmatch(r"-[rwxXst]+", a)]      # "-x" is a mode, not an option
    opts, rest = flags([a for a in args if a not in modes], "Rvf", "chmod")
    rest = modes + rest
    if len(rest) < 2:
        raise Fail("chmod: missing operand\nTry 'chmod --help' for more information." if not rest
                   else f"chmod: missing operand after '{rest[0]}'\nTry 'chmod --help' for more information.")
    spec, names = rest[0], rest[1:]
    status = 0
    for a in names:
        try:
            p = inv.path_of(a)
            todo = [inv.fs.stat(p)]
            if "R" in opts and todo[0].type == "dir":
                todo += [n for n in inv.fs.walk(p) if n.type != "symlink"]
            for n in todo:
                inv.op(inv.fs.chmod(n.path, parse_mode(spec, n.mode, n.type == "dir")))
        except ValueError:
            raise Fail(f"chmod: invalid mode: '{spec}'\nTry 'chmod --help' for more information.") from None
        except OSError as e:
            inv.error(f"chmod: cannot access '{a}': {why(e)}")
            status = 1
    return status


def ln(inv: Invocation, args: list) -> int:
    """Make hard links (-s: symbolic, -f: replace)."""
    opts, names = flags(args, "sfvn", "ln")
    srcs, dst = _targets(inv, names, "ln")
    status = 0
    fs = inv.fs
    for a in srcs:
        if "s" not in opts or len(srcs) > 1 or _is_dir(inv, dst):
            target = _dest(inv, a, dst)
        else:
            target = inv.path_of(dst)
        kind = "symbolic link" if "s" in opts else "hard link"
        try:
            if "f" in opts:
                try:
                    if fs.lstat(target).type != "dir":
                        inv.op(fs.remove(target))
                except FileNotFoundError:
                    pass
            if "s" in opts:
                inv.op(fs.symlink(a, target))
            else:
                inv.op(fs.link(inv.path_of(a), target))
        except FileNotFoundError as e:
            if "s" not in opts and not fs.lexists(inv.path_of(a)):
                inv.error(f"ln: failed to access '{a}': {why(e)}")
            else:
                inv.error(f"ln: failed to create {kind} '{dst}': {why(e)}")
            status = 1
        except OSError as e:
            if e.errno == errno.EPERM:
                inv.error(f"ln: {a}: hard link not allowed for directory")
            else:
                inv.error(f"ln: failed to create {kind} '{dst}': {why(e)}")
            status = 1
    return status


def ls(inv: Invocation, args: list) -> int:
    """List directories ([-l] [-a] [-A] [-d] [-1] [-F]); status 2 on a missing path."""
    opts, names = flags(args, "laA1dFh", "ls", usage_status=2)
    names = names or ["."]
    status = 0
    files, dirs = [], []
    fs = inv.fs
    for a in names:
        try:
            # like GNU ls: a symlink operand is followed, except with -l or -d (then the link is shown)
            n = fs.lstat(inv.path_of(a)) if opts & {"l", "d"} else fs.stat(inv.path_of(a))
        except OSError as e:
            inv.error(f"ls: cannot access '{a}': {why(e)}")
            status = 2
            continue
        (dirs if n.type == "dir" and "d" not in opts else files).append((a, n))
    blocks = []
    if files:
        blocks.append(_ls_lines(sorted(files, key=lambda x: x[0]), opts))
    for a, n in sorted(dirs, key=lambda x: x[0]):
        entries = []
        p = inv.path_of(a)
        if "a" in opts:
            entries.append((".", n))
            entries.append(("..", fs.stat(posixpath.dirname(p) or "/")))
        for name in fs.listdir(p):
            if name.startswith(".") and not opts & {"a", "A"}:
                continue
            entries.append((name, fs.lstat(posixpath.join(p, name))))
        text = _ls_lines(entries, opts)
        if len(names) > 1:
            text = f"{a}:\n{text}"
        blocks.append(text)
    inv.write("\n".join(blocks))
    return status


def _ls_lines(entries: list, opts: set) -> str:
    if "l" not in opts:
        return "".join(f"{name}\n" for name, _ in entries)
    rows = []
    for name, n in entries:
        size = 4096 if n.type == "dir" else len(n.linkname.encode("utf-8", "surrogateescape")) if n.type == "symlink" else n.size
        rdev = getattr(n, "rdev", None)
        if rdev is not None:
            size = f"{rdev[0]}, {rdev[1]}"      # a device: its major and minor numbers, as ls shows them
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(n.mtime))
        shown = f"{name} -> {n.linkname}" if n.type == "symlink" else name
        rows.append((mode_string(n.type, n.mode), "2" if n.type == "dir" else "1", _user(n.uid), _user(n.gid),
                     str(size), when, shown))
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "".join(f"{r[0]} {r[1]:>{widths[1]}} {r[2]:<{widths[2]}} {r[3]:<{widths[3]}} {r[4]:>{widths[4]}} "
                   f"{r[5]} {r[6]}\n" for r in rows)


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


# the programs, by the file name that stands for them
PROGRAMS = {
    "true": true, "false": false, "pwd": pwd, "echo": echo, "printf": printf, "sleep": sleep, "tail": tail,
    "head": head, "cat": cat, "wc": wc, "date": date, "env": env, "printenv": printenv, "hostname": hostname,
    "whoami": whoami, "id": id_, "uname": uname, "basename": basename, "dirname": dirname, "test": test,
    "[": lambda inv, args: test(inv, args, bracket=True), "touch": touch, "mkdir": mkdir, "rmdir": rmdir,
    "rm": rm, "mv": mv, "cp": cp, "chmod": chmod, "ln": ln, "ls": ls,
}
