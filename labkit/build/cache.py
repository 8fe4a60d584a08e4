"""The build cache: what each build step made, found again by the step's cache key, kept in the home.

A record is one step's result (like a BuildKit cache record): the layer it made (diff ID, the stored blob's
digest, size and media type), when it was made, and what made it. It lives in home/buildcache/records/ as
one JSON file per key, so it survives restarts; the blobs it needs are pinned in the store (the store's GC
keeps them even when no image uses them). A base image a build had to pull is a source record in
home/buildcache/sources/: BuildKit keeps such images in its cache, out of `docker images`. `labkit builder
prune` removes records and unpins their blobs.

The key of a step (see labkit.build.builder) chains its parent step's key with what the step does, so a change
re-runs that step and every later step of its stage, never an earlier one.
"""

from __future__ import annotations

import hashlib
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
    uses: int = 1             # builds that made or reused it (BuildKit's usage count)

    @property
    def id(self) -> str:
        """Return the record's short ID, as `docker builder prune` lists cache objects (25 characters)."""
        return _base36(int(self.key.split(":")[-1][:32], 16))[:25]

    def reclaimable(self, in_use: set) -> int:
        """Return the bytes pruning it frees: its blob's, unless an image uses the blob."""
        return 0 if self.digest in in_use else self.size


@dataclass(frozen=True)
class SourceRecord:
    """A base image pulled by a build and held by the cache: its reference and platform, its manifest and
    every blob of it (index, manifest, config, layers), the bytes of its layers."""

    ref: str
    platform: str
    manifest: str
    digests: list             # every blob: what the cache pins
    layers: list              # [digest, compressed size] of each layer
    created: str

    @property
    def size(self) -> int:
        return sum(size for _, size in self.layers)

    def reclaimable(self, in_use: set) -> int:
        """Return the bytes of its layers no image uses (what pruning it frees)."""
        return sum(size for digest, size in self.layers if digest not in in_use)

    @property
    def key(self) -> str:
        return "sha256:" + hashlib.sha256(f"{self.ref}\0{self.platform}".encode()).hexdigest()

    @property
    def id(self) -> str:
        """Return the short ID `builder prune` lists."""
        return _base36(int(self.key.split(":")[-1][:32], 16))[:25]



def _base36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out.rjust(25, "0")


def _load_all(folder: Path, cls) -> list:
    """Return the records of one JSON file each in `folder` (unreadable ones skipped), oldest first."""
    out = []
    if folder.is_dir():
        for p in folder.glob("*.json"):
            try:
                out.append(cls(**json.loads(p.read_bytes())))
            except (OSError, ValueError, TypeError):
                continue
    return sorted(out, key=lambda r: (r.created, r.key))


class BuildCache:
    """The cache records of one home, and the pins that keep their blobs in the store."""

    def __init__(self, home: "str | os.PathLike", store):
        self.root = Path(home).absolute() / "buildcache"
        self.records_dir = self.root / "records"
        self.sources_dir = self.root / "sources"
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
        self.put(CacheRecord(**{**asdict(rec), "last_used": when, "uses": rec.uses + 1}))

    def records(self) -> list[CacheRecord]:
        """Return every record, oldest first."""
        return _load_all(self.records_dir, CacheRecord)

    def put_source(self, source: SourceRecord) -> None:
        """Store a source record (replacing the one of the same reference and platform)."""
        self.sources_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.sources_dir / f"{source.key.split(':')[-1]}.json",
                           json.dumps(asdict(source), sort_keys=True).encode())

    def sources(self) -> list[SourceRecord]:
        """Return every source record, oldest first."""
        return _load_all(self.sources_dir, SourceRecord)

    def pin(self) -> None:
        """Make the store keep exactly the blobs the records and the source records use."""
        digests = [r.digest for r in self.records()]
        for src in self.sources():
            digests.extend(src.digests)
        self.store.layout.pin(PIN_OWNER, digests)

    def usage(self) -> tuple[int, int]:
        """Return (number of records, bytes of their layers' blobs), base images held included."""
        recs = self.records()
        srcs = self.sources()
        return len(recs) + len(srcs), sum(r.size for r in recs) + sum(s.size for s in srcs)

    def disk_usage(self, in_use: "set[str] | None" = None) -> list[dict]:
        """Return the cache's records as `docker system df -v` lists BuildKit's (moby builder-next
        DiskUsage): id, type ("regular": a layer), size, created, last_used (the last build that used it:
        BuildKit marks a record used when the build that made it releases it), usage (count), in_use (a build holds it: never, between builds) and shared (an image uses its blob too;
        not reclaimable). A base image held is one record of its layers' bytes."""
        from ..clock import parse_time

        in_use = in_use or set()
        out = []
        for rec in self.records():
            out.append({"id": rec.id, "type": "regular", "size": rec.size, "created": parse_time(rec.created),
                        "last_used": parse_time(rec.last_used or rec.created),
                        "usage": rec.uses, "in_use": False, "shared": rec.digest in in_use})
        for src in self.sources():
            created = parse_time(src.created)
            out.append({"id": src.id, "type": "regular", "size": src.size, "created": created,
                        "last_used": created, "usage": 1, "in_use": False,
                        "shared": src.reclaimable(in_use) == 0 and src.size > 0})
        return out

    def prune(self, in_use: "set[str] | None" = None, everything: bool = False) -> list:
        """Remove records (all with `everything`; else those whose blob no image uses, BuildKit's dangling
        cache) and source records (likewise: a base image no image builds on), unpin their blobs and collect
        them; return the removed records."""
        in_use = in_use or set()
        removed: list = []
        with self.lock():
            for rec in self.records():
                if everything or rec.digest not in in_use:
                    try:
                        os.unlink(self._path(rec.key))
                    except FileNotFoundError:
                        continue
                    removed.append(rec)
            for src in self.sources():
                if everything or src.reclaimable(in_use):
                    try:
                        os.unlink(self.sources_dir / f"{src.key.split(':')[-1]}.json")
                    except FileNotFoundError:
                        continue
                    removed.append(src)
            self.pin()
        if removed:
            self.store.gc()
        return removed
