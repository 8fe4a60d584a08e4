"""Layer blobs as uncompressed streams: gzip and zstd sniffed by their magic bytes (RFC 1952, RFC 8878), like
docker's DecompressStream, which also accepts the "gzip" blobs some registries serve uncompressed. Works on
pipes (nothing is read twice) and turns a decompressor's own errors into TruncatedLayer.

The codecs: natively the fast C ones, isal for gzip (about 2x zlib's decompression speed) and zstandard for
zstd. Where they have no wheel (the browser: Pyodide), the standard library does the same work: zlib for
gzip, and `compression.zstd` (Python 3.14, built into Pyodide) for zstd; `zstd_writer` writes zstd either way."""

from __future__ import annotations

import io
from typing import BinaryIO

from .errors import LabkitError, TruncatedLayer

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_SIZE = 1 << 20          # the zstd reader's reads from the blob


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
        except Exception as e:  # EOFError, zlib.error, gzip.BadGzipFile, ZstdError
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
    # the bytes decide, not the media type (see the module's docstring); media_type is kept for the callers' API
    head = fileobj.read(4)
    src = _Prefixed(head, fileobj)
    kind = sniff_compression(head)
    if kind == "gzip":
        try:
            from isal import igzip as gz   # about 2x zlib's decompression speed
        except ImportError:                # no isal wheel in the browser
            import gzip as gz
        return _Guarded(gz.GzipFile(fileobj=src, mode="rb"), "gzip")
    if kind == "zstd":
        return _Guarded(_zstd_reader(src), "zstd")
    return src


def _zstd_reader(src: BinaryIO) -> BinaryIO:
    """Return the decompressed bytes of every zstd frame in `src` (a layer may hold several)."""
    try:
        import zstandard
    except ImportError:  # the browser: the standard library's (Python 3.14+), which reads frame after frame
        from compression import zstd

        return zstd.ZstdFile(src, mode="rb")
    return zstandard.ZstdDecompressor().stream_reader(src, read_size=READ_SIZE, read_across_frames=True)


def zstd_writer(out: BinaryIO, level: int) -> BinaryIO:
    """Return a stream compressing what is written into `out` as one zstd frame; close() ends the frame and
    leaves `out` open."""
    try:
        import zstandard
    except ImportError:  # the browser
        from compression import zstd

        return zstd.ZstdFile(out, mode="wb", level=level)  # given a file object, ZstdFile leaves it open
    return zstandard.ZstdCompressor(level=level).stream_writer(out, closefd=False)
