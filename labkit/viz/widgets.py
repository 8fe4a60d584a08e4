"""Notebook widgets: a reference explorer, the "tag or no tag?" scenarios, and pull progress bars.

Each builder returns an ipywidgets box whose parts are attributes (.text, .result, .buttons...), so tests
drive it in Python (set `.value`, call `.click()`) and read the HTML widgets' `.value`. The logic lives in
plain functions (describe_reference, tag_advice) that need no widgets at all. ipywidgets is imported only
when a widget is built.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import Iterable, Optional

from ..errors import LabkitError
from ..progress import (ALREADY_EXISTS, DOWNLOAD_COMPLETE, DOWNLOADING, EXTRACTING, PULL_COMPLETE,
                        PULLING_FS_LAYER, VERIFYING, LayerEvent, LayersEvent, MessageEvent)
from .exercises import Feedback, error_line

# The text's examples, and a few that trip people up (lab 5, "Images namespaces").
TRICKY_REFERENCES = (
    "localhost:5000/wordpress",
    "test.com:5000",
    "Docker/docker",
    "ubuntu",
    "hcscompany/clock",
    "registry.example.com:5000/my-private/image",
    "debian@sha256:72f784399fd2719b4cb4e16ef8e369a39dc67f53d978cd3e2e7bf4e502c7b793",
    "debian:jessie",
)

NAMESPACE_WORDS = {
    "official": "official image (root namespace on Docker Hub)",
    "user": "user or organization image on Docker Hub",
    "self-hosted": "self-hosted image (a registry other than Docker Hub)",
}


# --- references -------------------------------------------------------------------------------------------

def manifest_url(ref) -> str:
    """Return the URL a client asks for the manifest: https://<api_host>/v2/<path>/manifests/<tag or digest>."""
    return f"https://{ref.api_host}/v2/{ref.path}/manifests/{ref.ref_or_digest}"


def _why(text: str, ref) -> str:
    """Return the normalization rule that decided how `text` was read, in one sentence."""
    first, slash, _ = text.partition("/")
    if not slash:
        if ":" in text.split("@", 1)[0]:
            return ("one name without '/': never a registry host, so the part after ':' is a tag "
                    f"({ref.tag!r}) and the image is an official one")
        return "one name without '/': an official image, so docker.io/library/ is added"
    if first == "localhost":
        return "the first part is 'localhost': always a registry host"
    if first in ("docker.io", "index.docker.io"):
        return "the first part names Docker Hub itself"
    if "." in first or ":" in first:
        return "the first part contains '.' or ':', so it is a registry host[:port]"
    if first.lower() != first:
        return "the first part has an uppercase letter; repository names are lowercase, so it must be a host"
    return "the first part has no '.', ':' or uppercase letter, so it is a Docker Hub user or organization"


def describe_reference(text: str) -> list[tuple[str, str]]:
    """Return (field, value) rows describing how `text` is read; raises InvalidReference for a bad reference."""
    from ..reference import DEFAULT_DOMAIN, Reference

    text = text.strip()
    ref = Reference.parse(text)
    rows = [("registry", ref.domain + (" (Docker Hub)" if ref.domain == DEFAULT_DOMAIN else "")),
            ("API host", ref.api_host),
            ("namespace", NAMESPACE_WORDS.get(ref.namespace_kind, ref.namespace_kind)),
            ("repository", ref.path)]
    if ref.tag is not None:
        rows.append(("tag", ref.tag))
    elif ref.digest is None:
        rows.append(("tag", "latest (none given, so the default is used)"))
    if ref.digest is not None:
        rows.append(("digest", str(ref.digest) + (" (wins over the tag)" if ref.tag is not None else "")))
    rows += [("canonical", ref.canonical), ("familiar", ref.familiar), ("manifest URL", manifest_url(ref)),
             ("why", _why(text, ref))]
    return rows


def _table(rows: Iterable[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                    f"<td><code>{html.escape(v)}</code></td></tr>" for k, v in rows)
    return f"<table class='labkit-ref'>{cells}</table>"


def reference_html(text: str) -> str:
    """Return the explorer's answer for `text` as HTML: the table, or the InvalidReference message."""
    if not text or not text.strip():
        return "<i>Type an image reference, or pick an example.</i>"
    try:
        return _table(describe_reference(text))
    except (LabkitError, Exception) as e:  # noqa: B014 - a widget shows one line, never a traceback
        return f"<div class='labkit-error' style='color:#8a1c1c'>{html.escape(error_line(e))}</div>"


def reference_explorer(initial: str = "", examples: Iterable[str] = TRICKY_REFERENCES):
    """Return a box: a reference Text field and an examples Dropdown; the .result HTML explains the reference.

    Attributes: .text (Text), .examples (Dropdown), .result (HTML).
    """
    import ipywidgets as w

    examples_dd = w.Dropdown(options=[("(pick an example)", "")] + [(e, e) for e in examples], value="",
                             description="Examples:", layout=w.Layout(width="40em"))
    text = w.Text(value=initial, placeholder="e.g. ubuntu, hcscompany/clock, localhost:5000/wordpress",
                  description="Reference:", continuous_update=True, layout=w.Layout(width="40em"))
    result = w.HTML(reference_html(initial))

    def on_text(change) -> None:
        result.value = reference_html(change["new"])

    def on_example(change) -> None:
        if change["new"]:
            text.value = change["new"]

    text.observe(on_text, names="value")
    examples_dd.observe(on_example, names="value")
    box = w.VBox([examples_dd, text, result])
    box.text, box.examples, box.result = text, examples_dd, result
    return box


# --- tags: specify one or not? ----------------------------------------------------------------------------

@dataclass(frozen=True)
class TagScenario:
    """A situation from the text and whether to specify a tag in it, with the reason."""

    key: str
    situation: str
    specify: bool
    why: str


TAG_SCENARIOS = (
    TagScenario("rapid-testing", "Rapid testing and prototyping", False,
                "a quick try does not depend on a version yet: `docker pull ubuntu` means ubuntu:latest."),
    TagScenario("experimenting", "Experimenting", False,
                "you are exploring, and whatever :latest is today is good enough."),
    TagScenario("want-latest", "You want the latest version", False,
                "with no tag docker uses :latest, and :latest is generally updated often."),
    TagScenario("script", "Recording a procedure into a script", True,
                "the script must pull the same image next month; :latest may have moved by then."),
    TagScenario("production", "Going to production", True,
                "production must run the version you tested, not whatever :latest points to today."),
    TagScenario("same-everywhere", "The same version must be used everywhere", True,
                "machines that resolve :latest at different times can get different images; a fixed tag "
                "gives them all the same version."),
    TagScenario("repeatability", "Repeatability later", True,
                "a fixed tag names a version; a digest (debian@sha256:...) is stricter still, since a tag "
                "can be moved but a digest always names the same bytes."),
)


def tag_advice(key: str, specify: bool) -> Feedback:
    """Return the Feedback for choosing to specify a tag (or not) in the scenario `key`."""
    scenario = next((s for s in TAG_SCENARIOS if s.key == key), None)
    if scenario is None:
        known = ", ".join(s.key for s in TAG_SCENARIOS)
        return Feedback(False, f"unknown situation {key!r} (one of: {known})")
    advice = "specify a tag" if scenario.specify else "leave the tag out"
    example = "docker pull debian:jessie" if scenario.specify else "docker pull debian"
    if bool(specify) == scenario.specify:
        return Feedback(True, f"{scenario.situation}: {advice} ({example}); {scenario.why}")
    return Feedback(False, f"{scenario.situation}: better to {advice} ({example}); {scenario.why}")


def tag_scenarios():
    """Return a box: pick a situation, then "Leave the tag out" or "Specify a tag"; .feedback explains.

    Attributes: .scenario (Dropdown of scenario keys), .leave_out_button, .specify_button, .feedback (HTML).
    """
    import ipywidgets as w

    scenario = w.Dropdown(options=[(s.situation, s.key) for s in TAG_SCENARIOS], value=TAG_SCENARIOS[0].key,
                          description="Situation:", layout=w.Layout(width="36em"))
    leave_out = w.Button(description="Leave the tag out", tooltip="docker pull debian")
    specify = w.Button(description="Specify a tag", tooltip="docker pull debian:jessie")
    feedback = w.HTML("")

    def answer(choice: bool):
        def on_click(_button=None) -> None:
            feedback.value = tag_advice(scenario.value, choice).html()
        return on_click

    leave_out.on_click(answer(False))
    specify.on_click(answer(True))
    scenario.observe(lambda change: setattr(feedback, "value", ""), names="value")
    box = w.VBox([w.HTML("<b>Specify a tag or not?</b>"), scenario, w.HBox([leave_out, specify]), feedback])
    box.scenario, box.leave_out_button, box.specify_button, box.feedback = scenario, leave_out, specify, feedback
    return box


# --- pull progress ----------------------------------------------------------------------------------------

_DONE = (PULL_COMPLETE, ALREADY_EXISTS)


class PullProgress:
    """A progress callback for labkit.pull that shows one ipywidgets.IntProgress per layer with docker's words.

    Pass it as `progress=` (it is callable with the events of labkit.progress). `.box` is the widget to
    display (the object displays as it too); `.bars` and `.statuses` map 12-hex layer IDs to the
    IntProgress and Label of each layer; `.log` shows the other lines (Pulling from..., Digest, Status).
    """

    def __init__(self, title: str = ""):
        import ipywidgets as w

        self._w = w
        self._lock = threading.RLock()
        self.title = w.HTML(f"<b>{html.escape(title)}</b>" if title else "")
        self.rows = w.VBox([])
        self.log = w.HTML("")
        self.box = w.VBox([self.title, self.rows, self.log])
        self.bars: dict = {}
        self.statuses: dict = {}
        self._lines: list[str] = []

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)

    def _row(self, layer_id: str):
        if layer_id not in self.bars:
            w = self._w
            bar = w.IntProgress(value=0, min=0, max=1, description=layer_id,
                                layout=w.Layout(width="32em"), style={"description_width": "8em"})
            status = w.Label(value="")
            self.bars[layer_id], self.statuses[layer_id] = bar, status
            self.rows.children = tuple(self.rows.children) + (w.HBox([bar, status]),)
        return self.bars[layer_id], self.statuses[layer_id]

    def _say(self, line: str) -> None:
        self._lines.append(line)
        self.log.value = "<pre>" + html.escape("\n".join(self._lines)) + "</pre>"

    def __call__(self, event) -> None:
        with self._lock:
            if isinstance(event, LayersEvent):
                for lid in event.layer_ids:
                    self._row(lid)
            elif isinstance(event, LayerEvent):
                self._layer(event)
            elif isinstance(event, MessageEvent):
                if event.kind != "source":
                    self._say(event.text)

    def _layer(self, ev: LayerEvent) -> None:
        bar, status = self._row(ev.layer_id)
        if ev.total:
            bar.max = max(1, int(ev.total))
        if ev.status in (DOWNLOADING, EXTRACTING):
            bar.value = min(bar.max, int(ev.current))
            bar.bar_style = "info" if ev.status == DOWNLOADING else "warning"
        elif ev.status in (VERIFYING, DOWNLOAD_COMPLETE) or ev.status in _DONE:
            bar.value = bar.max
        elif ev.status == PULLING_FS_LAYER:
            bar.value = 0
        if ev.status in _DONE or ev.final:
            bar.bar_style = "success"
        status.value = ev.status

    def fail(self, error: BaseException) -> None:
        """Show an error that ended the pull as one line in the log."""
        with self._lock:
            self._say("Error: " + error_line(error))

    def status(self, layer_id: str) -> Optional[str]:
        """Return the last status word shown for a layer (None if the layer is unknown)."""
        label = self.statuses.get(layer_id)
        return None if label is None else label.value

    @property
    def lines(self) -> list[str]:
        """Return the log lines shown so far."""
        return list(self._lines)


def pull_progress(title: str = "") -> PullProgress:
    """Return a new PullProgress renderer (display it, then pass it as progress= to a pull)."""
    return PullProgress(title)


# --- search -----------------------------------------------------------------------------------------------

def search_results_html(results) -> str:
    """Return search results as an HTML table with docker's columns (NAME, DESCRIPTION, STARS, OFFICIAL, AUTOMATED)."""
    results = list(results)
    if not results:
        return "<i>No image matches that term.</i>"
    head = "".join(f"<th style='text-align:left;padding-right:1em'>{h}</th>"
                   for h in ("NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"))
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left;padding-right:1em'>{html.escape(str(v))}</td>" for v in (
            r.name, r.description.replace("\n", " "), r.star_count, "[OK]" if r.is_official else "",
            "[OK]" if r.is_automated else "")) + "</tr>"
        for r in results)
    return f"<table class='labkit-search'><tr>{head}</tr>{body}</table>"


def search_widget(lab=None, term: str = "", limit: int = 25, search=None, **search_options):
    """Return a box: a search Text and a Search button; .results shows docker's columns, .output the errors.

    The search runs on the Button, or on Enter in the Text. `lab` (a Lab) supplies the settings (its
    registry mirrors: the lab registry first); `search` replaces labkit.registry.search.search (tests);
    `search_options` go to it (index_url, mirrors, timeout). Attributes: .text, .button, .results (HTML),
    .output (HTML: "N results for TERM" or the error, one line).
    """
    import ipywidgets as w

    text = w.Text(value=term, placeholder="e.g. zookeeper", description="Search:", continuous_update=False,
                  layout=w.Layout(width="28em"))
    button = w.Button(description="Search", button_style="primary", icon="search",
                      tooltip="Ask the registry's search endpoint (/v1/search?q=...)")
    results = w.HTML("")
    output = w.HTML("")

    def run(_=None) -> None:
        query = text.value.strip()
        results.value = ""
        if not query:
            output.value = "<i>Type a term first, e.g. zookeeper.</i>"
            return
        try:
            if search is not None:
                found = search(query, limit)
            else:
                from ..registry.search import search as registry_search

                settings = lab.settings() if lab is not None else None
                found = registry_search(query, limit=limit, settings=settings, **search_options)
        except (LabkitError, Exception) as e:  # noqa: B014 - a widget shows one line, never a traceback
            output.value = f"<div class='labkit-error' style='color:#8a1c1c'>Error: {html.escape(error_line(e))}</div>"
            return
        found = list(found)
        output.value = f"{len(found)} result{'' if len(found) == 1 else 's'} for <code>{html.escape(query)}</code>"
        results.value = search_results_html(found)

    button.on_click(run)
    text.observe(run, names="value")  # Enter (or leaving the field) runs the search too
    box = w.VBox([w.HBox([text, button]), output, results])
    box.text, box.button, box.results, box.output = text, button, results, output
    box.run = run
    if term.strip():
        run()
    return box


# --- pull -------------------------------------------------------------------------------------------------

def pull_widget(lab, initial: str = "debian:jessie", platform: "str | None" = None):
    """Return a box: a reference Text and a Pull button; each pull shows a PullProgress (one bar per layer).

    Pulls with `lab.pull` (its mirrors: the lab registry). Errors show as one line in .output, never a
    traceback. Attributes: .text, .button, .area (VBox holding the current PullProgress box), .output (HTML),
    .progress (the last PullProgress, or None) and .result (the last PullResult, or None).
    """
    import ipywidgets as w

    text = w.Text(value=initial, placeholder="e.g. debian:jessie, httpd, hcscompany/clock", description="Image:",
                  continuous_update=False, layout=w.Layout(width="28em"))
    button = w.Button(description="Pull", button_style="primary", icon="download", tooltip="docker pull IMAGE")
    area = w.VBox([])
    output = w.HTML("")

    def run(_=None) -> None:
        ref = text.value.strip()
        box.result = None
        if not ref:
            output.value = "<i>Type an image reference first, e.g. debian:jessie.</i>"
            return
        progress = PullProgress(f"docker pull {ref}")
        box.progress = progress
        area.children = (progress.box,)
        output.value = ""
        button.disabled = True
        try:
            box.result = lab.pull(ref, platform=platform, progress=progress)
        except (LabkitError, Exception) as e:  # noqa: B014 - a widget shows one line, never a traceback
            progress.fail(e)
            output.value = f"<div class='labkit-error' style='color:#8a1c1c'>Error: {html.escape(error_line(e))}</div>"
        else:
            output.value = (f"<div style='color:#1b5e20'>{html.escape(box.result.status_line)}; "
                            f"{len(box.result.downloaded)} blob(s) downloaded</div>")
        finally:
            button.disabled = False

    button.on_click(run)
    box = w.VBox([w.HBox([text, button]), area, output])
    box.text, box.button, box.area, box.output = text, button, area, output
    box.progress, box.result, box.run = None, None, run
    return box
