"""What a build reports while it runs: BuildKit's vertices (steps), their statuses and logs, as events (pure).

BuildKit's solver sends SolveStatus updates about vertices (a step: "[2/3] COPY app/ ./"), each started,
then CACHED, DONE or in ERROR, with statuses ("transferring context: 1.2kB", "naming to ...") and log lines (a
RUN's output). labkit's builder emits the same as plain events; the renderers in labkit.build.display print
them as `docker build --progress=plain` or the terminal view does, and a notebook widget draws them.

Times are seconds from the build's clock (an injectable callable; by default labkit.clock.elapsed, which
stands still while LABKIT_NOW pins the time, so stored notebook outputs keep the same durations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class VertexStarted:
    """A step started: its number (#N, in order of appearance) and its name."""

    index: int
    name: str
    time: float


@dataclass(frozen=True)
class VertexStatus:
    """A status line of a step ("transferring context", "naming to docker.io/library/app:1"); `current` and
    `total` are bytes when known; `done` when it completed."""

    index: int
    id: str
    current: int = 0
    total: int = 0
    started: float = 0.0
    completed: "float | None" = None


@dataclass(frozen=True)
class VertexLog:
    """Output of a step (a RUN's stdout and stderr), one line without its newline."""

    index: int
    text: str
    time: float


@dataclass(frozen=True)
class VertexCompleted:
    """A step ended: CACHED (a cache hit), DONE, or ERROR with BuildKit's message."""

    index: int
    time: float
    cached: bool = False
    error: str = ""


@dataclass(frozen=True)
class VertexWarning:
    """A build check warning on a step (BuildKit puts them on "[internal] load build definition"): its
    short form "Rule: message (line N)", the rule, its documentation URL and the Dockerfile line."""

    index: int
    short: str
    rule: str = ""
    url: str = ""
    line: int = 0


@dataclass(frozen=True)
class StepInfo:
    """What the builder knows about a Dockerfile step once it is decided (for diagrams and widgets): the
    vertex, its stage, the instruction, whether it hit the cache, the layer it made (diff ID) and its size."""

    index: int
    stage: str
    instruction: str
    line: int
    cached: bool
    layer: "str | None" = None
    size: int = 0
    key: str = ""
    kind: str = ""              # from, run, copy, workdir


@dataclass(frozen=True)
class BuildFailed:
    """The build ended in error: BuildKit's message (the "ERROR: failed to build: failed to solve: " prefix
    is added by the renderer), the Dockerfile lines it points at, the Dockerfile's name and text."""

    message: str
    start: int = 0
    end: int = 0
    filename: str = "Dockerfile"
    source: str = ""


Event = object


@dataclass
class Vertex:
    """A step as the renderers follow it."""

    index: int
    name: str
    started: float
    completed: "float | None" = None
    cached: bool = False
    error: str = ""
    statuses: dict = field(default_factory=dict)
    logs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


class Recorder:
    """Collects events (tests, widgets); callable like any progress callback."""

    def __init__(self):
        self.events: list = []

    def __call__(self, event) -> None:
        self.events.append(event)

    def vertices(self) -> "list[Vertex]":
        """Return the steps seen, in order, with their statuses and logs."""
        return replay(self.events)

    def steps(self) -> "list[StepInfo]":
        """Return the Dockerfile steps the builder decided, in order."""
        return [e for e in self.events if isinstance(e, StepInfo)]


def replay(events) -> "list[Vertex]":
    """Return the vertices the events describe."""
    out: dict[int, Vertex] = {}
    for e in events:
        if isinstance(e, VertexStarted):
            out[e.index] = Vertex(e.index, e.name, e.time)
        elif isinstance(e, VertexStatus) and e.index in out:
            out[e.index].statuses[e.id] = e
        elif isinstance(e, VertexLog) and e.index in out:
            out[e.index].logs.append(e)
        elif isinstance(e, VertexWarning) and e.index in out:
            out[e.index].warnings.append(e)
        elif isinstance(e, VertexCompleted) and e.index in out:
            v = out[e.index]
            v.completed, v.cached, v.error = e.time, e.cached, e.error
    return [out[k] for k in sorted(out)]


class Progress:
    """The builder's side: numbers vertices and sends events to `sink` (a callable), timed by `clock`."""

    def __init__(self, sink: "Optional[Callable]" = None, clock: "Optional[Callable[[], float]]" = None):
        from ..clock import elapsed

        self.sink = sink or (lambda e: None)
        self.clock = clock or elapsed
        self.count = 0

    def start(self, name: str) -> int:
        """Start a vertex named `name`; return its number."""
        self.count += 1
        self.sink(VertexStarted(self.count, name, self.clock()))
        return self.count

    def status(self, index: int, id: str, current: int = 0, total: int = 0, started: "float | None" = None,
               done: bool = True) -> None:
        """Report a status line of vertex `index` (done: it completed now)."""
        now = self.clock()
        self.sink(VertexStatus(index, id, current, total, now if started is None else started,
                               now if done else None))

    def log(self, index: int, text: str) -> None:
        """Report a step's output (split into lines)."""
        now = self.clock()
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines:
            self.sink(VertexLog(index, line, now))

    def warn(self, index: int, short: str, rule: str = "", url: str = "", line: int = 0) -> None:
        """Report a warning on vertex `index`."""
        self.sink(VertexWarning(index, short, rule, url, line))

    def done(self, index: int, cached: bool = False) -> None:
        """End vertex `index` as DONE (or CACHED)."""
        self.sink(VertexCompleted(index, self.clock(), cached=cached))

    def error(self, index: int, message: str) -> None:
        """End vertex `index` in ERROR."""
        self.sink(VertexCompleted(index, self.clock(), error=message))

    def emit(self, event) -> None:
        """Send any other event (StepInfo, BuildFailed)."""
        self.sink(event)
