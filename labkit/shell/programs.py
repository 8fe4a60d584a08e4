"""Which labkit implementation runs for a program of an image, and how the lab images' servers behave.

A program is known by its file name (labkit.shell.lookup.identify): coreutils' names run labkit.shell.coreutils,
the shells (dash, bash, busybox's sh/ash) run labkit's shell, `busybox APPLET` runs the applet as busybox does.
The lab images' own servers are simulated by what a student sees of them: httpd prints its start-up lines and
serves until stopped; `java` and `node SCRIPT` run until stopped (labkit runs no JVM and no JavaScript);
`node` with no script is its REPL, which ends at once when its input is empty, as in a container without -i.

What PID 1 does with a signal (`disposition`) follows Linux: the kernel delivers a signal to a namespace's
init only if it installed a handler (pid_namespaces(7)), so a shell, `sleep` or `node` as PID 1 ignores
SIGTERM and `docker stop` ends it with SIGKILL after the grace period (exit status 137 = 128 + 9); httpd stops
at once on SIGTERM and exits 0; the JVM runs its shutdown hooks and exits 128 + the signal.
"""

from __future__ import annotations

import json
import posixpath
from datetime import datetime, timezone

from . import coreutils
from .base import Block, Exec, Fail, Invocation, WaitInput

SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15, "STOP": 19,
           "WINCH": 28}


def signal_number(text: str) -> int:
    """Return the number of a signal given as docker takes it: "SIGTERM", "TERM", "15"; ValueError if unknown."""
    t = text.upper().removeprefix("SIG")
    if t.isdigit() and 0 < int(t) < 65:
        return int(t)
    if t in SIGNALS:
        return SIGNALS[t]
    raise ValueError(text)


# program name -> {signal number: exit status}; a signal not listed is ignored by that program as PID 1
_HANDLERS = {
    "httpd": {15: 0, 28: 0, 2: 0},                 # httpd: SIGTERM/SIGINT stop now, SIGWINCH stops gracefully
    "java": {15: 143, 2: 130, 1: 129},             # the JVM's shutdown hooks, then 128 + signal
}


def disposition(name: str, signal: int) -> "int | None":
    """Return the exit status PID 1 named `name` ends with on `signal`, or None when it ignores it (SIGKILL
    always ends it: 137)."""
    if signal == 9:
        return 137
    return _HANDLERS.get(name, {}).get(signal)


def applet(name: str, argv: list) -> tuple[str, list]:
    """Return (program, argv) for a program file named `name`: `busybox ls /` runs the applet ls."""
    if name == "busybox" and len(argv) > 1 and not argv[1].startswith("-"):
        return argv[1], argv[1:]
    return name, argv


# --- the lab images' programs -----------------------------------------------------------------------------

def _httpd_time(now: float) -> str:
    t = datetime.fromtimestamp(now, tz=timezone.utc)
    return t.strftime("%a %b %d %H:%M:%S.%f %Y")


def httpd(inv: Invocation, args: list) -> "int | Block":
    """Apache httpd: -v prints the version; -DFOREGROUND serves until stopped (start-up lines on stderr)."""
    if "-v" in args or "-V" in args:
        inv.write("Server version: Apache/2.4.23 (Unix)\nServer built:   Nov  8 2016 19:24:15\n")
        return 0
    if "-t" in args:
        inv.error("Syntax OK")
        return 0
    when = _httpd_time(inv.now)
    # httpd names the server by the container's address: Docker's default bridge gives the first container
    # 172.17.0.2 (labkit simulates no network; this is what a student sees on a fresh Docker)
    note = ("AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using "
            "172.17.0.2. Set the 'ServerName' directive globally to suppress this message")
    inv.error(note)
    inv.error(note)
    inv.error(f"[{when}] [mpm_event:notice] [pid 1:tid 140000000000000] AH00489: Apache/2.4.23 (Unix) "
              "configured -- resuming normal operations")
    inv.error(f"[{when}] [core:notice] [pid 1:tid 140000000000000] AH00094: Command line: 'httpd -D FOREGROUND'")
    return Block(None)


def java(inv: Invocation, args: list) -> "int | Block":
    """The JVM: -version prints it; with a main class or -jar, the program runs until stopped."""
    if "-version" in args:
        inv.error('openjdk version "1.8.0_111"\nOpenJDK Runtime Environment (build 1.8.0_111-8u111-b14-2~bpo8+1-b14)\n'
                  "OpenJDK 64-Bit Server VM (build 25.111-b14, mixed mode)")
        return 0
    rest = [a for a in args if not a.startswith("-")]
    if not rest and "-jar" not in args:
        inv.error("Usage: java [-options] class [args...]\n           (to execute a class)")
        return 1
    return Block(None)


def node(inv: Invocation, args: list) -> "int | Block | Exec | WaitInput":
    """Node.js: -v prints the version; a script runs until stopped (npm-cli.js is npm); no script: the REPL,
    which reads its input and ends when the input ends."""
    if args[:1] in (["-v"], ["--version"]):
        inv.write("v7.1.0\n")
        return 0
    if args[:1] in (["-e"], ["-p"]) and len(args) > 1:
        raise Fail(f"labkit: node -e: JavaScript is {_MISSING}", 126)
    scripts = [a for a in args if not a.startswith("-")]
    if not scripts:
        data = inv.read_all()
        if data is None:
            return WaitInput()
        return 0
    script = scripts[0]
    path = inv.path_of(script)
    try:
        real = inv.fs.resolve(path)                      # node loads the file a symlink (/usr/local/bin/npm) names
    except OSError:
        real = path
    if posixpath.basename(real) == "npm-cli.js":
        return npm(inv, args[args.index(script) + 1:])
    if not inv.fs.exists(path):
        inv.error(f"module.js:471\n    throw err;\n    ^\n\nError: Cannot find module '{path}'")
        return 1
    return Block(None)


_MISSING = "not available in labkit's simulated shell"


def npm(inv: Invocation, args: list) -> "int | Exec":
    """npm: `start` runs the package's start script through sh (as npm run-script does); -v prints the version."""
    if args[:1] in (["-v"], ["--version"]):
        inv.write("3.10.9\n")
        return 0
    if args[:1] not in (["start"], ["run-script", "start"], ["run", "start"]):
        raise Fail(f"labkit: npm {' '.join(args)}: {_MISSING} (only `npm start`)", 126)
    pkg_path = inv.path_of("package.json")
    try:
        pkg = json.loads(inv.fs.read(pkg_path))
    except (OSError, ValueError):
        inv.error(f"npm ERR! enoent ENOENT: no such file or directory, open '{pkg_path}'")
        return 254
    script = (pkg.get("scripts") or {}).get("start", "node server.js")
    inv.write(f"\n> {pkg.get('name', '')}@{pkg.get('version', '')} start {inv.cwd}\n> {script}\n\n")
    from .lookup import search

    sh = search(inv.fs, "sh", inv.env.get("PATH"), inv.cwd) or "/bin/sh"
    return Exec(sh, ["sh", "-c", script])


def busybox(inv: Invocation, args: list) -> int:
    """busybox with no applet: its banner."""
    inv.write("BusyBox v1.25.1 (2016-10-18 20:31:22 UTC) multi-call binary.\n"
              "Usage: busybox [function [arguments]...]\n")
    return 0


_PROGRAMS = dict(coreutils.PROGRAMS)
_PROGRAMS.update({"httpd": httpd, "java": java, "node": node, "nodejs": node, "npm": npm, "busybox": busybox})


def find(name: str):
    """Return labkit's implementation of the program `name` (a function of (Invocation, args)), or None."""
    return _PROGRAMS.get(name)
