"""The processes of one container, run by labkit's shell on simulated time.

A Machine runs programs the way a container's processes would run them: the runtime starts the first one
(PID 1) only when its file resolves (lookup.look_path); a shell runs commands found in the container's PATH;
a program the image has runs labkit's implementation of it (coreutils, programs), anything else says it is not
available. Time is the machine's own clock `t` (seconds since the epoch): `sleep 5` blocks until t + 5, and
`run(limit)` carries on only while the next wake-up is at or before `limit`, so a caller decides what "now" is
(labkit's clock) and a container's process can be stopped in the middle of a script and resumed later.

Everything a suspended machine needs is plain data (`dump()`/`load()`): the stack of frames (shell
processes with their variables, lists, loops, a block in `sleep`), the parsed code they run, standard input,
the clock. Output goes to the container's terminal streams (`out`: (stream, text, t)), to files of the
container (copy-on-write, `ops`), or nowhere (/dev/null).

Not simulated (said plainly when met): background jobs, here-documents, `case`, functions, signals between
processes of the container; a pipeline runs its commands one after the other, each to its end.
"""

from __future__ import annotations

import math
import os
import posixpath

from ..paths import norm, printable
from . import coreutils, programs
from .base import Block, Exec, Fail, Invocation, WaitInput, why
from .devices import RuntimeFiles
from .dialects import BASH, DASH, SHELLS, Dialect
from .expand import ExpansionError, expand, expand_one
from .lookup import ExecError, identify, look_path, search
from .syntax import ParseError, is_name, parse

TERMINAL = {"1": ["term", "stdout"], "2": ["term", "stderr"]}
MAX_STEPS = 200_000          # steps without the clock moving: a loop that never sleeps spins (Up, no output)
MAX_WAKEUPS = 20_000         # wake-ups per run(): a long-running loop catches up over several calls
LABKIT_MISSING = "not available in labkit's simulated shell"


class _Unwind(Exception):
    """Raised by builtins that change the stack: exit, exec, break, continue, eval and `.`."""

    def __init__(self, kind: str, value=None, extra=None):
        self.kind = kind
        self.value = value
        self.extra = extra


class Machine:
    """The processes of one container (see the module text)."""

    def __init__(self, fs, now: float, nested: bool = False):
        self.fs = RuntimeFiles.over(fs)      # the container's files with the runtime's /dev
        self.t = float(now)
        self.stack: list[dict] = []
        self.stdin = {"data": "", "eof": True}
        self.out: list = []
        self.ops: list = []
        self.status: "int | None" = None
        self.spinning = False
        self.pid1: dict = {}
        self.next_pid = 1
        self.st = 0
        self.exempt = False
        self.nested = nested
        self.captures: dict = {}
        self._scope: "dict | None" = None
        self.sub_status: "int | None" = None

    # -- saving and restoring -----------------------------------------------------------------------------

    def dump(self) -> dict:
        """Return the machine's state as JSON-ready data."""
        return {"t": self.t, "stack": self.stack, "stdin": self.stdin, "status": self.status,
                "spinning": self.spinning, "pid1": self.pid1, "next_pid": self.next_pid, "st": self.st}

    @classmethod
    def load(cls, fs, state: dict) -> "Machine":
        """Return a machine in the state dump() returned."""
        m = cls(fs, state["t"])
        m.stack = state["stack"]
        m.stdin = state["stdin"]
        m.status = state["status"]
        m.spinning = state.get("spinning", False)
        m.pid1 = state.get("pid1", {})
        m.next_pid = state.get("next_pid", 2)
        m.st = state.get("st", 0)
        return m

    # -- the outside's view -------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Return True once PID 1 has exited (`status` holds its exit status)."""
        return self.status is not None

    def wake_time(self) -> "float | None":
        """Return when the machine next has something to do on its own (None: only input or a signal)."""
        if self.finished or self.spinning or not self.stack:
            return None
        top = self.stack[-1]
        if top["k"] == "block":
            return top["until"]
        return None

    def waiting_for_input(self) -> bool:
        """Return True when the machine waits for standard input."""
        return bool(self.stack) and self.stack[-1]["k"] == "input" and not self.finished

    def processes(self) -> list[dict]:
        """Return the running processes, PID 1 first: {"pid", "ppid", "argv"}."""
        if self.finished:
            return []
        out = [{"pid": 1, "ppid": 0, "argv": list(self.pid1.get("argv", []))}]
        parent = 1
        for f in self.stack:
            if f["k"] in ("proc", "block") and f.get("pid", 1) != 1:
                if f["k"] == "proc" and f.get("src") == "sub":
                    continue
                out.append({"pid": f["pid"], "ppid": parent, "argv": list(f.get("argv", []))})
                parent = f["pid"]
        return out

    def feed(self, data: str) -> None:
        """Give the machine more standard input."""
        self.stdin["data"] += data

    def close_stdin(self) -> None:
        """End the machine's standard input."""
        self.stdin["eof"] = True

    # -- starting PID 1 -----------------------------------------------------------------------------------

    def start(self, argv: list, env: dict, cwd: str = "/", stdin: "str | None" = None, stdin_open: bool = False,
              fds: "dict | None" = None) -> None:
        """Start `argv` as the container's PID 1, as the runtime does (ExecError when it would refuse)."""
        if not argv:
            raise ExecError("no command specified", 125)
        path = look_path(self.fs, argv[0], env.get("PATH"), cwd)
        self.stdin = {"data": stdin or "", "eof": not stdin_open}
        self.pid1 = {"argv": list(argv), "name": ""}
        self.stack = [{"k": "root"}]
        self.next_pid = 2
        r = self._spawn(path, list(argv), dict(env), cwd, dict(fds or TERMINAL), "machine", runtime=True, pid=1)
        if r is not None:
            self._end(r)

    # -- running ------------------------------------------------------------------------------------------

    def run(self, limit: float = math.inf) -> None:
        """Run until PID 1 exits, or the next thing to do lies after `limit`, or input is needed."""
        steps, wakeups = 0, 0
        while self.stack and not self.finished and not self.spinning:
            f = self.stack[-1]
            k = f["k"]
            if k == "block":
                if f["until"] is None or f["until"] > limit:
                    return
                wakeups += 1
                if wakeups > MAX_WAKEUPS:
                    return
                self.t = max(self.t, f["until"])
                steps = 0
                self.stack.pop()
                self.st = f["status"]
                continue
            steps += 1
            if steps > MAX_STEPS:
                self.spinning = True
                return
            if k == "input":
                if not self._input_ready(f):
                    return
                self.stack.pop()
                self._redo(f)
                continue
            try:
                getattr(self, "_f_" + k)(f)
            except _Unwind as u:
                self._unwind(u)

    def _end(self, status: int) -> None:
        self.status = status
        self.stack = []

    def _finish(self, status: int) -> None:
        """Pop the current frame; its caller gets `status`."""
        self.stack.pop()
        self.st = status

    # -- frames -------------------------------------------------------------------------------------------

    def _f_root(self, f: dict) -> None:
        self._end(self.st)

    def _f_proc(self, f: dict) -> None:
        if f["pc"] == "start":
            f["pc"] = "after"
            if f.get("code") is not None:
                self._push_seq(f["code"])
                return
        else:
            f["st"] = self.st
        if f["src"] != "stdin":
            self._finish(f["st"])
            return
        stdin = self._stdin(f["stdin"])
        data = stdin["data"]
        cut = data.find("\n") + 1          # a line at a time, as a shell reads: each command runs when complete
        if not cut and stdin["eof"]:
            cut = len(data)
        take, rest = data[:cut], data[cut:]
        stdin["data"] = rest
        f["buf"] = f.get("buf", "") + take
        if f["buf"].strip():
            try:
                code = parse(f["buf"])
            except ParseError as e:
                if e.kind in ("eof", "quote") and not (stdin["eof"] and not stdin["data"]):
                    if not stdin["data"]:
                        self.stack.append({"k": "input", "what": "sh", "stdin": f["stdin"]})
                    return
                f["buf"] = ""
                for line in _dialect(f).syntax(f["a0"], e.line + f.get("line", 0), e, False):
                    self._emit(f["fds"]["2"], line + "\n")
                self._finish(2)
                return
            f["line"] = f.get("line", 0) + f["buf"].count("\n")
            f["buf"] = ""
            self._push_seq(code)
            return
        if stdin["data"]:
            return                          # a blank line: read the next one
        if stdin["eof"]:
            self._finish(f["st"])
            return
        self.stack.append({"k": "input", "what": "sh", "stdin": f["stdin"]})

    def _push_seq(self, seq: list, cond: bool = False) -> None:
        self.stack.append({"k": "seq", "items": seq[1], "i": 0, "cond": cond, "last": 0})

    def _f_seq(self, f: dict) -> None:
        if f["i"] > 0:
            f["last"] = self.st
            proc = self._proc()
            if ("e" in proc.get("opts", "") and self.st != 0 and not f["cond"] and not self.exempt):
                raise _Unwind("exit", self.st)
        if f["i"] < len(f["items"]):
            item = f["items"][f["i"]]
            f["i"] += 1
            self.stack.append({"k": "andor", "first": item[1], "rest": item[2], "i": -1, "cond": f["cond"]})
            return
        self._finish(f["last"] if f["items"] else 0)

    def _f_andor(self, f: dict) -> None:
        if f["i"] == -1:
            f["i"] = 0
            self._push_pipe(f["first"], f["cond"] or bool(f["rest"]))
            return
        s = self.st
        while f["i"] < len(f["rest"]):
            op, pipe = f["rest"][f["i"]]
            f["i"] += 1
            if (op == "&&") == (s == 0):
                self._push_pipe(pipe, f["cond"] or f["i"] < len(f["rest"]))
                return
            self.exempt = True
        self._finish(s)

    def _push_pipe(self, pipe: list, cond: bool) -> None:
        self.stack.append({"k": "pipe", "negated": pipe[1], "cmds": pipe[2], "pc": "start", "cond": cond})

    def _f_pipe(self, f: dict) -> None:
        if f["pc"] == "start":
            f["pc"] = "wait"
            if len(f["cmds"]) > 1:
                r = self._pipeline(f["cmds"])
            else:
                r = self._command(f["cmds"][0], f["cond"])
            if r is None:
                return
            self.st = r
        s = self.st
        if f["negated"]:
            s = int(s == 0)
        self.exempt = f["cond"] or f["negated"]
        self.stack.pop()
        self.st = s
        self._proc()["st"] = s

    def _f_while(self, f: dict) -> None:
        if f["pc"] == "cond":
            f["pc"] = "test"
            self._push_seq(f["cond"], cond=True)
        elif f["pc"] == "test":
            if (self.st == 0) != f["until"]:
                f["pc"] = "body"
                self._push_seq(f["body"])
            else:
                self._finish(f["last"])
        else:
            f["last"] = self.st
            f["pc"] = "test"
            self._push_seq(f["cond"], cond=True)

    def _f_if(self, f: dict) -> None:
        while True:
            if f["pc"] == "cond":
                if f["i"] < len(f["branches"]):
                    f["pc"] = "test"
                    self._push_seq(f["branches"][f["i"]][0], cond=True)
                elif f["else"] is not None:
                    f["pc"] = "body"
                    self._push_seq(f["else"])
                else:
                    self._finish(0)
                return
            if f["pc"] == "test":
                if self.st == 0:
                    f["pc"] = "body"
                    self._push_seq(f["branches"][f["i"]][1])
                    return
                f["i"] += 1
                f["pc"] = "cond"
                continue
            self._finish(self.st)
            return

    def _f_for(self, f: dict) -> None:
        if f["pc"] == "body":
            f["last"] = self.st
        if f["i"] < len(f["items"]):
            self._set_var(self._proc(), f["name"], f["items"][f["i"]])
            f["i"] += 1
            f["pc"] = "body"
            self._push_seq(f["body"])
            return
        self._finish(f["last"])

    # -- unwinding: exit, exec, break, continue, eval ----------------------------------------------------

    def _unwind(self, u: _Unwind) -> None:
        if u.kind == "exit":
            while self.stack and self.stack[-1]["k"] != "proc":
                self.stack.pop()
            self._finish(u.value)
            return
        if u.kind in ("break", "continue"):
            n = u.value
            while self.stack:
                f = self.stack[-1]
                if f["k"] == "proc":
                    self.st = 0
                    return
                if f["k"] in ("while", "for"):
                    n -= 1
                    if n == 0:
                        if u.kind == "break":
                            self._finish(0)
                        else:
                            f["pc"] = "cond" if f["k"] == "while" else "next"
                            self.st = 0
                        return
                self.stack.pop()
            return
        if u.kind == "seq":
            self._push_seq(u.value)
            return
        if u.kind == "exec":
            argv, env, fds, stdin_ref = u.value
            proc = self._proc()
            while self.stack and self.stack[-1] is not proc:
                self.stack.pop()
            self.stack.pop()
            r = self._spawn(u.extra, argv, env, proc["cwd"], fds, stdin_ref, runtime=False, pid=proc.get("pid", 1),
                            caller=proc)
            if r is not None:
                self.st = r

    # -- commands -----------------------------------------------------------------------------------------

    def _proc(self) -> dict:
        for f in reversed(self.stack):
            if f["k"] == "proc":
                return f
        raise RuntimeError("no shell process on the stack")

    def _command(self, node: list, cond: bool) -> "int | None":
        kind = node[0]
        if kind == "cmd":
            return self._simple(node)
        if kind == "while":
            self.stack.append({"k": "while", "cond": node[1], "body": node[2], "until": node[3], "pc": "cond",
                               "last": 0})
            return None
        if kind == "if":
            self.stack.append({"k": "if", "branches": node[1], "else": node[2], "i": 0, "pc": "cond"})
            return None
        if kind == "for":
            proc = self._proc()
            try:
                items = expand(node[2], _Ctx(self, proc)) if node[2] is not None else list(proc["params"])
            except ExpansionError as e:
                self._emit(proc["fds"]["2"], f"{proc['a0']}: {e.message}\n")
                return 1
            self.stack.append({"k": "for", "name": node[1], "items": items, "i": 0, "body": node[3],
                               "pc": "next", "last": 0})
            return None
        if kind == "group":
            self._push_seq(node[1], cond)
            return None
        if kind == "sub":
            proc = self._proc()
            child = _copy_proc(proc)
            child.update({"src": "sub", "code": node[1], "pc": "start"})
            self.stack.append(child)
            return None
        raise RuntimeError(f"unknown command node {kind}")

    def _simple(self, node: list) -> "int | None":
        proc = self._proc()
        _, assigns, words, redirects, line = node
        proc["line"] = line
        ctx = _Ctx(self, proc)
        self.sub_status = None
        try:
            argv = expand(words, ctx)
            values = [(name, expand_one(w, ctx)) for name, w in assigns]
        except ExpansionError as e:
            self._emit(proc["fds"]["2"], f"{_where(proc)} {e.message}\n")
            raise _Unwind("exit", 2) from None
        self._scope = {}
        try:
            opened = self._redirects(redirects, proc)
            if opened is None:
                return _dialect(proc).redirect_status
            fds, stdin_ref = opened
            if not argv:
                for name, value in values:
                    self._set_var(proc, name, value)
                return self.sub_status or 0
            name = argv[0]
            builtin = _BUILTINS.get(name)
            if builtin is not None:
                return self._builtin(builtin, proc, argv, fds, stdin_ref, node)
            env = _environment(proc)
            env.update(values)
            if "/" in name:
                path = norm(name, proc["cwd"])
                if not self.fs.exists(path):
                    self._emit(fds["2"], _dialect(proc).not_found(proc["a0"], line, name, _script(proc)) + "\n")
                    return 127
            else:
                path = search(self.fs, name, env.get("PATH"), proc["cwd"])
                if path is None:
                    self._emit(fds["2"], _dialect(proc).not_found(proc["a0"], line, name, _script(proc)) + "\n")
                    return 127
            n = self.fs.stat(path)
            if n.type != "file" or not n.mode & 0o111:
                reason = "Is a directory" if n.type == "dir" else "Permission denied"
                self._emit(fds["2"], _dialect(proc).cannot_execute(proc["a0"], line, name, reason) + "\n")
                return 126
            return self._spawn(path, argv, env, proc["cwd"], fds, stdin_ref, runtime=False, caller=proc)
        finally:
            self._end_scope()

    # -- redirections and output --------------------------------------------------------------------------

    def _redirects(self, redirects: list, proc: dict) -> "tuple[dict, object] | None":
        fds = dict(proc["fds"])
        stdin_ref = proc["stdin"]
        ctx = _Ctx(self, proc)
        for fd, op, word in redirects:
            try:
                target = expand_one(word, ctx)
            except ExpansionError as e:
                self._emit(fds["2"], f"{_where(proc)} {e.message}\n")
                return None
            key = str(fd)
            if op in (">", ">>", "&>"):
                special = {"/dev/null": ["null"], "/dev/stdout": fds["1"], "/proc/self/fd/1": fds["1"],
                           "/dev/stderr": fds["2"], "/proc/self/fd/2": fds["2"]}.get(target)
                if special is not None:
                    t = special
                else:
                    p = norm(target, proc["cwd"]) if target else ""
                    problem = self._writable(p, target)
                    if problem is not None:
                        self._emit(fds["2"], _dialect(proc).cannot_create(proc["a0"], proc["line"], target, problem)
                                   + "\n")
                        return None
                    t = ["file", self.fs.resolve(p), op == ">>"]
                    self._scope.setdefault(t[1], [op == ">>", []])
                if op == "&>":
                    fds["1"] = fds["2"] = t
                else:
                    fds[key] = t
            elif op in (">&", "<&"):
                if target == "-":
                    fds[key] = ["null"]
                elif target in fds:
                    fds[key] = fds[target]
                elif op == ">&" and not target.isdigit() and key == "1":
                    p = norm(target, proc["cwd"])
                    t = ["file", p, False]
                    self._scope.setdefault(p, [False, []])
                    fds["1"] = fds["2"] = t
                else:
                    self._emit(fds["2"], f"{_where(proc)} {target}: Bad file descriptor\n")
                    return None
            elif op == "<":
                if target == "/dev/null":
                    stdin_ref = {"data": "", "eof": True}
                    continue
                try:
                    data = self.fs.read(norm(target, proc["cwd"])).decode("utf-8", "replace")
                except OSError as e:
                    self._emit(fds["2"], _dialect(proc).cannot_open(proc["a0"], proc["line"], target, e) + "\n")
                    return None
                stdin_ref = {"data": data, "eof": True}
        return fds, stdin_ref

    def _writable(self, p: str, shown: str) -> "OSError | None":
        """Return the error opening `p` for writing would give, or None."""
        import errno as errno_mod

        if not p:
            return FileNotFoundError(errno_mod.ENOENT, os.strerror(errno_mod.ENOENT), shown)
        try:
            real = self.fs.resolve(p)
            n = self.fs.node_at(real) if hasattr(self.fs, "node_at") else None
            if n is not None and n.type == "dir":
                return IsADirectoryError(errno_mod.EISDIR, os.strerror(errno_mod.EISDIR), shown)
            above = self.fs.stat(posixpath.dirname(real) or "/")
            if above.type != "dir":
                return NotADirectoryError(errno_mod.ENOTDIR, os.strerror(errno_mod.ENOTDIR), shown)
        except OSError as e:
            return e
        return None

    def _end_scope(self) -> None:
        """Write what the command sent to its redirection files: one copy-on-write operation per file (a `>`
        file replaced, a `>>` file appended to), after which later writes go straight to the file."""
        scope, self._scope = self._scope, None
        for path, (append, chunks) in (scope or {}).items():
            data = "".join(chunks).encode("utf-8", "surrogateescape")
            try:
                if append:
                    if data:
                        self.ops.extend(self.fs.append(path, data))
                    elif not self.fs.exists(path):
                        self.ops.extend(self.fs.write(path, b"", mode=0o644))
                else:
                    self.ops.extend(self.fs.write(path, data, mode=0o644))
            except OSError:
                pass

    def _emit(self, target: list, text: str) -> None:
        if not text:
            return
        kind = target[0]
        if kind == "term":
            self.out.append((target[1], printable(text), self.t))  # a raw name shown escaped
        elif kind == "file":
            if self._scope is not None and target[1] in self._scope:
                self._scope[target[1]][1].append(text)
                return
            try:
                self.ops.extend(self.fs.append(target[1], text.encode("utf-8", "surrogateescape")))
            except OSError:
                pass
        elif kind == "cap":
            self.captures.setdefault(target[1], []).append(text)

    def _stdin(self, ref) -> dict:
        return self.stdin if ref == "machine" else ref

    def _input_ready(self, f: dict) -> bool:
        """Return True when what the waiting frame needs has come: a whole line for a shell or `read`, the end
        of input for a program that reads all of it."""
        s = self._stdin(f["stdin"])
        if s["eof"]:
            return True
        return f["what"] in ("sh", "cmd") and "\n" in s["data"]

    def _redo(self, f: dict) -> None:
        """Carry on after input arrived: a shell reads it, a program or `read` runs again."""
        if f["what"] == "sh":
            self.st = self._proc().get("st", 0)
            return
        if f["what"] == "cmd":
            r = self._simple(f["node"])
            if r is not None:
                self.st = r
            return
        spec = f["spec"]
        r = self._spawn(spec["path"], spec["argv"], spec["env"], spec["cwd"], spec["fds"], spec["stdin"],
                        runtime=spec["runtime"], pid=spec["pid"])
        if r is not None:
            self.st = r

    # -- programs -----------------------------------------------------------------------------------------

    def _spawn(self, path: str, argv: list, env: dict, cwd: str, fds: dict, stdin_ref, runtime: bool,
               pid: "int | None" = None, caller: "dict | None" = None) -> "int | None":
        """Execute the file `path` as a new process (or, with `pid`, as that process after an exec); return its
        exit status, or None when it keeps running (frames pushed)."""
        if pid is None:
            pid = self.next_pid
            self.next_pid += 1
        for _ in range(8):                                   # #! chains and env's exec, bounded
            try:
                prog = identify(self.fs, path)
            except OSError as e:
                self._emit(fds["2"], f"exec {path}: {why(e).lower()}\n" if runtime else
                           f"{_where(caller)} {argv[0]}: {why(e)}\n")
                return 255 if runtime else 127
            if prog.kind == "script":
                interp = prog.interpreter
                try:
                    n = self.fs.stat(interp) if interp.startswith("/") else None
                except OSError:
                    n = None
                if n is None or n.type != "file":
                    if runtime:
                        self._emit(fds["2"], f"exec {path}: no such file or directory\n")
                        return 255
                    d = _dialect(caller)
                    self._emit(fds["2"], d.bad_interpreter(caller["a0"], caller.get("line", 1), argv[0], interp) + "\n")
                    return 126 if d is BASH else 127
                argv = [interp] + ([prog.argument] if prog.argument else []) + [path] + list(argv[1:])
                path = interp
                continue
            if prog.kind == "text":
                if runtime:
                    self._emit(fds["2"], f"exec {path}: exec format error\n")
                    return 255
                # a shell runs a file without #! itself (XCU 2.9.1.1)
                return self._script(_dialect(caller), path, argv, env, cwd, fds, stdin_ref, pid)
            if pid == 1:
                self.pid1["name"] = prog.name
                self.pid1["argv"] = list(argv)
            name, argv = programs.applet(prog.name, argv)
            dialect = SHELLS.get(name)
            if dialect is not None:
                return self._shell(dialect, name, argv, env, cwd, fds, stdin_ref, pid)
            fn = programs.find(name)
            if fn is None:
                self._emit(fds["2"], f"labkit: {name}: {LABKIT_MISSING} (the image has {path}; labkit runs only its "
                                     f"built-in programs)\n")
                return 126
            inv = Invocation(self, path, list(argv), dict(env), cwd)
            stdin = self._stdin(stdin_ref)
            inv.stdin, inv.stdin_eof = stdin["data"], stdin["eof"]
            try:
                r = fn(inv, list(argv[1:]))
            except Fail as e:
                inv.error(e.message)
                r = e.status
            if inv.stdin_used:
                stdin["data"] = ""
            self._emit(fds["1"], "".join(inv.out))
            self._emit(fds["2"], "".join(inv.err))
            if isinstance(r, Exec):
                path, argv, env = r.path, list(r.argv), dict(inv.env)
                if pid == 1:
                    self.pid1["argv"] = list(argv)
                continue
            if isinstance(r, Block):
                self._end_scope()
                self.stack.append({"k": "block", "until": r.until, "status": r.status, "pid": pid, "argv": list(argv),
                                   "name": name})
                return None
            if isinstance(r, WaitInput):
                self._end_scope()
                self.stack.append({"k": "input", "what": "prog", "stdin": stdin_ref,
                                   "spec": {"path": path, "argv": list(argv), "env": dict(env), "cwd": cwd,
                                            "fds": fds, "stdin": stdin_ref, "runtime": runtime, "pid": pid}})
                return None
            return int(r) & 0xFF if r >= 0 else int(r)
        self._emit(fds["2"], f"exec {path}: too many levels of symbolic links\n")
        return 255

    def _shell(self, dialect: Dialect, name: str, argv: list, env: dict, cwd: str, fds: dict, stdin_ref,
               pid: int) -> "int | None":
        """Start a shell process: `sh -c CMD [NAME [ARGS]]`, `sh FILE [ARGS]`, or `sh` reading its input."""
        args = list(argv[1:])
        opts, command = "", None
        while args and args[0].startswith(("-", "+")) and args[0] not in ("-", "--"):
            a = args.pop(0)
            if a in ("-o", "+o"):
                if args:
                    args.pop(0)
                continue
            for ch in a[1:]:
                if ch == "c":
                    command = True
                elif ch in "eux" and a[0] == "-":
                    opts += ch
        if args and args[0] == "--":
            args.pop(0)
        a0 = argv[0]
        if command:
            if not args:
                msg = (f"{a0}: -c: option requires an argument" if dialect is BASH else
                       f"{a0}: 0: -c requires an argument" if dialect is DASH else f"{a0}: -c requires an argument")
                self._emit(fds["2"], msg + "\n")
                return 2
            script, a0, params = args[0], (args[1] if len(args) > 1 else a0), args[2:]
            code = self._parse(dialect, a0, script, fds, command_string=True)
            if code is None:
                return 2
            self._end_scope()
            self.stack.append(_new_proc(dialect, a0, params, env, cwd, fds, stdin_ref, "c", code, pid, opts, argv))
            return None
        if args:
            return self._script(dialect, norm(args[0], cwd), [args[0]] + args[1:], env, cwd, fds, stdin_ref, pid,
                                shell_argv=argv, opts=opts)
        self._end_scope()
        self.stack.append(_new_proc(dialect, a0, [], env, cwd, fds, stdin_ref, "stdin", None, pid, opts, argv))
        return None

    def _script(self, dialect: Dialect, path: str, argv: list, env: dict, cwd: str, fds: dict, stdin_ref,
                pid: int, shell_argv: "list | None" = None, opts: str = "") -> "int | None":
        a0 = argv[0]
        try:
            text = self.fs.read(path).decode("utf-8", "replace")
        except OSError as e:
            shell = (shell_argv or [dialect.name])[0]
            msg = {"dash": f"{shell}: 0: Can't open {a0}", "bash": f"{shell}: {a0}: {why(e)}"}.get(
                dialect.name, f"{shell}: can't open '{a0}': {why(e)}")
            self._emit(fds["2"], msg + "\n")
            return 127
        code = self._parse(dialect, a0, text, fds, command_string=False)
        if code is None:
            return 2
        self._end_scope()
        self.stack.append(_new_proc(dialect, a0, list(argv[1:]), env, cwd, fds, stdin_ref, "file", code, pid, opts,
                                    list(shell_argv or argv)))
        return None

    def _parse(self, dialect: Dialect, a0: str, text: str, fds: dict, command_string: bool) -> "list | None":
        """Return the parsed program, or None after writing the shell's syntax error."""
        try:
            return parse(text)
        except ParseError as e:
            for line in dialect.syntax(a0, e.line, e, command_string):
                self._emit(fds["2"], line + "\n")
            return None

    # -- pipelines and command substitution ---------------------------------------------------------------

    def _sub_machine(self, proc: dict, code: list, stdin: dict, out_target: list) -> "Machine":
        sub = Machine(self.fs, self.t, nested=True)
        sub.stdin = stdin
        sub.pid1 = self.pid1
        sub.next_pid = self.next_pid
        child = _copy_proc(proc)
        child.update({"src": "sub", "code": code, "pc": "start", "stdin": "machine",
                      "fds": {"1": out_target, "2": proc["fds"]["2"]}})
        sub.stack = [{"k": "root"}, child]
        sub.run(math.inf)
        self.t = max(self.t, sub.t)
        self.out.extend(sub.out)
        self.ops.extend(sub.ops)
        self.next_pid = max(self.next_pid, sub.next_pid)
        return sub

    def _pipeline(self, cmds: list) -> "int | None":
        """Run `a | b | c`: each command to its end, its output the next one's input."""
        proc = self._proc()
        stdin = self._stdin(proc["stdin"])
        status = 0
        for i, cmd in enumerate(cmds):
            last = i == len(cmds) - 1
            code = ["seq", [["andor", ["pipe", False, [cmd]], []]]]
            sub = self._sub_machine(proc, code, stdin, proc["fds"]["1"] if last else ["cap", "o"])
            if not sub.finished:
                self.stack.append({"k": "block", "until": None, "status": 0, "pid": self.next_pid, "argv": [],
                                   "name": "pipeline"})
                return None
            status = sub.status
            stdin = {"data": "".join(sub.captures.get("o", [])), "eof": True}
        return status

    def substitute(self, proc: dict, code: list) -> str:
        """Return the output of $(...) (run in a subshell to its end)."""
        sub = self._sub_machine(proc, code, self._stdin(proc["stdin"]), ["cap", "o"])
        self.sub_status = sub.status if sub.finished else 0
        return "".join(sub.captures.get("o", []))

    # -- variables ----------------------------------------------------------------------------------------

    def _set_var(self, proc: dict, name: str, value: str) -> None:
        proc["vars"][name] = value

    # -- builtins -----------------------------------------------------------------------------------------

    def _builtin(self, fn, proc: dict, argv: list, fds: dict, stdin_ref, node: list) -> "int | None":
        inv = Invocation(self, "", list(argv), _environment(proc), proc["cwd"])
        stdin = self._stdin(stdin_ref)
        inv.stdin, inv.stdin_eof = stdin["data"], stdin["eof"]
        inv.fds = fds
        inv.stdin_ref = stdin_ref
        try:
            r = fn(self, proc, inv, list(argv[1:]))
        except Fail as e:
            # a builtin's own complaint carries the shell's prefix ("sh: [: x: integer expression expected")
            inv.error(f"{_where(proc)} {e.message}" if fn in (_b_test, _b_bracket, _b_printf) else e.message)
            r = e.status
        except _Unwind:
            self._emit(fds["1"], "".join(inv.out))
            self._emit(fds["2"], "".join(inv.err))
            self._end_scope()
            raise
        self._emit(fds["1"], "".join(inv.out))
        self._emit(fds["2"], "".join(inv.err))
        if isinstance(r, WaitInput):
            self._end_scope()
            self.stack.append({"k": "input", "what": "cmd", "stdin": stdin_ref, "node": node})
            return None
        consumed = getattr(inv, "consumed", 0)
        if consumed:
            stdin["data"] = stdin["data"][consumed:]
        return r


# --- the shell's own commands (XCU 2.14 special built-ins, and the regular ones shells build in) -----------

def _b_colon(m, proc, inv, args):
    return 0


def _b_echo(m, proc, inv, args):
    return coreutils.echo(inv, args, escapes=_dialect(proc).echo_escapes)


def _b_printf(m, proc, inv, args):
    return coreutils.printf(inv, args)


def _b_test(m, proc, inv, args):
    return coreutils.test(inv, args)


def _b_bracket(m, proc, inv, args):
    return coreutils.test(inv, args, bracket=True)


def _b_pwd(m, proc, inv, args):
    inv.write(proc["cwd"] + "\n")
    return 0


def _b_true(m, proc, inv, args):
    return 0


def _b_false(m, proc, inv, args):
    return 1


def _b_cd(m, proc, inv, args):
    d = _dialect(proc)
    target = args[0] if args else proc["vars"].get("HOME", "/")
    if target == "-":
        target = proc["vars"].get("OLDPWD", proc["cwd"])
        inv.write(target + "\n")
    new = norm(target, proc["cwd"])
    try:
        n = m.fs.stat(new)
        if n.type != "dir":
            import errno as errno_mod

            raise NotADirectoryError(errno_mod.ENOTDIR, os.strerror(errno_mod.ENOTDIR), target)
    except OSError as e:
        inv.error(d.cd_error(proc["a0"], proc["line"], target, e))
        return 2 if d is DASH else 1
    proc["vars"]["OLDPWD"] = proc["cwd"]
    proc["cwd"] = new
    proc["vars"]["PWD"] = new
    return 0


def _number(proc, builtin: str, arg: str) -> int:
    try:
        return int(arg)
    except ValueError:
        raise Fail(_dialect(proc).illegal_number(proc["a0"], proc["line"], builtin, arg), 2) from None


def _b_exit(m, proc, inv, args):
    code = proc.get("st", 0) if not args else None
    if args:
        try:
            code = _number(proc, "exit", args[0])
        except Fail as e:
            inv.error(e.message)
            code = 2
    raise _Unwind("exit", code & 0xFF)


def _b_exec(m, proc, inv, args):
    if not args:
        proc["fds"] = dict(inv.fds)            # `exec > file`: the redirections stay for the shell
        proc["stdin"] = inv.stdin_ref
        return 0
    name = args[0]
    path = norm(name, proc["cwd"]) if "/" in name else search(m.fs, name, inv.env.get("PATH"), proc["cwd"])
    if path is None or not m.fs.exists(path):
        d = _dialect(proc)
        msg = (f"{proc['a0']}: {proc['line']}: exec: {name}: not found" if d is DASH else
               f"{proc['a0']}: line {proc['line']}: exec: {name}: not found" if d is BASH and _script(proc) else
               f"{proc['a0']}: exec: {name}: not found")
        inv.error(msg)
        raise _Unwind("exit", 127)
    raise _Unwind("exec", (list(args), inv.env, dict(inv.fds), inv.stdin_ref), path)


def _b_set(m, proc, inv, args):
    if not args:
        for k in sorted(proc["vars"]):
            inv.write(f"{k}='{proc['vars'][k]}'\n")
        return 0
    while args:
        a = args[0]
        if a == "--":
            proc["params"] = list(args[1:])
            return 0
        if a in ("-o", "+o"):
            args = args[2:]
            continue
        if a[:1] in "-+" and len(a) > 1:
            opts = set(proc.get("opts", ""))
            for ch in a[1:]:
                (opts.add if a[0] == "-" else opts.discard)(ch)
            proc["opts"] = "".join(sorted(opts))
            args = args[1:]
            continue
        proc["params"] = list(args)
        return 0
    return 0


def _b_export(m, proc, inv, args):
    if not args or args == ["-p"]:
        for k in proc["exported"]:
            if k in proc["vars"]:
                inv.write(f"export {k}='{proc['vars'][k]}'\n")
        return 0
    for a in args:
        name, eq, value = a.partition("=")
        if not is_name(name):
            inv.error(f"{_where(proc)} export: {a}: bad variable name")
            return 2
        if eq:
            proc["vars"][name] = value
        if name not in proc["exported"]:
            proc["exported"].append(name)
    return 0


def _b_unset(m, proc, inv, args):
    for a in args:
        if a in ("-v", "-f"):
            continue
        proc["vars"].pop(a, None)
        if a in proc["exported"]:
            proc["exported"].remove(a)
    return 0


def _b_shift(m, proc, inv, args):
    n = _number(proc, "shift", args[0]) if args else 1
    if n > len(proc["params"]):
        inv.error(f"{_where(proc)} shift: can't shift that many")
        return 2
    proc["params"] = proc["params"][n:]
    return 0


def _b_read(m, proc, inv, args):
    raw = "-r" in args
    names = [a for a in args if a != "-r"] or ["REPLY"]
    data = inv.stdin
    if "\n" not in data and not inv.stdin_eof:
        return WaitInput()
    if not data:
        return 1
    line, nl, _ = data.partition("\n")
    inv.consumed = len(line) + len(nl)
    if not raw:
        line = line.replace("\\", "")
    fields = line.split(None, len(names) - 1) if names else []
    for i, name in enumerate(names):
        proc["vars"][name] = fields[i] if i < len(fields) else ""
    return 0 if nl else 1


def _b_break(m, proc, inv, args):
    raise _Unwind("break", _number(proc, "break", args[0]) if args else 1)


def _b_continue(m, proc, inv, args):
    raise _Unwind("continue", _number(proc, "continue", args[0]) if args else 1)


def _b_eval(m, proc, inv, args):
    text = " ".join(args)
    if not text.strip():
        return 0
    try:
        code = parse(text)
    except ParseError as e:
        for line in _dialect(proc).syntax(proc["a0"], proc["line"], e, False):
            inv.error(line)
        return 2
    raise _Unwind("seq", code)


def _b_source(m, proc, inv, args):
    if not args:
        inv.error(f"{_where(proc)} .: filename argument required")
        return 2
    try:
        text = m.fs.read(norm(args[0], proc["cwd"])).decode("utf-8", "replace")
        code = parse(text)
    except OSError as e:
        inv.error(f"{_where(proc)} .: {args[0]}: {why(e)}")
        return 2 if _dialect(proc) is DASH else 1
    except ParseError as e:
        for line in _dialect(proc).syntax(args[0], e.line, e, False):
            inv.error(line)
        return 2
    raise _Unwind("seq", code)


def _b_umask(m, proc, inv, args):
    if not args:
        inv.write("0022\n")
    return 0


def _b_command(m, proc, inv, args):
    if args[:1] == ["-v"] and len(args) > 1:
        name = args[1]
        if name in _BUILTINS:
            inv.write(name + "\n")
            return 0
        path = search(m.fs, name, inv.env.get("PATH"), proc["cwd"])
        if path:
            inv.write(path + "\n")
            return 0
        return 1
    inv.error(f"{_where(proc)} command: only `command -v NAME` is {LABKIT_MISSING}")
    return 2


def _b_wait(m, proc, inv, args):
    return 0


def _b_type(m, proc, inv, args):
    status = 0
    for name in args:
        if name in _BUILTINS:
            inv.write(f"{name} is a shell builtin\n")
            continue
        path = search(m.fs, name, inv.env.get("PATH"), proc["cwd"])
        if path:
            inv.write(f"{name} is {path}\n")
        else:
            inv.error(f"{_where(proc)} type: {name}: not found" if _dialect(proc) is BASH else f"{name}: not found")
            status = 1
    return status


_BUILTINS = {
    ":": _b_colon, "true": _b_true, "false": _b_false, "echo": _b_echo, "printf": _b_printf, "test": _b_test,
    "[": _b_bracket, "pwd": _b_pwd, "cd": _b_cd, "exit": _b_exit, "exec": _b_exec, "set": _b_set,
    "export": _b_export, "unset": _b_unset, "shift": _b_shift, "read": _b_read, "break": _b_break,
    "continue": _b_continue, "eval": _b_eval, ".": _b_source, "source": _b_source, "umask": _b_umask,
    "command": _b_command, "wait": _b_wait, "type": _b_type,
}


# --- processes as data -------------------------------------------------------------------------------------

def _new_proc(dialect: Dialect, a0: str, params: list, env: dict, cwd: str, fds: dict, stdin_ref, src: str,
              code, pid: int, opts: str, argv: list) -> dict:
    env = dict(env)
    env.setdefault("PWD", cwd)
    return {"k": "proc", "pc": "start", "dialect": dialect.name, "a0": a0, "params": list(params),
            "vars": env, "exported": list(env), "cwd": cwd, "st": 0, "opts": opts, "fds": dict(fds),
            "stdin": stdin_ref, "src": src, "code": code, "pid": pid, "line": 1, "argv": list(argv)}


def _copy_proc(proc: dict) -> dict:
    """Return a subshell's copy of a shell process: same variables and directory, changes kept to itself."""
    child = dict(proc)
    child["vars"] = dict(proc["vars"])
    child["exported"] = list(proc["exported"])
    child["params"] = list(proc["params"])
    child["fds"] = dict(proc["fds"])
    return child


def _environment(proc: dict) -> dict:
    """Return the environment a command started by `proc` gets: its exported variables."""
    return {k: proc["vars"][k] for k in proc["exported"] if k in proc["vars"]}


_DIALECTS = {d.name: d for d in (DASH, BASH, SHELLS["ash"])}


def _dialect(proc: "dict | None") -> Dialect:
    return DASH if proc is None else _DIALECTS.get(proc.get("dialect"), DASH)


def _script(proc: dict) -> bool:
    return proc.get("src") == "file"


def _where(proc: "dict | None") -> str:
    if proc is None:
        return "sh:"
    d = _dialect(proc)
    if d is DASH:
        return f"{proc['a0']}: {proc.get('line', 1)}:"
    if d is BASH and _script(proc):
        return f"{proc['a0']}: line {proc.get('line', 1)}:"
    return f"{proc['a0']}:"


class _Ctx:
    """The expansion context of one shell process."""

    def __init__(self, m: Machine, proc: dict):
        self.m = m
        self.proc = proc

    def get(self, name: str) -> "str | None":
        return self.proc["vars"].get(name)

    def set(self, name: str, value: str) -> None:
        self.proc["vars"][name] = value

    def params(self) -> list[str]:
        return list(self.proc["params"])

    def special(self, name: str) -> str:
        p = self.proc
        return {"#": str(len(p["params"])), "?": str(p.get("st", 0)), "$": str(p.get("pid", 1)), "!": "",
                "-": p.get("opts", ""), "0": p["a0"]}[name]

    def substitute(self, seq: list) -> str:
        return self.m.substitute(self.proc, seq)

    def listdir(self, path: str) -> "list[str] | None":
        try:
            return self.m.fs.listdir(path)
        except (OSError, ValueError):
            return None

    def cwd(self) -> str:
        return self.proc["cwd"]

    def home(self, user: str) -> "str | None":
        try:
            passwd = self.m.fs.read("/etc/passwd").decode("utf-8", "replace")
        except OSError:
            return None
        for line in passwd.splitlines():
            parts = line.split(":")
            if len(parts) > 5 and parts[0] == user:
                return parts[5]
        return None
