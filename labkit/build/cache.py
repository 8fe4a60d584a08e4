"""The build cache: what each build step made, found again by the step's cache key, kept in the home.

A record is one step's result (like a BuildKit cache record): the layer it made (diff ID, the stored blob's
digest, size and media type), when it was made, and what made it. It lives in home/buildcache/records/ as
one JSON file per key, so it survives restarts; the blobs it needs are pinned in the store (the store's GC
keeps them even when no image uses them). `labkit builder prune` removes records and unpins their blobs.

The key of a step (see labkit.build.builder) chains its parent step's key with what the step does, so a change
re-runs that step and every later step of its stage, never an earlier one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..digest import Digest
from ..fsutil import atomic_write_bytes, file_lock

PIN_OWNER = "buildcache"


@dataclass(frozen=True)
class CacheRecord:
    """One cached step result."""

    key: str
    description: str          # the step as BuildKit names it ("[2/3] COPY app.txt /app/")
    diff_id: str
    digest: str               # the layer blob in the store
    size: int                 # compressed bytes
    media_type: str
    uncompressed: int
    created: str              # RFC 3339: when the step ran (the history entry's time)
    last_used: str = ""

    @property
    def id(self) -> str:
        """Return the record's short ID, as `docker builder prune` lists cache objects (25 characters)."""
        return _base36(int(self.key.split(":")[-1][:32], 16))[:25]


def _base36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out.rjust(25, "0")


class BuildCache:
    """The cache records of one home, and the pins that keep their blobs in the store."""

    def __init__(self, home: "str | os.PathLike", store):
        self.root = Path(home).absolute() / "buildcache"
        self.records_dir = self.root / "records"
        self.store = store

    def _path(self, key: str) -> Path:
        return self.records_dir / f"{key.split(':')[-1]}.json"

    def lock(self):
        """Return the lock that orders writers of the cache (builds and prune)."""
        return file_lock(self.root / "lock")

    def get(self, key: str) -> "CacheRecord | None":
        """Return the record of `key` when its layer is still in the store, else None."""
        try:
            data = json.loads(self._path(key).read_bytes())
            rec = CacheRecord(**data)
        except (OSError, ValueError, TypeError):
            return None
        if rec.key != key or not self.store.layout.has_blob(Digest.parse(rec.digest)):
            return None
        return rec

    def put(self, rec: CacheRecord) -> None:
        """Store a record (replacing one of the same key) and pin its blob."""
        self.records_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self._path(rec.key), json.dumps(asdict(rec), sort_keys=True).encode())

    def touch(self, rec: CacheRecord, when: str) -> None:
        """Record that a build used `rec` (LAST ACCESSED)."""
        self.put(CacheRecord(**{**asdict(rec), "last_used": when}))

    def records(self) -> list[CacheRecord]:
        """Return every record, oldest first."""
        out = []
        if self.records_dir.is_dir():
            for p in self.records_dir.glob("*.json"):
                try:
                    out.append(CacheRecord(**json.loads(p.read_bytes())))
                except (OSError, ValueError, TypeError):
                    continue
        return sorted(out, key=lambda r: (r.created, r.key))

    def pin(self) -> None:
        """Make the store keep exactly the blobs the records use."""
        self.store.layout.pin(PIN_OWNER, [r.digest for r in self.records()])

    def usage(self) -> tuple[int, int]:
        """Return (number of records, bytes of their layers' blobs)."""
        recs = self.records()
        return len(recs), sum(r.size for r in recs)

    def prune(self, in_use: "set[str] | None" = None, everything: bool = False) -> list[CacheRecord]:
        """Remove records (all with `everything`; else those whose blob no image uses, BuildKit's dangling
        cache), unpin their blobs and collect them; return the removed records."""
        in_use = in_use or set()
        removed = []
        with self.lock():
            for rec in self.records():
                if everything or rec.digest not in in_use:
                    try:
                        os.unlink(self._path(rec.key))
                    except FileNotFoundError:
                        continue
                    removed.append(rec)
            self.pin()
        if removed:
            self.store.gc()
        return removed
