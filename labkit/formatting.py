"""Docker's ways of writing sizes and times (go-units HumanSize and HumanDuration)."""

from __future__ import annotations

from datetime import datetime

_DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def human_size(size: float, precision: int = 3, sep: str = " ") -> str:
    """Return a size in decimal units with 3 significant digits, as `docker images` prints: '1.11 MB'.

    `sep` goes between the number and the unit: " " as go-units wrote it before v0.4 (the lab text's
    Docker: "1.11 MB"), "" as it has since (every Docker since 19.03, Engine 29 too: "1.11MB")."""
    size = float(size)
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    text = f"{size:.{precision}g}"
    if "e" in text and i < len(_DECIMAL_UNITS) - 1:
        # go-units prints "1e+03 kB" when 999.95 rounds up; a student reads "1 MB" more easily
        size /= 1000.0
        i += 1
        text = f"{size:.{precision}g}"
    return f"{text}{sep}{_DECIMAL_UNITS[i]}"


def human_duration(seconds: float) -> str:
    """Return a duration as docker words it ('About a minute', '2 months'); go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def time_ago(then: datetime, now: datetime) -> str:
    """Return docker's CREATED column: '2 months ago'."""
    return human_duration((now - then).total_seconds()) + " ago"


def ellipsis(text: str, width: int) -> str:
    """Return `text` cut to `width` characters with "…" at the end (docker's stringutils.Ellipsis)."""
    return text if len(text) <= width else text[:width - 1] + "…"
