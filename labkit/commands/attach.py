"""Waiting for a container in the foreground, as `docker run` (without -d), `start -a` and `logs -f` do.

Its output is printed as it comes: stdout and stderr to the command's own (a container with a terminal, -t,
has one stream). While the process sleeps, labkit waits for the wall clock, as Docker would; when the clock is
pinned (LABKIT_NOW, the notebooks) time cannot pass, so the wait is simulated: the process's own clock moves to
its wake-up at once. A process that waits for good (a server, `sleep infinity`, a shell on a terminal) keeps
the command waiting on a terminal until Ctrl-C; elsewhere (a notebook, a pipe) labkit returns and says so, since
nothing would ever come.
"""

from __future__ import annotations

import sys
import time


def print_records(ctx, records: list, timestamps: bool = False) -> None:
    """Print log records ({"log", "stream", "time"}) to the command's stdout and stderr."""
    for r in records:
        text = (r["time"] + " " if timestamps else "") + r["log"]
        stream = ctx.err if r["stream"] == "stderr" else ctx.out
        stream.write(text)
        stream.flush()


def _interactive_terminal(ctx) -> bool:
    try:
        return sys.stdin.isatty() and ctx.out.isatty()
    except (AttributeError, ValueError):
        return False


def prompt(shell: "dict | None", hostname: str) -> str:
    """Return the prompt the container's interactive shell would print (bash's Debian default, dash's, ash's)."""
    if not shell:
        return ""
    cwd = shell.get("cwd") or "/"
    if shell.get("dialect") == "bash":
        shown = "~" if cwd == "/root" else cwd
        return f"root@{hostname}:{shown}# "
    if shell.get("dialect") == "ash":
        return f"{cwd} # "
    return "# "


def follow(ctx, container, printed: int = 0, interactive: bool = False, timestamps: bool = False) -> "int | None":
    """Print the container's output from record `printed` on and wait for its end; return its exit status, or
    None when labkit stops waiting while it still runs (said on stderr)."""
    from ..clock import now, pinned
    from ..containers import process

    while True:
        records = process.read_log(container)
        print_records(ctx, records[printed:], timestamps)
        printed = len(records)
        container.reload()
        if not container.running:
            return container.exit_code
        state = process.state(container)
        if state["waiting_input"] and interactive:
            if not _feed_line(ctx, container, state):
                continue
            continue
        wake = state["wake"]
        if wake is not None:
            if pinned():
                process.run_until(container, wake)
            else:
                time.sleep(max(0.0, min(wake - now().timestamp(), 0.5)))
                process.advance(container, now())
            continue
        if _interactive_terminal(ctx) and not pinned():
            try:
                while True:
                    time.sleep(0.5)
                    process.advance(container, now())
                    container.reload()
                    if len(process.read_log(container)) != printed or not container.running:
                        break
                continue
            except KeyboardInterrupt:
                if process.signal(container, 2, now()):
                    continue
                ctx.err.write(f"\nlabkit: {container.name} keeps running (its PID 1 ignores SIGINT); "
                              f"`labkit stop {container.name}` stops it\n")
                return None
        what = " ".join((state["pid1"] or {}).get("argv") or container.argv)
        why = ("it waits for input" if state["waiting_input"] else
               "it spins in a loop that never sleeps" if state.get("spinning") else "it runs until stopped")
        ctx.err.write(f"labkit: {container.name} is still running ({what}: {why}); Docker would wait here, "
                      f"labkit returns: `labkit stop {container.name}` ends it\n")
        ctx.err.flush()
        return None


def _feed_line(ctx, container, state: dict) -> bool:
    """Read one line from the terminal (with the shell's prompt) into the container; EOF (Ctrl-D) closes its
    input. Return True when something was fed."""
    from ..clock import now
    from ..containers import process

    text = prompt(state.get("shell"), container.hostname) if container.config.get("tty") else ""
    try:
        ctx.out.write(text)
        ctx.out.flush()
        line = sys.stdin.readline()
    except (KeyboardInterrupt, EOFError):
        line = ""
    if line == "":
        if text:
            ctx.out.write("exit\n")
        process.feed(container, None, now())
        return True
    process.feed(container, line, now())
    return True
