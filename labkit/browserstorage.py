"""A folder kept in the browser's storage (IndexedDB), so it survives a reload: the zero-server edition.

In the browser, Python's files live in memory (Emscripten's MEMFS): a reload, or a kernel restart, loses
them. A `Keeper` mirrors one folder tree into an IndexedDB object store of the site's origin: `restore()`
writes what the store holds into the folder (once, when a kernel starts using it), `save()` writes back
what changed since (files, folders and symbolic links, with their modes and times; notebook.setup() saves
after every cell). Top-level names in `skip` are left out (what is rebuilt anyway, or only runtime state).

Notebooks open side by side run a kernel each, on the same store. So a save puts only what this kernel
changed and deletes only what this kernel knew and removed: one kernel never undoes another's work (when
two change the same file, the later save wins). A change is seen in a file's inode, size, mtime or mode
(labkit replaces files by renaming a new one into place, which always makes a new inode).

The syncing is Python over a small backend with two calls, `load()` -> {key: Entry} and
`apply(puts, deletes)`: IndexedDB in the browser (the few lines of JavaScript below, run through
Pyodide, waited for with `run_sync`, which needs JSPI: Chromium has it); tests use a dict.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol



@dataclass(frozen=True)
class Entry:
    """One kept file system entry: `kind` file, dir or symlink; `data` the bytes (file), target (symlink)."""

    kind: str
    mode: int
    mtime: float
    data: "bytes | str | None" = None

    @property
    def size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else 0


class Backend(Protocol):
    def load(self) -> "dict[str, Entry]": ...

    def apply(self, puts: "dict[str, Entry]", deletes: "list[str]") -> None: ...


@dataclass(frozen=True)
class Synced:
    """What a restore or a save moved: entries, bytes, seconds."""

    entries: int
    bytes: int
    seconds: float


class Keeper:
    """Keeps the folder `root` (minus the top-level names in `skip`) in `backend`."""

    def __init__(self, root: "str | os.PathLike", backend: Backend, skip: "tuple[str, ...]" = ()):
        self.root = Path(root)
        self.backend = backend
        self.skip = frozenset(skip)
        self._known: "dict[str, tuple]" = {}  # key -> the signature it had at the last restore or save

    def restore(self) -> Synced:
        """Write every stored entry into the folder (over what is there); return what was restored."""
        t0 = time.monotonic()
        entries = {k: e for k, e in self.backend.load().items() if self._kept(k)}
        folders = []
        for key in sorted(entries):  # a folder's key sorts before its children's
            entry, path = entries[key], self.root / key
            if entry.kind == "dir":
                if path.is_symlink() or (path.exists() and not path.is_dir()):
                    path.unlink()
                path.mkdir(parents=True, exist_ok=True)
                folders.append((path, entry))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.is_file():
                path.unlink()
            if entry.kind == "symlink":
                os.symlink(entry.data, path)
            else:
                path.write_bytes(entry.data or b"")
                os.chmod(path, entry.mode)
                os.utime(path, (entry.mtime, entry.mtime))
        for path, entry in reversed(folders):  # deepest first: writing a child changes its folder's mtime
            os.chmod(path, entry.mode)
            os.utime(path, (entry.mtime, entry.mtime))
        now = self._walk()
        self._known = {k: now[k] for k in entries if k in now}
        return Synced(len(entries), sum(e.size for e in entries.values()), time.monotonic() - t0)

    def save(self) -> Synced:
        """Store what changed in the folder since the last restore or save; return what was stored."""
        t0 = time.monotonic()
        now = self._walk()
        puts = {k: self._entry(k) for k, sig in now.items() if self._known.get(k) != sig}
        puts = {k: e for k, e in puts.items() if e is not None}  # gone between the walk and the read
        deletes = sorted(k for k in self._known if k not in now)
        if puts or deletes:
            self.backend.apply(puts, deletes)
        self._known = now
        return Synced(len(puts) + len(deletes), sum(e.size for e in puts.values()), time.monotonic() - t0)

    def _kept(self, key: str) -> bool:
        return key.split("/", 1)[0] not in self.skip

    def _walk(self) -> "dict[str, tuple]":
        """Return {key: signature} of every entry under root (symbolic links not followed)."""
        found: "dict[str, tuple]" = {}
        todo = [(self.root, "")]
        while todo:
            folder, prefix = todo.pop()
            try:
                children = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for child in children:
                key = prefix + child.name
                if not prefix and child.name in self.skip:
                    continue
                st = child.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    found[key] = ("dir", stat.S_IMODE(st.st_mode))
                    todo.append((Path(child.path), key + "/"))
                elif stat.S_ISLNK(st.st_mode):
                    found[key] = ("symlink", st.st_ino, os.readlink(child.path))
                elif stat.S_ISREG(st.st_mode):
                    found[key] = ("file", st.st_ino, st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
        return found

    def _entry(self, key: str) -> "Entry | None":
        path = self.root / key
        try:
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                return Entry("dir", stat.S_IMODE(st.st_mode), st.st_mtime)
            if stat.S_ISLNK(st.st_mode):
                return Entry("symlink", 0o777, st.st_mtime, os.readlink(path))
            return Entry("file", stat.S_IMODE(st.st_mode), st.st_mtime, path.read_bytes())
        except FileNotFoundError:
            return None


# --- IndexedDB (the browser) ------------------------------------------------------------------------------

_INDEXEDDB_JS = r"""
(name) => {
  const STORE = "files";
  const request = r => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  let opened = null;
  const db = () => opened || (opened = new Promise((ok, fail) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => ok(r.result);
    r.onerror = () => { opened = null; fail(r.error); };
  }));
  return {
    async load() {
      const store = (await db()).transaction(STORE, "readonly").objectStore(STORE);
      const keys = request(store.getAllKeys()), values = request(store.getAll());  // one transaction
      return [await keys, await values];
    },
    async apply(puts, deletes) {
      const tx = (await db()).transaction(STORE, "readwrite");
      const done = new Promise((ok, fail) => { tx.oncomplete = () => ok(); tx.onerror = tx.onabort = () => fail(tx.error); });
      const store = tx.objectStore(STORE);
      for (const [key, value] of puts) store.put(value, key);
      for (const key of deletes) store.delete(key);
      return done;
    },
  };
}
"""


class IndexedDB:
    """A Backend on an IndexedDB database of the page's origin (browser only; needs run_sync)."""

    def __init__(self, name: str):
        from pyodide.code import run_js

        self.name = name
        self._db = run_js(_INDEXEDDB_JS)(name)

    def load(self) -> "dict[str, Entry]":
        from pyodide.ffi import run_sync

        keys, values = run_sync(self._db.load())
        out = {}
        for key, v in zip(keys, values):
            data = v.data.to_bytes() if v.kind == "file" else (v.data if v.kind == "symlink" else None)
            out[str(key)] = Entry(v.kind, int(v.mode), float(v.mtime), data)
        return out

    def apply(self, puts: "dict[str, Entry]", deletes: "list[str]") -> None:
        import js
        from pyodide.ffi import run_sync, to_js

        def value(e: Entry):
            return to_js({"kind": e.kind, "mode": e.mode, "mtime": e.mtime, "data": e.data},
                         dict_converter=js.Object.fromEntries)

        run_sync(self._db.apply(to_js([[k, value(e)] for k, e in puts.items()]), to_js(deletes)))


class Unavailable(Exception):
    """This browser cannot keep files for labkit (the message says why)."""


def site_backend() -> Backend:
    """Return the IndexedDB backend of this site; Unavailable when the browser cannot keep files for us."""
    try:
        import js
        from pyodide import ffi
    except ImportError:
        raise Unavailable("this Python is not Pyodide in a browser") from None
    if not getattr(ffi, "can_run_sync", lambda: False)():
        raise Unavailable("this browser cannot wait for its storage (no JavaScript Promise Integration)")
    if getattr(js, "indexedDB", None) is None:
        raise Unavailable("this browser offers no IndexedDB storage here")
    return IndexedDB(site_name())


def site_name() -> str:
    """Return the database name for this site: labkit's, and the site's address (two sites on one origin
    keep apart; the kernel runs in a worker under the site's extensions/ folder)."""
    import js

    href = str(js.location.href)
    site = href.split("/extensions/")[0] if "/extensions/" in href else href.rsplit("/", 1)[0]
    return f"labkit {site}/"
