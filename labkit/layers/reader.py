"""Read layer blobs as streams: uncompress them (labkit.compression), walk the tar members under the safety
rules, compute the diff ID (sha256 of the uncompressed tar, image-spec config.md#layer-diffid) while the
bytes pass.

The member rules here are shared by `index_layer` and `apply_layer`, so a layer that cannot be applied
cannot be indexed either. Choices (docker = moby pkg/archive over Go's archive/tar, the reference for what
images contain):
- names are cleaned like Go's filepath.Clean; absolute names become relative to the layer root
  ("/etc/x" -> "etc/x", "/../x" -> "x"), as docker's filepath.Join(dest, name) does; a relative name
  whose ".." climbs above the root ("../x", "a/../../x") is refused, as docker's breakoutError does.
- names and link targets are bytes, as in docker (Go strings) and on Linux: a name that is not UTF-8 (latin-1
  from an old tar, say) is kept byte for byte, as a str whose undecodable bytes are lone surrogates
  (PEP 383 surrogateescape, what os.listdir returns for such a name), so it reaches the disk unchanged;
  labkit.paths.printable shows it escaped ("caf\\xe9.txt").
- a PAX global header carrying only `comment` is ignored (docker ignores all of them; git archive writes
  one); any other record is refused: some readers apply it to every later member, Go's archive/tar
  (docker) does not, so the tree would depend on the reader. umoci refuses them all.
- a PAX `size` record must agree with the USTAR size field when that field is set (else the same bytes
  would be a different tree to a reader that ignores PAX); a stream that ends early, a header with a bad
  checksum or number field, or a missing end-of-archive marker is a TruncatedLayer (docker's Go reader stops
  quietly at some of these; we do not).
- sparse members (old GNU 'S' headers, GNU tar's PAX formats 0.0, 0.1 and 1.0) are expanded only up to
  their declared size and the map must fit inside it.

The tar is parsed here, header by header, from the raw bytes (POSIX.1-2001 pax / ustar, GNU tar's long names
and sparse formats), following Go's archive/tar where readers differ (which magic carries a name prefix,
how number fields are trimmed, which PAX records apply). Anything a common reader (Go, GNU tar, Python's
tarfile) could read as a different tree is refused rather than guessed: two PAX headers or two long names
of one kind for one member, a long name and a PAX path together, GNU sparse records on a member that is
not sparse, an old-style directory entry with data, an invalid PAX number. It is also the hot path of every
pull: one pass, no second parser, data copied from the decompressed chunks as they come.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator, NamedTuple

from ..compression import open_layer_stream
from ..digest import Digest, as_digest
from ..errors import DigestMismatch, LabkitError, TruncatedLayer, UnsafeLayer
from ..oci.whiteouts import AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX
from .limits import Limits

CHUNK = 1 << 20            # bytes asked of the decompressed stream at a time
BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
# type flags (POSIX ustar, pax, GNU)
REGTYPE, AREGTYPE, LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE, CONTTYPE = \
    b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7"
XHDTYPE, XGLTYPE, SOLARIS_XHDTYPE = b"x", b"g", b"X"
GNUTYPE_LONGNAME, GNUTYPE_LONGLINK, GNUTYPE_SPARSE = b"L", b"K", b"S"
_PAX_TYPES = (XHDTYPE,)           # Solaris' "X" is no PAX header to Go's archive/tar (docker): refused as a type
_LONG_TYPES = (GNUTYPE_LONGNAME, GNUTYPE_LONGLINK)
_HEADER_ONLY = (LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE)  # no data, whatever the size says (Go)
_KINDS = {REGTYPE: "file", AREGTYPE: "file", CONTTYPE: "file", GNUTYPE_SPARSE: "file", LNKTYPE: "hardlink",
          SYMTYPE: "symlink", DIRTYPE: "dir", CHRTYPE: "char", BLKTYPE: "block", FIFOTYPE: "fifo"}
_HARMLESS_GLOBAL = {b"comment"}
_OCTAL_DIGITS = b"01234567"
_PAX_TIME = re.compile(rb"(-?[0-9]+)(?:\.[0-9]*)?")
_SPARSE_KEYS = (b"GNU.sparse.")
_INT64 = 1 << 63


def _block(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK * BLOCK


def _number(field: bytes) -> int:
    """Return a numeric header field as Go's archive/tar reads it: GNU base-256, or octal digits with NULs
    and spaces trimmed from both ends; ValueError for anything else."""
    if field[0] & 0x80:
        n = int.from_bytes(field[1:], "big")
        return n - 256 ** (len(field) - 1) if field[0] == 0o377 else n
    digits = field.strip(b" \0")
    if digits.translate(None, _OCTAL_DIGITS):
        raise ValueError(f"not an octal number: {field!r}")
    return int(digits, 8) if digits else 0


_FIELDS: "dict[bytes, tuple]" = {}     # raw number fields -> values: most members repeat their neighbours'


def _numbers(fields: bytes, width: int) -> tuple:
    """Return the numbers in `fields`, consecutive fields of `width` bytes (cached: a layer's mode, owner and
    device fields take few distinct values); ValueError for a field that is not a number."""
    values = _FIELDS.get(fields)
    if values is None:
        values = tuple(_number(fields[i:i + width]) for i in range(0, len(fields), width))
        if len(_FIELDS) >= 4096:
            _FIELDS.clear()
        _FIELDS[fields] = values
    return values


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except ValueError:
        return False
    unsigned = 256 + sum(block) - sum(block[148:156])
    if stored == unsigned:
        return True
    signed = unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b > 127)
    return stored == signed


def _pax_records(body: bytes) -> "list[tuple[bytes, bytes]]":
    """Return the records of a PAX extended header body ("%d key=value\\n"...) in order; ValueError if
    malformed."""
    out = []
    pos, n = 0, len(body)
    while pos < n and body[pos] != 0:        # NUL padding ends the records (GNU tar writes none)
        sp = body.find(b" ", pos, pos + 21)
        if sp <= pos or not body[pos:sp].isdigit():
            raise ValueError(f"bad record length at {pos}")
        end = pos + int(body[pos:sp])
        if end > n or end < sp + 4 or body[end - 1] != 0x0A:
            raise ValueError(f"bad record framing at {pos}")
        key, eq, value = body[sp + 1:end - 1].partition(b"=")
        if not key or not eq:
            raise ValueError(f"record without keyword at {pos}")
        out.append((key, value))
        pos = end
    return out


def _text(raw: bytes) -> str:
    """Return a name as labkit keeps it: UTF-8, with undecodable bytes as lone surrogates (PEP 383)."""
    try:
        return raw.decode("utf-8")            # the common case, and much faster
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape")


def _shown(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def clean_path(raw: str) -> str:
    """Return the member name cleaned like Go's filepath.Clean and made relative ("" is the root);
    raise UnsafeLayer when a relative name climbs above the root."""
    if "//" not in raw and "/." not in raw and not raw.startswith((".", "/")) and not raw.endswith("/"):
        return raw                            # nothing to clean: no "", "." or ".." component
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


class Member:
    """One tar member after the shared rules: its cleaned path and kind, the header's metadata, and where
    its data is (read it with LayerReader.copy_data / sparse_regions before asking for the next member)."""

    __slots__ = ("path", "kind", "linkname", "raw_name", "raw_linkname", "mode", "uid", "gid", "size", "mtime",
                 "devmajor", "devminor", "sparse", "xattrs", "data_size")

    def __init__(self, path: str, kind: str, linkname: str, raw_name: str, raw_linkname: str, mode: int,
                 uid: int, gid: int, size: int, mtime: int, devmajor: int = 0, devminor: int = 0,
                 sparse: "list | None" = None, xattrs: "dict | None" = None, data_size: int = 0):
        self.path = path                  # cleaned, relative; whiteouts: the path they hide
        self.kind = kind                  # file dir symlink hardlink char block fifo whiteout opaque aufs-meta
        self.linkname = linkname          # hard link: cleaned target path; symlink: the target text as stored
        self.raw_name = raw_name          # the name as the tar has it
        self.raw_linkname = raw_linkname  # the link target as the tar has it
        self.mode = mode                  # permission bits with setuid/setgid/sticky (0o7777)
        self.uid, self.gid = uid, gid
        self.size = size                  # a file's size (a sparse file's expanded size); 0 for the others
        self.mtime = mtime
        self.devmajor, self.devminor = devmajor, devminor
        self.sparse = sparse              # a sparse file's [(offset, length)] data regions, else None
        self.xattrs = xattrs or {}        # PAX SCHILY.xattr.<name> records: name -> raw value bytes
        self.data_size = data_size        # bytes of data stored after the header(s)

    def __repr__(self) -> str:
        return f"Member({self.path!r}, {self.kind!r}, size={self.size})"

    def index_entry(self) -> IndexEntry:
        """Return the IndexEntry for this member."""
        return IndexEntry(self.path, self.kind, self.mode, self.uid, self.gid,
                          self.size if self.kind == "file" else 0, self.mtime, self.linkname)


class _ReadAhead:
    """Reads (decompresses) and hashes a stream in a thread of its own, at most DEPTH chunks ahead of the parser:
    both release the GIL, so a layer's parsing runs beside its decompression instead of after it. The chunks,
    then b"" at the end, or the reading thread's exception, come out of read() in order."""

    DEPTH = 4

    def __init__(self, src: BinaryIO, hasher):
        self._queue: queue.Queue = queue.Queue(self.DEPTH)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(src, hasher), name="labkit-layer-read",
                                        daemon=True)
        self._thread.start()

    def _run(self, src: BinaryIO, hasher) -> None:
        try:
            while not self._stopped.is_set():
                data = src.read(CHUNK)
                if data:
                    hasher.update(data)
                self._queue.put(data)
                if not data:
                    return
        except BaseException as e:            # handed to the parser, which raises it where it reads
            self._queue.put(e)

    def read(self) -> bytes:
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._queue.put(item)             # every later read fails the same way
            raise item
        if not item:
            self._queue.put(item)
        return item

    def close(self) -> None:
        """Stop reading ahead and wait for the thread (before the caller closes the stream under it)."""
        self._stopped.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)  # make room for a put the thread is blocked in
            except queue.Empty:
                pass
        self._thread.join()


class LayerReader:
    """Iterate a layer's members under the shared rules; `finish()` drains the stream and checks the diff ID.

    Reads the (uncompressed) stream in CHUNK reads, hashing and counting every byte as it arrives (the diff ID,
    max_layer_bytes); headers are sliced from the chunk, data is handed on as views of it. With `read_ahead`
    the stream is read and hashed in a thread of its own (_ReadAhead); close() the reader when done with it.
    """

    def __init__(self, stream: BinaryIO, limits: Limits = Limits(), what: str = "layer", read_ahead: bool = False):
        self.limits = limits
        self.what = what
        self._src = stream
        self._hash = hashlib.sha256()
        self._ahead = _ReadAhead(stream, self._hash) if read_ahead else None
        self._count = 0                # bytes read from the stream
        self._buf = b""                # the current chunk ...
        self._pos = 0                  # ... and how much of it is consumed
        self._eof = False
        self._left = 0                 # data (and padding) of the current member not consumed yet
        self._ended = False            # the end-of-archive marker was read
        self.entries = 0
        self.expanded = 0
        self.diff_id: "Digest | None" = None
        self.size = 0

    # ---- the byte stream --------------------------------------------------------------------------------
    def _read(self) -> bytes:
        if self._ahead is not None:
            data = self._ahead.read()          # hashed by the read-ahead thread
        else:
            data = self._src.read(CHUNK)
            if data:
                self._hash.update(data)
        if data:
            self._count += len(data)
            if self._count > self.limits.max_layer_bytes:
                raise UnsafeLayer(self.what, f"uncompressed layer is larger than max_layer_bytes="
                                             f"{self.limits.max_layer_bytes}")
        else:
            self._eof = True
        return data

    def close(self) -> None:
        """Stop the read-ahead thread, if any (the stream itself stays the caller's)."""
        if self._ahead is not None:
            self._ahead.close()

    @property
    def offset(self) -> int:
        """Return the offset in the tar of the next unconsumed byte."""
        return self._count - len(self._buf) + self._pos

    def _take(self, n: int) -> bytes:
        """Return the next `n` bytes (n small: a header, an extension body), or what is left (shorter) at the
        end of the stream."""
        pos = self._pos
        end = pos + n
        buf = self._buf
        if end <= len(buf):
            self._pos = end
            return buf[pos:end]
        out = buf[pos:]
        while True:
            data = self._read()
            if not data:
                self._buf, self._pos = b"", 0
                return out
            need = n - len(out)
            if len(data) >= need:
                self._buf, self._pos = data, need
                return out + data[:need]
            out += data

    def _skip(self, n: int) -> bool:
        """Pass over `n` bytes; return False when the stream ends first."""
        while n:
            avail = len(self._buf) - self._pos
            if avail >= n:
                self._pos += n
                return True
            n -= avail
            self._buf, self._pos = self._read(), 0
            if not self._buf:
                return False
        return True

    def _chunks(self, n: int) -> Iterator[memoryview]:
        """Yield the next `n` bytes as views of the chunks they are in; TruncatedLayer when the stream ends."""
        while n:
            avail = len(self._buf) - self._pos
            if not avail:
                self._buf, self._pos = self._read(), 0
                avail = len(self._buf)
                if not avail:
                    raise TruncatedLayer(f"read {self.what}: the tar ends inside a member (truncated)")
            k = avail if avail < n else n
            pos = self._pos
            self._pos = pos + k
            n -= k
            yield memoryview(self._buf)[pos:pos + k]

    def write_data(self, m: Member, fd: int) -> int:
        """Write a non-sparse member's data to the file descriptor `fd` (the hot path of apply); return the
        byte count."""
        n = m.data_size
        write = os.write
        for view in self._chunks(n):
            while view:
                view = view[write(fd, view):]
        self._left -= n
        return n

    # ---- headers ------------------------------------------------------------------------------------------
    def _fail(self, offset: int, what: str) -> TruncatedLayer:
        return TruncatedLayer(f"read {self.what}: invalid tar header at offset {offset} ({what}); "
                              f"the tar is corrupt or truncated")

    def _header(self, inside: bool) -> "bytes | None":
        """Return the next header block, or None at the end-of-archive marker (`inside`: extension headers of
        the member were read)."""
        off = self.offset
        block = self._take(BLOCK)
        if len(block) < BLOCK:
            if block:
                raise TruncatedLayer(f"read {self.what}: the tar ends inside a header (truncated)")
            if inside:
                raise TruncatedLayer(f"read {self.what}: the tar ends inside a member (truncated)")
            raise TruncatedLayer(f"read {self.what}: the tar ends without its end-of-archive marker"
                                 + (" (empty stream)" if off == 0 else " (truncated)"))
        if block == _ZERO_BLOCK:
            return None
        if not _checksum_ok(block):
            raise self._fail(off, "bad checksum")
        return block

    def _extension(self, block: bytes, off: int, size: int, name: str) -> bytes:
        if size > self.limits.max_header_bytes:
            raise UnsafeLayer(name, f"extension header of {size} bytes is larger than "
                                    f"max_header_bytes={self.limits.max_header_bytes}")
        body = self._take(size)
        if len(body) < size or not self._skip(_block(size) - size):
            raise TruncatedLayer(f"read {self.what}: the tar ends inside a member (truncated)")
        return body

    def _next_member(self) -> "Member | None":
        """Read the header(s) of the next member; return it (data not consumed), or None at the end."""
        pax: "dict[bytes, bytes] | None" = None
        sparse_pairs: list[bytes] = []
        longs: dict[bytes, bytes] = {}
        start = None
        while True:
            off = self.offset
            block = self._header(start is not None)
            if block is None:
                if start is not None:
                    raise self._fail(off, "extension header not followed by a member")
                return None
            if start is None:
                start = off
            try:
                size = _number(block[124:136])
            except ValueError:
                raise self._fail(off, "bad size field") from None
            if size < 0:
                raise self._fail(off, "negative size")
            typ = block[156:157]
            if typ in _PAX_TYPES or typ == XGLTYPE or typ in _LONG_TYPES:
                name = _shown(block[:100].split(b"\0", 1)[0])
                body = self._extension(block, off, size, name)
                if typ == XGLTYPE:
                    if start != off:
                        raise UnsafeLayer(name, "PAX global header between a member's extension headers")
                    start = None
                    records = self._records(body, off)
                    extra = {k for k, _ in records} - _HARMLESS_GLOBAL
                    if extra:
                        raise UnsafeLayer(name, f"PAX global header sets {sorted(_shown(k) for k in extra)!r}; "
                                                f"refused (see labkit.layers.reader)")
                elif typ in _PAX_TYPES:
                    if pax is not None:
                        raise UnsafeLayer(name, "two PAX headers for one member (readers merge them differently)")
                    pax = {}
                    for k, v in self._records(body, off):
                        if k in (b"GNU.sparse.offset", b"GNU.sparse.numbytes"):
                            # GNU sparse 0.0: alternating records, collected in order as Go does
                            if (k == b"GNU.sparse.offset") != (len(sparse_pairs) % 2 == 0) or b"," in v:
                                raise UnsafeLayer(name, "GNU sparse 0.0 records out of order")
                            sparse_pairs.append(v)
                        else:
                            pax[k] = v                # the last record wins, as in Go and tarfile
                else:
                    if typ in longs:
                        raise UnsafeLayer(name, "two GNU long-name headers of one kind for one member")
                    longs[typ] = body.split(b"\0", 1)[0]
                continue
            return self._member(block, off, typ, size, pax or {}, sparse_pairs, longs)

    def _records(self, body: bytes, off: int) -> "list[tuple[bytes, bytes]]":
        try:
            return _pax_records(body)
        except ValueError as e:
            raise self._fail(off, f"malformed PAX records: {e}") from None

    def _member(self, block: bytes, off: int, typ: bytes, size: int, pax: dict, sparse_pairs: list,
                longs: dict) -> Member:
        lim = self.limits
        # the format as Go's archive/tar tells it: which name prefix, which number fields it reads
        magic = block[257:263]
        if magic == b"ustar\0":
            fmt = "star" if block[508:512] == b"tar\0" else "ustar"
        elif magic == b"ustar " and block[263:265] == b" \0":
            fmt = "gnu"
        else:
            fmt = "v7"
        # the name: a PAX path, else a GNU long name, else the header's (with the ustar or star prefix)
        raw = block[:100].split(b"\0", 1)[0]
        if fmt in ("ustar", "star"):
            prefix = block[345:476 if fmt == "star" else 500].split(b"\0", 1)[0]
            if prefix:
                raw = prefix + b"/" + raw
        if GNUTYPE_LONGNAME in longs:
            if b"path" in pax:
                raise UnsafeLayer(_shown(pax[b"path"]), "a GNU long name and a PAX path for one member "
                                                        "(readers disagree which wins)")
            raw = longs[GNUTYPE_LONGNAME]
        raw = pax.get(b"path", raw)
        rawlink = block[157:257].split(b"\0", 1)[0]
        if GNUTYPE_LONGLINK in longs:
            if b"linkpath" in pax:
                raise UnsafeLayer(_shown(raw), "a GNU long link name and a PAX linkpath for one member "
                                               "(readers disagree which wins)")
            rawlink = longs[GNUTYPE_LONGLINK]
        rawlink = pax.get(b"linkpath", rawlink)
        # numbers
        try:
            mode, uid, gid = _numbers(block[100:124], 8)
            mtime, = _numbers(block[136:148], 12)
            devmajor = devminor = 0
            if fmt != "v7":
                devmajor, devminor = _numbers(block[329:345], 8)
            if fmt == "star":
                _number(block[476:488])
                _number(block[488:500])
            elif fmt == "gnu":
                # atime and ctime: Go reads them, and where they do not parse falls back to reading the field
                # as a ustar prefix (archives of Go before 1.8): a name readers would disagree on
                for field_ in (block[345:357], block[357:369]):
                    if field_[0]:
                        _number(field_)
        except ValueError:
            raise self._fail(off, "bad number field") from None
        data = size
        if pax:
            uid = self._pax_int(pax, b"uid", uid, raw)
            gid = self._pax_int(pax, b"gid", gid, raw)
            if b"mtime" in pax:
                m = _PAX_TIME.fullmatch(pax[b"mtime"])
                if m is None:
                    raise LabkitError(f"read {self.what}: {_shown(raw)!r}: invalid PAX mtime record "
                                      f"{pax[b'mtime'][:32]!r}; the layer is truncated or corrupt")
                mtime = int(m.group(1))
        # sparse files (GNU tar's formats, as Go reads them)
        sparse = None
        gnu = [k for k in pax if k.startswith(_SPARSE_KEYS)]
        if sparse_pairs:
            if len(sparse_pairs) % 2:
                raise UnsafeLayer(_shown(raw), "GNU sparse 0.0 records out of order")
            pax[b"GNU.sparse.map"] = b",".join(sparse_pairs)
            gnu.append(b"GNU.sparse.map")
        version = (pax.get(b"GNU.sparse.major"), pax.get(b"GNU.sparse.minor"))
        if typ == GNUTYPE_SPARSE:
            if gnu:
                raise UnsafeLayer(_shown(raw), "tar headers describe this member ambiguously (old GNU sparse "
                                               "header with GNU sparse PAX records)")
        elif gnu:
            is_pax_sparse = version == (b"1", b"0") or (version in ((b"0", b"0"), (b"0", b"1"), (None, None))
                                                        and pax.get(b"GNU.sparse.map"))
            if not is_pax_sparse or typ not in (REGTYPE, AREGTYPE, CONTTYPE):
                raise UnsafeLayer(_shown(raw), f"tar headers describe this member ambiguously (GNU sparse "
                                               f"records {sorted(_shown(k) for k in gnu)!r} on a member that is "
                                               f"not a sparse file)")
            raw = pax.get(b"GNU.sparse.name", raw)
            sizes = {pax[k] for k in (b"GNU.sparse.size", b"GNU.sparse.realsize") if k in pax}
            if len(sizes) > 1:
                raise UnsafeLayer(_shown(raw), "tar headers describe this member ambiguously (two GNU sparse "
                                               "sizes)")
        if b"size" in pax:
            text = pax[b"size"]
            if not text.isdigit():
                raise UnsafeLayer(_shown(raw), f"invalid PAX size record {text[:32]!r}")
            if typ == GNUTYPE_SPARSE or gnu:
                raise UnsafeLayer(_shown(raw), "PAX size record on a sparse member (readers disagree)")
            data = int(text)
            if size not in (0, data):
                raise UnsafeLayer(_shown(raw), f"PAX size {data} disagrees with the header size {size}")
        if typ == AREGTYPE and raw.endswith(b"/"):
            # an old-style directory (pre-POSIX tar): a regular entry whose name ends in "/"
            if data:
                raise UnsafeLayer(_shown(raw), "old-style directory entry with data (readers disagree)")
            typ = DIRTYPE
        if typ in _HEADER_ONLY:
            data = 0
        self._left = (data + 511) & ~511
        file_size = data
        if typ == GNUTYPE_SPARSE:
            sparse, file_size = self._old_gnu_sparse(block, off, raw, data)
        elif gnu:
            sparse, file_size = self._pax_sparse(pax, version, raw, data)
        return self._checked(typ, off, raw, rawlink, mode, uid, gid, file_size, mtime, devmajor, devminor, sparse,
                             pax, data)

    def _pax_int(self, pax: dict, key: bytes, default: int, raw: bytes) -> int:
        text = pax.get(key)
        if text is None:
            return default
        if not text.isdigit() or int(text) >= _INT64:
            raise LabkitError(f"read {self.what}: {_shown(raw)!r}: invalid PAX {_shown(key)} record {text[:32]!r}; "
                              f"the layer is truncated or corrupt")
        return int(text)

    def _old_gnu_sparse(self, block: bytes, off: int, raw: bytes, stored: int) -> "tuple[list, int]":
        """Return ([(offset, length)], real size) of an old GNU sparse member (its extension blocks read)."""
        entries = [block[386 + 24 * i:410 + 24 * i] for i in range(4)]
        extended = block[482]
        try:
            real = _number(block[483:495])
        except ValueError:
            raise self._fail(off, "bad number field") from None
        while extended:
            ext_off = self.offset
            ext = self._take(BLOCK)
            if len(ext) < BLOCK:
                raise TruncatedLayer(f"read {self.what}: the tar ends inside a member (truncated)")
            entries += [ext[24 * i:24 * i + 24] for i in range(21)]
            extended = ext[504]
            if not _sparse_ext_ok(ext):
                raise self._fail(ext_off, "bad sparse extension block")
        regions = []
        for i, e in enumerate(entries):
            if not e[0]:              # an entry whose offset starts with NUL ends the map (Go, GNU tar, bsdtar)
                if any(any(rest) for rest in entries[i:]):
                    raise UnsafeLayer(_shown(raw), "tar headers describe this member ambiguously (sparse map "
                                                   "entries after its end)")
                break
            try:
                regions.append((_number(e[:12]), _number(e[12:])))
            except ValueError:
                raise self._fail(off, "bad sparse map entry") from None
        return self._sparse_map(regions, real, stored, raw), real

    def _pax_sparse(self, pax: dict, version: tuple, raw: bytes, stored: int) -> "tuple[list, int]":
        """Return ([(offset, length)], real size) of a GNU PAX sparse member (0.0 / 0.1: the map in the PAX
        records; 1.0: the map at the start of the data, consumed here)."""
        text = pax.get(b"GNU.sparse.size", pax.get(b"GNU.sparse.realsize"))
        if text is None or not text.isdigit():
            raise UnsafeLayer(_shown(raw), "GNU sparse member without a valid size record")
        real = int(text)
        numbers: list[int] = []
        if version == (b"1", b"0"):
            limit = min(self.limits.max_header_bytes, stored)
            buf = b""
            used = 0
            while True:
                blk = self._take(BLOCK)
                if len(blk) < BLOCK:
                    raise TruncatedLayer(f"read {self.what}: the tar ends inside a member (truncated)")
                used += BLOCK
                buf += blk
                lines = buf.split(b"\n")
                if len(lines) > 1 and lines[0].isdigit() and len(lines) - 2 >= 2 * int(lines[0]):
                    break
                if used >= limit:
                    raise UnsafeLayer(_shown(raw), "GNU sparse 1.0 map is malformed or larger than "
                                                   f"max_header_bytes={self.limits.max_header_bytes}")
            count = int(lines[0])
            fields = lines[1:1 + 2 * count]
            if not all(f.isdigit() for f in fields):
                raise UnsafeLayer(_shown(raw), "GNU sparse 1.0 map holds something else than numbers")
            numbers = [int(f) for f in fields]
            self._left -= used
            stored -= used
        else:
            mapping = pax.get(b"GNU.sparse.map", b"")
            fields = mapping.split(b",") if mapping else []
            if len(fields) % 2 or not all(f.isdigit() for f in fields):
                raise UnsafeLayer(_shown(raw), "GNU sparse map is malformed")
            numbers = [int(f) for f in fields]
        return self._sparse_map(list(zip(numbers[::2], numbers[1::2])), real, stored, raw), real

    def _sparse_map(self, regions: list, real: int, stored: int, raw: bytes) -> list:
        if real > self.limits.max_file_size:
            raise UnsafeLayer(_shown(raw), f"file of {real} bytes is larger than max_file_size="
                                           f"{self.limits.max_file_size}")
        if sum(n for _, n in regions) > stored:
            raise UnsafeLayer(_shown(raw), "sparse map holds more data than the member stores")
        end = 0
        for o, n in regions:
            if o < end or n < 0 or o + n > real:
                raise UnsafeLayer(_shown(raw), "sparse map does not fit inside the declared size")
            end = o + n
        return regions

    def _checked(self, typ: bytes, off: int, raw_b: bytes, rawlink_b: bytes, mode: int, uid: int, gid: int,
                 size: int, mtime: int, devmajor: int, devminor: int, sparse, pax: dict, data: int) -> Member:
        """Return the Member after the shared rules (names, limits, kinds)."""
        lim = self.limits
        raw = _text(raw_b)
        if b"\0" in raw_b or b"\0" in rawlink_b:
            raise UnsafeLayer(raw.replace("\x00", "\\0"), "NUL byte in a name or link target")
        self.entries += 1
        if self.entries > lim.max_entries:
            raise UnsafeLayer(raw, f"layer has more than max_entries={lim.max_entries} entries")
        kind = _KINDS.get(typ)
        if kind is None:
            raise UnsafeLayer(raw, f"unsupported tar entry type {typ!r}")
        if len(raw_b) > lim.max_path_length:
            raise UnsafeLayer(raw[:64] + "...", f"path is longer than max_path_length={lim.max_path_length}")
        path = clean_path(raw)
        if len(raw_b) > lim.max_name_length:
            for comp in raw_b.split(b"/"):
                if len(comp) > lim.max_name_length:
                    raise UnsafeLayer(raw, f"a name is longer than max_name_length={lim.max_name_length}")
        linkname = rawlink = ""
        if kind in ("symlink", "hardlink"):
            if not rawlink_b:
                raise UnsafeLayer(raw, f"{kind} with an empty target")
            if len(rawlink_b) > lim.max_path_length:
                raise UnsafeLayer(raw, f"link target is longer than max_path_length={lim.max_path_length}")
            rawlink = _text(rawlink_b)
            linkname = clean_path(rawlink) if kind == "hardlink" else rawlink
        if kind == "file":
            if size > lim.max_file_size:
                raise UnsafeLayer(raw, f"file of {size} bytes is larger than max_file_size={lim.max_file_size}")
            self.expanded += size
            if self.expanded > lim.max_layer_bytes:
                raise UnsafeLayer(raw, f"layer expands to more than max_layer_bytes={lim.max_layer_bytes}")
        else:
            size = 0
        xattrs = None
        if pax:
            xattrs = {_text(k[13:]): v for k, v in pax.items() if k.startswith(b"SCHILY.xattr.")} or None
        if path:
            wh = classify_whiteout(path)
            if wh is not None:
                kind, path = wh
        return Member(path, kind, linkname, raw, rawlink, mode & 0o7777, uid, gid, size, mtime, devmajor, devminor,
                      sparse, xattrs, data)

    # ---- iteration and data -------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Member]:
        while True:
            if self._left:
                if not self._skip(self._left):
                    raise TruncatedLayer(f"read {self.what}: the tar ends inside a member (truncated)")
                self._left = 0
            m = self._next_member()
            if m is None:
                self._ended = True
                return
            yield m

    def copy_data(self, m: Member, write: Callable) -> int:
        """Pass a non-sparse member's data to `write(chunk)` in order (chunks are memoryviews, valid only during
        the call); return the byte count."""
        n = m.data_size
        if n:
            for chunk in self._chunks(n):
                write(chunk)
            self._left -= n
        return n

    def sparse_regions(self, m: Member) -> Iterator[tuple[int, memoryview]]:
        """Yield (offset, chunk) for the data regions of a sparse member; holes are never produced."""
        # the stored data is the regions back to back, right after the header(s) (GNU tar's sparse formats)
        for off, n in m.sparse:
            pos = off
            for chunk in self._chunks(n):
                yield pos, chunk
                pos += len(chunk)
            self._left -= n

    def finish(self, expected_diff_id: "Digest | str | None" = None) -> Digest:
        """Drain what follows the end-of-archive marker, set diff_id/size and check them; return the diff ID."""
        if not self._ended:
            for _ in self:
                pass
        while not self._eof:
            self._read()
        self._buf, self._pos = b"", 0
        self.diff_id = Digest("sha256", self._hash.hexdigest())
        self.size = self._count
        if expected_diff_id is not None and self.diff_id != as_digest(expected_diff_id):
            raise DigestMismatch(f"{self.what}: uncompressed content is {self.diff_id}, expected diff ID "
                                 f"{expected_diff_id}", expected=str(expected_diff_id), actual=str(self.diff_id))
        return self.diff_id


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
