"""Pull progress as a stream of events, and the renderers that print them in docker's words.

Events are plain dataclasses so a notebook widget, a test or a renderer can consume the same stream.

Renderers:
- PlainRenderer (pipes, logs, stored notebook outputs): deterministic. The lines of each layer are printed
  as one group, in manifest order, once that layer is done (a later layer that finishes first waits), so a
  pull prints the same text every run. detail="stable" (the default) prints per layer only
  "Pulling fs layer" and its final line ("Pull complete", or "Download complete" with --no-extract, or
  just "Already exists"); detail="all" adds "Downloading", "Verifying Checksum", "Download complete" and
  "Extracting" (without byte counts, which vary with timing).
- TerminalRenderer (a TTY): docker's live view, one line per layer rewritten in place with ANSI cursor
  moves, and a progress bar while downloading or extracting.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, TextIO, Union

PULLING_FS_LAYER = "Pulling fs layer"
WAITING = "Waiting"
DOWNLOADING = "Downloading"
VERIFYING = "Verifying Checksum"
DOWNLOAD_COMPLETE = "Download complete"
EXTRACTING = "Extracting"
PULL_COMPLETE = "Pull complete"
ALREADY_EXISTS = "Already exists"


@dataclass(frozen=True)
class MessageEvent:
    """A whole line of pull output; kind is one of default-tag, pulling-from, digest, status, reference, source."""

    text: str
    kind: str = "status"


@dataclass(frozen=True)
class LayersEvent:
    """The image's layers, as 12-hex IDs in manifest order (sent once, before any LayerEvent)."""

    layer_ids: tuple[str, ...]


@dataclass(frozen=True)
class LayerEvent:
    """A layer's status changed or moved on; `final` marks the last event of that layer."""

    layer_id: str
    status: str
    current: int = 0
    total: int | None = None
    final: bool = False


Event = Union[MessageEvent, LayersEvent, LayerEvent]


def serialized(progress: "Callable | None") -> Callable:
    """Return an emit function handing events to `progress` one at a time (transfers run in threads)."""
    if progress is None:
        return lambda event: None
    lock = threading.Lock()

    def emit(event):
        with lock:
            progress(event)
    return emit


class Recorder:
    """Collects events in a list (tests, notebooks); callable like any progress callback."""

    def __init__(self):
        self.events: list = []
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def lines(self, detail: str = "stable") -> list[str]:
        """Return what PlainRenderer would print for the recorded events."""
        return render_lines(self.events, detail)


class PlainRenderer:
    """Prints docker's pull lines, deterministic: each layer's lines grouped, in manifest order, when done."""

    def __init__(self, write: "Callable[[str], object] | TextIO | None" = None, detail: str = "stable",
                 show_source: bool = False):
        if write is None:
            write = sys.stdout
        self._write = write.write if hasattr(write, "write") else write
        self._newline = hasattr(write, "write")
        if detail not in ("stable", "all"):
            raise ValueError(f"detail must be 'stable' or 'all', not {detail!r}")
        self.detail = detail
        self.show_source = show_source
        self._order: list[str] = []
        self._lines: dict[str, list[str]] = {}
        self._done: set[str] = set()
        self._next = 0
        self._lock = threading.RLock()

    def _emit(self, line: str) -> None:
        self._write(line + "\n" if self._newline else line)

    def __call__(self, event) -> None:
        with self._lock:
            if isinstance(event, LayersEvent):
                self._flush(force=True)
                self._order = list(event.layer_ids)
                self._lines = {i: [] for i in self._order}
                self._done, self._next = set(), 0
            elif isinstance(event, LayerEvent):
                self._layer(event)
            elif isinstance(event, MessageEvent):
                if event.kind == "source" and not self.show_source:
                    return
                self._flush(force=True)
                self._emit(event.text)

    def _layer(self, ev: LayerEvent) -> None:
        lines = self._lines.setdefault(ev.layer_id, [])
        if ev.layer_id not in self._order:
            self._order.append(ev.layer_id)
        keep = (ev.status in (PULLING_FS_LAYER, ALREADY_EXISTS) or ev.final) if self.detail == "stable" \
            else ev.status != WAITING
        text = f"{ev.layer_id}: {ev.status}"
        if keep and (not lines or lines[-1] != text):
            lines.append(text)
        if ev.final:
            self._done.add(ev.layer_id)
            self._flush()

    def _flush(self, force: bool = False) -> None:
        while self._next < len(self._order):
            lid = self._order[self._next]
            if lid not in self._done and not force:
                return
            for line in self._lines.get(lid, []):
                self._emit(line)
            self._next += 1


def render_lines(events: Iterable, detail: str = "stable") -> list[str]:
    """Return the lines PlainRenderer prints for `events`."""
    out: list[str] = []
    r = PlainRenderer(out.append, detail)
    for e in events:
        r(e)
    r._flush(force=True)
    return [line.rstrip("\n") for line in out]


def progress_bar(current: int, total: int | None, width: int = 50) -> str:
    """Return docker's progress text: `[=====>      ]  1.2 MB/3.4 MB` (just the count when total is unknown)."""
    from .formatting import human_size

    if not total:
        return human_size(current)
    filled = min(width, int(width * current / total))
    bar = "=" * filled + (">" if filled < width else "") + " " * max(0, width - filled - 1)
    return f"[{bar}]  {human_size(current)}/{human_size(total)}"


class TerminalRenderer:
    """Docker's live view for a TTY: one line per layer, rewritten in place with ANSI cursor moves.

    A pull's view by default; a push's says `first` = "Preparing" and draws its bar while "Pushing"."""

    def __init__(self, stream: TextIO | None = None, *, first: str = PULLING_FS_LAYER,
                 bars: "tuple[str, ...]" = (DOWNLOADING, EXTRACTING)):
        self.stream = stream or sys.stdout
        self.first = first  # every layer's line before any event of its own
        self.bars = bars  # the statuses drawn with a progress bar
        self._ids: list[str] = []
        self._lock = threading.RLock()

    def __call__(self, event) -> None:
        with self._lock:
            if isinstance(event, MessageEvent):
                if event.kind != "source":
                    self.stream.write(event.text + "\n")
            elif isinstance(event, LayersEvent):
                self._ids = list(event.layer_ids)
                for lid in self._ids:
                    self.stream.write(f"{lid}: {self.first}\n")
            elif isinstance(event, LayerEvent):
                if event.layer_id not in self._ids:
                    self._ids.append(event.layer_id)
                    self.stream.write("\n")
                text = f"{event.layer_id}: {event.status}"
                if event.status in self.bars and event.current:
                    text += " " + progress_bar(event.current, event.total)
                up = len(self._ids) - self._ids.index(event.layer_id)
                self.stream.write(f"\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")
            self.stream.flush()

    def close(self) -> None:
        """Nothing is held back on a terminal."""


def is_terminal(stream) -> bool:
    """Return True when `stream` is an open TTY (a notebook's or a pipe's stream is not; neither is one
    without isatty())."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def renderer_for(stream: TextIO | None = None, detail: str = "stable"):
    """Return a TerminalRenderer when `stream` (default stdout) is a TTY, else a PlainRenderer."""
    stream = stream or sys.stdout
    if is_terminal(stream):
        return TerminalRenderer(stream)
    return PlainRenderer(stream, detail)
