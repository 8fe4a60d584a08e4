"""The layer store: each layer applied once, by diff ID, into home/layers/sha256/<hex>/.

    <hex>/pack         the layer's regular files' bytes, back to back (layers/apply.py `pack_layer`)
    <hex>/layer.json   AppliedLayer metadata: the entry index with each file's offset in the pack, whiteouts,
                       opaque dirs, owners, special modes, devices

A layer is what overlay2 keeps in its diff directory, without an inode per entry: containers read and copy
up a file's bytes from the pack, `unpack` copies them into the one tree it creates, so a pull creates no
file per entry and a pull + unpack creates each file once. Homes from before packs hold `<hex>/diff/`, the
layer's own tree (whiteouts as metadata, not files); they are read as they are (`LayerTree.applied`).

The store's per-diff-ID cache (Store.set_layer_info) gets only the small facts (size, entries count).

A layer directory is built as <hex>.partial-<random>/ and renamed into place when both parts are there:
the rename is the completion marker, so a crash leaves a partial directory (cleaned up by the next
ensure) or a complete layer, never a half one that looks done. One flock per diff ID makes concurrent
callers (threads or processes) apply a layer once: the second waits, then finds it done.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..digest import Digest, as_digest
from ..errors import NotFound
from ..fsutil import atomic_write_bytes, file_lock, fsync_dir
from .limits import Limits

META_NAME = "layer.json"
PACK_NAME = "pack"
DIFF_NAME = "diff"          # the tree of a layer applied before packs


@dataclass(frozen=True)
class LayerTree:
    """An applied layer in the store: its directory, its files' bytes and its metadata file."""

    diff_id: Digest
    root: Path

    @property
    def data_path(self) -> Path:
        """Return where the layer's files' bytes are: its pack, or (a layer applied before packs) its tree."""
        pack = self.root / PACK_NAME
        return pack if pack.is_file() else self.root / DIFF_NAME

    @property
    def metadata_path(self) -> Path:
        """Return the path of layer.json."""
        return self.root / META_NAME

    def applied(self):
        """Return the AppliedLayer metadata (whiteouts, opaque dirs, owners, modes, devices, index, offsets)."""
        import json

        from .apply import AppliedLayer
        data = json.loads(self.metadata_path.read_bytes())
        return AppliedLayer.from_json(data, self.root / (PACK_NAME if data.get("packed") else DIFF_NAME))


class LayerStore:
    """Applies layers once per diff ID under home/layers and records their size and entry count in the store cache."""

    def __init__(self, home: "str | os.PathLike | None" = None, store=None, limits: Limits = Limits()):
        from ..home import resolve_home
        self.home = Path(home).absolute() if home is not None else resolve_home()
        self.root = self.home / "layers"
        self.limits = limits
        self._store = store

    def __repr__(self) -> str:
        return f"LayerStore({str(self.home)!r})"

    @property
    def store(self):
        """Return the content Store whose per-diff-ID cache this layer store fills."""
        if self._store is None:
            from ..store import Store
            self._store = Store(self.home)
        return self._store

    def path(self, diff_id: "Digest | str") -> Path:
        """Return the directory a layer lives in (whether or not it is there yet)."""
        d = as_digest(diff_id)
        return self.root / d.algorithm / d.hex

    def has(self, diff_id: "Digest | str") -> bool:
        """Return True when the layer has been applied completely."""
        return (self.path(diff_id) / META_NAME).is_file()

    def tree(self, diff_id: "Digest | str") -> LayerTree:
        """Return the applied layer, or raise NotFound."""
        d = as_digest(diff_id)
        if not self.has(d):
            raise NotFound(f"layer {d}: not applied in {self.root}")
        return LayerTree(d, self.path(d))

    def diff_ids(self) -> list[Digest]:
        """Return the diff IDs of every applied layer."""
        out = []
        base = self.root / "sha256"
        if base.is_dir():
            for p in sorted(base.iterdir()):
                if len(p.name) == 64 and (p / META_NAME).is_file():
                    out.append(Digest("sha256", p.name))
        return out

    def _lock(self, d: Digest):
        return file_lock(self.root / "locks" / f"{d.algorithm}-{d.hex}.lock")

    def ensure(self, diff_id: "Digest | str", blob_path: "str | os.PathLike", media_type: "str | None" = None) -> LayerTree:
        """Apply the layer blob at `blob_path` once for `diff_id` (checked while reading); return its LayerTree."""
        d = as_digest(diff_id)
        final = self.path(d)
        if (final / META_NAME).is_file():
            return LayerTree(d, final)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._lock(d):
            if (final / META_NAME).is_file():       # another caller finished it while we waited
                return LayerTree(d, final)
            from .apply import _rmtree, pack_layer
            for stale in final.parent.glob(f"{d.hex}.partial-*"):
                _rmtree(stale)                        # left by a crash: we hold the lock, nobody builds it
            if final.exists():
                _rmtree(final)                        # a directory without layer.json is not a layer
            work = final.with_name(f"{d.hex}.partial-{secrets.token_hex(6)}")
            work.mkdir()
            if not os.path.isfile(blob_path):
                raise NotFound(f"apply layer {d}: its blob {blob_path} does not exist")
            try:
                with open(blob_path, "rb") as f:
                    applied = pack_layer(f, work / PACK_NAME, self.limits, expected_diff_id=d)
                atomic_write_bytes(work / META_NAME, applied.to_json_bytes())
                os.rename(work, final)
                fsync_dir(final.parent)
            except BaseException:
                _rmtree(work)
                raise
        # only small facts here: `images` parses this file for every layer of every image; the entry
        # index stays in the layer's own layer.json (LayerTree.applied().index)
        from .reader import files_size
        self.store.set_layer_info(d, {"size": applied.size, "entries": applied.entries,
                                      "files": files_size(applied.index),
                                      "lower_links": len(applied.lower_links)})
        return LayerTree(d, final)

    __call__ = ensure

    def has_lower_links(self, diff_id: "Digest | str") -> bool:
        """Return True when the applied layer holds hard links to files of the layers below it."""
        info = self.store.layer_info(diff_id) or {}
        if isinstance(info.get("lower_links"), int):
            return info["lower_links"] > 0
        return bool(self.tree(diff_id).applied().lower_links)

    def check_image(self, diff_ids) -> None:
        """Raise UnsafeLayer when the applied layers `diff_ids` (bottom first) do not make an image: a hard link
        of one names no regular file of the layers below it (what containerd's apply finds when link() fails)."""
        diff_ids = [as_digest(d) for d in diff_ids]
        if not any(self.has_lower_links(d) for d in diff_ids):
            return
        from ..imageview import ImageView
        ImageView([self.tree(d) for d in diff_ids]).merged_nodes()

    def remove(self, diff_id: "Digest | str") -> bool:
        """Delete an applied layer; return True if there was one."""
        d = as_digest(diff_id)
        final = self.path(d)
        with self._lock(d):
            if not final.exists():
                return False
            from .apply import _rmtree
            trash = final.with_name(f"{d.hex}.partial-{secrets.token_hex(6)}")
            os.rename(final, trash)                   # gone at once for readers; then delete at leisure
            _rmtree(trash)
            return True

