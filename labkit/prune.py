"""`rmi`, `image prune` and `container prune`: what Docker removes, the lines it prints, and the space it
reclaims, in either image store's terms.

`rmi` (moby daemon/images/image_delete.go, daemon/containerd/image_delete.go): the graphdriver store prints
"Untagged: ..." for the names, "Deleted: <image ID>", then "Deleted: <chain ID>" for each of its layers no
other image has, top first (the layer store releases the stack from the top); the containerd store prints the
names and "Deleted: <the digest the name pointed at>" only (its snapshots go by garbage collection, silently).
Either way an image's layers that no image needs any more leave the layer store.

- graphdriver (moby daemon/images/image_prune.go): dangling images are those without a tag (no name, or
  only digest names); `-a` takes every image no container uses. Each deleted image prints its
  "untagged: ..." names, "deleted: <image ID>", then "deleted: <chain ID>" for each of its layers no
  other image has; the space reclaimed is those layers' sizes (their files).
- containerd (moby daemon/containerd/image_prune.go): dangling images are those with no name at all; `-a`
  again every image no container uses. Each prints "untagged: <name>" (a dangling one: its digest), then
  "deleted: <digest>" for every manifest and index whose blob went away; the space reclaimed is every
  blob removed plus the unpacked layers removed.
Layers no image needs any more are removed from the layer store too (Docker's snapshots and layer dirs go
with their images). Nothing is removed when the answer to the prompt is no: the caller asks first.
"""

from __future__ import annotations

from .errors import LabkitError
from .store import CONFIG_ID, NONE, TARGET_ID


def _chains_and_diffs(store, records) -> "tuple[dict, set]":
    """Return ({chain ID: (diff ID, layer blob digest)}, {diff IDs}) of the images `records` stand for."""
    from .oci import chain_ids

    chains, diffs = {}, set()
    for rec in records:
        try:
            cfg = store.config(rec)
            m = store.manifest(rec)
        except LabkitError:
            continue
        for chain, diff_id, layer in zip(chain_ids(cfg.diff_ids), cfg.diff_ids, m.layers):
            chains[chain] = (diff_id, layer.digest)
            diffs.add(diff_id)
    return chains, diffs


def _remove_unused_layers(store, layer_store, removed_diffs: set) -> int:
    """Remove applied layers no stored image uses any more; return the bytes of their files."""
    if layer_store is None:
        return 0
    _, still_used = _chains_and_diffs(store, store.images())
    freed = 0
    for diff_id in sorted(removed_diffs - still_used, key=str):
        if not layer_store.has(diff_id):
            continue
        info = store.layer_info(diff_id) or {}
        size = info.get("files")
        if layer_store.remove(diff_id) and isinstance(size, int):
            freed += size
    return freed


def remove_image(store, layer_store, image_store: str, ref: str, force: bool = False, containers=None) -> list[str]:
    """Untag `ref`, and delete the image when no name is left (`docker rmi`); return Docker's lines. `ref`: a
    name, or the image store's ID or ID prefix; `containers`: {config digest: [containers]}."""
    from .daemonconfig import CONTAINERD

    containerd = image_store == CONTAINERD
    ids = TARGET_ID if containerd else CONFIG_ID
    record = store.resolve(ref, ids)
    key = (lambda r: r.target) if containerd else (lambda r: r.image_id)
    chains, diffs = _chains_and_diffs(store, [r for r in store.images() if key(r) == key(record)])
    lines = store.rmi(ref, force=force, containers=containers, ids=ids)
    if not lines or not lines[-1].startswith("Deleted: "):
        return _containerd_lines(lines) if containerd else lines
    if not containerd:
        left, _ = _chains_and_diffs(store, store.images())
        lines += [f"Deleted: {chain}" for chain in reversed(list(chains)) if chain not in left]
    _remove_unused_layers(store, layer_store, diffs)
    return _containerd_lines(lines) if containerd else lines


def _containerd_lines(lines: list[str]) -> list[str]:
    """Return `rmi`'s lines as the containerd store prints them: a name pulled by tag has no digest name of
    its own there (its RepoDigests are computed), so a removed tag untags no digest name."""
    tagged = {line.split(": ", 1)[1].rpartition(":")[0] for line in lines
              if line.startswith("Untagged: ") and "@" not in line}
    return [line for line in lines
            if not (line.startswith("Untagged: ") and "@" in line and line[10:].partition("@")[0] in tagged)]


def prune_images(store, layer_store, image_store: str, containers=None, all_images: bool = False
                 ) -> "tuple[list[str], int]":
    """Remove dangling images (every unused one with `all_images`); return (docker's "untagged:" and
    "deleted:" lines, bytes reclaimed). `containers`: {config digest: [containers]} (Containers.in_use())."""
    from .daemonconfig import CONTAINERD

    containers = containers or {}
    if image_store == CONTAINERD:
        return _prune_containerd(store, layer_store, containers, all_images)
    return _prune_graphdriver(store, layer_store, containers, all_images)


def _prune_graphdriver(store, layer_store, containers, all_images: bool) -> "tuple[list[str], int]":
    by_id: dict = {}
    for rec in store.images():
        by_id.setdefault(rec.image_id, []).append(rec)
    doomed = [image_id for image_id, recs in by_id.items() if image_id not in containers
              and (all_images or all(r.tag == NONE for r in recs))]
    doomed.sort(key=lambda i: (by_id[i][0].created.timestamp() if by_id[i][0].created else 0, str(i)))
    lines: list[str] = []
    removed_chains: dict = {}
    removed_diffs: set = set()
    for image_id in doomed:
        chains, diffs = _chains_and_diffs(store, by_id[image_id][:1])
        for line in store.rmi(str(image_id), force=True, containers=containers, ids=CONFIG_ID):
            verb, _, what = line.partition(": ")
            lines.append(f"{verb.lower()}: {what}")
        left, _ = _chains_and_diffs(store, store.images())
        for chain in reversed(list(chains)):  # docker releases a layer stack from the top
            if chain not in left and chain not in removed_chains:
                removed_chains[chain] = chains[chain]
                lines.append(f"deleted: {chain}")
        removed_diffs |= diffs
    reclaimed = 0
    for diff_id, blob in removed_chains.values():
        info = store.layer_info(diff_id) or {}
        if isinstance(info.get("files"), int):
            reclaimed += info["files"]
    _remove_unused_layers(store, layer_store, removed_diffs)
    return lines, reclaimed


def _prune_containerd(store, layer_store, containers, all_images: bool) -> "tuple[list[str], int]":
    from .imageservice import ImageService

    service = ImageService(store, layer_store, "containerd", containers)
    doomed = [s for s in service.summaries()
              if s.containers == 0 and (all_images or (not s.repo_tags and not s.repo_digests))]
    names = {}
    for s in doomed:
        tagged = {t.rpartition(":")[0] for t in s.repo_tags}
        own = s.repo_tags + [d for d in s.repo_digests if d.partition("@")[0] not in tagged]
        names[s.id] = own or [str(s.id)]
    doomed.sort(key=lambda s: names[s.id][0])
    lines: list[str] = []
    reclaimed = 0
    removed_diffs: set = set()
    layout = store.layout
    for s in doomed:
        before = {d: layout.blob_size(d) for d in layout.blobs()}
        _, diffs = _chains_and_diffs(store, s.records)
        removed_diffs |= diffs
        for rec in s.records:
            try:
                store.rmi(str(rec.image_id), force=True, containers=containers, ids=CONFIG_ID)
            except LabkitError:
                continue  # an earlier record of this image took it along
        lines += [f"untagged: {name}" for name in names[s.id]]
        gone = [d for d in before if not layout.has_blob(d)]
        kinds = {s.id} | {m.id for m in s.manifests}
        lines += [f"deleted: {d}" for d in sorted(gone, key=lambda d: (d != s.id, str(d))) if d in kinds]
        reclaimed += sum(before[d] for d in gone)
    reclaimed += _remove_unused_layers(store, layer_store, removed_diffs)
    return lines, reclaimed


def prune_containers(manager) -> "tuple[list[str], int]":
    """Remove every container that is not running (`container prune`); return (their IDs, the bytes of
    their read-write layers), as moby's ContainersPrune reports them."""
    ids, reclaimed = [], 0
    for c in manager.list(all=True):
        if c.running:
            continue
        size = c.size_rw()
        manager.rm(c, force=False)
        ids.append(c.id)
        reclaimed += size
    return ids, reclaimed


__all__ = ["prune_containers", "prune_images", "remove_image"]
