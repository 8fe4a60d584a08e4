"""Notebook widgets: a reference explorer, the "tag or no tag?" scenarios, image search, and pulls with progress.

Each widget is a small class (widgetbase.NotebookWidget): its controls and state are attributes (.text,
.result, .button...), its event handlers methods, so tests drive it in Python (set `.value`, call `.click()`)
and read the HTML widgets' `.value`. The logic lives in plain functions (describe_reference, tag_advice,
search_results_html) that need no widgets at all. ipywidgets is imported only when a widget is built; the
lower-case functions (reference_explorer, tag_scenarios, search_widget, pull_widget) are what notebooks call.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import Iterable, Optional

from ..errors import InvalidReference
from ..progress import (ALREADY_EXISTS, DOWNLOAD_COMPLETE, DOWNLOADING, EXTRACTING, PULL_COMPLETE,
                        PULLING_FS_LAYER, VERIFYING, LayerEvent, LayersEvent, MessageEvent)
from .exercises import Feedback
from .messages import STUDENT_MISTAKES, error_html, error_text, hint_html, ok_html
from .widgetbase import NotebookWidget

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
        return hint_html("Type an image reference, or pick an example.")
    try:
        return _table(describe_reference(text))
    except InvalidReference as e:
        return error_html(e)


class ReferenceExplorer(NotebookWidget):
    """Type an image reference (or pick an example) and see how docker reads it, rule by rule.

    Controls: .text (Text), .examples (Dropdown), .result (HTML).
    """

    def __init__(self, initial: str = "", examples: Iterable[str] = TRICKY_REFERENCES):
        import ipywidgets as w

        self.examples = w.Dropdown(options=[("(pick an example)", "")] + [(e, e) for e in examples], value="",
                                   description="Examples:", layout=w.Layout(width="40em"))
        self.text = w.Text(value=initial, placeholder="e.g. ubuntu, hcscompany/clock, localhost:5000/wordpress",
                           description="Reference:", continuous_update=True, layout=w.Layout(width="40em"))
        self.result = w.HTML(reference_html(initial))
        self.text.observe(self.on_text, names="value")
        self.examples.observe(self.on_example, names="value")
        self.widget = w.VBox([self.examples, self.text, self.result])

    def on_text(self, _change=None) -> None:
        self.result.value = reference_html(self.text.value)

    def on_example(self, change) -> None:
        if change["new"]:
            self.text.value = change["new"]

    def describe(self) -> str:
        text = self.text.value.strip()
        return f"Reference explorer: how docker reads {text}" if text else "Reference explorer"

    def details(self) -> str:
        text = self.text.value.strip()
        if not text:
            return ""
        try:
            return "\n".join(f"{field}: {value}" for field, value in describe_reference(text))
        except InvalidReference as e:
            return error_text(e)

    def details_html(self) -> str:
        return self.result.value if self.text.value.strip() else ""


def reference_explorer(initial: str = "", examples: Iterable[str] = TRICKY_REFERENCES) -> ReferenceExplorer:
    """Return a ReferenceExplorer showing `initial` (a reference Text, an examples Dropdown, the .result)."""
    return ReferenceExplorer(initial, examples)


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
                "the script must pull the same image next month; :latest may have moved by then, and a version "
                "tag too (it is moved to each rebuild): name:tag@sha256:... gets exactly the tested image."),
    TagScenario("production", "Going to production", True,
                "production must run the version you tested, not whatever :latest points to today."),
    TagScenario("same-everywhere", "The same version must be used everywhere", True,
                "machines that resolve a tag at different times can get different images, even for a version "
                "tag (rebuilt with each fix); the tag plus its digest (debian:bookworm@sha256:...) gives them "
                "all the same bytes."),
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


class TagScenarios(NotebookWidget):
    """Pick a situation, then "Leave the tag out" or "Specify a tag"; .feedback explains.

    Controls: .scenario (Dropdown of scenario keys), .leave_out_button, .specify_button, .feedback (HTML).
    """

    def __init__(self, scenarios: Iterable[TagScenario] = TAG_SCENARIOS):
        import ipywidgets as w

        self.scenarios = tuple(scenarios)
        self.scenario = w.Dropdown(options=[(s.situation, s.key) for s in self.scenarios],
                                   value=self.scenarios[0].key, description="Situation:",
                                   layout=w.Layout(width="36em"))
        self.leave_out_button = w.Button(description="Leave the tag out", tooltip="docker pull debian")
        self.specify_button = w.Button(description="Specify a tag", tooltip="docker pull debian:jessie")
        self.feedback = w.HTML("")
        self.leave_out_button.on_click(self.leave_out)
        self.specify_button.on_click(self.specify)
        self.scenario.observe(self.on_scenario, names="value")
        self.widget = w.VBox([w.HTML("<b>Specify a tag or not?</b>"), self.scenario,
                              w.HBox([self.leave_out_button, self.specify_button]), self.feedback])

    def answer(self, specify: bool) -> Feedback:
        """Answer the chosen situation (specify a tag or not) and show the Feedback; return it."""
        verdict = tag_advice(self.scenario.value, specify)
        self.feedback.value = verdict.html()
        return verdict

    def leave_out(self, _button=None) -> Feedback:
        return self.answer(False)

    def specify(self, _button=None) -> Feedback:
        return self.answer(True)

    def on_scenario(self, _change=None) -> None:
        self.feedback.value = ""  # a new situation clears the old answer

    def describe(self) -> str:
        return f"Specify a tag or not? {len(self.scenarios)} situations to decide"

    def details(self) -> str:
        return "\n".join(f"- {s.situation}" for s in self.scenarios)


def tag_scenarios() -> TagScenarios:
    """Return the "specify a tag or not?" widget over the text's seven situations."""
    return TagScenarios()


# --- pull progress ----------------------------------------------------------------------------------------

_DONE = (PULL_COMPLETE, ALREADY_EXISTS)


class PullProgress(NotebookWidget):
    """A progress callback for labkit.pull that shows one ipywidgets.IntProgress per layer with docker's words.

    Pass it as `progress=` (it is callable with the events of labkit.progress); display it (or its `.widget`).
    `.bars` and `.statuses` map 12-hex layer IDs to the IntProgress and Label of each layer; `.log` shows the
    other lines (Pulling from..., Digest, Status). Events may come from worker threads: a lock orders them.
    """

    def __init__(self, title: str = ""):
        import ipywidgets as w

        self._w = w
        self._lock = threading.RLock()
        self.title_text = title
        self.title = w.HTML(f"<b>{html.escape(title)}</b>" if title else "")
        self.rows = w.VBox([])
        self.log = w.HTML("")
        self.widget = w.VBox([self.title, self.rows, self.log])
        self.bars: dict = {}
        self.statuses: dict = {}
        self._lines: list[str] = []

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
            self._say(error_text(error))

    def status(self, layer_id: str) -> Optional[str]:
        """Return the last status word shown for a layer (None if the layer is unknown)."""
        label = self.statuses.get(layer_id)
        return None if label is None else label.value

    @property
    def lines(self) -> list[str]:
        """Return the log lines shown so far."""
        return list(self._lines)

    def describe(self) -> str:
        return f"Pull progress: {self.title_text}" if self.title_text else "Pull progress"

    def details(self) -> str:
        """Return docker's lines for what is shown: one per layer ("6d827a3ef358: Pull complete"), then the log."""
        with self._lock:
            layers = [f"{lid}: {label.value}" for lid, label in self.statuses.items()]
            return "\n".join(layers + self._lines)


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


class SearchWidget(NotebookWidget):
    """A search Text and a Search button; .results shows docker's columns, .output the count or the error.

    The search runs on the Button, or on Enter in the Text. `lab` (a Lab) supplies the settings (its registry
    mirrors: the lab registry first); `search` replaces labkit.registry.search.search (tests); `search_options`
    go to it (index_url, mirrors, timeout). Controls: .text, .button, .results (HTML), .output (HTML: "N
    results for TERM" or the error, one line). State: .query and .found (the last search's term and results).
    """

    def __init__(self, lab=None, term: str = "", limit: int = 25, search=None, **search_options):
        import ipywidgets as w

        self.lab, self.limit, self._search, self.search_options = lab, limit, search, search_options
        self.query: str = ""
        self.found: "list | None" = None
        self.text = w.Text(value=term, placeholder="e.g. zookeeper", description="Search:",
                           continuous_update=False, layout=w.Layout(width="28em"))
        self.button = w.Button(description="Search", button_style="primary", icon="search",
                               tooltip="Ask the registry's search endpoint (/v1/search?q=...)")
        self.results = w.HTML("")
        self.output = w.HTML("")
        self.button.on_click(self.run)
        self.text.observe(self.run, names="value")  # Enter (or leaving the field) runs the search too
        self.widget = w.VBox([w.HBox([self.text, self.button]), self.output, self.results])
        if term.strip():
            self.run()

    def search(self, query: str) -> list:
        """Return the results for `query` (the lab's mirrors first, then Docker Hub)."""
        if self._search is not None:
            return list(self._search(query, self.limit))
        from ..registry.search import search

        settings = self.lab.settings() if self.lab is not None else None
        return list(search(query, limit=self.limit, settings=settings, **self.search_options))

    def run(self, _event=None) -> None:
        """Search for the term typed and show the results, or what went wrong in one line."""
        self.query, self.found = self.text.value.strip(), None
        self.results.value = ""
        if not self.query:
            self.output.value = hint_html("Type a term first, e.g. zookeeper.")
            return
        try:
            self.found = self.search(self.query)
        except STUDENT_MISTAKES as e:
            self.output.value = error_html(e)
            return
        n = len(self.found)
        self.output.value = f"{n} result{'' if n == 1 else 's'} for <code>{html.escape(self.query)}</code>"
        self.results.value = search_results_html(self.found)

    def describe(self) -> str:
        return f"Image search: docker search {self.query}" if self.query else "Image search"

    def details(self) -> str:
        if self.found is None:
            return ""
        from ..registry.search import search_table

        return search_table(self.found).rstrip("\n")

    def details_html(self) -> str:
        return self.output.value + self.results.value if self.query else ""


def search_widget(lab=None, term: str = "", limit: int = 25, search=None, **search_options) -> SearchWidget:
    """Return a SearchWidget (searching for `term` at once when one is given); see SearchWidget."""
    return SearchWidget(lab, term, limit, search, **search_options)


# --- pull -------------------------------------------------------------------------------------------------

class PullWidget(NotebookWidget):
    """A reference Text and a Pull button; each pull shows a PullProgress (one bar per layer).

    Pulls with `lab.pull` (its mirrors: the lab registry). A student's mistake shows as one line in .output,
    never a traceback. Controls: .text, .button, .area (VBox holding the current PullProgress's widget),
    .output (HTML). State: .progress (the last PullProgress, or None), .result (the last PullResult, or None).
    """

    def __init__(self, lab, initial: str = "debian:jessie", platform: "str | None" = None):
        import ipywidgets as w

        self.lab, self.platform = lab, platform
        self.progress: "PullProgress | None" = None
        self.result = None
        self.text = w.Text(value=initial, placeholder="e.g. debian:jessie, httpd, hcscompany/clock",
                           description="Image:", continuous_update=False, layout=w.Layout(width="28em"))
        self.button = w.Button(description="Pull", button_style="primary", icon="download",
                               tooltip="docker pull IMAGE")
        self.area = w.VBox([])
        self.output = w.HTML("")
        self.button.on_click(self.run)
        self.widget = w.VBox([w.HBox([self.text, self.button]), self.area, self.output])

    def run(self, _button=None) -> None:
        """Pull the image typed, with a new PullProgress; show the status line or the error in one line."""
        ref = self.text.value.strip()
        self.result = None
        if not ref:
            self.output.value = hint_html("Type an image reference first, e.g. debian:jessie.")
            return
        self.progress = PullProgress(f"docker pull {ref}")
        self.area.children = (self.progress.widget,)
        self.output.value = ""
        self.button.disabled = True
        try:
            self.result = self.lab.pull(ref, platform=self.platform, progress=self.progress)
        except STUDENT_MISTAKES as e:
            self.progress.fail(e)
            self.output.value = error_html(e)
        else:
            self.output.value = ok_html(f"{self.result.status_line}; "
                                        f"{len(self.result.downloaded)} blob(s) downloaded")
        finally:
            self.button.disabled = False

    def describe(self) -> str:
        return f"Pull an image: docker pull {self.text.value.strip()}"

    def details(self) -> str:
        return self.progress.details() if self.progress is not None else ""


def pull_widget(lab, initial: str = "debian:jessie", platform: "str | None" = None) -> PullWidget:
    """Return a PullWidget for `lab`, its field holding `initial`; see PullWidget."""
    return PullWidget(lab, initial, platform)
