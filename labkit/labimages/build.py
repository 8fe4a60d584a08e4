"""Build the lab images from recipes.py into an OCI image layout, reproducibly.

Everything but the gzip bytes is a pure function of the recipes: layer tars (diff IDs), configs (image
IDs). gzip output depends on the zlib build, so a rebuild reuses a compressed blob of the existing layout
whenever its content still has the right diff ID: rebuilding on another machine keeps every digest unless
a recipe changed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..digest import Digest
from ..layers.writer import build_layer, write_tar
from ..oci import OCI_CONFIG, OCI_INDEX, Descriptor, ImageConfig, Index, Manifest, Platform
from ..oci.keys import REF_NAME, REPOSITORY
from ..oci.layout import LAYOUT_VERSION
from . import LAYOUT_DIR, recipes


@dataclass
class BuildReport:
    """What a build wrote: repositories, tags, blobs, bytes, and how many layers were reused or compressed."""

    dest: Path
    repositories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    blobs: int = 0
    total_bytes: int = 0
    reused: int = 0
    compressed: int = 0

    def lines(self) -> list[str]:
        """Return a short human summary."""
        return [f"built {len(self.tags)} tags in {len(self.repositories)} repositories into {self.dest}",
                f"{self.blobs} blobs, {self.total_bytes / 1e6:.2f} MB "
                f"({self.compressed} layers compressed, {self.reused} reused from the previous layout)"]


def layer_tar(layer: recipes.Layer) -> tuple[Digest, int]:
    """Return (diff ID, size) of the uncompressed tar of `layer`."""
    h = _Sink()
    return write_tar(layer.entries, h)


class _Sink:
    def write(self, b) -> int:
        return len(b)


def image_config(image: recipes.Image, diff_ids: "list[Digest] | None" = None) -> bytes:
    """Return the config bytes of `image` (its image ID is their sha256); diff IDs are computed if not given."""
    if diff_ids is None:
        diff_ids = [layer_tar(layer)[0] for layer in image.layers]
    return ImageConfig.build(diff_ids=diff_ids, architecture=image.architecture, os=image.os,
                             variant=image.variant, created=image.created, author=image.author,
                             config=dict(image.config), history=image.history())


def _previous_layers(root: Path) -> dict[str, tuple[Descriptor, Path]]:
    """Return diff ID -> (layer descriptor, blob path) for the layers of an existing layout (checked)."""
    found: dict[str, tuple[Descriptor, Path]] = {}
    try:
        index = json.loads((root / "index.json").read_bytes())
    except (FileNotFoundError, ValueError):
        return found

    def blob(d: str) -> Path:
        alg, _, hexpart = d.partition(":")
        return root / "blobs" / alg / hexpart

    todo = [m["digest"] for m in index.get("manifests", [])]
    seen = set()
    while todo:
        d = todo.pop()
        if d in seen or not blob(d).is_file():
            continue
        seen.add(d)
        doc = json.loads(blob(d).read_bytes())
        if "manifests" in doc:
            todo.extend(m["digest"] for m in doc["manifests"])
            continue
        try:
            cfg = json.loads(blob(doc["config"]["digest"]).read_bytes())
        except FileNotFoundError:
            continue
        for desc, diff_id in zip(doc.get("layers", []), cfg["rootfs"]["diff_ids"]):
            p = blob(desc["digest"])
            if diff_id in found or not p.is_file():
                continue
            data = p.read_bytes()
            if (hashlib.sha256(data).hexdigest() == desc["digest"].partition(":")[2]
                    and "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest() == diff_id):
                found[diff_id] = (Descriptor.from_json(desc), p)
    return found


def build(dest: "str | os.PathLike" = LAYOUT_DIR, reuse: bool = True) -> BuildReport:
    """Build every repository of recipes.py into the OCI layout `dest` (replaced as a whole); return a report."""
    dest = Path(dest)
    previous = _previous_layers(dest) if reuse else {}
    blobs: dict[str, bytes] = {}
    report = BuildReport(dest)
    layers: dict[int, tuple[Descriptor, Digest]] = {}
    keys: dict[str, Digest] = {}

    def put(data: bytes) -> Digest:
        d = Digest.of(data)
        blobs[str(d)] = data
        return d

    def layer_blob(layer: recipes.Layer) -> tuple[Descriptor, Digest]:
        if id(layer) in layers:
            return layers[id(layer)]
        built = build_layer(layer.entries, "gzip")
        if keys.setdefault(layer.key, built.diff_id) != built.diff_id:
            raise ValueError(f"build lab images: two different layers are both named {layer.key!r}")
        old = previous.get(str(built.diff_id))
        if old is not None and old[0].media_type == built.media_type:
            desc = old[0]
            blobs[str(desc.digest)] = old[1].read_bytes()
            report.reused += 1
        else:
            desc = built.descriptor()
            blobs[str(desc.digest)] = built.data
            report.compressed += 1
        layers[id(layer)] = (desc, built.diff_id)
        return layers[id(layer)]

    manifests: dict[int, Manifest] = {}

    def manifest(image: recipes.Image) -> Manifest:
        if id(image) not in manifests:
            built = [layer_blob(layer) for layer in image.layers]
            cfg = image_config(image, [diff for _, diff in built])
            cfg_desc = Descriptor(OCI_CONFIG, put(cfg), len(cfg))
            m = Manifest.build(cfg_desc, [desc for desc, _ in built])
            put(m.raw)
            manifests[id(image)] = m
        return manifests[id(image)]

    entries = []
    for repo in recipes.repositories():
        report.repositories.append(repo.path)
        for tag, target in repo.tags.items():
            if isinstance(target, tuple):
                platforms = [manifest(img).descriptor(Platform(img.os, img.architecture, img.variant))
                             for img in target]
                # The platform manifests are recorded too, untagged, as the lab registry keeps a manifest
                # pushed by digest (a multi-platform push sends them before the index): the registry
                # answers GET /v2/<repo>/manifests/<digest> only for manifests index.json records.
                for child in platforms:
                    untagged = Descriptor(child.media_type, child.digest, child.size,
                                          annotations={REPOSITORY: repo.path}).to_json()
                    if untagged not in entries:
                        entries.append(untagged)
                top = Index.build(platforms)
                put(top.raw)
                desc = top.descriptor()
            else:
                desc = manifest(target).descriptor()
            annotations = {REF_NAME: f"{repo.path}:{tag}", REPOSITORY: repo.path}
            entries.append(Descriptor(desc.media_type, desc.digest, desc.size, annotations=annotations).to_json())
            report.tags.append(f"{repo.path}:{tag}")

    index_doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    _write_layout(dest, blobs, json.dumps(index_doc, separators=(",", ":")).encode())
    report.blobs = len(blobs)
    report.total_bytes = sum(len(b) for b in blobs.values())
    return report


def _write_layout(dest: Path, blobs: dict[str, bytes], index_json: bytes) -> None:
    """Write a complete layout next to `dest`, then swap it in (the old one is removed)."""
    new = dest.with_name(f".{dest.name}.new")
    old = dest.with_name(f".{dest.name}.old")
    for p in (new, old):
        shutil.rmtree(p, ignore_errors=True)
    (new / "blobs" / "sha256").mkdir(parents=True)
    (new / "oci-layout").write_bytes(b'{"imageLayoutVersion":"%s"}' % LAYOUT_VERSION.encode())
    for d, data in sorted(blobs.items()):
        alg, _, hexpart = d.partition(":")
        (new / "blobs" / alg / hexpart).write_bytes(data)
    (new / "index.json").write_bytes(index_json)
    if dest.exists():
        os.replace(dest, old)
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def verify(root: "str | os.PathLike" = LAYOUT_DIR) -> list[str]:
    """Return the problems found comparing a layout with the recipes ([] when every config matches byte for byte)."""
    root = Path(root)
    problems = []
    index = json.loads((root / "index.json").read_bytes())
    by_ref = {m["annotations"][REF_NAME]: m for m in index["manifests"]
              if REF_NAME in m.get("annotations", {})}
    for repo in recipes.repositories():
        for tag, target in repo.tags.items():
            ref = f"{repo.path}:{tag}"
            if ref not in by_ref:
                problems.append(f"{ref}: not in {root}/index.json")
                continue
            doc = json.loads(_blob(root, by_ref[ref]["digest"]))
            images = target if isinstance(target, tuple) else (target,)
            docs = [json.loads(_blob(root, m["digest"])) for m in doc["manifests"]] if "manifests" in doc else [doc]
            if len(docs) != len(images):
                problems.append(f"{ref}: {len(docs)} manifests shipped, recipes have {len(images)}")
                continue
            for image, mdoc in zip(images, docs):
                shipped = _blob(root, mdoc["config"]["digest"])
                if shipped != image_config(image):
                    problems.append(f"{ref} ({image.key}): shipped config differs from the recipe's")
    return problems


def _blob(root: Path, digest: str) -> bytes:
    alg, _, hexpart = digest.partition(":")
    data = (root / "blobs" / alg / hexpart).read_bytes()
    if hashlib.new(alg, data).hexdigest() != hexpart:
        raise ValueError(f"verify lab images: blob {digest} in {root} does not match its digest")
    return data
