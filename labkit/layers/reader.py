"""Read layer blobs as streams: uncompress them (labkit.compression), walk the tar members under the safety
rules, compute the diff ID (sha256 of the uncompressed tar, image-spec config.md#layer-diffid) while the
bytes pass.

The member rules here are shared by `index_layer` and `apply_layer`, so a layer that cannot be applied
cannot be indexed either. Choices (docker = moby pkg/archive, the reference for what images contain):
- names are cleaned like Go's filepath.Clean; absolute names become relative to the layer root
  ("/etc/x" -> "etc/x", "/../x" -> "x"), as docker's filepath.Join(dest, name) does; a relative name
  whose ".." climbs above the root ("../x", "a/../../x") is refused, as docker's breakoutError does.
- names and link targets are bytes, as in docker (Go strings) and on Linux: a name that is not UTF-8 (latin-1
  from an old tar, say) is kept byte for byte, as a str whose undecodable bytes are lone surrogates
  (PEP 383 surrogateescape, what os.listdir returns for such a name), so it reaches the disk unchanged;
  labkit.paths.printable shows it escaped ("caf\\xe9.txt").
- a PAX global header carrying only `comment` is ignored (docker ignores all of them; git archive writes
  one); any other record is refused: Python's tarfile would apply it to every later member, Go's
  archive/tar (docker) does not, so the tree would differ from docker's. umoci refuses them all.
- a PAX `size` record must agree with the USTAR size field when that field is set (else the same bytes
  would be a different tree to a reader that ignores PAX); a stream that ends early, a header with a bad
  checksum, or a missing end-of-archive marker is a TruncatedLayer (docker's Go reader stops quietly
  at an invalid header; we do not).
- sparse members are expanded only up to their declared size and the map must fit inside it.

tarfile parses the members, but its error handling is no contract and changed between patch releases: an
invalid header after the first one, or a stream without its end marker, ends the archive quietly, and
the security backports (Debian's 3.11.2, later CPython patch releases) parse headers through a private
_frombuf, so a TarInfo.frombuf override is never called. So `_TarFraming` follows the tar's block structure
itself, from the raw bytes as they stream past (before tarfile sees them): it checks every header's
checksum, the end marker, extension header sizes and PAX `size` records, and each member tarfile returns
must start where this framing says one starts. Anything on which the two could disagree is refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tarfile
from collections import deque
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, NamedTuple

from ..compression import open_layer_stream
from ..digest import Digest, as_digest
from ..errors import DigestMismatch, TruncatedLayer, UnsafeLayer
from ..oci.whiteouts import AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX
from .limits import Limits

TAR_BUFSIZE = 64 * 1024        # tarfile slices its stream buffer at every header: 64 KiB is ~2x faster than 1 MiB
COPY_CHUNK = 1 << 20
BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_PAX_TYPES = (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE)
_LONG_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_HEADER_ONLY = (tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.DIRTYPE,
                tarfile.FIFOTYPE)      # members without data, whatever their size field says (tarfile and Go)
_KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
          tarfile.GNUTYPE_SPARSE: "file", tarfile.LNKTYPE: "hardlink", tarfile.SYMTYPE: "symlink",
          tarfile.DIRTYPE: "dir", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}
_HARMLESS_GLOBAL = {"comment"}


class _Frame(NamedTuple):
    """A member as the raw headers describe it (see _TarFraming)."""
    start: int            # offset of its first header block (extension headers included): TarInfo.offset
    type: bytes           # its own header's type flag; an old-style regular entry named "x/" reads as DIRTYPE
    raw_size: int         # its own header's size field (for a sparse member: the bytes stored)
    data: int             # bytes of data that follow its header(s) (the PAX size if any; 0 for header-only)
    sparse: bool


def _block(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK * BLOCK


def _number(field: bytes) -> int:
    """Return a numeric header field (octal, or GNU base-256); ValueError if it is neither."""
    if field[0] in (0o200, 0o377):
        n = int.from_bytes(field[1:], "big")
        return n - 256 ** (len(field) - 1) if field[0] == 0o377 else n
    try:
        return int(field.rstrip(b"\0 "), 8)    # the usual "0000644\0": same value as below, faster
    except ValueError:
        digits = field.split(b"\0", 1)[0].strip()    # tarfile's nti(): up to the first NUL
        return int(digits or b"0", 8)


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except ValueError:
        return False
    unsigned = 256 + sum(block) - sum(block[148:156])
    return stored == unsigned or stored == 256 + sum(struct.unpack_from("148b8x356b", block))


def _pax_records(body: bytes) -> "dict[bytes, bytes]":
    """Return the records of a PAX extended header body ("%d key=value\\n"...); ValueError if malformed."""
    out: dict[bytes, bytes] = {}
    pos, n = 0, len(body)
    while pos < n and body[pos] != 0:        # tarfile stops at NUL padding too
        sp = body.find(b" ", pos, pos + 21)
        if sp <= pos or not body[pos:sp].isdigit():
            raise ValueError(f"bad record length at {pos}")
        end = pos + int(body[pos:sp])
        if end > n or end < sp + 4 or body[end - 1] != 0x0A:
            raise ValueError(f"bad record framing at {pos}")
        key, eq, value = body[sp + 1:end - 1].partition(b"=")
        if not key or not eq:
            raise ValueError(f"record without keyword at {pos}")
        out[key] = value                        # the last record wins, as in tarfile and Go
        pos = end
    return out


class _TarFraming:
    """Follows the tar block structure in the raw bytes as they stream past, independently of tarfile.

    Raises TruncatedLayer for a header with a bad checksum or size field, and for a stream that ends inside a
    header, inside member data or before the end-of-archive marker; UnsafeLayer for an extension header larger
    than max_header_bytes (before tarfile reads it), a PAX `size` disagreeing with the header, and framings
    that readers resolve differently (two PAX headers for one member, a PAX size on a sparse member, ...).
    Completed members queue up in `frames`; `end` is the offset of the zero block that ends the archive.
    """

    def __init__(self, limits: Limits, what: str):
        self._limits = limits
        self._what = what
        self.pos = 0                  # offset of the next byte fed
        self.frames: "deque[_Frame]" = deque()
        self.end: "int | None" = None
        self._skip = 0                # data bytes (and padding) still to pass over
        self._hdr = bytearray()       # a header block split across reads
        self._body: "bytearray | None" = None   # an extension header body being collected
        self._body_left = 0
        self._body_info: tuple = ()
        self._sparse_ext = False      # old GNU sparse extension blocks follow
        self._sparse_skip = 0
        self._start: "int | None" = None        # first header of the member being assembled
        self._pax: "dict[bytes, bytes] | None" = None
        self._long: set = set()

    def feed(self, data: bytes) -> None:
        """Follow `data`, the next bytes of the stream (b"" at its end)."""
        if self.end is not None:
            self.pos += len(data)
            return
        if not data:
            self._eof()
        view = memoryview(data)
        i, n = 0, len(data)
        while i < n and self.end is None:
            if self._skip:
                k = min(self._skip, n - i)
                self._skip -= k
                i += k
                continue
            if self._body is not None:
                k = min(self._body_left, n - i)
                self._body += view[i:i + k]
                self._body_left -= k
                i += k
                if not self._body_left:
                    self._extension_body()
                continue
            if not self._hdr and n - i >= BLOCK:
                block = bytes(view[i:i + BLOCK])
                i += BLOCK
            else:
                k = min(BLOCK - len(self._hdr), n - i)
                self._hdr += view[i:i + k]
                i += k
                if len(self._hdr) < BLOCK:
                    continue
                block, self._hdr = bytes(self._hdr), bytearray()
            self._header(block, self.pos + i - BLOCK)
        self.pos += n

    def _fail(self, offset: int, what: str) -> TruncatedLayer:
        return TruncatedLayer(f"read {self._what}: invalid tar header at offset {offset} ({what}); "
                              f"the tar is corrupt or truncated")

    def _eof(self) -> None:
        if self._hdr:
            raise TruncatedLayer(f"read {self._what}: the tar ends inside a header (truncated)")
        if self._skip or self._body is not None or self._sparse_ext or self._start is not None:
            raise TruncatedLayer(f"read {self._what}: the tar ends inside a member (truncated)")
        raise TruncatedLayer(f"read {self._what}: the tar ends without its end-of-archive marker"
                             + (" (empty stream)" if self.pos == 0 else " (truncated)"))

    def _header(self, block: bytes, off: int) -> None:
        if self._sparse_ext:                    # old GNU sparse: 21 more map entries, then "isextended"
            if not _sparse_ext_ok(block):
                raise self._fail(off, "bad sparse extension block")
            if not block[504]:
                self._sparse_ext = False
                self._skip = self._sparse_skip
            return
        if block == _ZERO_BLOCK:
            if self._start is not None:
                raise self._fail(off, "extension header not followed by a member")
            self.end = off
            return
        if not _checksum_ok(block):
            raise self._fail(off, "bad checksum")
        try:
            size = _number(block[124:136])
        except ValueError:
            raise self._fail(off, "bad size field") from None
        if size < 0:
            raise self._fail(off, "negative size")
        typ = block[156:157]
        if self._start is None:
            self._start = off
        if typ in _PAX_TYPES or typ == tarfile.XGLTYPE or typ in _LONG_TYPES:
            name = self._name(block)
            if size > self._limits.max_header_bytes:
                raise UnsafeLayer(name, f"extension header of {size} bytes is larger than "
                                        f"max_header_bytes={self._limits.max_header_bytes}")
            if typ == tarfile.XGLTYPE:
                if self._start != off:
                    raise UnsafeLayer(name, "PAX global header between a member's extension headers")
                self._start = None
            elif typ in _PAX_TYPES:
                if self._pax is not None:
                    raise UnsafeLayer(name, "two PAX headers for one member (readers merge them differently)")
                self._pax = {}
            else:
                if typ in self._long:
                    raise UnsafeLayer(name, "two GNU long-name headers of one kind for one member")
                self._long.add(typ)
            if typ == tarfile.XGLTYPE or typ in _PAX_TYPES:
                self._body, self._body_left, self._body_info = bytearray(), _block(size), (typ, size, off, name)
                if not size:
                    self._extension_body()
            else:
                self._skip = _block(size)
            return
        self._member(block, off, typ, size)

    def _extension_body(self) -> None:
        typ, size, off, name = self._body_info
        body, self._body = bytes(self._body[:size]), None
        try:
            records = _pax_records(body)
        except ValueError as e:
            raise self._fail(off, f"malformed PAX records: {e}") from None
        if typ == tarfile.XGLTYPE:
            extra = {k.decode("utf-8", "replace") for k in records} - _HARMLESS_GLOBAL
            if extra:
                raise UnsafeLayer(name, f"PAX global header sets {sorted(extra)!r}; refused (see labkit.layers.reader)")
        else:
            self._pax = records

    def _member(self, block: bytes, off: int, typ: bytes, size: int) -> None:
        pax = self._pax or {}
        # the sparse formats tarfile recognises (GNU tar's PAX 0.0, 0.1 and 1.0, and the old GNU 'S' type)
        sparse = (typ == tarfile.GNUTYPE_SPARSE or b"GNU.sparse.map" in pax or b"GNU.sparse.size" in pax
                  or (pax.get(b"GNU.sparse.major") == b"1" and pax.get(b"GNU.sparse.minor") == b"0"))
        data = size
        if b"size" in pax:
            text = pax[b"size"]
            if not text.isdigit():
                raise UnsafeLayer(self._name(block), f"invalid PAX size record {text[:32]!r}")
            if sparse:
                raise UnsafeLayer(self._name(block), "PAX size record on a sparse member (readers disagree)")
            data = int(text)
            if size not in (0, data):
                raise UnsafeLayer(self._name(block), f"PAX size {data} disagrees with the header size {size}")
        if typ == tarfile.AREGTYPE and block[:100].split(b"\0", 1)[0].endswith(b"/"):
            # an old-style directory: tarfile turns it into DIRTYPE only in some versions and header orders
            if data:
                raise UnsafeLayer(self._name(block), "old-style directory entry with data (readers disagree)")
            typ = tarfile.DIRTYPE
        if typ in _HEADER_ONLY:
            data = 0
        self.frames.append(_Frame(self._start, typ, size, data, sparse))
        self._start, self._pax = None, None
        self._long.clear()
        if typ == tarfile.GNUTYPE_SPARSE and block[482]:
            self._sparse_ext, self._sparse_skip = True, _block(data)
        else:
            self._skip = _block(data)

    def _name(self, block: bytes) -> str:
        if self._pax and b"path" in self._pax:
            return self._pax[b"path"].decode("utf-8", "replace")
        name = block[:100].split(b"\0", 1)[0]
        if block[257:263] == b"ustar\0":
            prefix = block[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        return name.decode("utf-8", "replace")


def _sparse_ext_ok(block: bytes) -> bool:
    """Return whether an old GNU sparse extension block's 21 entries are numbers (it has no checksum)."""
    try:
        for pos in range(0, 504, 24):
            if block[pos]:
                _number(block[pos:pos + 12])
                _number(block[pos + 12:pos + 24])
    except ValueError:
        return False
    return True


class _Hashing(io.RawIOBase):
    """Hashes, counts and frames the uncompressed bytes as tarfile reads them; enforces max_layer_bytes."""

    def __init__(self, src: BinaryIO, limit: int, what: str, framing: _TarFraming):
        self._src = src
        self._limit = limit
        self._what = what
        self._framing = framing
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
            self._framing.feed(data)
        elif n != 0:
            self._framing.feed(b"")
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


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
        # umoci 0.4.7 turns ".wh..." into a delete of the rootfs' parent (its whiteout name is ".."); refuse them all
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

    @property
    def files_size(self) -> int:
        """Return the layer's size as Docker shows it (files_size of the entries)."""
        return files_size(self.entries)


def files_size(entries) -> int:
    """Return the size Docker reports for a layer: what moby's directory.Size (daemon/internal/directory)
    sums over the layer's own directory, overlay2's diff dir: every file's lstat size once per inode, so a
    regular file counts its bytes (a hard link to it nothing more), a symbolic link the length of its
    target, and directories, devices and whiteouts (character devices 0/0 in overlay2) nothing. A layer that
    only deletes files is 0 bytes, whatever its tar's length. `entries`: IndexEntry values."""
    sizes: dict[str, int] = {}  # path -> bytes: a later entry for the same path replaces the earlier one
    for e in entries:
        if e.type == "file":
            sizes[e.path] = e.size
        elif e.type == "symlink":
            sizes[e.path] = len(e.linkname.encode("utf-8", "surrogateescape"))
        else:
            sizes.pop(e.path, None)
    return sum(sizes.values())


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
        self._framing = _TarFraming(limits, what)
        self._hashing = _Hashing(stream, limits.max_layer_bytes, what, self._framing)
        try:
            self._tf = tarfile.open(fileobj=self._hashing, mode="r|", bufsize=TAR_BUFSIZE,
                                    encoding="utf-8", errors="surrogateescape")
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
            self._check_end()
            return
        while True:
            try:
                info = tf.next()
            except tarfile.TarError as e:
                raise TruncatedLayer(f"read {self.what}: {e}") from None
            if info is None:
                self._check_end()
                return
            yield self._member(info, self._frame(info))

    def _frame(self, info: tarfile.TarInfo) -> _Frame:
        """Return our own framing's record of the member tarfile returned; it must be the next one."""
        frames = self._framing.frames
        if not frames or frames[0].start != info.offset:
            where = f"offset {frames[0].start}" if frames else "the end of the archive"
            raise TruncatedLayer(f"read {self.what}: tarfile found {info.name!r} at offset {info.offset}, the tar's "
                                 f"headers put the next member at {where}; the tar is corrupt or ambiguous")
        frame = frames.popleft()
        if frame.sparse != info.issparse() or (frame.type not in _HEADER_ONLY and not frame.sparse
                                                and info.size != frame.data):
            raise UnsafeLayer(info.name, "tar headers describe this member ambiguously (size or sparse map)")
        return frame

    def _check_end(self) -> None:
        """Raise TruncatedLayer unless tarfile stopped at the end-of-archive marker our framing saw."""
        # tarfile also ends quietly at an invalid header (a bad number field, say): that is not the end
        fr = self._framing
        if fr.end is None or fr.frames or self._tf.fileobj.tell() != fr.end + BLOCK:
            where = f"offset {fr.frames[0].start}" if fr.frames else f"after {self.entries} members"
            raise TruncatedLayer(f"read {self.what}: invalid tar header at {where} (tarfile could not parse it); "
                                 f"the tar is corrupt or truncated")

    def _member(self, info: tarfile.TarInfo, frame: _Frame) -> Member:
        lim = self.limits
        raw = info.name
        if "\x00" in raw or "\x00" in info.linkname:
            raise UnsafeLayer(raw.replace("\x00", "\\0"), "NUL byte in a name or link target")
        extra = set(self._tf.pax_headers) - _HARMLESS_GLOBAL
        if extra:
            raise UnsafeLayer(raw, f"PAX global header sets {sorted(extra)!r}; refused (see labkit.layers.reader)")
        self.entries += 1
        if self.entries > lim.max_entries:
            raise UnsafeLayer(raw, f"layer has more than max_entries={lim.max_entries} entries")
        # the type as the header says (tarfile turns an old-style "dir/" entry into a directory in some versions)
        kind = _KINDS.get(frame.type)
        if kind is None:
            raise UnsafeLayer(raw, f"unsupported tar entry type {frame.type!r}")
        encoded = raw.encode("utf-8", "surrogateescape")
        if len(encoded) > lim.max_path_length:
            raise UnsafeLayer(raw[:64] + "...", f"path is longer than max_path_length={lim.max_path_length}")
        path = clean_path(raw)
        for comp in path.split("/"):
            if len(comp.encode("utf-8", "surrogateescape")) > lim.max_name_length:
                raise UnsafeLayer(raw, f"a name is longer than max_name_length={lim.max_name_length}")
        linkname = ""
        if kind in ("symlink", "hardlink"):
            if not info.linkname:
                raise UnsafeLayer(raw, f"{kind} with an empty target")
            if len(info.linkname.encode("utf-8", "surrogateescape")) > lim.max_path_length:
                raise UnsafeLayer(raw, f"link target is longer than max_path_length={lim.max_path_length}")
            linkname = clean_path(info.linkname) if kind == "hardlink" else info.linkname
        if kind == "file":
            if info.size > lim.max_file_size:
                raise UnsafeLayer(raw, f"file of {info.size} bytes is larger than max_file_size={lim.max_file_size}")
            if info.issparse():
                if sum(n for _, n in info.sparse) > frame.raw_size:
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
