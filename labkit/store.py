"""The content store: an OCI image layout on disk (blobs + index.json), image records, tags, GC, disk usage.

Two layers in one module:
- `OciLayout` is any OCI image layout directory (image-spec `image-layout.md`): verified atomic blob writes,
  claims that keep blobs safe from GC while a write or a pull is in progress, and index.json updates under an
  inter-process lock. The lab registry server uses it too.
- `Store` is labkit's image store at <home>/store: docker's view (tags, image IDs, `images`, `tag`, `rmi`,
  `system df`) over the layout's index.json, where each image is a manifest descriptor whose
  "org.opencontainers.image.ref.name" annotation is the full reference, so skopeo (`oci:DIR:REF`) and umoci
  (`--image DIR:REF`) address it by the same string.

Side files (lock, claims, partial downloads) live beside the layout, in <root.parent>/tmp/<root.name>, never
inside it: the layout stays exactly what the image spec describes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Mapping, Sequence

from .digest import Digest, Verifier, as_digest
from .errors import Conflict, DigestMismatch, InvalidReference, LabkitError, NotFound, UsageError
from .fsutil import atomic_write_bytes, file_lock, fsync_dir

if TYPE_CHECKING:  # imported lazily at run time (CLI start-up time)
    from .oci import Descriptor, ImageConfig, Manifest
    from .reference import Reference

REF_NAME = "org.opencontainers.image.ref.name"  # image-spec annotations.md
INDEX_DIGEST = "io.labkit.index.digest"  # the index an image was pulled through (DESIGN 3b)
LAYOUT_VERSION = "1.0.0"
OCI_INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
NONE = "<none>"

_BLOB_NAME_RE = re.compile(r"^[a-f0-9]{64}$")
_HEX_PREFIX_RE = re.compile(r"^(?:sha256:)?([a-f0-9]{1,64})$")
_CHUNK = 1 << 20


# --- locking -------------------------------------------------------------------------------------------

_held = threading.local()  # lock path -> "shared" | "exclusive" held by this thread (re-entrancy)


@contextlib.contextmanager
def _reentrant_lock(path: Path, shared: bool = False):
    """Hold the flock on `path`; a thread that already holds it just goes on (flock is per open file)."""
    held = _held.__dict__.setdefault("locks", {})
    key = str(path)
    mode = held.get(key)
    if mode is not None:
        if mode == "shared" and not shared:
            raise LabkitError(f"lock {path}: cannot upgrade a shared lock to an exclusive one")
        yield
        return
    with file_lock(path, shared=shared):
        held[key] = "shared" if shared else "exclusive"
        try:
            yield
        finally:
            del held[key]


class Claim:
    """Digests a writer is working on: GC keeps them until `release()` (a flock'd file under the claims dir)."""

    def __init__(self, layout: "OciLayout", digests: Iterable["Digest | str"]):
        self.layout = layout
        self.token = f"{os.getpid()}-{os.urandom(6).hex()}"
        self.digests: set[Digest] = set()
        self.path = layout.claims_dir / f"{self.token}.claim"
        self._fd: "int | None" = None
        # Registering under the shared layout lock orders it against gc (which holds it exclusively):
        # either gc sees the claim, or gc finished before it and the writer sees what gc left.
        with layout.lock(shared=True):
            layout.claims_dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._add_locked(digests)

    def add(self, digests: Iterable["Digest | str"]) -> None:
        """Claim more digests (e.g. once the manifest says which layers a pull needs)."""
        with self.layout.lock(shared=True):
            self._add_locked(digests)

    def _add_locked(self, digests: Iterable["Digest | str"]) -> None:
        new = {as_digest(d) for d in digests} - self.digests
        if not new:
            return
        if self._fd is None:
            raise LabkitError(f"claim {self.token}: already released")
        self.digests |= new
        os.write(self._fd, "".join(f"{d}\n" for d in sorted(new)).encode())

    def release(self) -> None:
        """Give the digests back to GC."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# --- the OCI image layout ----------------------------------------------------------------------------------

class BlobWriter:
    """Streams one blob into the layout: hashed while written, verified, fsynced and renamed on success.

    `.offset` is how many bytes were accepted so far (a dropped download resumes from there). When the blob
    already exists, `.exists` is True and writes are just counted: the work is already done.
    """

    def __init__(self, layout: "OciLayout", expected: "Digest | str", size: "int | None" = None):
        self.layout = layout
        self.expected = as_digest(expected)
        self.size = size
        self.offset = 0
        self.exists = False
        self.committed = False
        self._claim: "Claim | None" = None
        self._file: "BinaryIO | None" = None
        self._tmp: "Path | None" = None
        self._verifier = Verifier(self.expected, size)

    def __enter__(self) -> "BlobWriter":
        self._claim = self.layout.claim([self.expected])
        try:
            if self.layout.has_blob(self.expected):
                self.exists = True
                return self
            self.layout.ingest_dir.mkdir(parents=True, exist_ok=True)
            self._tmp = self.layout.ingest_dir / f"{self.expected.hex}.{self._claim.token}.partial"
            self._file = open(self._tmp, "xb")
        except BaseException:
            self._claim.release()
            raise
        return self

    def write(self, chunk: bytes) -> int:
        """Append `chunk`; DigestMismatch at once if it goes past the declared size."""
        if self.exists:
            self.offset += len(chunk)
            return len(chunk)
        if self._file is None:
            raise LabkitError(f"write blob {self.expected}: writer is not open")
        self._verifier.update(chunk)
        self._file.write(chunk)
        self.offset += len(chunk)
        return len(chunk)

    def _commit(self) -> None:
        if self.exists:
            return
        assert self._file is not None and self._tmp is not None
        self._verifier.check()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.layout.ensure_layout()
        dest = self.layout.blob_path(self.expected)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, dest)  # same content if another writer got there first
        self._tmp = None
        fsync_dir(dest.parent)
        self.committed = True

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                try:
                    self._commit()
                except BaseException:
                    self._discard()
                    raise
            else:
                self._discard()
        finally:
            if self._claim is not None:
                self._claim.release()
        return False


class OciLayout:
    """An OCI image layout directory (oci-layout, index.json, blobs/<alg>/<hex>), created on first write.

    Every process using one layout must use the same `tmp_dir` (default <root.parent>/tmp/<root.name>):
    it holds the lock file, the claims and the partial downloads.
    """

    def __init__(self, root: "str | os.PathLike", tmp_dir: "str | os.PathLike | None" = None):
        self.root = Path(root).absolute()
        self.tmp_dir = Path(tmp_dir).absolute() if tmp_dir else self.root.parent / "tmp" / self.root.name
        self.lock_path = self.tmp_dir / "lock"
        self.claims_dir = self.tmp_dir / "claims"
        self.ingest_dir = self.tmp_dir / "ingest"

    def __repr__(self) -> str:
        return f"OciLayout({str(self.root)!r})"

    # -- layout files

    @property
    def index_path(self) -> Path:
        """Return the path of index.json."""
        return self.root / "index.json"

    def exists(self) -> bool:
        """Return True if the layout has been created (its oci-layout file exists)."""
        return (self.root / "oci-layout").is_file()

    def ensure_layout(self) -> None:
        """Create oci-layout, index.json and blobs/sha256 if missing (image-layout.md)."""
        if self.exists() and self.index_path.is_file():
            return
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        with self.lock():
            if not (self.root / "oci-layout").is_file():
                atomic_write_bytes(self.root / "oci-layout",
                                   json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode())
            if not self.index_path.is_file():
                self._write_index_doc({"schemaVersion": 2, "mediaType": OCI_INDEX_MEDIA_TYPE, "manifests": []})

    def lock(self, shared: bool = False):
        """Return a context manager holding the layout's inter-process lock (re-entrant within a thread)."""
        return _reentrant_lock(self.lock_path, shared=shared)

    # -- blobs

    def blob_path(self, d: "Digest | str") -> Path:
        """Return where the blob `d` lives (blobs/<algorithm>/<hex>), whether or not it exists."""
        d = as_digest(d)
        return self.root / "blobs" / d.algorithm / d.hex

    def has_blob(self, d: "Digest | str") -> bool:
        """Return True if the blob is stored."""
        return self.blob_path(d).is_file()

    def blob_size(self, d: "Digest | str") -> int:
        """Return the stored blob's size in bytes; NotFound if it is missing."""
        try:
            return self.blob_path(d).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {d}: not in the OCI layout {self.root}") from None

    def open_blob(self, d: "Digest | str") -> BinaryIO:
        """Return the stored blob opened for binary reading; NotFound if it is missing."""
        try:
            return open(self.blob_path(d), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {d}: not in the OCI layout {self.root}") from None

    def read_blob(self, d: "Digest | str") -> bytes:
        """Return the stored blob's bytes; NotFound if it is missing."""
        with self.open_blob(d) as f:
            return f.read()

    def blobs(self) -> set[Digest]:
        """Return the digests of every stored blob."""
        out: set[Digest] = set()
        base = self.root / "blobs"
        if not base.is_dir():
            return out
        for alg_dir in base.iterdir():
            if not alg_dir.is_dir():
                continue
            for p in alg_dir.iterdir():
                with contextlib.suppress(InvalidReference):
                    out.add(Digest.parse(f"{alg_dir.name}:{p.name}"))
        return out

    def claim(self, digests: Iterable["Digest | str"]) -> Claim:
        """Return a Claim (also a context manager) that keeps `digests` from GC until released."""
        return Claim(self, digests)

    def blob_writer(self, expected: "Digest | str", size: "int | None" = None) -> BlobWriter:
        """Return a BlobWriter context manager for the blob `expected` (optionally of `size` bytes)."""
        return BlobWriter(self, expected, size)

    def ingest(self, chunks: Iterable[bytes], expected: "Digest | str", size: "int | None" = None) -> Digest:
        """Store the blob streamed by `chunks` after verifying it; return its digest (nothing kept on error)."""
        with self.blob_writer(expected, size) as w:
            if not w.exists:
                for chunk in chunks:
                    w.write(chunk)
        return w.expected

    def put_bytes(self, data: bytes, expected: "Digest | str | None" = None) -> Digest:
        """Store `data` as a blob (verified against `expected` when given); return its digest."""
        d = as_digest(expected) if expected is not None else Digest.of(data)
        return self.ingest([data], d, len(data))

    # -- index.json

    def _read_index_doc(self) -> dict:
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX_MEDIA_TYPE, "manifests": []}
        try:
            doc = json.loads(raw)
        except ValueError as e:
            raise LabkitError(f"read {self.index_path}: not valid JSON ({e})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
            raise LabkitError(f"read {self.index_path}: expected an image index with a 'manifests' list")
        return doc

    def _write_index_doc(self, doc: dict) -> None:
        atomic_write_bytes(self.index_path, json.dumps(doc, separators=(",", ":")).encode())

    def index(self) -> "list[Descriptor]":
        """Return the descriptors listed in index.json (empty when the layout does not exist yet)."""
        from .oci import Descriptor

        return [Descriptor.from_json(m) for m in self._read_index_doc().get("manifests", [])]

    def set_index(self, descriptors: "Iterable[Descriptor]") -> None:
        """Replace the manifests of index.json (other top-level fields kept), atomically, under the lock."""
        self.update_index(lambda _old: list(descriptors))

    def update_index(self, change) -> "list[Descriptor]":
        """Apply `change(list of descriptors) -> new list` to index.json as one locked read-modify-write."""
        from .oci import Descriptor

        with self.lock():
            self.ensure_layout()
            doc = self._read_index_doc()
            old = [Descriptor.from_json(m) for m in doc.get("manifests", [])]
            new = list(change(list(old)))
            if new != old:
                doc["manifests"] = [d.to_json() for d in new]
                doc.setdefault("schemaVersion", 2)
                self._write_index_doc(doc)
            return new

    # -- garbage collection

    def _live_claims(self) -> tuple[set[Digest], set[str]]:
        """Return (claimed digests, live claim tokens); claim files of dead processes are removed."""
        digests: set[Digest] = set()
        tokens: set[str] = set()
        if not self.claims_dir.is_dir():
            return digests, tokens
        for p in self.claims_dir.glob("*.claim"):
            try:
                fd = os.open(p, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # held: the writer is alive
                    tokens.add(p.name[: -len(".claim")])
                    for line in p.read_text().split():
                        with contextlib.suppress(InvalidReference):
                            digests.add(Digest.parse(line))
                else:  # nobody holds it: its process died without releasing
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(p)
            finally:
                os.close(fd)
        return digests, tokens

    def reachable(self, descriptors: "Iterable[Descriptor] | None" = None) -> set[Digest]:
        """Return every digest reachable from `descriptors` (default: index.json), following stored manifests."""
        roots = self.index() if descriptors is None else list(descriptors)
        todo = [(d.digest, d.media_type, True) for d in roots]
        seen: set[Digest] = set()
        pulled_through: set[Digest] = set()  # the index an image was pulled through, if kept (not walked)
        for d in roots:
            with contextlib.suppress(InvalidReference):
                if d.annotations.get(INDEX_DIGEST):
                    pulled_through.add(Digest.parse(d.annotations[INDEX_DIGEST]))
        while todo:
            d, media_type, top = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            if not top and not _may_reference_blobs(media_type):
                continue  # configs and layers are leaves: don't read them
            try:
                doc = json.loads(self.read_blob(d)) if self.blob_size(d) <= 4 << 20 else None
            except (NotFound, ValueError, UnicodeDecodeError):
                continue
            if not isinstance(doc, dict):
                continue
            # Walk every descriptor field of manifests and indexes (image-manifest.md, image-index.md);
            # children listed in "manifests" and "subject" are manifests themselves and are walked too.
            for key in ("config", "subject"):
                if isinstance(doc.get(key), dict):
                    todo.extend(_digests_of([doc[key]]))
            for key in ("layers", "manifests", "blobs"):
                if isinstance(doc.get(key), list):
                    todo.extend(_digests_of(doc[key]))
            for layer in doc.get("fsLayers", []) if isinstance(doc.get("fsLayers"), list) else []:
                if isinstance(layer, dict):  # schema 1
                    todo.extend(_digests_of([{"digest": layer.get("blobSum")}]))
        return seen | pulled_through

    def gc(self, keep: Iterable["Digest | str"] = (), grace: float = 0.0) -> list[Digest]:
        """Remove blobs not reachable from index.json, not claimed, not in `keep` (nor younger than `grace`
        seconds); return the removed digests, sorted. Runs under the layout lock."""
        with self.lock():
            present = self.blobs()  # listed before the claims: see Claim.__init__
            claimed, tokens = self._live_claims()
            live = self.reachable() | claimed | {as_digest(d) for d in keep}
            now = time.time()
            removed = []
            for d in sorted(present - live):
                p = self.blob_path(d)
                try:
                    if grace and now - p.stat().st_mtime < grace:
                        continue
                    os.unlink(p)
                except FileNotFoundError:
                    continue
                removed.append(d)
            if removed:
                fsync_dir(self.root / "blobs" / "sha256")
            if self.ingest_dir.is_dir():  # partial files left by dead writers
                for p in self.ingest_dir.glob("*.partial"):
                    parts = p.name.split(".")
                    if len(parts) == 3 and parts[1] not in tokens:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(p)
            return removed


def _digests_of(items: list) -> list[tuple[Digest, str, bool]]:
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("digest"), str):
            with contextlib.suppress(InvalidReference):
                out.append((Digest.parse(item["digest"]), str(item.get("mediaType", "")), False))
    return out


def _may_reference_blobs(media_type: str) -> bool:
    """Return True for manifests and indexes (and unknown types, to be safe): they list other blobs."""
    return not media_type or "manifest" in media_type or "index" in media_type or not (
        "layer" in media_type or "rootfs" in media_type or "config" in media_type
        or "container.image" in media_type)


# --- image records ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageRecord:
    """One line of `images`: a repository:tag (or <none>) of one stored image."""

    name: "Reference | None"
    repository: str
    tag: str
    manifest: "Descriptor"
    index_digest: "Digest | None"
    image_id: Digest
    created: "datetime | None"
    digests: tuple[Digest, ...] = ()  # repo digests of this repository (docker's RepoDigests)
    ref_names: tuple[str, ...] = field(default=(), compare=False)  # every full reference of the image
    # the size, or a function computing it: measuring a layer never applied means decompressing it, which
    # `pull --no-extract` must not pay for (it only records the image); `images` asks for it
    _size: "int | Callable[[], int]" = field(default=-1, compare=False, repr=False)

    @property
    def size(self) -> int:
        """Return the uncompressed bytes of all layers (measured on first use); -1 when a layer is missing
        or corrupt."""
        value = self._size
        if callable(value):
            value = value()
            object.__setattr__(self, "_size", value)
        return value

    @property
    def digest(self) -> "Digest | None":
        """Return the repo digest shown in the DIGEST column (the index's for multi-platform pulls), if any."""
        return self.digests[0] if self.digests else None

    @property
    def short_id(self) -> str:
        """Return the 12-hex image ID docker shows."""
        return self.image_id.short


@dataclass
class _Entry:
    """An index.json entry resolved to the image it stands for."""

    position: int
    descriptor: "Descriptor"  # as in index.json (may be an index)
    ref: "Reference | None"  # the full reference in ref.name, None when absent or not full
    manifest_desc: "Descriptor"  # the image manifest (the platform's one for an index entry)
    index_digest: "Digest | None"
    image_id: Digest
    created: "datetime | None"


def full_reference(text: "str | None") -> "Reference | None":
    """Return the Reference in a ref.name annotation when it is a full, normalized reference with a tag or a
    digest ("docker.io/library/debian:jessie"); None for anything else ("foo", "latest", "debian:jessie")."""
    if not text:
        return None
    from .reference import Reference

    try:
        ref = Reference.parse(text)
    except InvalidReference:
        return None
    if str(ref) != text or (ref.tag is None) == (ref.digest is None):
        return None  # docker's reference store holds name:tag or name@digest, never both or neither
    return ref


def _is_digest_ref(ref: "Reference") -> bool:
    return ref.digest is not None


def _is_single_reference(refs: Sequence["Reference"]) -> bool:
    """Docker's isSingleReference: at most one tag, and any digest references in that tag's repository."""
    if len(refs) <= 1:
        return len(refs) == 1
    single = None
    canonical_repos = set()
    for r in refs:
        if _is_digest_ref(r):
            canonical_repos.add(r.name)
        elif single is None:
            single = r
        else:
            return False
    if single is None:
        single = refs[0]
    return len(canonical_repos) == 1 and single.name in canonical_repos


class Store:
    """labkit's image store at <home>/store (an OCI image layout) with docker's view of it."""

    def __init__(self, home: "str | os.PathLike | None" = None):
        from .home import resolve_home

        self.home = Path(home).absolute() if home is not None else resolve_home()
        self.layout = OciLayout(self.home / "store", tmp_dir=self.home / "tmp" / "store")
        self.layerdb = self.home / "layerdb"

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    def lock(self, shared: bool = False):
        """Return a context manager holding the store's inter-process lock."""
        return self.layout.lock(shared=shared)

    def claim(self, digests: Iterable["Digest | str"]) -> Claim:
        """Return a Claim keeping `digests` from GC until released (hold it across a whole pull)."""
        return self.layout.claim(digests)

    # -- reading images

    def manifest(self, rec: "ImageRecord | Descriptor") -> "Manifest":
        """Return the image manifest of a record (or of a manifest descriptor)."""
        from .oci import Manifest

        desc = rec.manifest if isinstance(rec, ImageRecord) else rec
        return Manifest.from_bytes(self.layout.read_blob(desc.digest), desc.media_type)

    def config(self, rec: "ImageRecord | Descriptor") -> "ImageConfig":
        """Return the image configuration of a record (its digest is the image ID)."""
        from .oci import ImageConfig

        return ImageConfig.from_bytes(self.layout.read_blob(self.manifest(rec).config.digest))

    def _resolve_entry(self, position: int, desc: "Descriptor") -> "_Entry | None":
        """Return the image an index.json entry stands for, or None when its blobs are not all here."""
        from .oci import INDEX_TYPES, Index, Manifest, Platform, platform_matches

        ann = desc.annotations
        ref = full_reference(ann.get(REF_NAME))
        try:
            if desc.media_type in INDEX_TYPES:
                # skopeo copy --all stores the index itself: use the host's platform if stored, else the
                # first platform whose blobs are all here.
                index = Index.from_bytes(self.layout.read_blob(desc.digest), desc.media_type)
                host = Platform.host()
                candidates = index.images()
                candidates.sort(key=lambda c: not platform_matches(host, c.platform))
                for cand in candidates:
                    if cand.media_type in INDEX_TYPES or not self.layout.has_blob(cand.digest):
                        continue
                    m = Manifest.from_bytes(self.layout.read_blob(cand.digest), cand.media_type)
                    if self.layout.has_blob(m.config.digest):
                        return self._entry(position, desc, ref, cand, desc.digest, m)
                return None
            index_digest = None
            if ann.get(INDEX_DIGEST):
                with contextlib.suppress(InvalidReference):
                    index_digest = Digest.parse(ann[INDEX_DIGEST])
            m = Manifest.from_bytes(self.layout.read_blob(desc.digest), desc.media_type)
            return self._entry(position, desc, ref, desc, index_digest, m)
        except (NotFound, LabkitError):
            return None

    def _entry(self, position, desc, ref, manifest_desc, index_digest, m) -> "_Entry":
        from .oci import ImageConfig

        cfg = ImageConfig.from_bytes(self.layout.read_blob(m.config.digest))
        plain = _plain_descriptor(manifest_desc)
        return _Entry(position, desc, ref, plain, index_digest, m.config.digest, cfg.created)

    def _entries(self) -> list[_Entry]:
        out = []
        for i, desc in enumerate(self.layout.index()):
            e = self._resolve_entry(i, desc)
            if e is not None:
                out.append(e)
        return out

    def images(self) -> list[ImageRecord]:
        """Return one record per repository:tag (and <none> rows), newest first like `docker images`."""
        return self._records(self._entries())

    def _records(self, entries: list[_Entry]) -> list[ImageRecord]:
        by_image: dict[Digest, list[_Entry]] = {}
        for e in entries:
            by_image.setdefault(e.image_id, []).append(e)
        records: list[ImageRecord] = []
        for image_id, group in by_image.items():
            size = self._size_once(group[0].manifest_desc)
            named = [e for e in group if e.ref is not None]
            ref_names = tuple(sorted({str(e.ref) for e in named}))
            repo_digests: dict[str, list[Digest]] = {}
            for e in named:
                if _is_digest_ref(e.ref):
                    ds = repo_digests.setdefault(e.ref.name, [])
                    if e.ref.digest not in ds:
                        ds.append(e.ref.digest)
            tagged_repos = set()
            seen_tags = set()
            for e in sorted(named, key=lambda e: str(e.ref)):
                if _is_digest_ref(e.ref) or str(e.ref) in seen_tags:
                    continue
                seen_tags.add(str(e.ref))
                tagged_repos.add(e.ref.name)
                records.append(self._record(e, e.ref, e.ref.familiar_name, e.ref.tag, size,
                                            tuple(repo_digests.get(e.ref.name, ())), ref_names))
            for repo, ds in sorted(repo_digests.items()):
                if repo in tagged_repos:
                    continue
                e = next(x for x in named if x.ref.name == repo and _is_digest_ref(x.ref))
                records.append(self._record(e, e.ref, e.ref.familiar_name, NONE, size, tuple(ds), ref_names))
            if not named:
                records.append(self._record(group[0], None, NONE, NONE, size, (), ()))
        return _sorted_records(records)

    def _size_once(self, manifest_desc: "Descriptor") -> "Callable[[], int]":
        """Return a function giving the image's size, measured once and shared by the image's records."""
        measured: list[int] = []

        def size() -> int:
            if not measured:
                try:
                    measured.append(self._size_of(manifest_desc))
                except LabkitError:  # a missing or corrupt layer: list the image anyway, size unknown (-1)
                    measured.append(-1)
            return measured[0]
        return size

    def _record(self, e: _Entry, name, repository, tag, size, digests, ref_names) -> ImageRecord:
        return ImageRecord(name=name, repository=repository, tag=tag, manifest=e.manifest_desc,
                           index_digest=e.index_digest, image_id=e.image_id, created=e.created,
                           digests=digests, ref_names=ref_names, _size=size)

    # -- resolving names

    def resolve(self, ref: "str | Reference") -> ImageRecord:
        """Return the record named by a reference ("debian:jessie", "debian@sha256:..."), an image ID or a
        unique image ID prefix ("5df5972ae7b5", "sha256:5df5..."); NotFound otherwise."""
        return self._resolve(self._entries(), ref)[0]

    def _resolve(self, entries: list[_Entry], query: "str | Reference") -> "tuple[ImageRecord, Reference | None]":
        """Return (record, the reference matched, or None when matched by image ID)."""
        from .reference import Reference

        records = self._records(entries)
        text = str(query).strip() if not isinstance(query, Reference) else None
        if text is not None:
            m = re.fullmatch(r"(?:sha256:)?([a-f0-9]{64})", text)
            if m:  # a full image ID is never a name (distribution/reference anchoredIdentifier)
                return self._by_id(records, m.group(1), text), None
        ref = query if isinstance(query, Reference) else None
        if ref is None:
            with contextlib.suppress(InvalidReference):
                ref = Reference.parse(text)
        if ref is not None:
            rec = self._by_reference(records, ref)
            if rec is not None:
                if ref.digest is not None:  # "name:tag@digest" names the digest reference
                    return rec, Reference.parse(f"{ref.name}@{ref.digest}")
                return rec, ref.with_default_tag()
        if text is not None:
            m = _HEX_PREFIX_RE.fullmatch(text)
            if m:
                return self._by_id(records, m.group(1), text), None
        raise NotFound(f"No such image: {query}")

    @staticmethod
    def _by_reference(records: list[ImageRecord], ref: "Reference") -> "ImageRecord | None":
        if ref.digest is not None:
            for r in records:
                if r.name is not None and r.name.name == ref.name and ref.digest in r.digests:
                    return r
            return None
        canonical = ref.with_default_tag()
        for r in records:
            if r.name is not None and r.name == canonical:
                return r
        return None

    @staticmethod
    def _by_id(records: list[ImageRecord], prefix: str, text: str) -> ImageRecord:
        ids = {r.image_id for r in records if r.image_id.hex.startswith(prefix)}
        if not ids:
            raise NotFound(f"No such image: {text}")
        if len(ids) > 1:
            raise NotFound(f"No such image: {text} (the prefix matches {len(ids)} image IDs; give more of it)")
        (image_id,) = ids
        return next(r for r in records if r.image_id == image_id)

    # -- writing records

    def add_image(self, ref: "str | Reference", manifest: "Manifest", index_digest: "Digest | str | None" = None,
                  repo_digest: bool = True) -> ImageRecord:
        """Record `manifest` (whose config and layer blobs are stored) under `ref`; return its record.

        A tag is moved from any image it named before (that image stays as <none> if nothing else names
        it, like docker). With `repo_digest`, a tag pull also records name@digest (the index's digest when
        pulled through an index), which is docker's RepoDigests.
        """
        from .oci import Descriptor
        from .reference import Reference

        ref = Reference.parse(ref) if isinstance(ref, str) else ref
        index_digest = as_digest(index_digest) if index_digest is not None else None
        ann = {INDEX_DIGEST: str(index_digest)} if index_digest is not None else {}
        with self.layout.claim([manifest.digest]):
            self.layout.put_bytes(manifest.raw, manifest.digest)
            with self.lock():
                missing = [str(d.digest) for d in (manifest.config, *manifest.layers)
                           if not self.layout.has_blob(d.digest)]
                if missing:
                    raise NotFound(f"add image {ref}: blobs missing from the store: {', '.join(missing)}")
                names = [_entry_name(ref)]
                if repo_digest and ref.digest is None:
                    names.append(f"{ref.name}@{index_digest or manifest.digest}")
                base = Descriptor(manifest.media_type, manifest.digest, len(manifest.raw))
                for name in names:
                    self._set_name(name, _with_annotations(base, {**ann, REF_NAME: name}))
                return self.resolve(ref)

    def _set_name(self, name: str, desc: "Descriptor") -> None:
        """Point the full reference `name` at `desc` in index.json; a displaced image stays as <none>."""

        def change(old: "list[Descriptor]") -> "list[Descriptor]":
            displaced = [d for d in old if d.annotations.get(REF_NAME) == name]
            new = [d for d in old if d.annotations.get(REF_NAME) != name]
            for d in displaced:
                if d.digest == desc.digest:
                    continue
                if not any(x.digest == d.digest for x in new):
                    new.append(_with_annotations(d, {k: v for k, v in d.annotations.items() if k != REF_NAME}))
            new.append(desc)
            return new

        self.layout.update_index(change)

    def tag(self, src: "str | Reference", dst: "str | Reference") -> ImageRecord:
        """Create the tag `dst` for the image `src` names (docker tag); return the new record."""
        from .reference import Reference

        dst_ref = Reference.parse(dst) if isinstance(dst, str) else dst
        if dst_ref.digest is not None:
            raise UsageError(f"tag {src} {dst}: refusing to create a tag with a digest reference")
        dst_ref = dst_ref.with_default_tag()
        with self.lock():
            rec = self.resolve(src)
            ann = {REF_NAME: str(dst_ref)}
            if rec.index_digest is not None:
                ann[INDEX_DIGEST] = str(rec.index_digest)
            self._set_name(str(dst_ref), _with_annotations(rec.manifest, ann))
            return self.resolve(dst_ref)

    def rmi(self, ref: "str | Reference", force: bool = False,
            containers: "Mapping[Digest, Sequence[Mapping]] | None" = None) -> list[str]:
        """Remove a name, or an image, like `docker rmi`; return docker's lines ("Untagged: debian:jessie",
        "Deleted: sha256:..."). Blobs nothing references any more are removed by gc().

        `containers` maps image IDs to the containers using them (dicts with at least "id"); an image a
        container uses is only untagged, and only with `force`.
        """
        containers = containers or {}
        lines: list[str] = []
        with self.lock():
            entries = self._entries()
            rec, matched = self._resolve(entries, ref)
            image_id = rec.image_id
            users = list(containers.get(image_id, ()))
            mine = [e for e in entries if e.image_id == image_id]
            refs = _unique_refs(e.ref for e in mine)
            if matched is not None:
                if not force and _is_single_reference(refs) and users:
                    raise Conflict(f'conflict: unable to remove repository reference "{_familiar(matched)}" '
                                   f"(must force) - container {_cid(users[0])} is using its referenced image "
                                   f"{image_id.short}")
                remove = {str(matched)}
                lines.append(f"Untagged: {_familiar(matched)}")
                remaining = [r for r in refs if str(r) != str(matched)]
                if not _is_digest_ref(matched) and not any(
                        r.name == matched.name and not _is_digest_ref(r) for r in remaining):
                    # docker: a removed tag takes the digest references of its repository along when no
                    # other tag of that repository is left
                    for r in remaining:
                        if r.name == matched.name and _is_digest_ref(r):
                            remove.add(str(r))
                            lines.append(f"Untagged: {_familiar(r)}")
                    remaining = [r for r in remaining if str(r) not in remove]
                self._drop_names(remove)
                if remaining:
                    return lines
            else:
                if not _is_single_reference(refs) and refs and not force:
                    raise Conflict(f"conflict: unable to delete {image_id.short} (must be forced) - image is "
                                   f"referenced in multiple repositories")
                if users and not force:
                    raise Conflict(f"conflict: unable to delete {image_id.short} (must be forced) - image is "
                                   f"being used by stopped container {_cid(users[0])}")
                for r in sorted(refs, key=_familiar):
                    lines.append(f"Untagged: {_familiar(r)}")
                self._drop_names({str(r) for r in refs})
            if users:  # forced while a container uses it: keep the image, untagged (docker leaves <none>)
                self._keep_dangling(image_id, mine)
                return lines
            self._drop_image(image_id)
            lines.append(f"Deleted: {image_id}")
            self.layout.gc()
        return lines

    def _drop_names(self, names: set[str]) -> None:
        def change(old):
            keep = [d for d in old if d.annotations.get(REF_NAME) not in names]
            # An image losing its last name stays as a <none> entry until the image itself is deleted.
            for d in old:
                if d.annotations.get(REF_NAME) in names and not any(x.digest == d.digest for x in keep):
                    keep.append(_with_annotations(d, {k: v for k, v in d.annotations.items() if k != REF_NAME}))
            return keep

        self.layout.update_index(change)

    def _drop_image(self, image_id: Digest) -> None:
        positions = {e.position for e in self._entries() if e.image_id == image_id}
        self.layout.update_index(lambda old: [d for i, d in enumerate(old) if i not in positions])

    def _keep_dangling(self, image_id: Digest, mine: list[_Entry]) -> None:
        if any(e.ref is None for e in self._entries() if e.image_id == image_id):
            return
        desc = mine[0].manifest_desc
        ann = {INDEX_DIGEST: str(mine[0].index_digest)} if mine[0].index_digest else {}
        self.layout.update_index(lambda old: [*old, _with_annotations(desc, ann)])

    def gc(self, keep: Iterable["Digest | str"] = ()) -> list[Digest]:
        """Remove unreferenced, unclaimed blobs from the store; return their digests."""
        return self.layout.gc(keep)

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

    def _size_of(self, manifest_desc: "Descriptor") -> int:
        from .oci import ImageConfig, Manifest

        m = Manifest.from_bytes(self.layout.read_blob(manifest_desc.digest), manifest_desc.media_type)
        cfg = ImageConfig.from_bytes(self.layout.read_blob(m.config.digest))
        return sum(self._layer_sizes(m, cfg))

    def _layer_sizes(self, m: "Manifest", cfg: "ImageConfig") -> list[int]:
        if len(cfg.diff_ids) != len(m.layers):
            raise LabkitError(f"image {cfg.image_id.short}: the manifest lists {len(m.layers)} layers but the "
                              f"config has {len(cfg.diff_ids)} diff IDs")
        return [self.layer_size(diff_id, layer.digest) for diff_id, layer in zip(cfg.diff_ids, m.layers)]

    def image_size(self, rec: ImageRecord) -> int:
        """Return the image's size as docker shows it: the sum of its layers' uncompressed sizes."""
        return self._size_of(rec.manifest)

    # -- disk usage

    def system_df(self, containers: "Mapping[Digest, Sequence[Mapping]] | None" = None) -> dict:
        """Return `docker system df -v` facts: per image size, shared and unique size, containers; totals.

        A layer is shared when its chain ID is in more than one image. `containers` maps image IDs to the
        containers using them (dicts with "id" and optionally "size", "running", ...).
        """
        from .oci import ImageConfig, Manifest, chain_ids

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


# --- helpers -------------------------------------------------------------------------------------------------

def _sorted_records(records: list[ImageRecord]) -> list[ImageRecord]:
    """Return records newest first (docker sorts by Created), then by repository and tag."""
    def key(r: ImageRecord):
        ts = r.created.timestamp() if r.created is not None else float("-inf")
        return (-ts, r.repository == NONE, r.repository, r.tag == NONE, r.tag, str(r.image_id))

    return sorted(records, key=key)


def _entry_name(ref: "Reference") -> str:
    """Return the ref.name annotation for `ref`: the full reference, with the default tag, digest wins."""
    if ref.digest is not None:
        return f"{ref.name}@{ref.digest}"
    return str(ref.with_default_tag())


def _familiar(ref: "Reference") -> str:
    return ref.familiar


def _cid(container: Mapping) -> str:
    return str(container.get("id", "?"))[:12]


def _unique_refs(refs: Iterable["Reference | None"]) -> list["Reference"]:
    out: dict[str, Reference] = {}
    for r in refs:
        if r is not None:
            out.setdefault(str(r), r)
    return list(out.values())


def _plain_descriptor(desc: "Descriptor") -> "Descriptor":
    """Return `desc` without annotations (the manifest as a blob, not as an index.json entry)."""
    from .oci import Descriptor

    return Descriptor(desc.media_type, desc.digest, desc.size, desc.platform)


def _with_annotations(desc: "Descriptor", annotations: Mapping[str, str]) -> "Descriptor":
    from .oci import Descriptor

    return Descriptor(desc.media_type, desc.digest, desc.size, desc.platform, dict(annotations), desc.urls,
                      desc.artifact_type)


_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def open_uncompressed(f: BinaryIO):
    """Return a binary stream of the tar inside a layer blob, sniffing gzip (isal when available) and zstd."""
    head = f.read(4)
    f.seek(0)
    if head.startswith(_GZIP_MAGIC):
        try:
            from isal import igzip  # about 2x zlib's speed (FACTS.md)

            return igzip.GzipFile(fileobj=f, mode="rb")
        except ImportError:
            import gzip

            return gzip.GzipFile(fileobj=f, mode="rb")
    if head == _ZSTD_MAGIC:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
    return f


def measure_layer(f: BinaryIO) -> tuple[int, Digest]:
    """Return (uncompressed size, diff ID) of the layer blob open in `f`."""
    import hashlib

    h = hashlib.sha256()
    n = 0
    stream = open_uncompressed(f)
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    return n, Digest("sha256", h.hexdigest())
