"""Reproducible layer writer: the same entries give the same tar (and, on the same zlib, the same gzip) bytes.

Rules: entries sorted by path, whiteouts and opaque markers before their siblings,
fixed owner (uid/gid as given, default 0, empty uname/gname), mtimes clamped, USTAR headers with PAX
extended headers only where USTAR cannot hold a value, never a PAX global header (umoci rejects those),
no atime/ctime.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import queue
import stat
import struct
import tarfile
import threading
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Iterable

from ..digest import Digest
from ..oci.mediatypes import OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD
from ..oci.whiteouts import OPAQUE_MARKER, WHITEOUT_PREFIX

MEDIA_TYPES = {None: OCI_LAYER_TAR, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}

KINDS = ("file", "dir", "symlink", "hardlink", "whiteout", "opaque")
_DEFAULT_MODE = {"file": 0o644, "dir": 0o755, "symlink": 0o777, "hardlink": 0o644,
                 "whiteout": 0o644, "opaque": 0o644}
_TYPE = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "whiteout": tarfile.REGTYPE, "opaque": tarfile.REGTYPE}

GZIP_LEVEL = 6          # fixed: part of what makes the bytes reproducible
ZSTD_LEVEL = 3
_COPY_BUF = 1 << 20
_GATHER = 1 << 20      # the tar reaches sha256 and the compressor in blocks of about this size
_QUEUED_BLOCKS = 4     # blocks waiting for a background compressor (bounds memory: about 4 MiB)
_BLOCK = tarfile.BLOCKSIZE


def normalize_path(path: "str | os.PathLike") -> str:
    """Return `path` as a clean relative layer path ("a/b"), or "" for the root; ValueError on `..` escapes."""
    text = os.fspath(path)
    if "\x00" in text:
        raise ValueError(f"layer path {text!r} contains a NUL byte")
    clean = posixpath.normpath("/" + text)
    # normpath("/..") is "/", which would silently hide an escape: check the raw components first
    depth = 0
    for part in text.split("/"):
        if part in ("", "."):
            continue
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            raise ValueError(f"layer path {text!r} escapes the layer root")
    return clean.lstrip("/")


@dataclass(frozen=True)
class Entry:
    """One thing to put in a layer. For "whiteout" `path` is the path being deleted ("etc/passwd" is written
    as "etc/.wh.passwd"); for "opaque" it is the directory made opaque ("" for the root). `mode` holds the
    permission bits (0o7777); None means the usual default for the kind (0o644 files, 0o755 dirs).
    `source` streams a large file's bytes from disk instead of `data`."""

    path: str
    kind: str = "file"
    data: bytes = b""
    mode: "int | None" = None
    linkname: str = ""
    mtime: int = 0
    uid: int = 0
    gid: int = 0
    source: "Path | None" = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"layer entry {self.path!r}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.kind in ("symlink", "hardlink") and not self.linkname:
            raise ValueError(f"layer entry {self.path!r}: a {self.kind} needs a linkname")
        if self.data and self.source is not None:
            raise ValueError(f"layer entry {self.path!r}: give data or source, not both")

    @property
    def perm(self) -> int:
        """Return the permission bits written for this entry."""
        return (_DEFAULT_MODE[self.kind] if self.mode is None else self.mode) & 0o7777

    @property
    def tar_name(self) -> str:
        """Return the member name this entry gets in the tar (whiteouts get their `.wh.` form)."""
        path = normalize_path(self.path)
        if self.kind == "opaque":
            if posixpath.basename(path) == OPAQUE_MARKER:
                return path
            return posixpath.join(path, OPAQUE_MARKER) if path else OPAQUE_MARKER
        if not path:
            raise ValueError(f"layer entry {self.path!r}: the layer root is not an entry (only an opaque marker)")
        if self.kind != "whiteout" and posixpath.basename(path).startswith(WHITEOUT_PREFIX):
            raise ValueError(f"layer entry {self.path!r}: names starting with {WHITEOUT_PREFIX!r} are whiteouts "
                             "(use kind='whiteout' or 'opaque')")
        if self.kind == "whiteout":
            head, base = posixpath.split(path)
            if not base.startswith(WHITEOUT_PREFIX):
                base = WHITEOUT_PREFIX + base
            hidden = base[len(WHITEOUT_PREFIX):]
            if hidden in ("", ".", "..") or hidden.startswith(WHITEOUT_PREFIX):
                # what the reader refuses (layers/reader.classify_whiteout): never write a layer labkit won't read
                raise ValueError(f"layer entry {self.path!r}: not a valid whiteout name")
            return posixpath.join(head, base) if head else base
        return path


def _leaf_rank(name: str) -> int:
    # opaque marker, then whiteouts, then everything else: a reader applying entries in order sees
    # what a layer deletes before what it adds, so a reader never creates a path the same layer deletes.
    if name == OPAQUE_MARKER:
        return 0
    if name.startswith(WHITEOUT_PREFIX):
        return 1
    return 2


def sort_key(tar_name: str) -> tuple:
    """Return the sort key of a member name: by component, parents first, whiteouts before siblings."""
    if not tar_name:
        return ()
    return tuple((_leaf_rank(c), c.encode("utf-8", "surrogateescape")) for c in tar_name.split("/"))


def sorted_entries(entries: Iterable[Entry]) -> list[tuple[str, Entry]]:
    """Return (tar name, entry) pairs in the writer's order; a later duplicate name replaces an earlier one.
    Of a file and its hard links, the first in tar order carries the data (a reader can only link back)."""
    by_name: dict[str, Entry] = {}
    for e in entries:
        by_name[e.tar_name] = e
    groups: dict[str, list[str]] = {}
    for name, e in by_name.items():
        if e.kind == "hardlink":
            target = normalize_path(e.linkname)
            if by_name.get(target) is not None and by_name[target].kind == "file":
                groups.setdefault(target, []).append(name)
    for target, links in groups.items():
        first = min([target] + links, key=sort_key)
        if first == target:
            continue
        data = by_name[target]
        by_name[first] = replace(data, path=first)
        for name in [target] + links:
            if name != first:
                old = by_name[name]
                by_name[name] = Entry(name, "hardlink", linkname=first, mode=data.mode, mtime=old.mtime,
                                      uid=data.uid, gid=data.gid)
    return sorted(by_name.items(), key=lambda kv: sort_key(kv[0]))


class _HashingWriter:
    """Hashes and counts what passes (the diff ID is sha256 of the tar) and hands it on in blocks of about
    1 MiB: a tar is mostly small pieces (a 512-byte header, a short file, its padding), and each call into
    sha256 or the compressor costs more than the bytes of such a piece. flush() hands on what is left."""

    def __init__(self, out: BinaryIO, block: int = _GATHER):
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0
        self._block = block
        self._parts: list[bytes] = []
        self._gathered = 0

    def write(self, b) -> int:
        n = len(b)
        if n >= self._block:
            self.flush()
            self._send(b)
            return n
        self._parts.append(b)
        self._gathered += n
        if self._gathered >= self._block:
            self.flush()
        return n

    def flush(self) -> None:
        if self._parts:
            data = b"".join(self._parts)
            self._parts.clear()
            self._gathered = 0
            self._send(data)

    def _send(self, b) -> None:
        self.hash.update(b)
        self.size += len(b)
        self.out.write(b)


def _tarinfo(name: str, e: Entry, clamp_mtime: "int | None") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = _TYPE[e.kind]
    ti.mode = e.perm
    ti.uid, ti.gid = int(e.uid), int(e.gid)
    ti.uname = ti.gname = ""
    mtime = int(e.mtime)
    if clamp_mtime is not None:
        mtime = min(mtime, int(clamp_mtime))
    ti.mtime = max(mtime, 0)
    if e.kind == "symlink":
        ti.linkname = e.linkname
    elif e.kind == "hardlink":
        ti.linkname = normalize_path(e.linkname)
    if e.kind == "file":
        ti.size = os.stat(e.source).st_size if e.source is not None else len(e.data)
    return ti


def write_tar(entries: Iterable[Entry], fileobj: BinaryIO, clamp_mtime: "int | None" = None) -> tuple[Digest, int]:
    """Write a reproducible tar of `entries` to `fileobj`; return (diff_id, size in bytes)."""
    out = _HashingWriter(fileobj)
    written: set[str] = set()
    for name, e in sorted_entries(entries):
        ti = _tarinfo(name, e, clamp_mtime)
        if e.kind == "hardlink" and ti.linkname not in written:
            # a reader resolves a hard link against members already read (tar semantics)
            raise ValueError(f"write layer: hard link {name!r} -> {ti.linkname!r}: the target is not a file "
                             "of this layer")
        written.add(name)
        out.write(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if ti.size:
            if e.source is not None:
                _copy_exact(e.source, ti.size, out)
            else:
                out.write(e.data)
            if ti.size % _BLOCK:
                out.write(b"\0" * (_BLOCK - ti.size % _BLOCK))
    out.write(b"\0" * (2 * _BLOCK))   # end-of-archive: two zero blocks, no record padding (like Go's archive/tar)
    out.flush()
    return Digest("sha256", out.hash.hexdigest()), out.size


def _copy_exact(source: Path, size: int, out: _HashingWriter) -> None:
    with open(source, "rb") as f:
        left = size
        while left:
            chunk = f.read(min(_COPY_BUF, left))
            if not chunk:
                raise OSError(f"write layer: {source} shrank while it was being read (expected {size} bytes)")
            out.write(chunk)
            left -= len(chunk)


class GzipWriter:
    """Streaming gzip with a fixed header (mtime 0, no file name, OS 255) and a fixed level (RFC 1952).

    With `background`, the compressing happens in a thread of its own ("labkit-gzip") while the caller goes
    on reading and hashing the next files: zlib and crc32 release the GIL, so on two cores a layer is written
    in about the time of its compression alone. The bytes are the same either way (the same compressor sees
    the same bytes in the same order). close() writes the trailer and raises what the thread met (a full
    disk); abort() stops the thread without a trailer, for a caller that gives up on the layer.
    """

    def __init__(self, out: BinaryIO, level: int = GZIP_LEVEL, background: bool = False):
        self.out = out
        self._z = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._len = 0
        out.write(b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\xff")
        self._queue: "queue.Queue | None" = None
        self._error: "BaseException | None" = None
        self._giving_up = False
        if background:
            self._queue = queue.Queue(_QUEUED_BLOCKS)
            self._thread = threading.Thread(target=self._compress_queued, name="labkit-gzip", daemon=True)
            self._thread.start()

    def write(self, b) -> int:
        if self._queue is None:
            self._compress(b)
        elif self._error is not None:
            raise self._error
        else:
            self._queue.put(b if isinstance(b, bytes) else bytes(b))   # the caller may reuse its buffer
        return len(b)

    def _compress(self, b) -> None:
        self._crc = zlib.crc32(b, self._crc)
        self._len += len(b)
        c = self._z.compress(b)
        if c:
            self.out.write(c)

    def _compress_queued(self) -> None:
        # after an error (or abort) the thread keeps taking blocks, so a writer blocked on a full queue
        # never waits forever; they are dropped
        while True:
            b = self._queue.get()
            if b is None:
                return
            if self._error is None and not self._giving_up:
                try:
                    self._compress(b)
                except BaseException as e:  # noqa: BLE001 - handed to the caller by write() / close()
                    self._error = e

    def _stop_thread(self) -> None:
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = None

    def close(self) -> None:
        """Flush the deflate stream and write the CRC32/ISIZE trailer."""
        self._stop_thread()
        if self._error is not None:
            raise self._error
        self.out.write(self._z.flush())
        self.out.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._len & 0xFFFFFFFF))

    def abort(self) -> None:
        """Stop without a trailer (the layer is given up); the bytes written so far stay as they are."""
        self._giving_up = True
        self._stop_thread()


class _ZstdWriter:
    def __init__(self, out: BinaryIO, level: int = ZSTD_LEVEL):
        from ..compression import zstd_writer
        self._w = zstd_writer(out, level)

    def write(self, b) -> int:
        return self._w.write(b)

    def close(self) -> None:
        self._w.close()

    def abort(self) -> None:
        """Nothing runs beside the caller: the stream is left as it is."""


@dataclass(frozen=True)
class LayerBlob:
    """A built layer: compressed bytes, their digest and size, the diff ID (sha256 of the tar) and media type."""

    data: bytes
    digest: Digest
    diff_id: Digest
    size: int
    media_type: str
    uncompressed_size: int = 0

    def descriptor(self):
        """Return an oci.Descriptor for this blob (as a manifest's layers list holds it)."""
        from ..oci import Descriptor
        return Descriptor(media_type=self.media_type, digest=self.digest, size=self.size)


def write_layer(entries: Iterable[Entry], fileobj: BinaryIO, compression: "str | None" = "gzip",
                clamp_mtime: "int | None" = None, background: "bool | None" = None) -> tuple[Digest, int]:
    """Stream a reproducible (compressed) layer to `fileobj`; return (diff_id, uncompressed size).
    `background`: gzip in a thread beside the tar writing (default: where threads can run, not in a browser)."""
    if compression not in MEDIA_TYPES:
        raise ValueError(f"write layer: unknown compression {compression!r} (gzip, zstd or None)")
    if compression is None:
        return write_tar(entries, fileobj, clamp_mtime)
    if compression == "gzip":
        if background is None:
            from ..platform import can_use_threads
            background = can_use_threads()
        w = GzipWriter(fileobj, background=background)
    else:
        w = _ZstdWriter(fileobj)
    try:
        diff_id, size = write_tar(entries, w, clamp_mtime)
    except BaseException:
        w.abort()
        raise
    w.close()
    return diff_id, size


def build_layer(entries: Iterable[Entry], compression: "str | None" = "gzip",
                clamp_mtime: "int | None" = None) -> LayerBlob:
    """Return a LayerBlob holding the reproducible layer of `entries` in memory."""
    buf = io.BytesIO()
    # in the caller's thread: a layer built in memory is small, and a browser (Pyodide) has no threads
    diff_id, usize = write_layer(entries, buf, compression, clamp_mtime, background=False)
    data = buf.getvalue()
    return LayerBlob(data=data, digest=Digest.of(data), diff_id=diff_id, size=len(data),
                     media_type=MEDIA_TYPES[compression], uncompressed_size=usize)


def entries_from_dir(root: Path, prefix: str = "") -> list[Entry]:
    """Return Entries for everything under `root` (files, dirs, symlinks; hard links kept as hard links)."""
    out: list[Entry] = []
    links: dict[tuple[int, int], list[tuple[str, Path, os.stat_result]]] = {}
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            p = Path(dirpath, name)
            rel = posixpath.join(prefix, p.relative_to(root).as_posix()) if prefix else p.relative_to(root).as_posix()
            st = os.lstat(p)
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                out.append(Entry(rel, "dir", mode=perm, mtime=int(st.st_mtime)))
            elif stat.S_ISLNK(st.st_mode):
                out.append(Entry(rel, "symlink", linkname=os.readlink(p), mtime=int(st.st_mtime)))
            elif stat.S_ISREG(st.st_mode):
                links.setdefault((st.st_dev, st.st_ino), []).append((rel, p, st))
    for group in links.values():
        # the first path in tar order carries the data; the others link to it
        group.sort(key=lambda g: sort_key(g[0]))
        first, p, st = group[0]
        out.append(Entry(first, "file", source=p, mode=stat.S_IMODE(st.st_mode), mtime=int(st.st_mtime)))
        for rel, _p, st2 in group[1:]:
            out.append(Entry(rel, "hardlink", linkname=first, mode=stat.S_IMODE(st2.st_mode),
                             mtime=int(st2.st_mtime)))
    return out
