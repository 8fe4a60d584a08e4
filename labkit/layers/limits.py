"""Published limits for reading and applying layers: a hostile layer fails fast instead of filling the disk."""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Upper bounds checked while a layer streams in; exceeding one raises UnsafeLayer naming the limit."""

    max_layer_bytes: int = 16 * GiB    # uncompressed tar bytes, trailing padding included (gzip/zstd bombs)
    max_file_size: int = 8 * GiB       # declared size of one file (a sparse file's expanded size counts)
    max_entries: int = 1_000_000       # tar members (PAX/GNU extension headers not counted)
    max_path_length: int = 4096        # bytes in a member's path or link target (Linux PATH_MAX)
    max_name_length: int = 255         # bytes in one path component (Linux NAME_MAX)
    max_header_bytes: int = 1 << 20    # one PAX or GNU long-name header, held in memory while parsed
