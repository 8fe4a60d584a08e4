"""The image service of either Docker: what `images`, `system df`, `inspect`, `history`, `rmi` see of the one
store on disk, in the containerd image store's terms (Docker Engine 29's default) or the graphdriver
store's (overlay2, the lab text's Docker). Nothing here is stored: IDs, sizes and the image list are
computed from the store's records, its blobs and the layer store, as moby computes them in
daemon/containerd (image_list.go, image_inspect.go, service.go) and daemon/images.

    service = ImageService(store, layer_store, "containerd", containers.in_use())
    for image in service.summaries():
        image.id, image.repo_tags, image.size, [m.platform for m in image.manifests]

The two stores differ in:
- the image ID: containerd's is the digest of what a name points at (the index it was pulled through, or
  the manifest: what `skopeo inspect` reports as Digest); graphdriver's is the config digest;
- what an image is: containerd's is the index (or manifest) with every platform entry it lists, of which
  only the pulled platforms' blobs are present ("available"); graphdriver's is one platform's config;
- sizes: containerd counts the blobs present (CONTENT SIZE) plus the unpacked snapshots (the layers'
  files, once a layer is applied), summed over platforms (DISK USAGE); graphdriver counts the layers' files;
- dangling images: containerd keeps an image whose tag moved only if no other name points at it.
labkit's unpacked size is the layers' file bytes (labkit.layers.reader.files_size), where containerd's
snapshotter reports disk blocks: the figures are a little smaller than a real Docker's, and the same on
every file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Sequence

from .daemonconfig import CONTAINERD, GRAPHDRIVER
from .digest import Digest
from .errors import LabkitError
from .store import CONFIG_ID, NONE, TARGET_ID

IMAGE = "image"
ATTESTATION = "attestation"
UNKNOWN = "unknown"


@dataclass
class ManifestSummary:
    """One manifest of an image (moby api/types/image ManifestSummary): a platform entry of its index."""

    id: Digest
    kind: str                          # IMAGE, ATTESTATION or UNKNOWN
    platform: str                      # "linux/amd64" ("" when unknown)
    available: bool                    # the manifest, its config and every layer are present
    content_size: int                  # bytes of the blobs present (manifest, config, layers)
    unpacked_size: int                 # bytes of the applied layers' files (0 unless all are applied)
    containers: list = field(default_factory=list)   # IDs of the containers using this manifest
    config: "Digest | None" = None

    @property
    def total_size(self) -> int:
        return self.content_size + self.unpacked_size


@dataclass
class ImageSummary:
    """One image as `docker images` lists it (moby api/types/image Summary), in either store's terms."""

    id: Digest
    repo_tags: list                    # familiar "name:tag", sorted
    repo_digests: list                 # familiar "name@sha256:..."
    created: "datetime | None"
    size: int                          # -1 when unknown (a layer missing or corrupt)
    containers: int                    # -1 when not counted (graphdriver lists)
    manifests: list = field(default_factory=list)      # ManifestSummary, containerd only
    records: list = field(default_factory=list)        # the store's ImageRecords of this image
    best: "object | None" = None       # the ImageRecord of the platform run, inspected, shown in history

    @property
    def dangling(self) -> bool:
        return not self.repo_tags and not self.repo_digests

    @property
    def content_size(self) -> int:
        return sum(m.content_size for m in self.manifests)


class ImageService:
    """The images of a store as one image store sees them (CONTAINERD or GRAPHDRIVER).

    `containers` maps config digests (what a container records as its image) to the containers using them
    (Containers.in_use()); `layer_store` tells which layers are unpacked (applied)."""

    def __init__(self, store, layer_store, image_store: str,
                 containers: "Mapping[Digest, Sequence[Mapping]] | None" = None):
        if image_store not in (CONTAINERD, GRAPHDRIVER):
            raise LabkitError(f"unknown image store {image_store!r}")
        self.store = store
        self.layer_store = layer_store
        self.image_store = image_store
        self.containers = containers or {}

    @property
    def containerd(self) -> bool:
        return self.image_store == CONTAINERD

    @property
    def ids(self) -> str:
        """Which digests name images here (Store.resolve's `ids`)."""
        return TARGET_ID if self.containerd else CONFIG_ID

    # -- IDs and names

    def image_id(self, record) -> Digest:
        """Return the ID this store shows for an ImageRecord."""
        return record.target if self.containerd else record.image_id

    def resolve(self, ref: str):
        """Return the ImageRecord `ref` names (a reference, or this store's image ID or ID prefix); with
        containerd, the record of the platform run: the host's when its blobs are here."""
        record = self.store.resolve(ref, self.ids)
        if self.containerd:
            return self._best_record(record.target, [r for r in self.store.images() if r.target == record.target],
                                     record)
        return record

    def display_id(self, text: str) -> str:
        """Return the ID a container's image shows as (`inspect` Image, `ps --no-trunc`): the config digest
        `text` in this store's terms; `text` itself when the image is gone."""
        if not self.containerd or not text:
            return text
        try:
            return str(self.store.resolve(text, CONFIG_ID).target)
        except LabkitError:
            return text

    # -- listing

    def summaries(self) -> list:
        """Return every image, newest first (dangling ones included; `images` hides them without -a)."""
        return self._containerd_summaries() if self.containerd else self._graphdriver_summaries()

    def _graphdriver_summaries(self) -> list:
        return graphdriver_summaries(self.store.images())

    def _containerd_summaries(self) -> list:
        records = self.store.images()
        by_target: dict = {}
        for rec in records:
            by_target.setdefault(rec.target, []).append(rec)
        out = []
        for target, recs in by_target.items():
            named = [r for r in recs if r.name is not None]
            tags = sorted({f"{r.repository}:{r.tag}" for r in named if r.tag != NONE})
            repos = list(dict.fromkeys(r.repository for r in sorted(named, key=lambda r: (r.repository, r.tag))))
            digests = [f"{repo}@{target}" for repo in repos]
            manifests = self._manifests(target, recs)
            best = self._best_record(target, recs, recs[0])
            size = sum(m.total_size for m in manifests)
            used = sum(len(m.containers) for m in manifests)
            out.append(ImageSummary(target, tags, digests, best.created if best else None, size, used, manifests,
                                    recs, best))
        return _newest_first(out)

    def _manifests(self, target: Digest, recs: list) -> list:
        """Return the ManifestSummary of each entry of the image `target` (the index's entries, or the
        manifest itself)."""
        from .oci import INDEX_TYPES, Index, base_media_type

        layout = self.store.layout
        index = None
        if any(r.index_digest == target for r in recs) and layout.has_blob(target):
            try:
                index = Index.from_bytes(layout.read_blob(target))
            except LabkitError:
                index = None
        if index is None:
            rec = recs[0]
            return [self._manifest(rec.manifest, rec.manifest.platform, IMAGE)]
        out = []
        for desc in index.manifests:
            if base_media_type(desc.media_type) in INDEX_TYPES:
                continue  # a nested index: labkit pulls through one level
            kind = ATTESTATION if desc.is_attestation else IMAGE
            out.append(self._manifest(desc, desc.platform, kind))
        return out

    def _manifest(self, desc, platform, kind: str) -> ManifestSummary:
        """Return what the store holds of one manifest: present blobs, availability, unpacked size, users."""
        from .oci import ImageConfig, Manifest

        layout = self.store.layout
        summary = ManifestSummary(desc.digest, kind, str(platform) if platform is not None else "", False, 0, 0)
        if not layout.has_blob(desc.digest):
            return summary
        summary.content_size = layout.blob_size(desc.digest)
        try:
            m = Manifest.from_bytes(layout.read_blob(desc.digest), desc.media_type)
        except LabkitError:
            summary.kind = UNKNOWN
            return summary
        present = [d for d in m.layers if layout.has_blob(d.digest)]
        summary.content_size += sum(d.size for d in present)
        if not layout.has_blob(m.config.digest):
            return summary
        summary.content_size += m.config.size
        summary.config = m.config.digest
        summary.available = len(present) == len(m.layers)
        if kind != IMAGE:
            return summary
        try:
            cfg = ImageConfig.from_bytes(layout.read_blob(m.config.digest))
        except LabkitError:
            return summary
        if platform is None or not summary.platform:
            summary.platform = _platform_text(cfg)
        if summary.available and len(cfg.diff_ids) == len(m.layers) and self.layer_store is not None \
                and all(self.layer_store.has(d) for d in cfg.diff_ids):
            try:
                summary.unpacked_size = sum(self.store.layer_files_size(d, layer.digest)
                                            for d, layer in zip(cfg.diff_ids, m.layers))
            except LabkitError:
                summary.unpacked_size = 0
        summary.containers = [c.get("id") for c in self.containers.get(m.config.digest, ())]
        return summary

    def _best_record(self, target: Digest, recs: list, fallback):
        """Return the record of the platform containerd would use for `target`: the host's if one of the
        records has it, else `fallback` (the platform the name was pulled for)."""
        from .oci import Platform, platform_matches

        host = Platform.host()
        for rec in recs:
            platform = rec.manifest.platform
            if platform is None:
                try:
                    platform = Platform.parse(_platform_text(self.store.config(rec)))
                except LabkitError:
                    continue
            if platform_matches(host, platform):
                return rec
        return fallback

    # -- history

    def history_ids(self, record, rows: int) -> list:
        """Return the IMAGE column of `docker history` (`rows` rows, newest first) as moby's ImageHistory names
        it, in this store's IDs: the image's ID on the top row, then one row down per parent image, while that
        parent is still here; "<missing>" on every other row. Both stores walk the same chain: graphdriver
        follows the image's Parent (daemon/images/image_history.go), containerd the parent label
        (daemon/containerd/image_history.go); labkit keeps one record of it, ImageRecord.parent, which only
        `commit` sets (as Docker's commit and classic builder do). Images BuildKit built, pulled or imported
        ones have no parent: only their top row has an ID."""
        ids = ["<missing>"] * rows
        records = self.store.images() if rows > 1 else []
        current = record
        for n in range(rows):
            ids[n] = str(self.image_id(current))
            parents = [r for r in records if current.parent is not None and r.target == current.parent]
            if not parents:
                break
            # moby takes the first image with that digest, unless a later one carries a parent label itself
            labelled = [r for r in parents if r.parent is not None]
            current = labelled[-1] if labelled else parents[0]
        return ids

    # -- sizes of one image

    def size(self, record) -> int:
        """Return `inspect`'s Size of the image a record stands for: the graphdriver layers' files; with
        containerd, the platform's blobs plus its unpacked layers (moby: BestManifest.Size.Total)."""
        if not self.containerd:
            return record.size
        m = self._manifest(record.manifest, record.manifest.platform, IMAGE)
        return m.total_size

    def layer_sizes(self, record) -> list:
        """Return each layer's `history` SIZE: its files; with containerd, 0 for a layer not unpacked (moby
        looks the snapshot up and finds none)."""
        m = self.store.manifest(record)
        cfg = self.store.config(record)
        out = []
        for diff_id, layer in zip(cfg.diff_ids, m.layers):
            if self.containerd and (self.layer_store is None or not self.layer_store.has(diff_id)):
                out.append(0)
                continue
            try:
                out.append(self.store.layer_files_size(diff_id, layer.digest))
            except LabkitError:
                out.append(0)
        return out

    # -- disk usage (system df)

    def disk_usage(self) -> dict:
        """Return `system df` facts in this store's terms: {"images": [per image {"summary", "size",
        "shared_size", "containers"}], "total_size", "active", "reclaimable"}."""
        if not self.containerd:
            raise LabkitError("disk_usage() is the containerd store's; the graphdriver one is Store.system_df")
        summaries = self.summaries()
        layout = self.store.layout
        # what each image holds: the chain IDs of its unpacked platforms and the blobs present
        chains_of, blobs_of = {}, {}
        for s in summaries:
            chains, blobs = {}, {}
            if layout.has_blob(s.id) and any(m.id != s.id for m in s.manifests):
                blobs[s.id] = layout.blob_size(s.id)
            for m in s.manifests:
                blobs.update(self._present_blobs(m))
                chains.update(self._unpacked_chains(m))
            chains_of[s.id], blobs_of[s.id] = chains, blobs
        chain_uses: dict = {}
        blob_uses: dict = {}
        for s in summaries:
            for c in chains_of[s.id]:
                chain_uses[c] = chain_uses.get(c, 0) + 1
            for b in blobs_of[s.id]:
                blob_uses[b] = blob_uses.get(b, 0) + 1
        images = []
        for s in summaries:
            shared = sum(size for c, size in chains_of[s.id].items() if chain_uses[c] > 1)
            shared += sum(size for b, size in blobs_of[s.id].items() if blob_uses[b] > 1)
            images.append({"summary": s, "size": s.size, "shared_size": shared, "containers": s.containers})
        all_chains = {c: size for cs in chains_of.values() for c, size in cs.items()}
        all_blobs = {b: size for bs in blobs_of.values() for b, size in bs.items()}
        total = sum(all_chains.values()) + sum(all_blobs.values())
        reclaimable = sum(i["size"] - i["shared_size"] for i in images if i["containers"] == 0)
        return {"images": images, "total_size": total, "active": sum(1 for i in images if i["containers"] > 0),
                "reclaimable": reclaimable}

    def _present_blobs(self, m: ManifestSummary) -> dict:
        from .oci import Manifest

        layout = self.store.layout
        if not layout.has_blob(m.id):
            return {}
        out = {m.id: layout.blob_size(m.id)}
        try:
            doc = Manifest.from_bytes(layout.read_blob(m.id))
        except LabkitError:
            return out
        for d in (doc.config, *doc.layers):
            if layout.has_blob(d.digest):
                out[d.digest] = d.size
        return out

    def _unpacked_chains(self, m: ManifestSummary) -> dict:
        """Return {chain ID: the layer's file bytes} of a platform whose layers are all applied."""
        from .oci import ImageConfig, Manifest, chain_ids

        if not m.unpacked_size or m.config is None:
            return {}
        layout = self.store.layout
        doc = Manifest.from_bytes(layout.read_blob(m.id))
        cfg = ImageConfig.from_bytes(layout.read_blob(m.config))
        return {c: self.store.layer_files_size(d, layer.digest)
                for c, d, layer in zip(chain_ids(cfg.diff_ids), cfg.diff_ids, doc.layers)}


def graphdriver_summaries(records: list) -> list:
    """Return the graphdriver store's images of ImageRecords: one per config digest, with its names, in the
    order of the records (Store.images(): newest first)."""
    by_id: dict = {}
    for rec in records:
        by_id.setdefault(rec.image_id, []).append(rec)
    out = []
    for image_id, recs in by_id.items():
        tags, digests = [], []
        for r in recs:
            if r.name is not None and r.tag != NONE:
                tags.append(f"{r.repository}:{r.tag}")
            if r.name is not None:
                digests += [f"{r.repository}@{d}" for d in r.digests]
        out.append(ImageSummary(image_id, sorted(set(tags)), list(dict.fromkeys(digests)), recs[0].created,
                                recs[0].size, -1, [], recs, recs[0]))
    return out


def _platform_text(cfg) -> str:
    text = f"{cfg.os}/{cfg.architecture}"
    return f"{text}/{cfg.variant}" if cfg.variant else text


def _newest_first(summaries: list) -> list:
    """Return summaries newest first (moby sorts by Created), then by name, dangling last."""
    def key(s: ImageSummary):
        ts = s.created.timestamp() if s.created is not None else float("-inf")
        return (-ts, not s.repo_tags, s.repo_tags[0] if s.repo_tags else "", str(s.id))

    return sorted(summaries, key=key)


__all__ = ["ATTESTATION", "IMAGE", "ImageService", "ImageSummary", "ManifestSummary", "UNKNOWN"]
