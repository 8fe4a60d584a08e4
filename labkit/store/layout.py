"""An OCI image layout on disk (image-spec `image-layout.md`): verified atomic blob writes, claims, locks, GC.

`OciLayout` is any OCI image layout directory: verified atomic blob writes, claims that keep blobs safe from
GC while a write or a pull is in progress, and index.json updates under an inter-process lock. labkit's image
store (labkit.store.images) and the lab registry server both use it.

Side files (lock, claims, partial downloads) live beside the layout, in <root.parent>/tmp/<root.name>, never
inside it: the layout stays exactly what the image spec describes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterable

from .. import platform
from ..digest import Digest, Verifier, as_digest
from ..errors import DigestMismatch, InvalidReference, LabkitError, NotFound
from ..fsutil import atomic_write_bytes, file_lock, fsync_dir
from ..oci.keys import INDEX_DIGEST
from ..oci.layout import LAYOUT_VERSION
from ..oci.limits import MAX_MANIFEST_SIZE
from ..oci.mediatypes import OCI_INDEX

if TYPE_CHECKING:  # the models load lazily at run time (CLI start-up time)
    from ..oci import Descriptor


# --- locking -------------------------------------------------------------------------------------------

_held = threading.local()  # lock path -> "shared" | "exclusive" held by this thread (re-entrancy)
_own_claims: set[str] = set()  # claim files this process holds (where flock cannot tell: the browser)


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


def _claim_is_held(path: Path, fd: int) -> bool:
    """Return True when a live writer holds the claim file `path` (open as `fd`)."""
    if not platform.can_lock_files():  # one process (the browser): held if it is one of ours
        return str(path) in _own_claims
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False


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
            if platform.can_lock_files():
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            _own_claims.add(str(self.path))
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
        _own_claims.discard(str(self.path))

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

    def __init__(self, layout: "OciLayout", expected: "Digest | str", size: "int | None" = None,
                 resume: bool = False):
        self.layout = layout
        self.expected = as_digest(expected)
        self.size = size
        self.resume = resume
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
            if not (self.resume and self._adopt_partial()):
                self._file = open(self._tmp, "xb")
        except BaseException:
            self._discard()
            self._claim.release()
            raise
        return self

    def _adopt_partial(self) -> bool:
        """Take over the longest partial download of this blob that a dead writer left (an interrupted pull):
        rename it to ours, hash what it holds, and go on writing after it. Return False when there is none.

        containerd keeps interrupted downloads the same way (content store ingests) and resumes them with a
        Range request; the digest is still checked over the whole blob when it is committed."""
        candidates = []
        for p in self.layout.ingest_dir.glob(f"{self.expected.hex}.*.partial"):
            token = p.name.split(".")[1]
            if p != self._tmp and not self.layout.claim_alive(token):
                with contextlib.suppress(OSError):
                    candidates.append((p.stat().st_size, p))
        for length, p in sorted(candidates, reverse=True):
            if self.size is not None and length > self.size:
                continue
            try:
                os.rename(p, self._tmp)  # atomic: another writer adopting it at once loses the race
            except FileNotFoundError:
                continue
            self._file = open(self._tmp, "r+b")
            for chunk in iter(lambda: self._file.read(1 << 20), b""):
                self._verifier.update(chunk)
                self.offset += len(chunk)
            return True
        return False

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

    def _keep_for_resume(self) -> None:
        """Leave the partial file for a later writer to adopt (its name holds our claim, dead once released)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp = None

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                try:
                    self._commit()
                except BaseException:
                    self._discard()
                    raise
            elif self.resume and self.offset > 0 and not issubclass(exc_type, DigestMismatch):
                self._keep_for_resume()  # an interrupted download: the bytes so far were hashed and are good
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

    def __init__(self, root: "str | os.PathLike", tmp_dir: "str | os.PathLike | None" = None,
                 pins_dir: "str | os.PathLike | None" = None):
        self.root = Path(root).absolute()
        self.tmp_dir = Path(tmp_dir).absolute() if tmp_dir else self.root.parent / "tmp" / self.root.name
        self.lock_path = self.tmp_dir / "lock"
        self.claims_dir = self.tmp_dir / "claims"
        self.ingest_dir = self.tmp_dir / "ingest"
        # lasting GC roots besides index.json (containerd's gc.root labels): a builder's cache keeps the layers
        # of its cached steps there, so removing an image does not empty the build cache
        self.pins_dir = Path(pins_dir).absolute() if pins_dir else None

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
                self._write_index_doc({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})

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

    def blob_writer(self, expected: "Digest | str", size: "int | None" = None, resume: bool = False) -> BlobWriter:
        """Return a BlobWriter context manager for the blob `expected` (optionally of `size` bytes).

        resume=True (downloads): an interrupted write leaves its bytes for the next writer of the blob, which
        goes on from there (`.offset` says where)."""
        return BlobWriter(self, expected, size, resume)

    def claim_alive(self, token: str) -> bool:
        """Return True while the writer that holds claim `token` is alive (its claim file is locked)."""
        try:
            fd = os.open(self.claims_dir / f"{token}.claim", os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

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
            return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
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
        from ..oci import Descriptor

        return [Descriptor.from_json(m) for m in self._read_index_doc().get("manifests", [])]

    def set_index(self, descriptors: "Iterable[Descriptor]") -> None:
        """Replace the manifests of index.json (other top-level fields kept), atomically, under the lock."""
        self.update_index(lambda _old: list(descriptors))

    def update_index(self, change) -> "list[Descriptor]":
        """Apply `change(list of descriptors) -> new list` to index.json as one locked read-modify-write."""
        from ..oci import Descriptor

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

    def pin(self, owner: str, digests: Iterable["Digest | str"]) -> None:
        """Make `digests` the lasting GC roots of `owner` (replacing its previous ones; none: unpin)."""
        if self.pins_dir is None:
            raise LabkitError(f"{self}: this layout keeps no pins")
        text = "".join(f"{d}\n" for d in sorted({str(as_digest(d)) for d in digests}))
        with self.lock(shared=True):
            self.pins_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.pins_dir / f"{owner}.pins", text.encode())

    def pinned(self) -> set[Digest]:
        """Return every digest some owner pinned."""
        out: set[Digest] = set()
        if self.pins_dir is None or not self.pins_dir.is_dir():
            return out
        for p in self.pins_dir.glob("*.pins"):
            with contextlib.suppress(FileNotFoundError):
                for line in p.read_text().split():
                    with contextlib.suppress(InvalidReference):
                        out.add(Digest.parse(line))
        return out

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
                if _claim_is_held(p, fd):  # the writer is alive
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
                doc = json.loads(self.read_blob(d)) if self.blob_size(d) <= MAX_MANIFEST_SIZE else None
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
        """Remove blobs not reachable from index.json, not claimed, not pinned, not in `keep` (nor younger than
        `grace` seconds); return the removed digests, sorted. Runs under the layout lock."""
        with self.lock():
            present = self.blobs()  # listed before the claims: see Claim.__init__
            claimed, tokens = self._live_claims()
            live = self.reachable() | claimed | self.pinned() | {as_digest(d) for d in keep}
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

