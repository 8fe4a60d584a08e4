"""The layer explorer: pick an image and one of its layers; see what that layer adds, modifies and removes.

The logic is in plain functions that need no widgets (layer_choices, change_rows, change_label, file_preview,
wasted_html...): the changes come from labkit.layerchanges.layer_changes, sorted by path or size; a selected file
shows its contents (text, or a hex dump of a binary), a whiteout what it hid; the image's wasted space counts
files written by several layers. `LayerExplorer` (`layer_explorer(lab)`) is the widget over them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..errors import LabkitError
from ..formatting import human_size
from ..paths import printable
from .messages import STUDENT_MISTAKES, error_html, hint_html
from .models import image_name
from .widgetbase import NotebookWidget


def _esc(text: Any) -> str:
    return html.escape(printable(str(text)))


KIND_WORD = {"added": "A", "modified": "M", "removed": "D"}
PREVIEW_BYTES = 2048


@dataclass(frozen=True)
class LayerChoice:
    """One layer of an image as the explorer lists it."""

    index: int           # 0 = the bottom layer
    label: str           # "layer 2/5: RUN rm -rf /var/lib/apt/lists/* (0 B)"
    diff_id: str


def layer_choices(lab, ref: str) -> list[LayerChoice]:
    """Return the layers of image `ref`, bottom first, labelled with the step that made them and their size."""
    from .models import short_command

    store = lab.store
    rec = store.resolve(ref)
    config = store.config(rec)
    manifest = store.manifest(rec)
    items = [h for h in config.layer_history() if h.diff_id is not None]
    by_index = {h.index: h for h in items}
    out = []
    n = len(config.diff_ids)
    for i, (diff_id, desc) in enumerate(zip(config.diff_ids, manifest.layers)):
        size = store.layer_files_size(diff_id, desc.digest)  # the SIZE docker history shows
        step = short_command(by_index[i].created_by, 40) if i in by_index else ""
        out.append(LayerChoice(i, f"layer {i + 1}/{n}: {step or '(no history)'} ({human_size(size)})",
                               str(diff_id)))
    return out


def open_view(lab, ref: str):
    """Return the ImageView of a stored image."""
    return lab.view(ref)


def change_rows(view, index: int, sort: str = "path") -> list:
    """Return layer `index`'s Changes (added / modified / removed), sorted by "path" or "size"."""
    from ..layerchanges import layer_changes

    return layer_changes(view, index, sort=sort)


def change_label(change) -> str:
    """Return one line for a Change: "A  /etc/hostname  (12 B, file)", with a D line saying what it hid."""
    kind = KIND_WORD.get(change.kind, "?")
    what = change.type
    path = printable(change.path)
    if change.kind == "removed":
        return f"{kind}  /{path}  (whiteout: hides {human_size(change.size)} below, a {what})"
    if change.kind == "modified" and change.type == "file":
        return f"{kind}  /{path}  ({human_size(change.before_size)} -> {human_size(change.size)})"
    size = f"{human_size(change.size)}, " if change.type == "file" else ""
    return f"{kind}  /{path}  ({size}{what})"


def change_summary(changes: Iterable) -> str:
    """Return "adds 3, modifies 1, removes 5 (hides 240 kB)" for a layer's changes."""
    changes = list(changes)
    added = [c for c in changes if c.kind == "added"]
    modified = [c for c in changes if c.kind == "modified"]
    removed = [c for c in changes if c.kind == "removed"]
    added_bytes = sum(c.size for c in added if c.type == "file")
    text = (f"adds {len(added)} ({human_size(added_bytes)}), modifies {len(modified)}, "
            f"removes {len(removed)}")
    if removed:
        text += f" (hides {human_size(sum(c.size for c in removed))} of the layers below)"
    return text


def _looks_text(data: bytes) -> bool:
    if not data:
        return True
    if b"\x00" in data[:PREVIEW_BYTES]:
        return False
    try:
        data[:PREVIEW_BYTES].decode("utf-8")
    except UnicodeDecodeError:
        # a cut multi-byte character at the end is still text
        try:
            data[:PREVIEW_BYTES - 4].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def describe_bytes(data: bytes, limit: int = PREVIEW_BYTES) -> str:
    """Return a file's contents for a preview: the text (first `limit` bytes), or a hex dump of a binary's start."""
    if _looks_text(data):
        text = data[:limit].decode("utf-8", "replace")
        more = f"\n... ({human_size(len(data))} in all)" if len(data) > limit else ""
        return (text or "(empty file)") + more
    kind = "an ELF program or library" if data[:4] == b"\x7fELF" else "a binary file"
    head = data[:64]
    rows = [" ".join(f"{b:02x}" for b in head[i:i + 16]) for i in range(0, len(head), 16)]
    return f"{kind}, {human_size(len(data))}; its first {len(head)} bytes:\n" + "\n".join(rows)


def file_preview(view, index: int, path: str) -> str:
    """Return what layer `index` holds at `path` (text or hex), or what a whiteout there hid, as plain text."""
    path = path.strip("/")
    state = view.layer_state(index)
    node = state.nodes.get(path)
    if node is not None:
        if node.type == "file":
            return describe_bytes(node.data.read())
        if node.type == "symlink":
            return f"a symbolic link to {node.linkname}"
        if node.type == "dir":
            return f"a directory (mode {node.mode:04o})"
        return f"a {node.type} device node (metadata only)"
    below = view.below(index)
    old = below.lookup(path)
    if old is None:
        return f"/{path}: nothing in this layer"
    where = f"layer {old.layer_index + 1}"
    if old.type == "dir":
        return (f"whiteout: this layer deletes the directory /{path} of {where} "
                "(its files stay in that layer, hidden)")
    return f"whiteout: this layer deletes /{path} of {where}; the bytes are still stored there, hidden"


def wasted_html(view, top: int = 5) -> str:
    """Return the image's wasted-space figures (paths stored by more than one layer) as HTML."""
    from ..layerchanges import wasted_space

    w = wasted_space(view)
    head = (f"<b>Wasted space</b>: {len(w.paths)} paths are stored by more than one layer; "
            f"{human_size(w.reclaimable)} could be saved by squashing the layers "
            f"(efficiency {w.efficiency * 100:.1f} %).")
    if not w.paths:
        return head
    rows = "".join(f"<li><code>/{_esc(p.path)}</code>: {p.copies} copies, {human_size(p.cumulative_size)} "
                   f"in all</li>" for p in w.paths[:top])
    return head + f"<ul>{rows}</ul>"


def image_refs(lab) -> list[str]:
    """Return the names of the stored images, in `docker images` order."""
    return [image_name(rec) for rec in lab.images()]


# --- the widget -------------------------------------------------------------------------------------------

SELECT_A_CHANGE = "Select a change to see the file."
DETAIL_LINES = 12


class LayerExplorer(NotebookWidget):
    """Pick an image and a layer; see its changes (sortable), a file's contents, and the image's wasted space.

    Controls: .image (Dropdown of refs), .layer (Dropdown of layer indices), .sort (ToggleButtons "path"/"size"),
    .changes (Select of paths), .summary, .preview, .waste (HTML). State: .view (the chosen image's
    ImageView, None when it could not be opened), .rows (the shown layer's Changes, in the shown order).
    """

    def __init__(self, lab, refs: "Optional[Iterable[str]]" = None, image: "str | None" = None,
                 layer: "int | None" = None):
        import ipywidgets as w

        self.lab = lab
        self.view = None
        self.rows: list = []
        refs = list(refs) if refs is not None else image_refs(lab)
        if image is not None and image not in refs:
            try:
                image = image_name(lab.image(image))
            except LabkitError:
                image = None
        self.image = w.Dropdown(options=refs, value=(image if image in refs else (refs[0] if refs else None)),
                                description="Image:", layout=w.Layout(width="36em"))
        self.layer = w.Dropdown(options=[], description="Layer:", layout=w.Layout(width="48em"))
        self.sort = w.ToggleButtons(options=[("by path", "path"), ("by size", "size")], value="path",
                                    description="Sort:", tooltips=["sort by path", "largest first"])
        self.changes = w.Select(options=[], rows=12, description="Changes:", layout=w.Layout(width="60em"))
        self.summary = w.HTML("")
        self.preview = w.HTML(hint_html(SELECT_A_CHANGE))
        self.waste = w.HTML("")
        self.image.observe(self.on_image, names="value")
        self.layer.observe(self.show_changes, names="value")
        self.sort.observe(self.show_changes, names="value")
        self.changes.observe(self.on_select, names="value")
        self.open_image(layer)
        self.widget = w.VBox([w.HTML("<b>Layer explorer</b>: what each layer adds, changes and removes"),
                              self.image, self.layer, self.sort, self.summary, self.changes, self.preview,
                              self.waste])
        self.widget.add_class("labkit-layer-explorer")

    def open_image(self, layer: "int | None" = None) -> None:
        """Open the chosen image and show `layer` (0 = the bottom; default: the top layer)."""
        if self.image.value is None:
            self.summary.value = hint_html("No images yet: pull one first.")
            return
        try:
            self.view = open_view(self.lab, self.image.value)
            choices = layer_choices(self.lab, self.image.value)
            self.waste.value = wasted_html(self.view)
        except STUDENT_MISTAKES as e:   # e.g. an image removed since the list was read
            self.view = None
            self.summary.value = error_html(e, f"open {self.image.value}")
            return
        top = len(choices) - 1
        self.layer.options = [(c.label, c.index) for c in choices]
        wanted = layer if layer is not None and 0 <= layer <= top else top
        if self.layer.value == wanted:
            self.show_changes()
        else:
            self.layer.value = wanted   # shows the changes through the observer

    def on_image(self, _change=None) -> None:
        self.open_image()

    def show_changes(self, _change=None) -> None:
        """List the chosen layer's changes in the chosen order, with the layer's summary."""
        if self.view is None or self.layer.value is None:
            self.rows = []
            self.changes.options = []
            return
        self.rows = change_rows(self.view, self.layer.value, self.sort.value)
        self.summary.value = (f"<b>This layer</b> {_esc(change_summary(self.rows))}. "
                              "A = added, M = modified, D = deleted (a whiteout).")
        self.preview.value = hint_html(SELECT_A_CHANGE)
        self.changes.options = [(change_label(c), c.path) for c in self.rows]
        if self.changes.value:
            self.show_file(self.changes.value)

    def on_select(self, change) -> None:
        self.show_file(change["new"])

    def show_file(self, path: str) -> None:
        """Show what the chosen layer holds at `path` (text or hex), or what a whiteout there hid."""
        if not path or self.view is None:
            return
        try:
            text = file_preview(self.view, self.layer.value, path)
        except STUDENT_MISTAKES as e:
            self.preview.value = error_html(e, f"show /{path}")
            return
        self.preview.value = f"<b>/{_esc(path)}</b> in layer {self.layer.value + 1}:<pre>{_esc(text)}</pre>"

    def describe(self) -> str:
        if self.image.value is None:
            return "Layer explorer (no images yet)"
        if self.layer.value is None:
            return f"Layer explorer for {self.image.value}"
        return f"Layer explorer for {self.image.value}, layer {self.layer.value + 1} of {len(self.layer.options)}"

    def details(self) -> str:
        if self.view is None or self.layer.value is None:
            return ""
        label = dict((index, text) for text, index in self.layer.options)[self.layer.value]
        lines = [f"{label}: {change_summary(self.rows)}"]
        lines += [change_label(c) for c in self.rows[:DETAIL_LINES]]
        if len(self.rows) > DETAIL_LINES:
            lines.append(f"... and {len(self.rows) - DETAIL_LINES} more")
        return "\n".join(lines)


def layer_explorer(lab, refs: "Optional[Iterable[str]]" = None, image: "str | None" = None,
                   layer: "int | None" = None) -> LayerExplorer:
    """Return a LayerExplorer over `lab`'s images (or `refs`), showing `image` and `layer` (0 = the bottom)."""
    return LayerExplorer(lab, refs, image, layer)
