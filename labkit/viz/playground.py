"""The copy-on-write playground: write, append, delete, rename, chmod, mkdir (and read) inside a real container.

Each Apply logs the container's Ops ("copied up /etc/os-release (270 B)", "whiteout /usr/bin/ls") and
redraws the read-write layer over the image's layers (diagrams.container_layers). The logic is in plain
functions (apply_operation, ops_for_diagram, playground_diagram, fresh_container...) that need no widgets;
`CowPlayground` (`cow_playground(lab)`) is the widget, driven in tests with `.value` and `.click()`. Errors a
student can cause (a missing file, a bad mode) land in its log as one line.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

from ..reference import SCRATCH
from ..errors import LabkitError, UsageError
from ..formatting import human_size
from .layerexplorer import describe_bytes
from .messages import STUDENT_MISTAKES, error_html, error_text
from .widgetbase import NotebookWidget


def _esc(text: Any) -> str:
    return html.escape(str(text))


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

    Raises OSError for what a file system refuses and UsageError for what the playground cannot read (a mode
    that is not octal); the widget logs either as one line.
    """
    path = path.strip()
    if not path:
        raise UsageError("type a path first (e.g. /etc/os-release)")
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
            raise UsageError("type the new path in the second field")
        return container.rename(path, target), ""
    if op == "chmod":
        text = arg.strip()
        try:
            mode = int(text, 8)
        except ValueError:
            raise UsageError(f"a mode is octal digits like 600 or 755, not {text!r}") from None
        if not 0 <= mode <= 0o7777:
            raise UsageError(f"mode {text} is out of range (0000 to 7777)")
        return container.chmod(path, mode), ""
    if op == "mkdir":
        return container.mkdir(path), ""
    raise UsageError(f"unknown operation {op!r} (one of: {', '.join(o[0] for o in OPERATIONS)})")


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
        img = image_layers(lab.store, container.image_id, name=image_name or container.image)
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
    """Return the container `name` of `lab` (created over `image`, pulled first if missing); `reset` makes it
    anew. The Lab's own manager names containers reproducibly under $LABKIT_SEED (stored notebook outputs)."""
    manager = lab.containers
    try:
        existing = manager.get(name)
    except LabkitError:
        existing = None
    if existing is not None and not reset:
        return existing
    if existing is not None:
        manager.rm(existing, force=True)
    if image != SCRATCH:
        lab.ensure_image(image)    # the implicit pull of `docker run`
    return manager.create(image, name=name, tty=True, interactive=True)


def fresh_container(lab, image: str, name: str, start: bool = False):
    """Return a new container `name` over `image` (pulled if missing), replacing a container of that name,
    so a notebook cell that makes it can be run again; `start` leaves it Up, like `docker run -dit`: its
    shell waits for input on a terminal nobody types into (a plain `docker run -d ubuntu` exits at once)."""
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

OPERATION_HINTS = {value: hint for value, _, hint in OPERATIONS}
LOG_LINES = 40


class CowPlayground(NotebookWidget):
    """A copy-on-write playground on a real container `name` over `image` (created, or reused).

    Controls: .operation (Dropdown), .path and .arg (Text: content, new path or mode), .apply_button,
    .reset_button, .log_area (HTML, class labkit-playground-log), .diagram (HTML holding the inline SVG),
    .summary (HTML). State: .container (None when it could not be made), .entries (the log's (kind, text)
    lines). The root widget has the class labkit-playground.
    """

    def __init__(self, lab, image: str = "ubuntu", name: str = "playground", path: "str | None" = None,
                 operation: str = "append", content: str = DEFAULT_CONTENT):
        import ipywidgets as w

        self.lab, self.image, self.name = lab, image, name
        self.entries: list[tuple[str, str]] = []
        self.widget = w.VBox()
        self.widget.add_class("labkit-playground")
        self.failure = ""
        try:
            self.container = _container(lab, image, name)
        except STUDENT_MISTAKES as e:   # e.g. an image that cannot be pulled
            self.container = None
            self.failure = error_text(e, f"playground on {image}")
        self.operation = w.Dropdown(options=[(label, value) for value, label, _ in OPERATIONS], value=operation,
                                    description="Operation:", layout=w.Layout(width="32em"))
        self.path = w.Text(value=path or (default_path(self.container) if self.container else ""),
                           description="Path:", placeholder="/etc/os-release", continuous_update=False,
                           layout=w.Layout(width="32em"))
        self.arg = w.Text(value=content, description="Content:", continuous_update=False,
                          placeholder="text (\\n for a new line)", layout=w.Layout(width="32em"))
        self.apply_button = w.Button(description="Apply", button_style="primary", icon="play",
                                     tooltip="Run the operation inside the container")
        self.reset_button = w.Button(description="Start over", icon="undo",
                                     tooltip="Remove the container and create a fresh one from the image")
        self.log_area = w.HTML("")
        self.log_area.add_class("labkit-playground-log")
        self.diagram = w.HTML("")
        self.diagram.add_class("labkit-playground-diagram")
        self.summary = w.HTML("")
        if self.container is None:
            self.widget.children = [w.HTML(error_html(self.failure))]
            return
        self.operation.observe(self.on_operation, names="value")
        if operation not in ("write", "append"):
            self.on_operation({"new": operation})
        self.apply_button.on_click(self.apply)
        self.reset_button.on_click(self.start_over)
        for o in self.container.history():        # a reused container: show what it already did
            self.entries.append(("op", str(o)))
        self.render_log()
        self.render_state()
        self.widget.children = [
            w.HTML(f"<b>Copy-on-write playground</b>: container <code>{_esc(name)}</code> over the image "
                   f"<code>{_esc(image)}</code>. Pick an operation, a path, and press Apply."),
            self.operation, self.path, self.arg, w.HBox([self.apply_button, self.reset_button]),
            w.HTML("<b>What happened</b>"), self.log_area, self.summary, self.diagram]

    def render_log(self) -> None:
        """Show the last LOG_LINES lines of the log: commands, their ops, notes and errors."""
        if not self.entries:
            self.log_area.value = ("<div><i>Nothing changed yet: the container reads every file from the "
                                   "image's layers, and its read-write layer is empty.</i></div>")
            return
        rows = []
        for kind, text in self.entries[-LOG_LINES:]:
            if kind == "cmd":
                rows.append(f"<div style='margin-top:0.4em'><b>$ {_esc(text)}</b></div>")
            elif kind == "error":
                rows.append(error_html(text))
            elif kind == "note":
                rows.append(f"<pre style='margin:0 0 0 1.5em'>{_esc(text)}</pre>")
            else:
                rows.append(f"<div style='margin-left:1.5em'>{_esc(text)}</div>")
        self.log_area.value = "".join(rows)

    def render_state(self) -> None:
        """Redraw the container's layers with its ops so far, and its size and `docker diff`."""
        from . import diagrams

        try:
            svg = diagrams.svg(playground_diagram(self.lab, self.container, image_name=self.image))
            self.diagram.value = f"<div style='overflow-x:auto'>{svg}</div>"
        except STUDENT_MISTAKES + diagrams.RENDER_ERRORS as e:
            self.diagram.value = error_html(e, "diagram")
        self.summary.value = f"<pre>{_esc(summary_text(self.container))}</pre>"

    def on_operation(self, change) -> None:
        """Say what the second field means for the chosen operation, with a sensible value."""
        hint = OPERATION_HINTS.get(change["new"], "")
        self.arg.description = hint or "(unused)"
        self.arg.disabled = not hint
        if change["new"] == "chmod" and not self.arg.value.strip().isdigit():
            self.arg.value = "600"
        elif change["new"] == "rename" and not self.arg.value.startswith("/"):
            self.arg.value = self.path.value.rstrip("/") + ".old"

    def apply(self, _button=None) -> None:
        """Run the chosen operation in the container; log its ops (or the error) and redraw."""
        op, path, arg = self.operation.value, self.path.value, self.arg.value
        shown = f"{op} {path.strip()}" + (f" {arg.strip()!r}" if op in ("write", "append") else
                                          f" {arg.strip()}" if op in ("rename", "chmod") else "")
        self.entries.append(("cmd", shown))
        try:
            ops, extra = apply_operation(self.container, op, path, arg)
        except STUDENT_MISTAKES as e:
            self.entries.append(("error", error_text(e, op)))
            self.render_log()
            return
        self.entries += [("op", str(o)) for o in ops]
        if extra:
            self.entries.append(("note", extra))
        if not ops and not extra:
            self.entries.append(("op", "nothing changed"))
        if ops:
            self.render_state()     # first, so the diagram is already new when the log changes on screen
        self.render_log()

    def start_over(self, _button=None) -> None:
        """Remove the container and make a fresh one from the image."""
        try:
            self.container = _container(self.lab, self.image, self.name, reset=True)
        except STUDENT_MISTAKES as e:
            self.entries.append(("error", error_text(e, "start over")))
            self.render_log()
            return
        self.entries.clear()
        self.render_state()
        self.render_log()

    def describe(self) -> str:
        return f"Copy-on-write playground: container {self.name} over the image {self.image}"

    def details(self) -> str:
        return self.failure if self.container is None else summary_text(self.container)


def cow_playground(lab, image: str = "ubuntu", name: str = "playground", path: "str | None" = None,
                   operation: str = "append", content: str = DEFAULT_CONTENT) -> CowPlayground:
    """Return a CowPlayground on the container `name` over `image` (created, pulled first if missing, or reused)."""
    return CowPlayground(lab, image, name, path, operation, content)
