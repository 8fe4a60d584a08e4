"""How many blobs move at once: Docker's `max-concurrent-downloads` / `max-concurrent-uploads`, and the pool
that runs them.

dockerd reads both from daemon.json (defaults 3 and 5, daemon/config: DefaultMaxConcurrentDownloads,
DefaultMaxConcurrentUploads) and rejects a negative value ("invalid max concurrent downloads: -1"). labkit
reads the same keys from its own daemon.json. In the browser there are no threads (labkit.platform), so
transfers run one after another there, whatever the settings say.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Callable

from .errors import LabkitError

DOWNLOADS_KEY = "max-concurrent-downloads"
UPLOADS_KEY = "max-concurrent-uploads"
DEFAULTS = {DOWNLOADS_KEY: 3, UPLOADS_KEY: 5}
_WHAT = {DOWNLOADS_KEY: "downloads", UPLOADS_KEY: "uploads"}


def configured(settings: "Any", key: str) -> int:
    """Return the limit daemon.json sets for `key` (DOWNLOADS_KEY or UPLOADS_KEY; 0 or missing: docker's
    default): what docker would run at once, and so which transfers its output shows "Waiting"."""
    value = _setting(settings, key)
    if value is None or value == 0:
        value = DEFAULTS[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LabkitError(f"daemon.json: invalid max concurrent {_WHAT[key]}: {value!r}")
    return value


def concurrency(settings: "Any", key: str) -> int:
    """Return how many transfers labkit runs at once for `key`: the configured limit, or 1 where labkit cannot
    start threads (the browser; its output still follows the configured limit, as docker's would)."""
    from . import platform

    value = configured(settings, key)
    return value if platform.can_use_threads() else 1


def _setting(settings: "Any", key: str):
    """Return `key` from daemon.json settings: a dict, or an object with .get (the parsed settings)."""
    if settings is None:
        return None
    getter = getattr(settings, "get", None)
    return getter(key) if callable(getter) else None


class SerialExecutor:
    """The executor interface, one task at a time in the caller's thread (no threads: Pyodide, or a limit of 1).

    Each task runs when it is submitted, in submission order; its Future is already done."""

    def submit(self, fn: Callable, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to whoever calls result(), like a pool does
            fut.set_exception(e)
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Nothing runs in the background."""

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def executor(workers: int, name: str):
    """Return a context-managed executor running up to `workers` tasks at once (threads only when > 1, and
    never where labkit cannot start threads: the browser)."""
    from . import platform

    if workers <= 1 or not platform.can_use_threads():
        return SerialExecutor()
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)


__all__ = ["configured", "concurrency", "executor", "SerialExecutor", "DOWNLOADS_KEY", "UPLOADS_KEY", "DEFAULTS"]
