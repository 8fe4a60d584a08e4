"""The small input shapes the diagrams draw, and adapters that build them from labkit's real models.

Pure Python (no graphviz, no ipywidgets), so any part of labkit may build these values. The diagrams
read ops by attribute name (duck typing): a container module can emit its own objects with the fields
of ContainerOp (kind, path, size, detail, lower) without importing anything from viz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

# The text's example image (lab 5, "What is an image?"), bottom layer first.
JAVA_WEB_APP = ("CentOS", "JRE", "Tomcat", "Dependencies", "Application JAR", "Configuration")

# Container operation kinds the diagrams know how to draw; others are drawn plainly with their name.
OP_KINDS = ("create", "write", "mkdir", "copy-up", "whiteout", "opaque", "rename", "delete", "chmod",
            "symlink")

_HEX64 = re.compile(r"\b([a-f0-9]{12})[a-f0-9]{52}\b")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class LayerBox:
    """One read-only layer as a diagram draws it: short ID, size, the step that made it, shared or not."""

    id12: str = ""               # 12-hex diff ID (or blob digest); "" for the text's named layers
    size: "int | None" = None    # uncompressed bytes; None when unknown
    created_by: str = ""         # the history step that made it (raw; diagrams shorten it)
    shared: bool = False         # also used by another image (shared_layers computes this itself)
    digest: str = ""             # full diff ID: the identity that tells two images share a layer
    name: str = ""               # a plain name for the text's examples ("JRE", "Tomcat")
    id_kind: str = "diff ID"     # what id12 is, said in the box: "diff ID" (uncompressed) or "blob digest"

    @property
    def key(self) -> str:
        """Return what identifies this layer across images: the full digest, else the short ID, else the name."""
        return self.digest or self.id12 or self.name


@dataclass(frozen=True)
class ImageLayers:
    """An image as a diagram sees it: a name and its layers, bottom (base) layer first."""

    name: str
    layers: tuple[LayerBox, ...] = ()
    image_id12: str = ""


@dataclass(frozen=True)
class ContainerOp:
    """One step of a container's filesystem history, as the containers module reports it (labkit.containers.Op).

    kind: "create" | "write" | "mkdir" | "copy-up" | "whiteout" | "opaque" | "rename" | "delete" | ... ;
    path: the path in the container ("/etc/hostname"); size: bytes now in the read-write layer (None: not
    shown); detail: a short free text ("from /tmp/a", "mode 0755"); lower: the read-only layer holding the
    file this op copies or hides, as its 12-hex ID (or any prefix of its diff ID) or its 0-based index from
    the bottom; None when no lower file is involved.
    """

    kind: str
    path: str
    size: "int | None" = None
    detail: str = ""
    lower: "str | int | None" = None


# --- text helpers ---------------------------------------------------------------------------------------

def short_command(created_by: str, width: int = 48) -> str:
    """Return a history step in a few words: shell prefixes dropped, digests cut to 12 hex, at most `width` chars."""
    text = _SPACES.sub(" ", created_by or "").strip()
    for prefix, instead in (("/bin/sh -c #(nop) ", ""), ("/bin/sh -c ", "RUN "), ("|", "RUN |")):
        if text.startswith(prefix):
            text = instead + text[len(prefix):].strip()
            break
    text = _HEX64.sub(r"\1", text)
    if len(text) > width:
        text = text[: max(1, width - 3)].rstrip() + "..."
    return text


def short_id(value: Any) -> str:
    """Return the 12-hex short form of a digest or ID ("sha256:6d82..." or a bare hex string)."""
    text = str(value)
    return text.split(":", 1)[-1][:12]


# --- adapters from the real models ----------------------------------------------------------------------

def image_name(rec) -> str:
    """Return how an image record is named in the lab: "repository:tag", or its short ID when it has no name."""
    return f"{rec.repository}:{rec.tag}" if rec.repository != "<none>" else rec.image_id.short


def layers_from_config(config, sizes: "Sequence[int | None] | None" = None) -> tuple[LayerBox, ...]:
    """Return one LayerBox per layer of an ImageConfig (bottom first), labelled from its history."""
    boxes = []
    for item in config.layer_history():
        if item.diff_id is None:
            continue  # an empty_layer step (ENV, CMD...) changes metadata only, not files
        size = sizes[item.index] if sizes is not None and item.index < len(sizes) else None
        boxes.append(LayerBox(id12=item.diff_id.short, size=size, created_by=item.created_by,
                              digest=str(item.diff_id)))
    return tuple(boxes)


def image_layers(store, ref: str, name: "str | None" = None) -> ImageLayers:
    """Return the ImageLayers of an image of `store` (a labkit Store); `ref` is a name, ID or digest."""
    rec = store.resolve(ref)
    config = store.config(rec)
    manifest = store.manifest(rec)
    sizes: list = []
    for diff_id, desc in zip(config.diff_ids, manifest.layers):
        sizes.append(store.layer_files_size(diff_id, desc.digest))  # the SIZE docker history shows
    if name is None:
        name = image_name(rec)
    return ImageLayers(name, layers_from_config(config, sizes), rec.image_id.short)


def named_layers(names: Iterable[str] = JAVA_WEB_APP, sizes: "Sequence[int | None] | None" = None,
                 name: str = "java-web-app") -> ImageLayers:
    """Return an ImageLayers of plain named layers (bottom first), like the text's Java web application."""
    names = list(names)
    boxes = tuple(LayerBox(size=sizes[i] if sizes is not None and i < len(sizes) else None, name=n)
                  for i, n in enumerate(names))
    return ImageLayers(name, boxes)


def as_image(value: Any, name: str = "") -> ImageLayers:
    """Return `value` as ImageLayers: ImageLayers, an ImageConfig, or an iterable of LayerBox/names."""
    if isinstance(value, ImageLayers):
        return value
    if hasattr(value, "layer_history") and hasattr(value, "diff_ids"):
        return ImageLayers(name, layers_from_config(value), value.image_id.short)
    if isinstance(value, (str, bytes)):
        raise TypeError(f"draw image: expected ImageLayers, an ImageConfig or a list of layers, got {value!r}")
    boxes = tuple(v if isinstance(v, LayerBox) else LayerBox(name=str(v)) for v in value)
    return ImageLayers(name, boxes)


def mark_shared(images: Iterable[ImageLayers]) -> list[ImageLayers]:
    """Return the images with `shared` set on every layer that more than one image uses."""
    images = list(images)
    users: dict[str, set[int]] = {}
    for i, img in enumerate(images):
        for box in img.layers:
            users.setdefault(box.key, set()).add(i)
    return [replace(img, layers=tuple(replace(b, shared=len(users[b.key]) > 1) for b in img.layers))
            for img in images]


def as_op(value: Any) -> ContainerOp:
    """Return `value` as a ContainerOp: a ContainerOp, a mapping, or any object with kind and path attributes."""
    if isinstance(value, ContainerOp):
        return value
    get = value.get if isinstance(value, Mapping) else (lambda k, d=None: getattr(value, k, d))
    kind, path = get("kind"), get("path")
    if not kind or path is None:
        raise TypeError(f"draw container: an op needs a kind and a path, got {value!r}")
    return ContainerOp(str(kind), str(path), get("size"), str(get("detail", "") or ""), get("lower"))
