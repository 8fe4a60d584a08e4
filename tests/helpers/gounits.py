"""docker/go-units sizes written out from its source (size.go), as the oracle tests compare labkit's with:
HumanSizeWithPrecision(size, precision) is decimal units and "%.*g"; HumanSize is precision 4. Since go-units
v0.4 (every Docker since 17.06) no space before the unit; Docker 1.13 and before, the lab text's, a space."""

from __future__ import annotations

UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3, space: str = "") -> str:
    """Return go-units HumanSizeWithPrecision(size, precision) ("1.11MB"); `space` " " for "1.11 MB"."""
    i = 0
    while size >= 1000 and i < len(UNITS) - 1:
        size /= 1000
        i += 1
    return f"{size:.{precision}g}{space}{UNITS[i]}"
