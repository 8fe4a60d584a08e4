"""Running a build step in a work container: COPY/ADD, RUN, WORKDIR, as BuildKit's file and exec ops do.

Each step runs in a copy-on-write container (labkit.containers) over the layers made so far; what the step
changed in the container's read-write layer becomes the step's layer (labkit.commit's layer entries, written
by the reproducible layer writer). BuildKit's rules kept here:

- COPY/ADD (fsutil copy with CopyDirContentsOnly, CreateDestPath, FollowSymlinks, AllowWildcard): a
  directory source copies its contents; a destination ending in "/", an existing directory, or several
  sources make the destination a directory; missing parents are created (0755); files keep their permission
  bits and modification times, owner 0:0 unless `--chown`, `--chmod` sets the bits; symlinks inside copied
  directories stay symlinks; ADD unpacks a local tar archive (gzip, bzip2, xz) and fetches URLs (0600 files);
- RUN: the command line runs in labkit's built-in shell in the working directory; a non-zero status is
  BuildKit's `process "..." did not complete successfully: exit code: N`;
- WORKDIR: mkdir -p of the directory (owned by USER when set).
"""

from __future__ import annotations

import io
import os
import posixpath
import stat as stat_mod
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import LabkitError
from ..fsutil import FileRegion, region_of
from .context import BuildContext, ContextError, Match, clean_source, has_wildcards
from .dockerignore import PatternMatcher
from .shellwords import go_quote


class StepFailed(LabkitError):
    """A step that did not complete: BuildKit's message."""


@dataclass
class SourceEntry:
    """One path a COPY takes from its source (the build context, another stage, an archive, a download)."""

    rel: str                     # relative to the copied item ("" for the item itself)
    type: str                    # file, dir, symlink
    mode: int
    mtime: int
    linkname: str = ""
    disk: "Path | FileRegion | None" = None   # where the bytes are (files): a path, or an image's file
    data: "bytes | None" = None


# --- users and groups ------------------------------------------------------------------------------------

def _table(container, path: str) -> list[list[str]]:
    try:
        text = container.read(path).decode("utf-8", "replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _passwd_entry(container, user: str) -> "tuple[int, int | None] | None":
    """Return (uid, gid or None when not a number) of the first /etc/passwd entry named `user`, or with that
    uid when `user` is a number; None when there is none."""
    for row in _table(container, "/etc/passwd"):
        if len(row) > 3 and row[2].isdigit() and (row[0] == user or (user.isdigit() and row[2] == user)):
            return int(row[2]), (int(row[3]) if row[3].isdigit() else None)
    return None


def _group_id(container, group: str) -> "int | None":
    """Return the gid of the first /etc/group entry named `group` (or with that gid); None when there is none."""
    for row in _table(container, "/etc/group"):
        if len(row) > 2 and row[2].isdigit() and (row[0] == group or (group.isdigit() and row[2] == group)):
            return int(row[2])
    return None


def resolve_owner(container, spec: str) -> tuple[int, int]:
    """Return (uid, gid) for a `--chown` or USER spec ("1000", "1000:1000", "app", "app:staff"), looked up
    in the container's /etc/passwd and /etc/group as BuildKit does; StepFailed when a name is unknown."""
    user, _, group = spec.partition(":")
    entry = _passwd_entry(container, user)
    if user.isdigit():
        uid = int(user)
        gid = entry[1] if entry is not None and entry[1] is not None else uid
    elif entry is None:
        raise StepFailed(f"unable to convert uid/gid chown string to host mapping: can't find uid for user "
                         f"{user}: no such user: {user}")
    else:
        uid, gid = entry[0], entry[1] if entry[1] is not None else entry[0]
    if group:
        found = int(group) if group.isdigit() else _group_id(container, group)
        if found is None:
            raise StepFailed(f"unable to convert uid/gid chown string to host mapping: can't find gid for "
                             f"group {group}: no such group: {group}")
        gid = found
    return uid, gid


def chmod_value(spec: str, current: int, is_dir: bool) -> int:
    """Return the permission bits `--chmod` gives a path (octal, or symbolic like "u+x")."""
    from ..shell import parse_mode

    if spec.isdigit():
        return int(spec, 8)
    return parse_mode(spec, current, is_dir)


# --- sources ---------------------------------------------------------------------------------------------

def context_entries(ctx: BuildContext, match: Match) -> Iterator[SourceEntry]:
    """Yield a context match and everything below it (for a directory) as SourceEntries."""
    for m in ctx.walk(match):
        rel = m.path[len(match.path):].lstrip("/") if match.path else m.path
        if m is match:
            rel = ""
        st = m.st
        kind = m.type
        if kind == "other":
            continue                       # sockets, fifos, devices: fsutil does not send them
        linkname = os.readlink(m.disk) if kind == "symlink" else ""
        yield SourceEntry(rel, kind, stat_mod.S_IMODE(st.st_mode), int(st.st_mtime), linkname,
                          m.disk if kind == "file" else None)


def view_resolve(view, source: str) -> list:
    """Return the nodes of an image view a `COPY --from` source selects (wildcards per component);
    ContextError when a plain path is missing."""
    from .context import _match_component

    rel = clean_source(source)
    if not has_wildcards(rel):
        node = view.resolve(rel, follow_symlinks=True)
        if node is None:
            raise ContextError(f'"/{rel}": not found')
        return [(rel, node)]
    found = [""]
    for part in rel.split("/"):
        nxt = []
        for base in found:
            try:
                names = view.listdir(base)
            except LabkitError:
                continue
            for name in names:
                if _match_component(part, name):
                    nxt.append(posixpath.join(base, name) if base else name)
        found = nxt
    out = []
    for path in found:
        node = view.resolve(path, follow_symlinks=True)
        if node is not None:
            out.append((path, node))
    return out


def view_entries(view, path: str, node) -> Iterator[SourceEntry]:
    """Yield an image view's node and, for a directory, everything below it as SourceEntries."""
    def entry(rel, n):
        if n.type == "file":
            return SourceEntry(rel, "file", n.mode, int(n.mtime or 0), disk=n.data)
        if n.type == "symlink":
            return SourceEntry(rel, "symlink", n.mode, int(n.mtime or 0), n.linkname)
        if n.type == "dir":
            return SourceEntry(rel, "dir", n.mode, int(n.mtime or 0))
        return None

    top = entry("", node)
    if top is not None:
        yield top
    if node.type == "dir":
        prefix = node.path + "/" if node.path else ""
        for n in view.walk(node.path):
            if n.path == node.path:
                continue
            e = entry(n.path[len(prefix):], n)
            if e is not None:
                yield e


def view_checksum(view, selected: list) -> str:
    """Return the checksum of what `COPY --from` takes from a stage (names, types, bits, targets, contents),
    so a stage rebuilt with the same artifact still gives a cache hit."""
    import hashlib

    h = hashlib.sha256()
    for path, node in selected:
        h.update(f"@{path}\0".encode("utf-8", "surrogateescape"))
        for e in view_entries(view, path, node):
            detail = ""
            if e.type == "file":
                fh = hashlib.sha256()
                with region_of(e.disk).open() as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        fh.update(chunk)
                detail = fh.hexdigest()
            elif e.type == "symlink":
                detail = e.linkname
            h.update(f"{e.rel}\0{e.type}\0{e.mode:o}\0{detail}\n".encode("utf-8", "surrogateescape"))
    return "sha256:" + h.hexdigest()


def archive_entries(path: Path) -> "Iterator[SourceEntry] | None":
    """Return the entries of a tar archive (plain, gzip, bzip2, xz) for ADD to unpack, or None when the file
    is not an archive (then ADD copies it as a file)."""
    try:
        tf = tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError, EOFError):
        return None

    def gen():
        with tf:
            for m in tf:
                name = posixpath.normpath("/" + m.name).lstrip("/")
                if not name or name == ".":
                    continue
                if m.isdir():
                    yield SourceEntry(name, "dir", m.mode & 0o7777, int(m.mtime))
                elif m.issym():
                    yield SourceEntry(name, "symlink", 0o777, int(m.mtime), m.linkname)
                elif m.isfile() or m.islnk():
                    f = tf.extractfile(m)
                    data = f.read() if f is not None else b""
                    yield SourceEntry(name, "file", m.mode & 0o7777, int(m.mtime), data=data)
    return gen()


# --- copying into a container ----------------------------------------------------------------------------

class Copier:
    """Puts SourceEntries into a container at a destination, with COPY's owner and mode rules."""

    def __init__(self, container, owner: "tuple[int, int] | None", chmod: str, now: int,
                 excludes: "list[str] | None" = None):
        self.c = container
        self.owner = owner
        self.chmod = chmod
        self.now = now
        self.excludes = PatternMatcher(excludes) if excludes else None
        self.dirs: set[str] = set()       # directories known to exist (so each file costs no parent check)

    def _ids(self) -> tuple[int, int]:
        return self.owner if self.owner is not None else (0, 0)

    def _exists(self, path: str):
        try:
            return self.c.stat(path)
        except OSError:
            return None

    def dir_mode(self) -> int:
        """Return the mode of the directories a copy creates: 0755, or an octal --chmod's bits (fsutil's
        MkdirAll takes CopyInfo.Mode since tonistiigi/fsutil#228, Docker 28.1: moby/moby#49851); a symbolic
        --chmod ("u+x") leaves them 0755."""
        return int(self.chmod, 8) & 0o777 if self.chmod.isdigit() else 0o755

    def ensure_dir(self, path: str) -> None:
        """Create `path` and its missing parents as BuildKit's CreateDestPath does (dir_mode(), owner, now)."""
        if path in ("", "/") or path in self.dirs:
            return
        node = self._exists(path)
        if node is not None:
            if node.type != "dir":
                raise StepFailed(f"cannot copy to non-directory: {path}")
            self.dirs.add(path)
            return
        self.ensure_dir(posixpath.dirname(path.rstrip("/")) or "/")
        uid, gid = self._ids()
        mode = self.dir_mode()
        self.c.mkdir(path, mode=mode)
        self.c.set_meta(path, mode=mode, uid=uid, gid=gid, mtime=self.now)
        self.dirs.add(path)

    def _remove_non_dir(self, path: str) -> None:
        try:
            n = self.c.lstat(path)
        except OSError:
            return
        if n.type == "dir":
            self.c.remove(path, recursive=True)
        elif n.type != "file":
            self.c.remove(path)

    def put(self, target: str, e: SourceEntry) -> None:
        """Write one entry at `target` (a container path)."""
        uid, gid = self._ids()
        mode = e.mode
        if self.chmod and e.type in ("file", "dir"):
            mode = chmod_value(self.chmod, mode, e.type == "dir")
        if e.type == "dir":
            node = self._exists(target)
            if node is None or node.type != "dir":
                if node is not None:
                    self._remove_non_dir(target)
                self.ensure_dir(posixpath.dirname(target) or "/")
                self.c.mkdir(target, mode=mode)
            self.c.set_meta(target, mode=mode, uid=uid, gid=gid, mtime=e.mtime)
        elif e.type == "symlink":
            self._remove_existing(target)
            self.c.symlink(e.linkname, target)
            self.c.set_meta(target, uid=uid, gid=gid, mtime=e.mtime, follow=False)
        else:
            kw = dict(data=e.data or b"", source=e.disk if e.data is None else None, mode=mode, uid=uid, gid=gid,
                      mtime=e.mtime)
            try:
                self.c.put(target, **kw)
            except IsADirectoryError:             # a file replaces a directory of the same name
                self.c.remove(target, recursive=True)
                self.c.put(target, **kw)

    def _lexists(self, path: str):
        try:
            return self.c.lstat(path)
        except OSError:
            return None

    def _remove_existing(self, path: str) -> None:
        n = self._lexists(path)
        if n is not None:
            self.c.remove(path, recursive=n.type == "dir")

    def copy_item(self, entries: Iterator[SourceEntry], dest: str, into_dir: bool, name: str) -> int:
        """Copy one selected source (its entries, the item itself first) to `dest`; return the count copied.
        A directory's contents go into `dest`; a file goes to `dest` (or dest/name when `into_dir`)."""
        count = 0
        top: "SourceEntry | None" = None
        for e in entries:
            if top is None:
                top = e
                if e.type == "dir":
                    target_root = dest.rstrip("/") or "/"
                    if target_root == "/":
                        pass
                    elif self._exists(target_root) is None:
                        self.ensure_dir(posixpath.dirname(target_root) or "/")
                        self.put(target_root, e)
                    count += 1
                    continue
                target = posixpath.join(dest, name) if into_dir else dest.rstrip("/")
                self.ensure_dir(posixpath.dirname(target) or "/")
                self.put(target, e)
                count += 1
                continue
            if self.excludes is not None and self.excludes.excluded(e.rel):
                continue
            target = posixpath.join(dest.rstrip("/") or "/", e.rel)
            self.ensure_dir(posixpath.dirname(target) or "/")     # an archive may list no parent entries
            self.put(target, e)
            if e.type == "dir":
                self.dirs.add(target)
            count += 1
        return count


def layer_of(container, store, layer_store, clamp: "int | None"):
    """Write what the container changed as a reproducible gzip layer into the store and the layer store;
    return (Descriptor, diff_id, uncompressed size, Claim) like labkit.commit.store_layer."""
    from ..commit import layer_entries, store_layer
    from ..layers.writer import write_layer
    from ..oci.mediatypes import OCI_LAYER_GZIP

    entries = layer_entries(container)
    return store_layer(store, layer_store, lambda f: write_layer(entries, f, "gzip", clamp), OCI_LAYER_GZIP)


def exec_user(container, spec: str) -> tuple[int, int]:
    """Return (uid, gid) a RUN's process runs as after `USER spec`, as BuildKit's executor finds it
    (executor/oci/user.go GetUser -> moby/sys/user GetExecUser): "uid:gid" as is; otherwise the passwd entry
    with that name (or uid) gives uid and gid, a numeric user without one runs with gid 0; ":group" by name
    from /etc/group or as a number. StepFailed with its error for an unknown name. (`--chown` maps ids its
    own way: resolve_owner.)"""
    user, colon, group = spec.partition(":")
    if user.isdigit() and colon and group.isdigit():
        return int(user), int(group)
    entry = _passwd_entry(container, user)
    if entry is not None:
        uid, gid = entry[0], entry[1] if entry[1] is not None else 0
    elif user.isdigit():
        uid, gid = int(user), 0
    else:
        raise StepFailed(f"unable to find user {user}: no matching entries in passwd file")
    if group:
        found = _group_id(container, group)
        if found is None and not group.isdigit():
            raise StepFailed(f"unable to find group {group}: no matching entries in group file")
        gid = found if found is not None else int(group)
    return uid, gid


def run_command(container, argv: list, env: list, cwd: str, user: str) -> tuple[str, int]:
    """Run a command line in the container; return (output, exit status).

    labkit.shell.execute runs it as the runtime would (argv[0] resolved through the step's PATH, the
    environment applied; a program the image lacks: 127 and the runtime's error text); after USER the files
    and directories the command creates belong to that user (exec_user; labkit does not check permissions,
    and `id` still says root). A command that would wait for good (`sleep infinity`) is reported
    as failing, where BuildKit would wait."""
    from ..shell import execute

    if user:
        container.creator = exec_user(container, user)
    result = execute(container, list(argv), env=list(env), cwd=cwd or "/")
    if result.error is not None:
        return result.error + "\n", result.status
    if result.status is None:
        return result.output + "labkit: the command never ends (it waits for good); BuildKit would wait here\n", 1
    return result.output, result.status


def run_failed(argv: list, status: int) -> StepFailed:
    """Return BuildKit's error for a command that exited non-zero."""
    return StepFailed(f"process {go_quote(' '.join(argv))} did not complete successfully: exit code: {status}")


def fetch_url(url: str, dest_dir: Path) -> tuple[Path, int]:
    """Download `url` for ADD into dest_dir; return (file, mtime from Last-Modified or 0). StepFailed when
    the network is unreachable, like BuildKit's failed HTTP source."""
    import email.utils

    import requests

    try:
        with requests.get(url, stream=True, timeout=(10, 60)) as r:
            if r.status_code >= 400:
                raise StepFailed(f"failed to load cache key: invalid response status {r.status_code}")
            out = dest_dir / "download"
            with open(out, "wb") as f:
                for chunk in r.iter_content(1 << 20):
                    f.write(chunk)
            mtime = 0
            if r.headers.get("Last-Modified"):
                try:
                    mtime = int(email.utils.parsedate_to_datetime(r.headers["Last-Modified"]).timestamp())
                except (TypeError, ValueError):
                    mtime = 0
            return out, mtime
    except requests.RequestException as e:
        raise StepFailed(f"failed to load cache key: Get {go_quote(url)}: {go_dial_error(url, e)}") from None


def _causes(e: BaseException):
    """Yield an exception and every exception it wraps (requests -> urllib3 -> socket), each once."""
    seen: set = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        stack.extend([x.__cause__, x.__context__, getattr(x, "reason", None)])
        stack.extend(a for a in getattr(x, "args", ()) if isinstance(a, BaseException))


def go_dial_error(url: str, e: BaseException) -> str:
    """Return what Go's net/http says when it cannot reach `url` (BuildKit's HTTP source is Go): "dial tcp:
    lookup example.com: no such host", "dial tcp 127.0.0.1:9: connect: connection refused", "dial tcp
    10.0.0.1:80: i/o timeout"; another error in one line."""
    import errno
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    causes = list(_causes(e))
    for x in causes:
        if isinstance(x, socket.gaierror):
            return f"dial tcp: lookup {host}: no such host"
    names = {type(x).__name__ for x in causes}
    if "ReadTimeout" in names or "ReadTimeoutError" in names:
        return "net/http: timeout awaiting response headers"
    for x in causes:
        if isinstance(x, (TimeoutError, socket.timeout)) or "timeout" in type(x).__name__.lower():
            return f"dial tcp {address}: i/o timeout"
    for x in causes:
        if isinstance(x, OSError) and x.errno:
            reason = os.strerror(x.errno)
            reason = {errno.ECONNREFUSED: "connection refused", errno.ENETUNREACH: "network is unreachable",
                      errno.EHOSTUNREACH: "no route to host"}.get(x.errno, reason[:1].lower() + reason[1:])
            return f"dial tcp {address}: connect: {reason}"
    text = " ".join(str(e).split())
    return text[:200]
