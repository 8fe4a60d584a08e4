"""One clock for labkit: `LABKIT_NOW` pins "now" (relative times); `SOURCE_DATE_EPOCH` stamps what is built."""

from __future__ import annotations

import os
from datetime import datetime, timezone


def parse_time(text: str) -> datetime:
    """Return an aware UTC datetime from RFC 3339 text (as in image configs) or epoch seconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError) as e:
            raise ValueError(f"time out of range: {text!r}") from e
    t = text.replace("Z", "+00:00").replace("z", "+00:00")
    # Go writes up to 9 fractional digits; Python's fromisoformat takes at most 6.
    if "." in t:
        head, _, rest = t.partition(".")
        frac = rest[:len(rest) - len(rest.lstrip("0123456789"))]  # the digits before the zone only
        tz = rest[len(frac):]
        t = f"{head}.{frac[:6].ljust(6, '0')}{tz}"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def now() -> datetime:
    """Return the current time in UTC, or the time pinned by $LABKIT_NOW."""
    pinned = os.environ.get("LABKIT_NOW")
    if pinned:
        return parse_time(pinned)
    return datetime.now(timezone.utc)


def pinned() -> bool:
    """Return True when $LABKIT_NOW pins the clock (time does not pass: what waits for it cannot end)."""
    return bool(os.environ.get("LABKIT_NOW"))


def now_seconds() -> int:
    """Return now() as whole seconds since the epoch (the mtimes a container's file operations record)."""
    return int(now().timestamp())


def elapsed() -> float:
    """Return seconds for measuring durations (a build step's "DONE 0.3s"): time.monotonic(), or always 0.0
    while $LABKIT_NOW pins the clock, so stored outputs of pinned runs print the same durations."""
    if os.environ.get("LABKIT_NOW"):
        return 0.0
    import time

    return time.monotonic()


def build_time() -> datetime:
    """Return the time to stamp on what labkit builds: $SOURCE_DATE_EPOCH when set, else now()."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        return datetime.fromtimestamp(int(sde), tz=timezone.utc)
    return now()


def rfc3339(dt: datetime) -> str:
    """Return `dt` in the RFC 3339 form image configs use (UTC, 'Z', no fraction when whole)."""
    dt = dt.astimezone(timezone.utc)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
