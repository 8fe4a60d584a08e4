"""Read layer blobs as streams: sniff the compression, walk the tar members under the safety rules, compute
the diff ID (sha256 of the uncompressed tar, image-spec config.md#layer-diffid) while the bytes pass.

The member rules here are shared by `index_layer` and `apply_layer`, so a layer that cannot be applied
cannot be indexed either. Choices (docker = moby pkg/archive, the reference for what images contain):
- names are cleaned like Go's filepath.Clean; absolute names become relative to the layer root
  ("/etc/x" -> "etc/x", "/../x" -> "x"), as docker's filepath.Join(dest, name) does; a relative name
  whose ".." climbs above the root ("../x", "a/../../x") is refused, as docker's breakoutError does.
- names and link targets must be UTF-8 (a layer is shared between machines; tarfile's surrogateescape
  would otherwise smuggle raw bytes through).
- a PAX global header carrying only `comment` is ignored (docker ignores all of them; git archive writes
  one); any other record is refused: Python's tarfile would apply it to every later member, Go's
  archive/tar (docker) does not, so the tree would differ from docker's. umoci refuses them all.
- a PAX `size` record must agree with the USTAR size field when that field is set (else the same bytes
  would be a different tree to a reader that ignores PAX); a stream that ends early, a header with a bad
  checksum, or a missing end-of-archive marker is a TruncatedLayer (docker's Go reader stops quietly
  at an invalid header; we do not).
- sparse members are expanded only up to their declared size and the map must fit inside it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, NamedTuple

from ..digest import Digest, as_digest
from ..errors import DigestMismatch, LabkitError, UnsafeLayer
from .limits import Limits

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
TAR_BUFSIZE = 64 * 1024        # FACTS.md: tarfile's stream buffer is sliced per header; 64 KiB beats 1 MiB
COPY_CHUNK = 1 << 20
OPAQUE_MARKER = ".wh..wh..opq"
WHITEOUT_PREFIX = ".wh."
AUFS_META_PREFIX = ".wh..wh."
_HEADER_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                 tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
          tarfile.GNUTYPE_SPARSE: "file", tarfile.LNKTYPE: "hardlink", tarfile.SYMTYPE: "symlink",
          tarfile.DIRTYPE: "dir", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}
_HARMLESS_GLOBAL = {"comment"}


class TruncatedLayer(LabkitError):
    """A layer stream that ends early or is corrupt (bad gzip/zstd data, bad tar header)."""


def sniff_compression(head: bytes) -> "str | None":
    """Return "gzip", "zstd" or None (plain tar) from the first bytes of a layer blob."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


class _Prefixed(io.RawIOBase):
    """A stream that first returns `head`, then the rest of `src` (undoes the sniffing read)."""

    def __init__(self, head: bytes, src: BinaryIO):
        self._head = head
        self._src = src

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out, self._head = self._head + self._src.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._src.read(n - len(out))
            return out
        return self._src.read(n)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


class _Guarded(io.RawIOBase):
    """Turns a decompressor's own errors into TruncatedLayer so callers see one error type."""

    def __init__(self, src, what: str):
        self._src = src
        self._what = what

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        try:
            return self._src.read(n)
        except LabkitError:
            raise
        except Exception as e:  # EOFError, zlib.error, gzip.BadGzipFile, zstandard.ZstdError
            raise TruncatedLayer(f"read layer: the {self._what} stream is truncated or corrupt ({e})") from e

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._src.close()
        finally:
            super().close()


def open_layer_stream(fileobj: BinaryIO, media_type: "str | None" = None) -> BinaryIO:
    """Return a stream of the uncompressed tar in `fileobj` (gzip and zstd sniffed by magic, like docker)."""
    # docker's DecompressStream sniffs the bytes rather than trusting the media type; so do we, which also
    # accepts the "gzip" blobs some registries serve uncompressed. media_type is kept for the caller's API.
    head = fileobj.read(4)
    src = _Prefixed(head, fileobj)
    kind = sniff_compression(head)
    if kind == "gzip":
        try:
            from isal import igzip as gz   # about 2x zlib (FACTS.md)
        except ImportError:                # pragma: no cover - isal is a dependency
            import gzip as gz
        return _Guarded(gz.GzipFile(fileobj=src, mode="rb"), "gzip")
    if kind == "zstd":
        import zstandard
        reader = zstandard.ZstdDecompressor().stream_reader(src, read_size=COPY_CHUNK, read_across_frames=True)
        return _Guarded(reader, "zstd")
    return src


class _Hashing(io.RawIOBase):
    """Hashes and counts the uncompressed bytes as tarfile reads them; enforces max_layer_bytes."""

    def __init__(self, src: BinaryIO, limit: int, what: str):
        self._src = src
        self._limit = limit
        self._what = what
        self.hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        if data:
            self.count += len(data)
            if self.count > self._limit:
                raise UnsafeLayer(self._what, f"uncompressed layer is larger than max_layer_bytes={self._limit}")
            self.hash.update(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def _info_class(limits: Limits):
    """Return a TarInfo subclass that makes every bad header fatal and bounds header sizes."""

    class _Info(tarfile.TarInfo):
        @classmethod
        def frombuf(cls, buf, encoding, errors):
            try:
                obj = super().frombuf(buf, encoding, errors)
            except tarfile.EOFHeaderError:
                raise                                   # a zero block: the end-of-archive marker
            except tarfile.EmptyHeaderError:
                raise TruncatedLayer("read layer: the tar ends without its end-of-archive marker") from None
            except tarfile.TruncatedHeaderError:
                raise TruncatedLayer("read layer: the tar ends inside a header (truncated)") from None
            except tarfile.HeaderError as e:
                raise TruncatedLayer(f"read layer: invalid tar header ({e}); the tar is corrupt or truncated") from None
            obj._raw_size = obj.size
            if obj.type in _HEADER_TYPES and obj.size > limits.max_header_bytes:
                raise UnsafeLayer(obj.name, f"extension header of {obj.size} bytes is larger than "
                                            f"max_header_bytes={limits.max_header_bytes}")
            return obj

    return _Info


def _utf8(text: str, what: str, raw: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeLayer(raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                          f"{what} is not valid UTF-8") from None


def clean_path(raw: str) -> str:
    """Return the member name cleaned like Go's filepath.Clean and made relative ("" is the root);
    raise UnsafeLayer when a relative name climbs above the root."""
    rooted = raw.startswith("/")
    parts: list[str] = []
    for c in raw.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if parts:
                parts.pop()
            elif not rooted:    # docker: filepath.Rel(dest, Join(dest, name)) starts with "../"
                raise UnsafeLayer(raw, "path escapes the layer root (..)")
            continue
        parts.append(c)
    return "/".join(parts)


def classify_whiteout(path: str) -> "tuple[str, str] | None":
    """Return ("opaque", dir), ("whiteout", hidden path), ("aufs-meta", path) or None for an ordinary name;
    raise UnsafeLayer for a whiteout name that hides nothing sensible (".wh.", ".wh..", ".wh...")."""
    head, _, base = path.rpartition("/")
    if path.startswith(AUFS_META_PREFIX) and path != OPAQUE_MARKER:
        # docker skips AUFS metadata (.wh..wh.plnk, .wh..wh.aufs, .wh..wh.orph) and all below it at the root
        return ("aufs-meta", path)
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    if base == OPAQUE_MARKER:
        return ("opaque", head)
    name = base[len(WHITEOUT_PREFIX):]
    if name in ("", ".", "..") or name.startswith(WHITEOUT_PREFIX):
        # umoci 0.4.7 turns ".wh..." into a delete of the rootfs' parent (FACTS.md); refuse them all
        raise UnsafeLayer(path, f"invalid whiteout name {base!r} (it names no file)")
    return ("whiteout", f"{head}/{name}" if head else name)


class IndexEntry(NamedTuple):
    """One member of a layer as the index records it (path cleaned; whiteouts by the path they hide)."""
    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str


@dataclass
class LayerIndex:
    """What a layer holds: its diff ID, uncompressed tar size and entries in tar order."""
    diff_id: Digest
    size: int
    entries: list = field(default_factory=list)

    def to_json(self) -> dict:
        """Return a JSON-ready dict (the per-diff-ID cache stores it)."""
        return {"diff_id": str(self.diff_id), "size": self.size, "entries": [list(e) for e in self.entries]}

    @classmethod
    def from_json(cls, data: dict) -> "LayerIndex":
        """Return the LayerIndex stored by to_json."""
        return cls(as_digest(data["diff_id"]), int(data["size"]), [IndexEntry(*e) for e in data["entries"]])

    @property
    def content_size(self) -> int:
        """Return the sum of file sizes (what `du` of the applied tree roughly shows)."""
        return sum(e.size for e in self.entries if e.type == "file")


@dataclass
class Member:
    """One tar member after the shared rules: its cleaned path and kind, plus the raw TarInfo."""
    info: tarfile.TarInfo
    path: str
    kind: str                 # file dir symlink hardlink char block fifo whiteout opaque aufs-meta
    linkname: str = ""        # hard link: cleaned target path; symlink: the target text as stored

    @property
    def raw_name(self) -> str:
        """Return the member's name as it appears in the tar."""
        return self.info.name

    def index_entry(self) -> IndexEntry:
        """Return the IndexEntry for this member."""
        i = self.info
        return IndexEntry(self.path, self.kind, i.mode & 0o7777, i.uid, i.gid,
                          i.size if self.kind == "file" else 0, int(i.mtime), self.linkname)


class LayerReader:
    """Iterate a layer's members under the shared rules; `finish()` drains the stream and checks the diff ID."""

    def __init__(self, stream: BinaryIO, limits: Limits = Limits(), what: str = "layer"):
        self.limits = limits
        self.what = what
        self._hashing = _Hashing(stream, limits.max_layer_bytes, what)
        try:
            self._tf = tarfile.open(fileobj=self._hashing, mode="r|", bufsize=TAR_BUFSIZE,
                                    tarinfo=_info_class(limits), encoding="utf-8", errors="surrogateescape")
        except tarfile.ReadError as e:
            raise TruncatedLayer(f"read {what}: not a tar stream ({e})") from None
        # an empty archive: Python 3.10's stream reader would seek backwards if asked for a member again
        self._empty = self._tf.firstmember is None
        self.entries = 0
        self.expanded = 0
        self.diff_id: "Digest | None" = None
        self.size = 0

    def __iter__(self) -> Iterator[Member]:
        tf = self._tf
        if self._empty:
            return
        while True:
            try:
                info = tf.next()
            except tarfile.TarError as e:
                raise TruncatedLayer(f"read {self.what}: {e}") from None
            if info is None:
                return
            yield self._member(info)

    def _member(self, info: tarfile.TarInfo) -> Member:
        lim = self.limits
        raw = info.name
        _utf8(raw, "name", raw)
        if "\x00" in raw or "\x00" in info.linkname:
            raise UnsafeLayer(raw.replace("\x00", "\\0"), "NUL byte in a name or link target")
        extra = set(self._tf.pax_headers) - _HARMLESS_GLOBAL
        if extra:
            raise UnsafeLayer(raw, f"PAX global header sets {sorted(extra)!r}; refused (see labkit.layers.reader)")
        self.entries += 1
        if self.entries > lim.max_entries:
            raise UnsafeLayer(raw, f"layer has more than max_entries={lim.max_entries} entries")
        kind = _KINDS.get(info.type)
        if kind is None:
            raise UnsafeLayer(raw, f"unsupported tar entry type {info.type!r}")
        if "size" in info.pax_headers and not info.issparse() and info._raw_size not in (0, info.size):
            raise UnsafeLayer(raw, f"PAX size {info.size} disagrees with the header size {info._raw_size}")
        encoded = raw.encode("utf-8")
        if len(encoded) > lim.max_path_length:
            raise UnsafeLayer(raw[:64] + "...", f"path is longer than max_path_length={lim.max_path_length}")
        path = clean_path(raw)
        for comp in path.split("/"):
            if len(comp.encode("utf-8")) > lim.max_name_length:
                raise UnsafeLayer(raw, f"a name is longer than max_name_length={lim.max_name_length}")
        linkname = ""
        if kind in ("symlink", "hardlink"):
            _utf8(info.linkname, "link target", raw)
            if not info.linkname:
                raise UnsafeLayer(raw, f"{kind} with an empty target")
            if len(info.linkname.encode("utf-8")) > lim.max_path_length:
                raise UnsafeLayer(raw, f"link target is longer than max_path_length={lim.max_path_length}")
            linkname = clean_path(info.linkname) if kind == "hardlink" else info.linkname
        if kind == "file":
            if info.size > lim.max_file_size:
                raise UnsafeLayer(raw, f"file of {info.size} bytes is larger than max_file_size={lim.max_file_size}")
            if info.issparse():
                if sum(n for _, n in info.sparse) > info._raw_size:
                    raise UnsafeLayer(raw, "sparse map holds more data than the member stores")
                end = 0
                for off, n in info.sparse:
                    if n == 0:
                        continue        # unused slots of the old GNU header read as (0, 0)
                    if off < end or n < 0 or off + n > info.size:
                        raise UnsafeLayer(raw, "sparse map does not fit inside the declared size")
                    end = off + n
            self.expanded += info.size
            if self.expanded > lim.max_layer_bytes:
                raise UnsafeLayer(raw, f"layer expands to more than max_layer_bytes={lim.max_layer_bytes}")
        wh = classify_whiteout(path) if path else None
        if wh is not None:
            kind, path = wh
        return Member(info, path, kind, linkname)

    def copy_data(self, m: Member, write) -> int:
        """Pass a non-sparse member's data to `write(chunk)` in order; return the byte count."""
        info = m.info
        left = info.size
        src = self._tf.fileobj
        try:
            while left:
                chunk = src.read(min(COPY_CHUNK, left))
                if not chunk:
                    raise TruncatedLayer(f"read {self.what}: data of {info.name!r} ends early (truncated tar)")
                write(chunk)
                left -= len(chunk)
        except tarfile.TarError as e:
            raise TruncatedLayer(f"read {self.what}: {e}") from None
        return info.size

    def sparse_regions(self, m: Member) -> Iterator[tuple[int, bytes]]:
        """Yield (offset, chunk) for the data regions of a sparse member; holes are never produced."""
        # the stored data is the regions back to back, right after the header(s) (GNU tar's sparse formats)
        src = self._tf.fileobj
        if src.tell() != m.info.offset_data:
            raise UnsafeLayer(m.raw_name, "sparse member whose data does not follow its header")
        try:
            for off, n in m.info.sparse:
                left = n
                while left:
                    chunk = src.read(min(COPY_CHUNK, left))
                    if not chunk:
                        raise TruncatedLayer(f"read {self.what}: data of {m.raw_name!r} ends early (truncated tar)")
                    yield off + (n - left), chunk
                    left -= len(chunk)
        except tarfile.TarError as e:
            raise TruncatedLayer(f"read {self.what}: {e}") from None

    def finish(self, expected_diff_id: "Digest | str | None" = None) -> Digest:
        """Drain what follows the end-of-archive marker, set diff_id/size and check them; return the diff ID."""
        while self._hashing.read(COPY_CHUNK):
            pass
        self.diff_id = Digest("sha256", self._hashing.hash.hexdigest())
        self.size = self._hashing.count
        if expected_diff_id is not None and self.diff_id != as_digest(expected_diff_id):
            raise DigestMismatch(f"{self.what}: uncompressed content is {self.diff_id}, expected diff ID "
                                 f"{expected_diff_id}", expected=str(expected_diff_id), actual=str(self.diff_id))
        return self.diff_id


def index_layer(fileobj: BinaryIO, media_type: "str | None" = None, expected_diff_id: "Digest | str | None" = None,
                limits: Limits = Limits()) -> LayerIndex:
    """Return the LayerIndex of a (compressed) layer stream or file path, reading it once; DigestMismatch if
    the diff ID differs."""
    if isinstance(fileobj, (str, os.PathLike)):
        with open(fileobj, "rb") as f:
            return index_layer(f, media_type, expected_diff_id, limits)
    reader = LayerReader(open_layer_stream(fileobj, media_type), limits)
    entries = [m.index_entry() for m in reader if m.kind != "aufs-meta"]
    diff_id = reader.finish(expected_diff_id)
    return LayerIndex(diff_id, reader.size, entries)
