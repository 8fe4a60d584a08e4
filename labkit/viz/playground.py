"""Two notebook playgrounds over real images: a layer explorer and a copy-on-write container playground.

- `layer_explorer(lab)`: pick an image and one of its layers; see what that layer adds, modifies and removes
  (labkit.imageview.layer_changes), sorted by path or size, a file's contents when it is selected, and the
  image's wasted space (files written by several layers).
- `cow_playground(lab)`: write, append, delete, rename, chmod, mkdir (and read) inside a real container;
  each Apply logs the container's Ops ("copied up /etc/os-release (270 B)", "whiteout /usr/bin/ls") and
  redraws the read-write layer over the image's layers (diagrams.container_layers).

The logic is in plain functions (change_rows, file_preview, apply_operation, ops_for_diagram...) that need no
widgets; the builders return ipywidgets boxes whose parts are attributes, so tests set `.value` and call
`.click()`. Errors a student can cause (a missing file, a bad mode) land in the widget as one line.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..errors import LabkitError
from ..formatting import human_size
from .exercises import error_line

# --- shared helpers -----------------------------------------------------------------------------------------


def _esc(text: Any) -> str:
    return html.escape(str(text))


def _error_html(message: str) -> str:
    return f"<div class='labkit-error' style='color:#8a1c1c'>{_esc(message)}</div>"


def _image_name(rec) -> str:
    return f"{rec.repository}:{rec.tag}" if rec.repository != "<none>" else rec.image_id.short


def _os_error_line(action: str, e: BaseException) -> str:
    """Return an error as a shell would word it: "delete /nope: No such file or directory"."""
    if isinstance(e, OSError) and e.strerror:
        return f"{action}: {e.strerror}"
    return f"{action}: {error_line(e)}"


# --- layer explorer: the logic ----------------------------------------------------------------------------

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
        size = store.layer_size(diff_id, desc.digest)
        step = short_command(by_index[i].created_by, 40) if i in by_index else ""
        out.append(LayerChoice(i, f"layer {i + 1}/{n}: {step or '(no history)'} ({human_size(size)})",
                               str(diff_id)))
    return out


def open_view(lab, ref: str):
    """Return the ImageView of a stored image."""
    from ..imageview import ImageView

    return ImageView.open(lab, ref)


def change_rows(view, index: int, sort: str = "path") -> list:
    """Return layer `index`'s Changes (added / modified / removed), sorted by "path" or "size"."""
    from ..imageview import layer_changes

    return layer_changes(view, index, sort=sort)


def change_label(change) -> str:
    """Return one line for a Change: "A  /etc/hostname  (12 B, file)", with a D line saying what it hid."""
    kind = KIND_WORD.get(change.kind, "?")
    what = change.type
    if change.kind == "removed":
        return f"{kind}  /{change.path}  (whiteout: hides {human_size(change.size)} below, a {what})"
    if change.kind == "modified" and change.type == "file":
        return f"{kind}  /{change.path}  ({human_size(change.before_size)} -> {human_size(change.size)})"
    size = f"{human_size(change.size)}, " if change.type == "file" else ""
    return f"{kind}  /{change.path}  ({size}{what})"


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
            with open(node.disk_path, "rb") as f:
                data = f.read()
            return describe_bytes(data)
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
    from ..imageview import wasted_space

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
    return [_image_name(rec) for rec in lab.images()]


# --- layer explorer: the widget ---------------------------------------------------------------------------

def layer_explorer(lab, refs: "Optional[Iterable[str]]" = None, image: "str | None" = None,
                   layer: "int | None" = None):
    """Return a box: pick an image and a layer; see its changes (sortable), a file's contents, wasted space.

    Attributes: .image (Dropdown of refs), .layer (Dropdown of layer indices), .sort (ToggleButtons
    "path"/"size"), .changes (Select of paths), .summary (HTML), .preview (HTML), .waste (HTML).
    """
    import ipywidgets as w

    refs = list(refs) if refs is not None else image_refs(lab)
    if image is not None and image not in refs:
        try:
            image = _image_name(lab.image(image))
        except LabkitError:
            image = None
    image_dd = w.Dropdown(options=refs, value=(image if image in refs else (refs[0] if refs else None)),
                          description="Image:", layout=w.Layout(width="36em"))
    layer_dd = w.Dropdown(options=[], description="Layer:", layout=w.Layout(width="48em"))
    sort = w.ToggleButtons(options=[("by path", "path"), ("by size", "size")], value="path",
                           description="Sort:", tooltips=["sort by path", "largest first"])
    changes = w.Select(options=[], rows=12, description="Changes:", layout=w.Layout(width="60em"))
    summary = w.HTML("")
    preview = w.HTML("<i>Select a change to see the file.</i>")
    waste = w.HTML("")
    state: dict = {"view": None}

    def show_changes() -> None:
        view = state["view"]
        if view is None or layer_dd.value is None:
            changes.options = []
            return
        rows = change_rows(view, layer_dd.value, sort.value)
        summary.value = (f"<b>This layer</b> {_esc(change_summary(rows))}. "
                         "A = added, M = modified, D = deleted (a whiteout).")
        preview.value = "<i>Select a change to see the file.</i>"
        changes.options = [(change_label(c), c.path) for c in rows]
        if changes.value:
            on_select({"new": changes.value})

    def on_image(_change=None) -> None:
        if image_dd.value is None:
            summary.value = "<i>No images yet: pull one first.</i>"
            return
        try:
            state["view"] = open_view(lab, image_dd.value)
            choices = layer_choices(lab, image_dd.value)
            waste.value = wasted_html(state["view"])
        except (LabkitError, Exception) as e:  # noqa: B014 - one line, never a traceback
            state["view"] = None
            summary.value = _error_html(error_line(e))
            return
        top = len(choices) - 1
        layer_dd.options = [(c.label, c.index) for c in choices]
        wanted = layer if (layer is not None and 0 <= layer <= top and on_image.first) else top
        on_image.first = False
        if layer_dd.value == wanted:
            show_changes()
        else:
            layer_dd.value = wanted

    on_image.first = True

    def on_select(change) -> None:
        path = change["new"]
        if not path or state["view"] is None:
            return
        try:
            text = file_preview(state["view"], layer_dd.value, path)
            preview.value = f"<b>/{_esc(path)}</b> in layer {layer_dd.value + 1}:<pre>{_esc(text)}</pre>"
        except (LabkitError, Exception) as e:  # noqa: B014
            preview.value = _error_html(error_line(e))

    image_dd.observe(on_image, names="value")
    layer_dd.observe(lambda change: show_changes(), names="value")
    sort.observe(lambda change: show_changes(), names="value")
    changes.observe(on_select, names="value")
    on_image()
    box = w.VBox([w.HTML("<b>Layer explorer</b>: what each layer adds, changes and removes"), image_dd, layer_dd,
                  sort, summary, changes, preview, waste])
    box.add_class("labkit-layer-explorer")
    box.image, box.layer, box.sort, box.changes = image_dd, layer_dd, sort, changes
    box.summary, box.preview, box.waste = summary, preview, waste
    return box


# --- copy-on-write playground: the logic ------------------------------------------------------------------

# (value, label, what the second field means)
OPERATIONS = (
    ("write", "write (replace the file's content)", "Content:"),
    ("append", "append (add a line to the file)", "Content:"),
    ("read", "read (cat: nothing is copied)", ""),
    ("delete", "delete (rm -rf)", ""),
    ("rename", "rename (mv) to...", "New path:"),
    ("chmod", "chmod to mode...", "Mode:"),
    ("mkdir", "mkdir (a new directory)", ""),
)
DEFAULT_PATHS = ("/etc/hostname", "/etc/hosts", "/etc/os-release", "/etc/passwd")
DEFAULT_CONTENT = "# changed in the playground\n"
MAX_DRAWN_OPS = 24


def _unescape(text: str) -> str:
    """Return the content field with "\\n" written as a newline (a Text field has one line)."""
    return text.replace("\\n", "\n")


def apply_operation(container, op: str, path: str, arg: str = "") -> tuple[list, str]:
    """Run one playground operation on a container; return (Ops, an extra line to log).

    Raises OSError (or LabkitError/ValueError) for what a file system refuses; the widget logs it as one line.
    """
    path = path.strip()
    if not path:
        raise ValueError("type a path first (e.g. /etc/os-release)")
    if op == "write":
        return container.write(path, _unescape(arg).encode()), ""
    if op == "append":
        return container.append(path, _unescape(arg).encode()), ""
    if op == "read":
        data = container.read(path)
        node = container.stat(path)
        where = "the read-write layer" if node.layer_index < 0 else f"image layer {node.layer_index + 1}"
        text = describe_bytes(data, 400)
        return [], f"read {path}: {human_size(len(data))} from {where}; nothing copied\n{text}"
    if op == "delete":
        return container.remove(path, recursive=True), ""
    if op == "rename":
        target = arg.strip()
        if not target:
            raise ValueError("type the new path in the second field")
        return container.rename(path, target), ""
    if op == "chmod":
        text = arg.strip()
        try:
            mode = int(text, 8)
        except ValueError:
            raise ValueError(f"a mode is octal digits like 600 or 755, not {text!r}") from None
        if not 0 <= mode <= 0o7777:
            raise ValueError(f"mode {text} is out of range (0000 to 7777)")
        return container.chmod(path, mode), ""
    if op == "mkdir":
        return container.mkdir(path), ""
    raise ValueError(f"unknown operation {op!r} (one of: {', '.join(o[0] for o in OPERATIONS)})")


def lower_layer_of(container, op) -> "int | None":
    """Return the image layer (0 = bottom) holding the file a copy-up or whiteout covers, else None."""
    if op.kind not in ("copy-up", "whiteout", "opaque"):
        return None
    try:
        node = container.lower.lookup(op.path)
    except LabkitError:
        return None
    if node is None or node.path != op.path.strip("/"):
        return None
    return node.layer_index


def ops_for_diagram(container, ops: Iterable) -> list:
    """Return the container's Ops as diagram ContainerOps: `lower` names the image layer a copy-up copies or a
    whiteout hides; a removal is drawn as "delete"."""
    from .models import ContainerOp

    out = []
    for op in ops:
        kind = "delete" if op.kind == "remove" else op.kind
        size = op.size if op.kind in ("copy-up", "create", "write") else None
        detail = op.detail if op.kind not in ("copy-up",) else ""
        out.append(ContainerOp(kind, op.path, size, detail, lower_layer_of(container, op)))
    return out


def playground_diagram(lab, container, ops: "Iterable | None" = None, image_name: str = ""):
    """Return the container_layers Digraph of `container` with its ops so far (the last MAX_DRAWN_OPS)."""
    from . import diagrams
    from .models import image_layers

    from .models import ImageLayers

    ops = list(container.history() if ops is None else ops)
    steps = ops_for_diagram(container, ops[-MAX_DRAWN_OPS:])
    if container.image_id is None:
        img = ImageLayers(image_name or "scratch")
    else:
        img = image_layers(lab, container.image_id, name=image_name or container.image)
    return diagrams.container_layers(img, steps, name=container.name)


def default_path(container) -> str:
    """Return a file of the image to change on the first click (so the first Apply makes a copy-up)."""
    for p in DEFAULT_PATHS:
        try:
            node = container.lstat(p)
        except OSError:
            continue
        if node.type == "file":
            return p
    return "/hello.txt"


def _container(lab, image: str, name: str, reset: bool = False):
    """Return the container `name` (created over `image`, pulled first if missing); `reset` makes it anew."""
    from ..containers import SCRATCH, Containers

    manager = getattr(lab, "containers", None)   # the Lab's own manager: it honours $LABKIT_SEED
    if not isinstance(manager, Containers):
        manager = Containers(lab.home, store=lab.store, layer_store=lab.layers)
    existing = None
    try:
        existing = manager.get(name)
    except LabkitError:
        existing = None
    if existing is not None and not reset:
        return existing
    if existing is not None:
        manager.rm(existing, force=True)
    if image != SCRATCH:
        try:
            lab.store.resolve(image)
        except LabkitError:
            lab.pull(image)
    return manager.create(image, name=name)


def fresh_container(lab, image: str, name: str, start: bool = False):
    """Return a new container `name` over `image` (pulled if missing), replacing a container of that name,
    so a notebook cell that makes it can be run again; `start` leaves it Up, like `docker run -d`."""
    c = _container(lab, image, name, reset=True)
    if start:
        c.manager.start(c)
    return c


def summary_text(container) -> str:
    """Return the container's size and `docker diff` in a few lines."""
    from ..containers import size_text

    rw = container.size_rw()
    virtual = rw + container.manager.image_size(container.image_id)
    lines = container.diff()
    head = f"read-write layer: {size_text(rw, virtual)}   (the SIZE column of docker ps -s)"
    if not lines:
        return head + "\ndocker diff: (no changes)"
    return head + "\ndocker diff:\n" + "\n".join("  " + x for x in lines)


# --- copy-on-write playground: the widget -----------------------------------------------------------------

def cow_playground(lab, image: str = "ubuntu", name: str = "playground", path: "str | None" = None,
                   operation: str = "append", content: str = DEFAULT_CONTENT):
    """Return a copy-on-write playground on a real container `name` over `image` (created, or reused).

    Controls: an operation Dropdown, a path and a content/new-path/mode Text, "Apply" and "Start over"
    buttons. Attributes: .operation, .path, .arg (Text), .apply_button, .reset_button, .log_area (HTML with class
    labkit-playground-log), .diagram (HTML holding the inline SVG), .summary (HTML), .container, .entries
    (the log's lines). The root box has the class labkit-playground.
    """
    import ipywidgets as w

    from . import diagrams

    box = w.VBox()
    box.add_class("labkit-playground")
    box.entries = []
    try:
        box.container = _container(lab, image, name)
    except (LabkitError, Exception) as e:  # noqa: B014 - e.g. an image that cannot be pulled: one line
        box.container = None
        box.children = [w.HTML(_error_html(f"playground on {image}: {error_line(e)}"))]
        return box
    image_name = image

    op_dd = w.Dropdown(options=[(label, value) for value, label, _ in OPERATIONS], value=operation,
                       description="Operation:", layout=w.Layout(width="32em"))
    path_text = w.Text(value=path or default_path(box.container), description="Path:",
                       placeholder="/etc/os-release", continuous_update=False, layout=w.Layout(width="32em"))
    arg_text = w.Text(value=content, description="Content:", continuous_update=False,
                      placeholder="text (\\n for a new line)", layout=w.Layout(width="32em"))
    apply_button = w.Button(description="Apply", button_style="primary", icon="play",
                            tooltip="Run the operation inside the container")
    reset_button = w.Button(description="Start over", icon="undo",
                            tooltip="Remove the container and create a fresh one from the image")
    log = w.HTML("")
    log.add_class("labkit-playground-log")
    diagram = w.HTML("")
    diagram.add_class("labkit-playground-diagram")
    summary = w.HTML("")

    def render_log() -> None:
        if not box.entries:
            log.value = ("<div><i>Nothing changed yet: the container reads every file from the image's "
                         "layers, and its read-write layer is empty.</i></div>")
            return
        rows = []
        for kind, text in box.entries[-40:]:
            if kind == "cmd":
                rows.append(f"<div style='margin-top:0.4em'><b>$ {_esc(text)}</b></div>")
            elif kind == "error":
                rows.append(f"<div class='labkit-error' style='color:#8a1c1c'>  {_esc(text)}</div>")
            elif kind == "note":
                rows.append(f"<pre style='margin:0 0 0 1.5em'>{_esc(text)}</pre>")
            else:
                rows.append(f"<div style='margin-left:1.5em'>{_esc(text)}</div>")
        log.value = "".join(rows)

    def render_state() -> None:
        c = box.container
        try:
            svg = diagrams.svg(playground_diagram(lab, c, image_name=image_name))
            diagram.value = f"<div style='overflow-x:auto'>{svg}</div>"
        except (LabkitError, Exception) as e:  # noqa: B014
            diagram.value = _error_html(f"diagram: {error_line(e)}")
        summary.value = f"<pre>{_esc(summary_text(c))}</pre>"

    def on_operation(change) -> None:
        hint = dict((v, h) for v, _, h in OPERATIONS).get(change["new"], "")
        arg_text.description = hint or "(unused)"
        arg_text.disabled = not hint
        if change["new"] == "chmod" and not arg_text.value.strip().isdigit():
            arg_text.value = "600"
        elif change["new"] == "rename" and not arg_text.value.startswith("/"):
            arg_text.value = path_text.value.rstrip("/") + ".old"

    def on_apply(_button=None) -> None:
        op, p, a = op_dd.value, path_text.value, arg_text.value
        shown = f"{op} {p.strip()}" + (f" {a.strip()!r}" if op in ("write", "append") else
                                       f" {a.strip()}" if op in ("rename", "chmod") else "")
        box.entries.append(("cmd", shown))
        try:
            ops, extra = apply_operation(box.container, op, p, a)
        except (OSError, LabkitError, ValueError) as e:
            box.entries.append(("error", _os_error_line(f"{op} {p.strip()}", e)))
            render_log()
            return
        except Exception as e:  # noqa: BLE001 - a widget shows one line, never a traceback
            box.entries.append(("error", f"{op} {p.strip()}: {error_line(e)}"))
            render_log()
            return
        for o in ops:
            box.entries.append(("op", str(o)))
        if extra:
            box.entries.append(("note", extra))
        if not ops and not extra:
            box.entries.append(("op", "nothing changed"))
        if ops:
            render_state()     # first, so the diagram is already new when the log changes on screen
        render_log()

    def on_reset(_button=None) -> None:
        try:
            box.container = _container(lab, image, name, reset=True)
        except (LabkitError, Exception) as e:  # noqa: B014
            box.entries.append(("error", f"start over: {error_line(e)}"))
            render_log()
            return
        box.entries.clear()
        render_state()
        render_log()

    op_dd.observe(on_operation, names="value")
    if operation not in ("write", "append"):
        on_operation({"new": operation})
    apply_button.on_click(on_apply)
    reset_button.on_click(on_reset)
    for o in box.container.history():        # a reused container: show what it already did
        box.entries.append(("op", str(o)))
    render_log()
    render_state()
    box.children = [
        w.HTML(f"<b>Copy-on-write playground</b>: container <code>{_esc(name)}</code> over the image "
               f"<code>{_esc(image)}</code>. Pick an operation, a path, and press Apply."),
        op_dd, path_text, arg_text, w.HBox([apply_button, reset_button]),
        w.HTML("<b>What happened</b>"), log, summary, diagram]
    box.operation, box.path, box.arg = op_dd, path_text, arg_text
    box.apply_button, box.reset_button = apply_button, reset_button
    box.log_area, box.diagram, box.summary = log, diagram, summary
    return box
