"""Seeing a build: which Dockerfile steps hit the cache, which ran, which layer each made (diagram and widget).

- `step_rows(result)`: every instruction of the built stages, in order, with what the build did about it
  (cache hit, ran, config only) and the layer it made;
- `cache_diagram(result)`: those rows as boxes, one cluster per stage, hits and misses in words and colours,
  `COPY --from` drawn as an edge between stages;
- `BuildPlayground` (`build_playground(lab, context)`): edit the Dockerfile or a file of the context, build,
  and see which steps re-run. The logic is in plain functions; the widget only wires them to controls.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..formatting import human_size
from .diagrams import _graph, _label
from .messages import STUDENT_MISTAKES, error_html
from .widgetbase import NotebookWidget

HIT, RAN, CONFIG, BASE = "cache hit", "ran", "config only", "base"
FILL = {HIT: "#dbe8f5", RAN: "#f6b26b", CONFIG: "#ffffff", BASE: "#e2efda"}
WORDS = {HIT: "CACHED: cache hit, layer reused", RAN: "ran: cache miss, new layer",
         CONFIG: "config only: no step, no layer", BASE: "base image"}


@dataclass(frozen=True)
class StepRow:
    """One Dockerfile instruction of a built stage and what the build did about it."""

    stage: str
    line: int
    instruction: str
    status: str                 # cache hit, ran, config only, base
    layer: "str | None" = None  # the diff ID of the layer the step made
    size: int = 0
    copies_from: str = ""       # the stage a COPY --from reads


def step_rows(result) -> list[StepRow]:
    """Return the rows of a BuildResult: each built stage's FROM and instructions, in Dockerfile order."""
    plan = result.plan
    infos = list(result.steps)
    used: set = set()

    def take(stage: str, line: int, instruction: str):
        for i, s in enumerate(infos):
            if i not in used and s.stage == stage and s.line == line and (s.instruction == instruction or
                                                                          s.kind == "from"):
                used.add(i)
                return s
        return None

    rows: list[StepRow] = []
    for sp in plan.stages:
        if sp.unregistered:
            continue
        label = sp.label
        head = sp.stage.code or f"FROM {sp.base_name}"
        info = take(label, sp.stage.line, head) if sp.base_kind == "image" else None
        if info is not None:
            rows.append(StepRow(label, sp.stage.line, head, HIT if info.cached else RAN))
        else:
            rows.append(StepRow(label, sp.stage.line, head, BASE))
        for cmd in [*sp.onbuild, *sp.stage.commands]:
            text = ("ONBUILD trigger: " if getattr(cmd, "onbuild", False) else "") + cmd.code
            info = take(label, cmd.line, cmd.code)
            source = getattr(cmd, "from_", "") or ""
            if info is None:
                rows.append(StepRow(label, cmd.line, text, CONFIG, copies_from=source))
            else:
                rows.append(StepRow(label, cmd.line, text, HIT if info.cached else RAN, info.layer, info.size,
                                    copies_from=source))
    return rows


def _short(digest: "str | None") -> str:
    return digest.split(":")[-1][:12] if digest else ""


def cache_diagram(result, title: str = "") -> Any:
    """Return a graphviz Digraph of a build: one box per instruction, its cache decision and its layer."""
    rows = step_rows(result)
    g = _graph("build", rankdir="TB", label=title or "docker build: which steps ran, which came from the cache")
    stages: dict[str, list] = {}
    for r in rows:
        stages.setdefault(r.stage, []).append(r)
    last: dict[str, str] = {}
    n = 0
    for s_index, (stage, items) in enumerate(stages.items()):
        with g.subgraph(name=f"cluster_{s_index}") as sub:
            sub.attr(label=f"stage {stage}", style="rounded", color="#999999")
            prev = None
            for r in items:
                node = f"s{n}"
                n += 1
                lines = [r.instruction if len(r.instruction) <= 60 else r.instruction[:59] + "…", WORDS[r.status]]
                if r.layer:
                    lines.append(f"layer {_short(r.layer)} ({human_size(r.size)})")
                style = "filled,dashed" if r.status == CONFIG else "filled"
                sub.node(node, _label(*lines), fillcolor=FILL[r.status], style=style)
                if prev is not None:
                    sub.edge(prev, node)
                prev = node
                if r.copies_from and r.copies_from.lower() in last:
                    g.edge(last[r.copies_from.lower()], node, label="COPY --from", style="dashed")
            if prev is not None:
                last[stage.lower()] = prev
    return g


def summary(result) -> str:
    """Return one line: how many steps hit the cache, how many ran, how many were config only."""
    rows = step_rows(result)
    count = {k: sum(1 for r in rows if r.status == k) for k in (HIT, RAN, CONFIG)}
    ran = [r.instruction for r in rows if r.status == RAN]
    text = f"{count[HIT]} from the cache, {count[RAN]} ran, {count[CONFIG]} config only"
    return text + (f"; ran: {'; '.join(ran)}" if ran else "")


# --- the playground ---------------------------------------------------------------------------------------

def steps_html(vertices) -> str:
    """Return the build's steps so far as an HTML list: each with CACHED, DONE, ERROR or running..."""
    items = []
    for v in vertices:
        if v.error:
            state, colour = "ERROR", "#8a1c1c"
        elif v.cached:
            state, colour = "CACHED", "#1f4e79"
        elif v.completed is not None:
            state, colour = "DONE", "#7f4f00"
        else:
            state, colour = "running...", "#555555"
        items.append(f"<li><code>{html.escape(v.name)}</code> <b style='color:{colour}'>{state}</b></li>")
    return f"<ul class='labkit-build-steps'>{''.join(items)}</ul>" if items else ""


def context_files(context: "str | Path") -> list[str]:
    """Return the files of a build context (relative paths, sorted), the Dockerfile first."""
    root = Path(context)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    if "Dockerfile" in files:
        files.remove("Dockerfile")
        files.insert(0, "Dockerfile")
    return files


class BuildPlayground(NotebookWidget):
    """Edit a file of a build context (the Dockerfile or a source file), build, see which steps re-run."""

    def __init__(self, lab, context: "str | Path", tag: str = "playground:latest"):
        import ipywidgets as w

        self.lab = lab
        self.context = Path(context)
        self.tag = tag
        self.last = None
        self.last_summary = ""
        files = context_files(self.context)
        self.file = w.Dropdown(options=files, value=files[0] if files else None, description="File:")
        self.text = w.Textarea(layout=w.Layout(width="100%", height="180px"))
        self.build_button = w.Button(description="Save and build", button_style="primary")
        self.result = w.HTML()
        self.diagram = w.HTML()
        self.file.observe(lambda _change: self.load(), names="value")
        self.build_button.on_click(lambda _b: self.build())
        self.widget = w.VBox([w.HTML("<b>Edit a file of the build context, then build: which steps re-run?</b>"),
                              self.file, self.text, self.build_button, self.result, self.diagram])
        self.load()

    def describe(self) -> str:
        return f"Build playground for {self.context.name} ({self.tag})"

    def details(self) -> str:
        return self.last_summary

    def load(self) -> None:
        """Show the chosen file's text."""
        if self.file.value:
            self.text.value = (self.context / self.file.value).read_text(errors="replace")

    def build(self) -> None:
        """Save the text into the chosen file, build (the steps listed live as they end), show what ran."""
        from ..build.builder import BuildError
        from ..build.events import Recorder
        from .diagrams import svg

        recorder = Recorder()

        def progress(event) -> None:
            recorder(event)
            self.result.value = steps_html(recorder.vertices())

        try:
            if self.file.value:
                (self.context / self.file.value).write_text(self.text.value)
            self.last = self.lab.build(self.context, tags=[self.tag], progress=progress)
        except BuildError as e:
            self.last_summary = f"ERROR: failed to build: failed to solve: {e.message}"
            self.result.value = error_html(self.last_summary)
            self.diagram.value = ""
            return
        except STUDENT_MISTAKES as e:
            self.last_summary = str(e)
            self.result.value = error_html(e, "build")
            self.diagram.value = ""
            return
        self.last_summary = summary(self.last)
        self.result.value = f"<p>{html.escape(self.last_summary)}</p>" + steps_html(recorder.vertices())
        self.diagram.value = svg(cache_diagram(self.last))


def build_playground(lab, context: "str | Path", tag: str = "playground:latest") -> BuildPlayground:
    """Return the build playground over a context folder (its files are edited in place)."""
    return BuildPlayground(lab, context, tag)


def show_build(lab, context: "str | Path", tag: "str | None" = None, out=None, **options):
    """Build like `docker build --progress=plain`, BuildKit's output printed to `out` (default: stdout, where a
    notebook shows it plainly; docker itself writes it to stderr); return the BuildResult, or None when the
    build failed (its error report is printed)."""
    import sys

    from ..build.builder import BuildError
    from ..build.display import PlainDisplay

    try:
        return lab.build(context, tags=[tag] if tag else [], progress=PlainDisplay(out or sys.stdout), **options)
    except BuildError:
        return None
