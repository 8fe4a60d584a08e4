"""The build context: the files COPY and ADD take, as BuildKit sees them, and their checksums.

BuildKit receives the context through fsutil: only the paths COPY/ADD name, minus what .dockerignore
excludes; it decides a COPY's cache hit from a checksum of the selected files (cache/contenthash): names,
types, permission bits, symlink targets and contents, never modification times. Like BuildKit's content-hash
cache, each file's content digest is remembered with the file's metadata (size, mtime, inode, mode), in the
home, across runs: an unchanged file is not read again, so a rebuild of an unchanged context only stats it.

    ctx = BuildContext(path, ignore_patterns, MetadataCache(home, path))
    matches = ctx.resolve("src/*.py")         # [Match("src/a.py", ...)]; BuildError when a plain path is missing
    ctx.checksum(matches)                      # "sha256:..."
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat as stat_mod
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabkitError
from .dockerignore import PatternMatcher

_WILDCARD = re.compile(r"(?<!\\)[*?\[]")
CHUNK = 1 << 20


class ContextError(LabkitError):
    """A source COPY/ADD names that the context does not have (BuildKit's message in `args[0]`)."""


def has_wildcards(path: str) -> bool:
    """Return True when a source path holds `*`, `?` or `[` (BuildKit's containsWildcards)."""
    i = 0
    while i < len(path):
        ch = path[i]
        if ch in "*?[":
            return True
        if ch == "\\":
            i += 1
        i += 1
    return False


def clean_source(path: str) -> str:
    """Return a COPY source relative to the context root, cleaned ("../x" stays inside: "x"; "/" -> "")."""
    return posixpath.normpath("/" + path).lstrip("/")


def _match_component(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one path component (`*`, `?`, `[...]`, `\\` escapes; `*` never matches `/`)."""
    regex = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            regex.append("[^/]*")
        elif ch == "?":
            regex.append("[^/]")
        elif ch == "\\" and i < len(pattern):
            regex.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            j = pattern.find("]", i + 1 if i < len(pattern) and pattern[i] in "^!" else i)
            if j < 0:
                return False
            body = pattern[i:j]
            if body.startswith("!"):
                body = "^" + body[1:]
            regex.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        else:
            regex.append(re.escape(ch))
    return re.fullmatch("".join(regex), name) is not None


@dataclass(frozen=True)
class Match:
    """A context path a source selected: its path (relative, "" for the root), what it is, its stat."""

    path: str
    type: str            # file, dir, symlink
    disk: "str | Path"   # where it is on disk
    st: os.stat_result


class MetadataCache:
    """Content digests of a context's files, keyed by path and valid while size, mtime, inode and mode hold
    (BuildKit's content-hash cache, kept across runs under home/buildcache/contexts)."""

    def __init__(self, path: "Path | None"):
        self.path = path
        self.entries: dict[str, list] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                self.entries = json.loads(path.read_bytes())
            except (OSError, ValueError):
                self.entries = {}

    @staticmethod
    def stamp(st: os.stat_result) -> list:
        return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode]

    def get(self, rel: str, st: os.stat_result) -> "str | None":
        hit = self.entries.get(rel)
        if hit is not None and hit[:4] == self.stamp(st):
            return hit[4]
        return None

    def put(self, rel: str, st: os.stat_result, digest: str) -> None:
        self.entries[rel] = [*self.stamp(st), digest]
        self.dirty = True

    def save(self) -> None:
        """Write the cache back if it changed (atomically)."""
        if self.path is None or not self.dirty:
            return
        from ..fsutil import atomic_write_bytes

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, json.dumps(self.entries, separators=(",", ":"), sort_keys=True).encode())
        self.dirty = False


class BuildContext:
    """A context directory seen through its .dockerignore."""

    def __init__(self, root: "str | os.PathLike", ignore: "list[str] | None" = None,
                 cache: "MetadataCache | None" = None):
        self.root = Path(root).absolute()
        self.matcher = PatternMatcher(ignore or [])
        self.cache = cache or MetadataCache(None)
        self.bytes_read = 0           # what "transferring context" reports: the bytes actually read
        self._excluded: dict[str, bool] = {}
        self._children: dict[str, list] = {}
        self._infos: dict[str, list] = {}   # each walked directory's per-pattern results, for its children

    # -- what the context holds

    def excluded(self, rel: str) -> bool:
        """Return True when .dockerignore hides `rel` (or a directory above it)."""
        if not rel or not self.matcher:
            return False
        hit = self._excluded.get(rel)
        if hit is None:
            hit = self._excluded[rel] = self.matcher.excluded(rel)
        return hit

    def _lstat(self, rel: str) -> "os.stat_result | None":
        try:
            return os.lstat(self.root / rel) if rel else os.lstat(self.root)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _follow(self, rel: str, hops: int = 0) -> "tuple[str, os.stat_result] | None":
        """Resolve a symlink chain inside the context (absolute targets start at the context root)."""
        st = self._lstat(rel)
        if st is None or self.excluded(rel):
            return None
        if not stat_mod.S_ISLNK(st.st_mode):
            return rel, st
        if hops > 40:
            return None
        target = os.readlink(self.root / rel)
        base = "" if target.startswith("/") else posixpath.dirname(rel)
        return self._follow(clean_source(posixpath.join(base, target)), hops + 1)

    def _match(self, rel: str, follow: bool) -> "Match | None":
        if follow:
            found = self._follow(rel)
            if found is None:
                return None
            real, st = found
        else:
            st = self._lstat(rel)
            if st is None or self.excluded(rel):
                return None
            real = rel
        kind = "dir" if stat_mod.S_ISDIR(st.st_mode) else "symlink" if stat_mod.S_ISLNK(st.st_mode) else \
            "file" if stat_mod.S_ISREG(st.st_mode) else "other"
        return Match(rel, kind, self.root / real, st)

    def resolve(self, source: str) -> list[Match]:
        """Return what a COPY/ADD source selects: one path (symlinks followed), or every path a wildcard
        matches (none is fine, as BuildKit allows empty wildcards); ContextError when a plain path is absent."""
        rel = clean_source(source)
        if not has_wildcards(rel):
            m = self._match(rel, follow=True)
            if m is None:
                raise ContextError(f'"/{rel}": not found')
            return [m]
        parts = rel.split("/")
        found = [""]
        for i, part in enumerate(parts):
            nxt = []
            for base in found:
                if not has_wildcards(part):
                    cand = posixpath.join(base, part.replace("\\", "")) if base else part.replace("\\", "")
                    if self._lstat(cand) is not None and not self.excluded(cand):
                        nxt.append(cand)
                    continue
                d = self.root / base
                try:
                    names = sorted(os.listdir(d))
                except (NotADirectoryError, FileNotFoundError):
                    continue
                for name in names:
                    cand = posixpath.join(base, name) if base else name
                    if _match_component(part, name) and not self.excluded(cand):
                        nxt.append(cand)
            found = nxt
        out = []
        for rel_match in found:
            m = self._match(rel_match, follow=True)
            if m is not None:
                out.append(m)
        return out

    def _excluded_child(self, rel: str, child: str) -> bool:
        if not self.matcher:
            return False
        hit, info = self.matcher.matches(child, self._infos.get(rel))
        self._infos[child] = info
        return hit

    def children(self, rel: str) -> list[Match]:
        """Return the entries of directory `rel` that .dockerignore keeps (an excluded directory is entered
        only when an exception could re-include something below it), sorted by name; listed once per build."""
        cached = self._children.get(rel)
        if cached is not None:
            return cached
        d = os.path.join(self.root, rel) if rel else str(self.root)
        out = []
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            child = f"{rel}/{e.name}" if rel else e.name
            st = e.stat(follow_symlinks=False)
            is_dir = stat_mod.S_ISDIR(st.st_mode)
            if self._excluded_child(rel, child):
                if is_dir and self.matcher.may_include_below(child):
                    if self._has_included_below(child):
                        out.append(Match(child, "dir", e.path, st))
                continue
            kind = "dir" if is_dir else "symlink" if stat_mod.S_ISLNK(st.st_mode) else \
                "file" if stat_mod.S_ISREG(st.st_mode) else "other"
            out.append(Match(child, kind, e.path, st))
        self._children[rel] = out
        return out

    def _has_included_below(self, rel: str) -> bool:
        for m in self.children(rel):
            return True
        return False

    def walk(self, match: Match):
        """Yield `match` and, for a directory, everything below it that is kept (parents first)."""
        yield match
        if match.type == "dir":
            stack = [match.path]
            while stack:
                d = stack.pop()
                kids = self.children(d)
                for k in kids:
                    yield k
                stack.extend(reversed([k.path for k in kids if k.type == "dir"]))

    # -- checksums

    def file_digest(self, m: Match) -> str:
        """Return the sha256 of a file's contents, from the metadata cache when the file did not change."""
        key = m.path
        hit = self.cache.get(key, m.st)
        if hit is not None:
            return hit
        h = hashlib.sha256()
        with open(m.disk, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
                self.bytes_read += len(chunk)
        digest = h.hexdigest()
        self.cache.put(key, m.st, digest)
        return digest

    def checksum(self, matches: list[Match]) -> str:
        """Return the checksum of everything the matches select (names below each match, types, permission
        bits, symlink targets, contents; not times nor owners)."""
        h = hashlib.sha256()
        for top in matches:
            h.update(f"@{top.path}\0".encode("utf-8", "surrogateescape"))
            for m in self.walk(top):
                rel = m.path[len(top.path):].lstrip("/") if top.path else m.path
                perm = stat_mod.S_IMODE(m.st.st_mode)
                if m.type == "file":
                    detail = self.file_digest(m)
                elif m.type == "symlink":
                    detail = os.readlink(m.disk)
                else:
                    detail = ""
                h.update(f"{rel}\0{m.type}\0{perm:o}\0{detail}\n".encode("utf-8", "surrogateescape"))
        return "sha256:" + h.hexdigest()
