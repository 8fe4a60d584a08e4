"""Byte ranges: a blob GET's `Range`, an upload chunk's `Content-Range`, and an upload's `Range` answer."""

from __future__ import annotations

import re


def parse_range(header: str, total: int) -> tuple[int, int] | None:
    """Return the inclusive (start, end) of a single `bytes=` range within `total`, or None if unsatisfiable."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):  # suffix range: the last N bytes
        n = int(m.group(2))
        if n == 0 or total == 0:
            return None
        return max(0, total - n), total - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else total - 1
    if start >= total or end < start:
        return None
    return start, min(end, total - 1)


def parse_content_range(header: str) -> tuple[int, int] | None:
    """Return the inclusive (start, end) of an upload chunk's Content-Range (`0-99`, `bytes 0-99/*`)."""
    m = re.fullmatch(r"\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:/(?:\d+|\*))?\s*", header)
    if not m:
        return None
    start, end = int(m.group(1)), int(m.group(2))
    return (start, end) if end >= start else None


def upload_range(size: int) -> str:
    """Return the `Range` header of an upload holding `size` bytes."""
    # distribution's form: inclusive end, "0-0" for an empty upload.
    return f"0-{max(size - 1, 0)}"
