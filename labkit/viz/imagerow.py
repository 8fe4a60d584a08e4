"""The `docker images` row explainer of notebook 05: pick an image, see where each column's value comes from.

`row_facts(lab, ref)` says, column by column, what `docker images` shows and where it comes from, in the
terms of the Lab's image store: the lab text's Docker (graphdriver: the config's digest, its `created` date
against the pinned now, the sum of its layers' files) or Docker 29 (containerd: the digest of the index or
manifest the name points at, the blobs present, the unpacked layers);
`layer_rows(lab, ref)` lists the layers SIZE adds up, with the other images sharing each one (same chain
ID, as `docker system df` counts them). `ImageRowExplainer` (`image_row_explainer(lab)`) is the widget over both.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .messages import STUDENT_MISTAKES, error_html, error_text, hint_html
from .models import image_name
from .widgetbase import NotebookWidget


@dataclass(frozen=True)
class LayerRow:
    """One layer of an image as SIZE counts it: position, diff ID, uncompressed size, images sharing it."""

    position: int
    diff_id: str
    size: int
    shared_with: tuple[str, ...]


def _chains(lab, rec) -> list:
    from ..oci import chain_ids

    return chain_ids(lab.store.config(rec).diff_ids)


def layer_rows(lab, ref: str) -> list[LayerRow]:
    """Return the layers of image `ref`, bottom first, with sizes and the other images that share each one."""
    rec = lab.image(ref)
    config = lab.store.config(rec)
    manifest = lab.store.manifest(rec)
    mine = _chains(lab, rec)
    others: dict = {}
    for other in lab.images():
        if other.image_id == rec.image_id:
            continue
        for chain in _chains(lab, other):
            others.setdefault(chain, [])
            if image_name(other) not in others[chain]:
                others[chain].append(image_name(other))
    rows = []
    for i, (diff_id, blob) in enumerate(zip(config.diff_ids, manifest.layers)):
        size = lab.store.layer_files_size(diff_id, blob.digest)  # Docker's SIZE: the files a layer holds
        rows.append(LayerRow(i + 1, str(diff_id), size, tuple(others.get(mine[i], ()))))
    return rows


def row_facts(lab, ref: str) -> list[tuple[str, str, str]]:
    """Return (column, value shown, where it comes from) for each column of the image's `docker images` row,
    as the Lab's image store shows it (Docker 29's view for containerd, the lab text's for graphdriver)."""
    from ..daemonconfig import CONTAINERD

    if lab.image_store == CONTAINERD:
        return containerd_row_facts(lab, ref)
    return graphdriver_row_facts(lab, ref)


def containerd_row_facts(lab, ref: str) -> list[tuple[str, str, str]]:
    """Return (column, value, source) for the image's row of Docker 29's `docker images` (containerd store)."""
    from ..tables import DOCKER29, truncate_id

    service = lab.image_service()
    rec = service.resolve(ref)
    summary = next(s for s in service.summaries() if s.id == rec.target)
    platforms = [m for m in summary.manifests if m.kind == "image"]
    pulled = [m for m in platforms if m.available]
    unpacked = sum(m.unpacked_size for m in platforms)
    what = (f"the index listing {len(platforms)} platforms" if len(platforms) > 1 else "the manifest")
    in_use = summary.containers > 0 or any(m.containers for m in platforms)
    size = DOCKER29.size
    return [
        ("IMAGE", image_name(rec), "the name you pulled or tagged, with its tag"),
        ("ID", truncate_id(str(summary.id)),
         f"the first 12 hex digits of the digest of {what} the name points at ({summary.id}), the digest a "
         f"registry reports for the tag; the lab text's Docker shows the config's digest, {rec.image_id}"),
        ("DISK USAGE", size(summary.size),
         f"the blobs present ({size(summary.content_size)}) plus the unpacked layers' files "
         f"({size(unpacked)})" + (f", over the {len(pulled)} platform(s) pulled of the {len(platforms)} the "
                                  "index lists" if len(platforms) > 1 else "")),
        ("CONTENT SIZE", size(summary.content_size),
         "the blobs present: manifest, config and the compressed layers, as they came from the registry"),
        ("EXTRA", "U" if in_use else "",
         "U: a container uses this image (the \"In Use\" mark)" if in_use else
         "empty: no container uses this image (a container would mark it U, \"In Use\")"),
    ]


def graphdriver_row_facts(lab, ref: str) -> list[tuple[str, str, str]]:
    """Return (column, value, source) for the image's row of the lab text's `docker images` (graphdriver)."""
    from ..clock import now, rfc3339
    from ..formatting import human_size, time_ago

    rec = lab.image(ref)
    layers = layer_rows(lab, ref)
    shared = sum(r.size for r in layers if r.shared_with)
    created = rec.created
    return [
        ("REPOSITORY", rec.repository, f"the name you pulled or tagged, short form of {rec.name}"
         if rec.name is not None else "no name: the image is only known by its ID"),
        ("TAG", rec.tag, "the part after ':' (latest when none was given)"),
        ("IMAGE ID", rec.image_id.short, f"the first 12 hex digits of the config's digest, {rec.image_id}"),
        ("CREATED", time_ago(created, now()) if created else "N/A",
         f"the config's created date, {rfc3339(created)}, seen from now = {rfc3339(now())}"
         if created else "the config has no created date"),
        ("SIZE", human_size(rec.size),
         f"the sum of the files in its {len(layers)} layer(s); {human_size(shared)} of it in layers other "
         "images share (counted in their SIZE too)" if shared else
         f"the sum of the files in its {len(layers)} layer(s); none is shared with another image here"),
    ]


def image_row_html(lab, ref: str) -> str:
    """Return the explainer's answer for image `ref` as HTML: the columns, then the layers SIZE adds up."""
    from ..formatting import human_size

    if not ref:
        return hint_html("Pick an image.")
    try:
        facts = row_facts(lab, ref)
        layers = layer_rows(lab, ref)
    except STUDENT_MISTAKES as e:   # e.g. an image removed since the list was read
        return error_html(e)
    cell = "style='text-align:left;padding-right:1em;vertical-align:top'"
    columns = "".join(f"<tr><th {cell}>{html.escape(c)}</th><td {cell}><code>{html.escape(v)}</code></td>"
                      f"<td {cell}>{html.escape(why)}</td></tr>" for c, v, why in facts)
    rows = "".join(
        f"<tr><td {cell}>{r.position}</td><td {cell}><code>{html.escape(r.diff_id[7:19])}</code></td>"
        f"<td {cell}>{html.escape(human_size(r.size))}</td>"
        f"<td {cell}>{html.escape(', '.join(r.shared_with) if r.shared_with else 'only this image')}</td></tr>"
        for r in layers)
    return (f"<table class='labkit-row'><tr><th {cell}>column</th><th {cell}>shows</th>"
            f"<th {cell}>where it comes from</th></tr>{columns}</table>"
            f"<p><b>The image's layers</b> (bottom first; the lab text's SIZE adds up their files):</p>"
            f"<table class='labkit-layers'><tr><th {cell}>#</th><th {cell}>layer (diff ID)</th>"
            f"<th {cell}>size</th><th {cell}>also used by</th></tr>{rows}</table>")


STORE_CHOICES = (("Docker 29 (containerd store)", "containerd"), ("lab text's Docker (graphdriver)", "graphdriver"))


class ImageRowExplainer(NotebookWidget):
    """A Dropdown of the host's images and a switch between the two Dockers' views; .result explains the
    chosen image's `docker images` row as the chosen Docker shows it.

    Controls: .images (Dropdown of "repository:tag" names), .stores (ToggleButtons: "containerd" for Docker
    29's row, "graphdriver" for the lab text's), .result (HTML); .refresh() re-reads the store.
    """

    def __init__(self, lab, image: "str | None" = None):
        import ipywidgets as w

        self.lab = lab
        choices = self.names()
        self.images = w.Dropdown(options=choices,
                                 value=image if image in choices else (choices[0] if choices else None),
                                 description="Image:", layout=w.Layout(width="28em"))
        self.stores = w.ToggleButtons(options=STORE_CHOICES, value=lab.image_store, description="Docker:",
                                      style={"button_width": "16em"})
        self.result = w.HTML("")
        self.images.observe(self.show, names="value")
        self.stores.observe(self.switch, names="value")
        self.widget = w.VBox([self.images, self.stores, self.result])
        self.show()

    def switch(self, _change=None) -> None:
        """Explain the row as the Docker now chosen in .stores shows it."""
        self.lab = self.lab.with_image_store(self.stores.value)
        self.show()

    def names(self) -> list[str]:
        """Return the names of the images on the host, in `docker images` order."""
        return [image_name(r) for r in self.lab.images()]

    def show(self, _change=None) -> None:
        """Explain the chosen image's row."""
        self.result.value = image_row_html(self.lab, self.images.value or "")

    def refresh(self) -> None:
        """Re-read the host's images (keeping the choice when it is still there) and explain the row again."""
        current = self.images.value
        self.images.options = self.names()
        if current in self.images.options:
            self.images.value = current
        self.show()

    def describe(self) -> str:
        image = self.images.value
        docker = dict((v, k) for k, v in STORE_CHOICES)[self.stores.value]
        return f"docker images row explainer for {image}, {docker}" if image else "docker images row explainer"

    def details(self) -> str:
        if not self.images.value:
            return ""
        try:
            facts = row_facts(self.lab, self.images.value)
        except STUDENT_MISTAKES as e:
            return error_text(e)
        return "\n".join(f"{column}: {shown} \u2014 {why}" for column, shown, why in facts)

    def details_html(self) -> str:
        return self.result.value


def image_row_explainer(lab, image: "str | None" = None) -> ImageRowExplainer:
    """Return an ImageRowExplainer of `lab`'s images, showing `image` first (else the first image)."""
    return ImageRowExplainer(lab, image)
