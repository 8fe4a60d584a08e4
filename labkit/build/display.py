"""`docker build` output: BuildKit's plain printer, its terminal view, and the error report (pure).

Ports of moby/buildkit util/progress/progressui (printer.go for `--progress=plain`, display.go for the
terminal) and solver/errdefs/source.go (the Dockerfile lines an error points at), with buildx's final line:

    #6 [2/3] COPY app.txt /app/
    #6 DONE 0.0s
    ...
    ERROR: failed to build: failed to solve: process "/bin/sh -c apt-get update" did not complete
    successfully: exit code: 127
"""

from __future__ import annotations

import shutil
from typing import TextIO

from .events import (BuildFailed, Vertex, VertexCompleted, VertexLog, VertexStarted, VertexStatus, VertexWarning,
                     replay)

BUILDER_LINE = 'building with "default" instance using docker driver'
TTY_DESCRIPTION = "docker:default"
ERROR_PREFIX = "ERROR: failed to build: failed to solve: "


def units_bytes(n: int) -> str:
    """Return a byte count as tonistiigi/units prints it with %.2f: "123B", "1.23kB", "12.00MB"."""
    if n < 1000:
        return f"{n}B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB", "PB", "EB"):
        value /= 1000.0
        if value < 1000.0:
            return f"{value:.2f}{unit}"
    return f"{value:.2f}ZB"


def _log_time(seconds: float) -> str:
    prec = 3 if seconds < 10 else 2 if seconds < 100 else 1
    return f"{max(seconds, 0.0):.{prec}f}"


def _status_line(s: VertexStatus) -> str:
    text = s.id
    if s.total:
        text += f" {units_bytes(s.current)} / {units_bytes(s.total)}"
    elif s.current:
        text += f" {units_bytes(s.current)}"
    if s.completed is not None:
        spent = s.completed - s.started
        if spent > 0.01:
            text += f" {spent:.1f}s"
        text += " done"
    return text


class PlainDisplay:
    """Prints events as `--progress=plain` does: "#N name", statuses, logs, "#N DONE 0.1s" / "#N CACHED" /
    "#N ERROR: ..." (callable: pass it as a build's progress)."""

    def __init__(self, out: TextIO, description: str = BUILDER_LINE):
        self.out = out
        self.description = description
        self.first = True
        self.events: list = []
        self.started: dict[int, VertexStarted] = {}

    def __call__(self, event) -> None:
        self.events.append(event)
        w = self.out.write
        if isinstance(event, VertexStarted):
            if self.first:
                if self.description:
                    w(f"#0 {self.description}\n\n")
                self.first = False
            else:
                w("\n")
            self.started[event.index] = event
            w(f"#{event.index} {event.name}\n")
        elif isinstance(event, VertexStatus):
            w(f"#{event.index} {_status_line(event)}\n")
        elif isinstance(event, VertexWarning):
            w(f"#{event.index} WARN: {event.short}\n")
        elif isinstance(event, VertexLog):
            start = self.started[event.index].time if event.index in self.started else event.time
            w(f"#{event.index} {_log_time(event.time - start)} {event.text}\n")
        elif isinstance(event, VertexCompleted):
            if event.error:
                w(f"#{event.index} ERROR: {event.error}\n")
            elif event.cached:
                w(f"#{event.index} CACHED\n")
            else:
                start = self.started[event.index].time if event.index in self.started else event.time
                w(f"#{event.index} DONE {max(event.time - start, 0.0):.1f}s\n")
        elif isinstance(event, BuildFailed):
            w(failure_report(self.events, event))
        self.out.flush()


class TtyDisplay:
    """The terminal view: "[+] Building 1.2s (8/8) FINISHED" and one line per step, redrawn in place."""

    def __init__(self, out: TextIO, clock=None, width: "int | None" = None):
        from ..clock import elapsed

        self.out = out
        self.clock = clock or elapsed
        self.begin = self.clock()
        self.events: list = []
        self.lines = 0
        self.width = width
        self.finished = False

    def __call__(self, event) -> None:
        self.events.append(event)
        if self.finished:
            return
        if isinstance(event, BuildFailed):
            self._draw(final=True)
            self.finished = True
            self.out.write(failure_report(self.events, event))
            self.out.flush()
            return
        self._draw(final=False)

    def close(self) -> None:
        """Draw the final state ("FINISHED" when every step completed), once."""
        if not self.finished:
            self._draw(final=True)
            self.finished = True

    def _draw(self, final: bool) -> None:
        width = self.width or shutil.get_terminal_size((80, 24)).columns
        vertices = replay(self.events)
        done = sum(1 for v in vertices if v.completed is not None)
        now = self.clock()
        state = " FINISHED" if final and vertices and done == len(vertices) else ""
        head = f"[+] Building {now - self.begin:.1f}s ({done}/{len(vertices)}){state}"
        rows = [_align(head, TTY_DESCRIPTION, width - 1)]
        for v in vertices:
            name = v.name.replace("\t", " ")
            if v.error:
                name = "ERROR " + name
            if v.cached:
                name = "CACHED " + name
            end = v.completed if v.completed is not None else now
            rows.append(_job(" => " + name, end - v.started, width))
            for s in v.statuses.values():
                status = ""
                if s.total:
                    status = f" {units_bytes(s.current)} / {units_bytes(s.total)}"
                elif s.current:
                    status = f" {units_bytes(s.current)}"
                stop = s.completed if s.completed is not None else now
                rows.append(_job(" => => " + s.id + status, stop - s.started, width))
            for w in v.warnings:                 # display.go: a "WARN: ..." job timed like its vertex
                rows.append(_job(" => WARN: " + w.short, end - v.started, width))
        text = "".join(r + "\n" for r in rows)
        if self.lines:
            self.out.write(f"\x1b[{self.lines}A\r")       # back to the first line of the previous drawing
        self.out.write(text.replace("\n", "\x1b[K\n"))
        self.lines = len(rows)
        self.out.flush()


def _align(left: str, right: str, width: int) -> str:
    pad = max(width - len(right) - 1, len(left))
    return f"{left:<{pad}} {right}"


def _job(name: str, seconds: float, width: int) -> str:
    timer = f" {max(seconds, 0.0) if seconds >= 0.05 else 0.0:3.1f}s"
    left = width - len(timer) - 1
    if len(name) > left:
        name = name[:left]
    return f"{name:<{left}}{timer}"


# --- the report of a failed build ------------------------------------------------------------------------

def warnings_summary(events) -> str:
    """Return what buildx prints after a build with warnings (commands/build.go printWarnings, without the
    yellow of its heading and without --debug's details):

         2 warnings found (use docker --debug to expand):
         - JSONArgsRecommended: JSON arguments recommended for CMD ... (line 3)
    """
    warnings = [e for e in events if isinstance(e, VertexWarning)]
    if not warnings:
        return ""
    count = "1 warning found" if len(warnings) == 1 else f"{len(warnings)} warnings found"
    return f"\n {count} (use docker --debug to expand):\n" + "".join(f" - {w.short}\n" for w in warnings)


def failure_report(events, failure: BuildFailed, with_warnings: bool = True) -> str:
    """Return what buildx prints after a failed build: each failed step's last output between "------"
    lines, the warnings (printed when the progress display closes), the Dockerfile lines at fault, then
    "ERROR: failed to build: failed to solve: ..."."""
    out = []
    for v in replay(events):
        if v.error:
            out.append("------\n")
            out.append(f" > {v.name}:\n")
            for log in v.logs[-10:]:                 # BuildKit keeps the last 10 lines of each step
                out.append(f"{_log_time(log.time - v.started)} {log.text}\n")
            out.append("------\n")
    if with_warnings:
        out.append(warnings_summary(events))
    if failure.source and failure.start:
        out.append(_source_block(failure))
    out.append(ERROR_PREFIX + failure.message + "\n")
    return "".join(out)


def _source_block(f: BuildFailed) -> str:
    """Return the Dockerfile lines an error points at, marked ">>>", with a few around them (errdefs
    Source.Print: 4 lines of context for one line, 2 for a range)."""
    lines = f.source.split("\n")
    start, end = f.start, max(f.end, f.start)
    if start < 1 or start > len(lines):
        return ""
    end = min(end, len(lines))
    marked = range(start, end + 1)
    pad = 4 if end == start else 2
    first_shown, last_shown = start, end
    p = 0
    while p < pad:
        if first_shown > 1:
            first_shown -= 1
            p += 1
        if last_shown != len(lines):
            last_shown += 1
            p += 1
        p += 1
    out = [f"{f.filename}:{start}\n--------------------\n"]
    for i in range(first_shown, last_shown + 1):
        mark = ">>>" if i in marked else "   "
        out.append(f" {i:3d} | {mark} {lines[i - 1]}\n")
    out.append("--------------------\n")
    return "".join(out)
