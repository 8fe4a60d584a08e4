"""Where labkit runs: a native Python, or Pyodide in a web browser (the lab's zero-server edition).

The one place that knows. In Pyodide (`sys.platform == "emscripten"`) Python runs in the browser's
WebAssembly sandbox, in one thread of one process, on an in-memory file system:
- no threads and no processes: transfers run one after another, nothing runs in the background;
- no sockets to listen on: the lab registry answers requests inside this process (registry.transport);
- no `flock` (and no other process to lock against), no hard links (files are copied), no `dir_fd`
  arguments and no `follow_symlinks=False` for utime/chmod (paths are used instead);
- no `dot` program (diagrams render with viz.js), no zstandard or isal wheels (the standard library's
  compression.zstd and zlib do their work);
- `platform.machine()` says wasm32, while the images the lab pulls are for linux/amd64;
- no umask: files would be created 0o666 and folders 0o777, and COPY keeps a build context's modes; the
  browser's set-up gives its file system the usual 022 (`apply_umask`).

Code that differs asks a function here (`platform.can_use_threads()`), never `sys.platform` itself, so a
test can run the browser's code paths in CPython by setting `labkit.platform.BROWSER` (see `simulate`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

BROWSER = sys.platform == "emscripten"
BROWSER_MACHINE = "x86_64"  # what labkit reports as the host's machine in the browser (images: linux/amd64)


def in_browser() -> bool:
    """Return True under Pyodide (or while a test simulates it)."""
    return BROWSER


def can_use_threads() -> bool:
    """Return True when labkit may start threads (parallel transfers, background probes, servers)."""
    return not BROWSER


def can_use_processes() -> bool:
    """Return True when labkit may start processes (worker processes, the background lab registry)."""
    return not BROWSER


def can_listen() -> bool:
    """Return True when a server can listen on a socket; otherwise the lab registry serves in-process."""
    return not BROWSER


def can_lock_files() -> bool:
    """Return True when flock works; in the browser there is one process and nothing to lock against."""
    if BROWSER:
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    return hasattr(fcntl, "flock")


def can_hard_link() -> bool:
    """Return True when os.link works; otherwise files are copied (same bytes, another inode)."""
    return not BROWSER and hasattr(os, "link")


def supports_dir_fd() -> bool:
    """Return True when os functions take `dir_fd` (openat and friends); otherwise use full paths."""
    return not BROWSER and os.symlink in os.supports_dir_fd and os.open in os.supports_dir_fd


def supports_nofollow_times() -> bool:
    """Return True when os.utime and os.chmod accept follow_symlinks=False (a symlink's own times/mode)."""
    return not BROWSER and os.utime in os.supports_follow_symlinks


def has_dot() -> bool:
    """Return True when Graphviz's `dot` program can be run (never in the browser)."""
    if BROWSER:
        return False
    import shutil

    return shutil.which("dot") is not None


def machine() -> str:
    """Return the host's machine name as `platform.machine()` does, x86_64 in the browser."""
    if BROWSER:
        return BROWSER_MACHINE
    import platform as _platform

    return _platform.machine()


UMASK = 0o022  # a Linux login's default (and a container's): what the browser's file system is given


def apply_umask() -> None:
    """In the browser, from now on create files and folders with their mode less UMASK, as a native umask
    does (Emscripten's file system has none: open() and mkdir() give exactly the mode asked for, 0o666 and
    0o777 from Python); elsewhere, nothing: a native file system applies the process's own umask (also while
    a test simulates the browser)."""
    if sys.platform != "emscripten":
        return
    import pyodide_js
    from pyodide.code import run_js

    run_js("""(FS, umask) => {
      if (FS.labkitUmask !== undefined) return;
      const open = FS.open, mkdir = FS.mkdir;
      FS.open = (path, flags, mode = 0o666) => open.call(FS, path, flags, mode & ~umask);
      FS.mkdir = (path, mode = 0o777) => mkdir.call(FS, path, mode & ~umask);
      FS.labkitUmask = umask;
    }""")(pyodide_js.FS, UMASK)


def describe() -> str:
    """Return one line naming where labkit runs (for version lines and the environment check)."""
    if BROWSER:
        return "in the browser (Pyodide): no threads, no processes, lab registry in this tab"
    return f"native ({sys.platform})"


@contextlib.contextmanager
def simulate(browser: bool = True) -> Iterator[None]:
    """Within the block, take the browser's code paths (or the native ones) whatever Python this is.

    For tests: the same pull, push, registry and set-up code then runs in CPython as it runs in Pyodide.
    """
    global BROWSER
    old, BROWSER = BROWSER, browser
    try:
        yield
    finally:
        BROWSER = old
