"""labkit's built-in shell: how a container's commands run without a kernel.

Nothing here starts a real process. A command runs only if the container has its program: the runtime
resolves the first word through the container's PATH to an executable file of its filesystem (Go's
exec.LookPath, as runc does), a shell (dash, bash, busybox's ash: whichever the image's file is) looks its
commands up the same way, and the program that runs is labkit's implementation of the file found (coreutils'
ls, cat, cp ...; see labkit.shell.programs). Their output, exit status and file changes (copy-on-write, on the
container) are what the real ones give; errors are worded like the real shell's and coreutils'.

The parts: `syntax` (the sh grammar), `expand` (word expansion), `lookup` (PATH resolution, what a file is),
`dialects` (each shell's error wording), `coreutils` and `programs` (the programs), `devices` (the /dev the
runtime mounts), `machine` (the processes of one container on simulated time, suspendable). The API:

- `execute(container, argv, env=..., cwd=..., stdin=...)`: run one command as `docker exec` or a Dockerfile
  RUN does (the runtime's exec first, so `apt-get` in an image without it fails with status 127 and the
  runtime's message); returns an Execution (output, status, error, ops).
- `run(container, script)`: `/bin/sh -c script` in the container (a ShellResult: output, status, ops).
- `Shell(container)`: a session whose working directory and variables last from one `run` to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .coreutils import mode_string, parse_mode
from .lookup import DEFAULT_PATH, ExecError, look_path
from .machine import Machine
from .syntax import ParseError, parse

__all__ = ["DEFAULT_PATH", "ExecError", "Execution", "Machine", "ParseError", "Shell", "ShellResult", "execute",
           "look_path", "mode_string", "parse", "parse_mode", "run", "run_argv"]


@dataclass
class ShellResult:
    """What a command line did: output text (stdout and stderr as a terminal shows them), exit status, and the
    container Ops in order."""

    output: str
    status: int
    ops: list = field(default_factory=list)

    def __iter__(self):
        """Return an iterator over (output, status, ops), so a result unpacks like a tuple."""
        return iter((self.output, self.status, self.ops))


@dataclass
class Execution:
    """What running one command in a container gave.

    output: stdout and stderr interleaved as a terminal shows them; stdout, stderr: each stream alone.
    status: the exit status (127: not found, 126: cannot run); None if the command is still running when
      `until` came (it blocked: `sleep infinity`, a server, `cat` waiting for input).
    error: the runtime's error when the program could not be started at all (`exec: "apt-get": executable file
      not found in $PATH`), else None; the command's own error messages are in `output`.
    ops: the container's copy-on-write Ops, in order.
    """

    output: str
    status: "int | None"
    error: "str | None" = None
    ops: list = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


def _env_dict(env) -> dict:
    if env is None:
        return {"PATH": DEFAULT_PATH, "HOME": "/root"}
    if isinstance(env, dict):
        return dict(env)
    out = {}
    for item in env:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def _now() -> float:
    from ..clock import now

    return now().timestamp()


def execute(container, argv: list, *, env=None, cwd: str = "/", stdin: "str | None" = None,
            until: float = math.inf, now: "float | None" = None) -> Execution:
    """Run `argv` in `container` as a container runtime runs a process: resolve argv[0] through env's PATH
    (Docker's default PATH when env has none), then run it to its end (simulated time: `sleep 5` takes no wall
    time; `until` bounds it, in seconds since the epoch).

    env: a dict or docker's ["K=V", ...] (default: PATH and HOME=/root); stdin: the text on standard input
    (None: empty, as without `-i`). This is the one way labkit runs a command in a container (`run`, `exec`,
    a Dockerfile's RUN): a program the image lacks fails here with status 127 and `error` set.
    """
    environment = _env_dict(env)
    environment.setdefault("PATH", DEFAULT_PATH)       # Docker adds its default PATH (CreateDaemonEnvironment)
    environment.setdefault("HOME", "/root")            # runc sets HOME from /etc/passwd when unset
    m = Machine(container, _now() if now is None else now)
    try:
        m.start(list(argv), environment, cwd, stdin=stdin)
    except ExecError as e:
        return Execution("", e.status, e.message, [])
    m.run(until)
    out = "".join(text for _, text, _ in m.out)
    return Execution(out, m.status, None, list(m.ops),
                     "".join(t for s, t, _ in m.out if s == "stdout"), "".join(t for s, t, _ in m.out if s == "stderr"))


def run(container, script: str, cwd: str = "/", env=None) -> ShellResult:
    """Run a command line with the container's /bin/sh (`sh -c script`); return ShellResult(output, status, ops)."""
    return Shell(container, cwd, env).run(script)


def run_argv(container, argv: "list[str] | None", cwd: str = "/", env=None) -> ShellResult:
    """Run an argument vector (docker's exec form: ["sh", "-c", "..."] or ["echo", "hi"]); no argv: status 0."""
    if not argv:
        return ShellResult("", 0, [])
    r = execute(container, list(argv), env=env, cwd=cwd)
    text = r.output if r.error is None else r.error + "\n"
    return ShellResult(text, r.status if r.status is not None else 0, r.ops)


class Shell:
    """A shell session on one container: each run() is `sh -c` in the same working directory and variables."""

    def __init__(self, container, cwd: str = "/", env=None):
        self.c = container
        self.cwd = cwd
        self.vars = _env_dict(env)
        self.ops: list = []

    def run(self, script: str) -> ShellResult:
        """Run a command line with the container's /bin/sh; return its ShellResult (output, status, ops)."""
        from .machine import _new_proc
        from .dialects import SHELLS
        from .lookup import identify
        from .programs import applet

        m = Machine(self.c, _now())
        try:
            path = look_path(self.c, "/bin/sh", self.vars.get("PATH"), self.cwd)
            name, _ = applet(identify(self.c, path).name, ["sh"])
            dialect = SHELLS[name]
        except (ExecError, KeyError, OSError) as e:
            msg = e.message if isinstance(e, ExecError) else f"exec: \"/bin/sh\": {path} is not a shell labkit knows"
            return ShellResult(msg + "\n", getattr(e, "status", 126), [])
        try:
            code = parse(script)
        except ParseError as e:
            text = "".join(line + "\n" for line in dialect.syntax("sh", e.line, e, True))
            return ShellResult(text, 2, [])
        proc = _new_proc(dialect, "sh", [], self.vars, self.cwd, {"1": ["term", "stdout"], "2": ["term", "stdout"]},
                         "machine", "c", code, 1, "", ["sh", "-c", script])
        proc["vars"] = self.vars
        m.pid1 = {"argv": ["sh", "-c", script], "name": name}
        m.next_pid = 2
        m.stack = [{"k": "root"}, proc]
        m.run(math.inf)
        self.cwd = proc["cwd"]
        self.ops.extend(m.ops)
        out = "".join(text for _, text, _ in m.out)
        return ShellResult(out, m.status if m.status is not None else 0, list(m.ops))
