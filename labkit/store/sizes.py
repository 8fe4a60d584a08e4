"""Image sizes for the image store: layer measurement, the per-diff-ID layer cache, `docker system df`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Mapping, Sequence

from ..compression import open_layer_stream
from ..digest import Digest, as_digest
from ..errors import DigestMismatch, LabkitError
from ..fsutil import atomic_write_bytes, file_lock

if TYPE_CHECKING:  # the models load lazily at run time (CLI start-up time)
    from ..oci import Descriptor, ImageConfig, Manifest
    from .images import ImageRecord
    from .layout import OciLayout

_CHUNK = 1 << 20


class ImageSizes:
    """Sizes of a Store's images (mixed into Store): the layer cache under `layerdb`, image sizes, disk usage.

    Expects `self.layout` (an OciLayout), `self.layerdb` (a directory) and `self.images()` from the class.
    """

    layout: "OciLayout"
    layerdb: Path

    # -- sizes: the per-diff-ID layer cache (shared with the layer store)

    def _layer_info_path(self, diff_id: "Digest | str") -> Path:
        d = as_digest(diff_id)
        return self.layerdb / d.algorithm / f"{d.hex}.json"

    def layer_info(self, diff_id: "Digest | str") -> "dict | None":
        """Return the cached facts about a layer ({"size": uncompressed bytes, ...}), or None."""
        try:
            data = json.loads(self._layer_info_path(diff_id).read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def set_layer_info(self, diff_id: "Digest | str", info: Mapping) -> None:
        """Merge `info` into the cached facts about a layer (written atomically)."""
        path = self._layer_info_path(diff_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.layerdb / "lock"):
            merged = {**(self.layer_info(diff_id) or {}), **dict(info)}
            atomic_write_bytes(path, json.dumps(merged, sort_keys=True, separators=(",", ":")).encode())

    def layer_size(self, diff_id: "Digest | str", blob: "Digest | str") -> int:
        """Return a layer's uncompressed size: cached, or measured from `blob` (checking its diff ID)."""
        diff_id = as_digest(diff_id)
        info = self.layer_info(diff_id)
        if info and isinstance(info.get("size"), int):
            return info["size"]
        with self.layout.open_blob(blob) as f:
            size, actual = measure_layer(f)
        if actual != diff_id:
            raise DigestMismatch(f"measure layer {blob}: its uncompressed content is {actual}, but the image "
                                 f"config says {diff_id}", expected=str(diff_id), actual=str(actual))
        self.set_layer_info(diff_id, {"size": size})
        return size

    def layer_files_size(self, diff_id: "Digest | str", blob: "Digest | str") -> int:
        """Return a layer's size as Docker shows it (`history` SIZE, the graphdriver `images` SIZE): the bytes
        of the files it holds, not its tar's length (labkit.layers.reader.files_size says exactly what
        counts). Cached; else measured by indexing `blob` (checking its diff ID)."""
        from ..layers.reader import index_layer

        diff_id = as_digest(diff_id)
        info = self.layer_info(diff_id)
        if info and isinstance(info.get("files"), int):
            return info["files"]
        with self.layout.open_blob(blob) as f:
            index = index_layer(f, expected_diff_id=diff_id)
        self.set_layer_info(diff_id, {"files": index.files_size, "size": index.size, "entries": len(index.entries)})
        return index.files_size

    def _size_of(self, manifest_desc: "Descriptor") -> int:
        from ..oci import ImageConfig, Manifest

        m = Manifest.from_bytes(self.layout.read_blob(manifest_desc.digest), manifest_desc.media_type)
        cfg = ImageConfig.from_bytes(self.layout.read_blob(m.config.digest))
        return sum(self._layer_sizes(m, cfg))

    def _layer_sizes(self, m: "Manifest", cfg: "ImageConfig") -> list[int]:
        """Return each layer's size as Docker shows it (layer_files_size)."""
        if len(cfg.diff_ids) != len(m.layers):
            raise LabkitError(f"image {cfg.image_id.short}: the manifest lists {len(m.layers)} layers but the "
                              f"config has {len(cfg.diff_ids)} diff IDs")
        return [self.layer_files_size(diff_id, layer.digest) for diff_id, layer in zip(cfg.diff_ids, m.layers)]

    def image_size(self, rec: ImageRecord) -> int:
        """Return the image's size as the graphdriver store shows it: the sum of its layers' file sizes."""
        return self._size_of(rec.manifest)

    # -- disk usage

    def system_df(self, containers: "Mapping[Digest, Sequence[Mapping]] | None" = None) -> dict:
        """Return `docker system df -v` facts: per image size, shared and unique size, containers; totals.

        A layer is shared when its chain ID is in more than one image. `containers` maps image IDs to the
        containers using them (dicts with "id" and optionally "size", "running", ...).
        """
        from ..oci import ImageConfig, Manifest, chain_ids

        containers = containers or {}
        records = self.images()
        first: dict[Digest, ImageRecord] = {}
        for r in records:
            first.setdefault(r.image_id, r)
        layers: dict[Digest, int] = {}  # chain ID -> uncompressed size
        uses: dict[Digest, int] = {}
        per_image: dict[Digest, list[Digest]] = {}
        for image_id, rec in first.items():
            m = Manifest.from_bytes(self.layout.read_blob(rec.manifest.digest), rec.manifest.media_type)
            cfg = ImageConfig.from_bytes(self.layout.read_blob(m.config.digest))
            chains = chain_ids(cfg.diff_ids)
            per_image[image_id] = chains
            try:
                sizes = self._layer_sizes(m, cfg)
            except LabkitError:  # a missing or corrupt layer counts as 0 bytes here
                sizes = [0] * len(chains)
            for chain, size in zip(chains, sizes):
                layers[chain] = size
                uses[chain] = uses.get(chain, 0) + 1
        images = []
        for image_id, rec in first.items():
            shared = sum(layers[c] for c in per_image[image_id] if uses[c] > 1)
            n = len(containers.get(image_id, ()))
            size = max(rec.size, 0)
            images.append({"repository": rec.repository, "tag": rec.tag, "image_id": image_id,
                           "created": rec.created, "size": size, "shared_size": shared,
                           "unique_size": size - shared, "containers": n, "digest": rec.digest})
        layers_size = sum(layers.values())
        used = sum(i["size"] - i["shared_size"] for i in images if i["containers"])
        all_containers = [dict(c, image_id=i) for i, cs in containers.items() for c in cs]
        c_size = sum(int(c.get("size", 0) or 0) for c in all_containers)
        c_active = [c for c in all_containers if c.get("running")]
        return {
            "images": images,
            "layers_size": layers_size,
            "containers": all_containers,
            "totals": {
                "images": {"total": len(images), "active": sum(1 for i in images if i["containers"]),
                           "size": layers_size, "reclaimable": layers_size - used},
                "containers": {"total": len(all_containers), "active": len(c_active), "size": c_size,
                               "reclaimable": c_size - sum(int(c.get("size", 0) or 0) for c in c_active)},
            },
        }


def measure_layer(f: BinaryIO) -> tuple[int, Digest]:
    """Return (uncompressed size, diff ID) of the layer blob open in `f`."""
    import hashlib

    h = hashlib.sha256()
    n = 0
    stream = open_layer_stream(f)
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    return n, Digest("sha256", h.hexdigest())
