"""Apply ONE layer, safely: into its own empty directory (like overlay2's per-layer diff dir, `apply_layer`), or
as a pack (`pack_layer`, what the layer store keeps): one file holding the regular files' bytes back to back,
everything else in the metadata. Both go through the same rules; a pack only skips creating the tree.

Never tarfile.extract*: every member goes through the shared rules of reader.py, then through these:
- Nothing is ever written through a symlink. The tree is built in a fresh private directory
  (`<target>.partial-<random>`, mode 0700) and we keep a map of every path this layer created; a member
  whose parent is a symlink of this layer ("a -> /etc" then "a/passwd"; a directory replaced by a symlink
  and then written into; a whiteout under a symlink) is UnsafeLayer "goes through a symlink". docker runs
  the same tar inside a chroot, where such a member would land through the link inside the rootfs;
  overlay2's diff dir would hold it the same way; docker's own writer never produces one, so refusing it
  loses no real image. The last component is opened O_NOFOLLOW|O_EXCL as a second guard.
- Symlinks are stored as links, never followed. Absolute targets are only data (allowed); a relative
  target that climbs above the layer root ("a -> ../../etc") is refused, as docker's createTarFile does.
  The root itself ("." or "./") may only be a directory.
- A hard link to an earlier regular file of the same layer is a hard link in the tree. A hard link to a
  path this layer does not hold is a link to a file of a LOWER layer (legal per the OCI image spec;
  containerd applies such a tar on an overlay mount, where link() copies the target up into the new
  layer, then links it): the tree holds nothing for it, the index keeps the entry, and the image view
  (labkit.imageview) copies the lower file up and links it, or refuses the image when no layer below holds
  a regular file there. To a directory, a symlink, a device of this layer, through a symlink of this layer,
  or outside the root: UnsafeLayer.
- Whiteouts `.wh.<name>` and the opaque marker `.wh..wh..opq` are not created as files; they are recorded
  (AppliedLayer.whiteouts / .opaque_dirs) for the module that merges layers into an image view. An opaque
  directory is created if the layer does not list it.
- Owners, setuid/setgid/sticky bits, device nodes and fifos are recorded, never created on the host:
  files and directories get `mode & 0o777` and the caller's owner; `modes` keeps the full mode where the
  tree differs, `owners` every non-root owner, `devices` the nodes (not in the tree), `xattrs` PAX xattrs.
- Later entries win, as with tar: a file replaces a directory (and its subtree), a directory replaces a
  file, a duplicate replaces the earlier one. A member below a file of this layer is refused.
- Any error removes the partial directory (or the partial pack): nothing of the layer is left and nothing
  outside was touched. No per-file fsync: the caller marks a layer complete with an atomically written
  record (LayerStore).

A pack is the layer's tree without the inodes: each regular file's bytes at an offset (AppliedLayer.offsets,
one per index entry; a hard link shares its target's; a sparse file keeps its holes as holes of the pack),
directories, symlinks and the rest only in the index. Creating thousands of small files is most of what
applying a layer costs (the kernel's inode work, about 0.1-0.2 ms a file on a small VM); a pack writes one
file, so a pull creates each file once, when `unpack` or a container needs it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .. import platform
from ..compression import open_layer_stream
from ..digest import Digest, as_digest
from ..errors import LabkitError, UnsafeLayer
from ..fsutil import current_umask, link_or_copy, utime_nofollow
from .limits import Limits
from .reader import IndexEntry, LayerReader, Member

_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DEVICE_KINDS = ("char", "block", "fifo")
_LOWER = "lower-link"          # a path a hard link to a lower layer's file gives this layer: not in the tree
_NOT_ON_DISK = _DEVICE_KINDS + (_LOWER,)


@dataclass
class AppliedLayer:
    """What applying a layer produced: the tree's path plus everything the tree cannot (or must not) hold."""

    path: Path
    diff_id: Digest
    size: int                                                  # uncompressed tar bytes
    entries: int = 0
    whiteouts: list = field(default_factory=list)              # paths hidden in lower layers
    opaque_dirs: list = field(default_factory=list)            # dirs whose lower contents are hidden
    implicit_dirs: list = field(default_factory=list)          # parents created without an entry of their own
    owners: dict = field(default_factory=dict)                 # path -> [uid, gid] when not 0:0
    modes: dict = field(default_factory=dict)                  # path -> full mode when the tree's differs
    devices: dict = field(default_factory=dict)                # path -> {type, major, minor, mode, uid, gid}
    xattrs: dict = field(default_factory=dict)                 # path -> {name: base64 value}
    root: dict = field(default_factory=dict)                   # the "./" entry's mode/uid/gid/mtime, if any
    index: list = field(default_factory=list)                  # IndexEntry per member, tar order
    lower_links: dict = field(default_factory=dict)            # path -> target: hard links to a lower layer's file
    packed: bool = False                                       # `path` is a pack file, not a tree directory
    offsets: list = field(default_factory=list)                # packed: per index entry, its bytes' offset (or -1)

    def to_json(self) -> dict:
        """Return a JSON-ready dict of the metadata (the tree or the pack itself stays on disk)."""
        data = {"diff_id": str(self.diff_id), "size": self.size, "entries": self.entries,
                "whiteouts": self.whiteouts, "opaque_dirs": self.opaque_dirs, "implicit_dirs": self.implicit_dirs,
                "owners": self.owners, "modes": self.modes, "devices": self.devices, "xattrs": self.xattrs,
                "root": self.root, "index": [list(e) for e in self.index], "lower_links": self.lower_links}
        if self.packed:
            data["packed"] = True
            data["offsets"] = self.offsets
        return data

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "AppliedLayer":
        """Return the AppliedLayer described by `data` (from to_json) for the tree at `path`."""
        return cls(path=Path(path), diff_id=as_digest(data["diff_id"]), size=int(data["size"]),
                   entries=int(data["entries"]), whiteouts=list(data["whiteouts"]),
                   opaque_dirs=list(data["opaque_dirs"]), implicit_dirs=list(data["implicit_dirs"]),
                   owners=dict(data["owners"]), modes=dict(data["modes"]), devices=dict(data["devices"]),
                   xattrs=dict(data["xattrs"]), root=dict(data["root"]),
                   index=[IndexEntry(*e) for e in data["index"]],
                   lower_links=dict(data.get("lower_links") or {}),      # absent before labkit applied them
                   packed=bool(data.get("packed")), offsets=list(data.get("offsets") or ()))

    def to_json_bytes(self) -> bytes:
        """Return the metadata as canonical JSON bytes."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()


def _rmtree(path: Path) -> None:
    def fix(func, p, _exc):
        # a directory we made read-only: give the owner back write access, then retry
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
        except OSError:
            pass
        func(p)
    if os.path.lexists(path):
        shutil.rmtree(path, onerror=fix)


class _Applier:
    """Applies members into a tree directory. The checks and the bookkeeping are here; what touches the tree
    is in the few methods _Packer replaces (_mkdir, _delete, _write_file, _make_symlink, _make_link, finish)."""

    def __init__(self, root: Path, reader: LayerReader, limits: Limits):
        self.root = str(root)
        self.reader = reader
        self.limits = limits
        self.kinds: dict[str, str] = {"": "dir"}
        self.dirs: dict[str, tuple[int, float]] = {}
        self.whiteouts: dict[str, None] = {}
        self.opaque: dict[str, None] = {}
        self.implicit: dict[str, None] = {}
        self.owners: dict[str, list] = {}
        self.modes: dict[str, int] = {}
        self.devices: dict[str, dict] = {}
        self.xattrs: dict[str, dict] = {}
        self.root_meta: dict = {}
        self.lower_links: dict[str, str] = {}
        self.index: list[IndexEntry] = []
        self.offsets: list[int] = []           # per index entry: where a pack holds its bytes (-1: nowhere)
        self.data_at: dict[str, int] = {}      # a regular file of this layer -> its bytes' offset in a pack
        self._parents_ok: set[str] = {""}
        self.umask = current_umask()

    def disk(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    # ---- path checks --------------------------------------------------------------------------------
    def _check_parents(self, m: Member, path: str, create: bool) -> None:
        parent = path.rpartition("/")[0]
        if parent in self._parents_ok:
            return
        walked = ""
        for comp in parent.split("/"):
            walked = f"{walked}/{comp}" if walked else comp
            kind = self.kinds.get(walked)
            if kind == "dir":
                continue
            if kind is None:
                if not create:
                    continue
                self._mkdir(walked, 0o755)
                self.kinds[walked] = "dir"
                self.implicit[walked] = None
                continue
            if kind == "symlink":
                raise UnsafeLayer(m.raw_name, f"path goes through the symlink {walked!r} of this layer")
            raise UnsafeLayer(m.raw_name, f"parent {walked!r} is a {kind}, not a directory")
        if create:
            self._parents_ok.add(parent)

    def _forget(self, path: str) -> None:
        """Drop what we know about `path` and, if it was a directory, everything below it."""
        prefix = path + "/"
        was_dir = self.kinds.get(path) == "dir"
        for table in (self.kinds, self.dirs, self.owners, self.modes, self.devices, self.xattrs, self.implicit,
                      self.lower_links, self.data_at):
            table.pop(path, None)
            if was_dir:
                for k in [k for k in table if k.startswith(prefix)]:
                    del table[k]
        if was_dir:
            self._parents_ok = {p for p in self._parents_ok if p != path and not p.startswith(prefix)}

    def _remove(self, path: str) -> None:
        kind = self.kinds.get(path)
        if kind is None:
            return
        self._delete(path, kind)
        self._forget(path)

    # ---- what touches the tree ------------------------------------------------------------------------
    def _mkdir(self, path: str, mode: int) -> None:
        os.mkdir(self.disk(path), mode)

    def _delete(self, path: str, kind: str) -> None:
        if kind == "dir":
            _rmtree(Path(self.disk(path)))
        elif kind not in _NOT_ON_DISK:
            os.unlink(self.disk(path))

    def _write_file(self, m: Member, path: str, mode: int) -> None:
        # created with its final mode in our private 0700 directory; fchmod only for bits the umask removed
        fd = os.open(f"{self.root}/{path}", _OPEN_FLAGS, mode)
        try:
            if m.sparse is not None:
                for off, chunk in self.reader.sparse_regions(m):
                    os.pwrite(fd, chunk, off)
                os.ftruncate(fd, m.size)
            elif m.data_size:
                self.reader.write_data(m, fd)
            if mode & self.umask:
                os.fchmod(fd, mode)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    def _make_symlink(self, m: Member, path: str) -> None:
        target = self.disk(path)
        os.symlink(m.linkname, target)
        try:
            utime_nofollow(target, m.mtime)
        except OSError:
            pass

    def _make_link(self, src: str, path: str) -> None:
        link_or_copy(self.disk(src), self.disk(path))

    def _record(self, m: Member, path: str, disk_mode: int) -> None:
        if m.uid or m.gid:
            self.owners[path] = [m.uid, m.gid]
        if m.mode != disk_mode:
            self.modes[path] = m.mode
        if m.xattrs:
            self.xattrs[path] = {k: base64.b64encode(v).decode() for k, v in m.xattrs.items()}

    # ---- members ------------------------------------------------------------------------------------
    def apply(self, m: Member) -> None:
        kind, path = m.kind, m.path
        if kind == "aufs-meta":
            return
        self.index.append(m.index_entry())
        self.offsets.append(-1)
        if kind == "whiteout":
            self._check_parents(m, path, create=False)
            self.whiteouts[path] = None
            return
        if kind == "opaque":
            if path:
                self._check_parents(m, path, create=True)
                k = self.kinds.get(path)
                if k is None:
                    self._mkdir(path, 0o755)
                    self.kinds[path] = "dir"
                    self.implicit[path] = None
                elif k != "dir":
                    raise UnsafeLayer(m.raw_name, f"opaque marker inside {path!r}, which is a {k}")
            self.opaque[path] = None
            return
        if not path:
            if kind != "dir":
                raise UnsafeLayer(m.raw_name, f"the layer root can only be a directory, not a {kind}")
            self.root_meta = {"mode": m.mode, "uid": m.uid, "gid": m.gid, "mtime": m.mtime}
            self.dirs[""] = (m.mode & 0o777, m.mtime)
            return
        self._check_parents(m, path, create=True)
        getattr(self, "_" + kind)(m, path)

    def _dir(self, m: Member, path: str) -> None:
        if self.kinds.get(path) != "dir":
            self._remove(path)
            self._mkdir(path, 0o700)
            self.kinds[path] = "dir"
        else:
            self.implicit.pop(path, None)
            self.owners.pop(path, None)
            self.modes.pop(path, None)
            self.xattrs.pop(path, None)
        self.dirs[path] = (m.mode & 0o777, m.mtime)
        self._record(m, path, m.mode & 0o777)

    def _file(self, m: Member, path: str) -> None:
        if path in self.kinds:
            self._remove(path)
        mode = m.mode & 0o777
        self._write_file(m, path, mode)
        self.kinds[path] = "file"
        if m.uid or m.gid or m.mode != mode or m.xattrs:
            self._record(m, path, mode)

    def _symlink(self, m: Member, path: str) -> None:
        link = m.linkname
        if not link.startswith("/"):
            # docker createTarFile: Join(Dir(path), linkname) must stay under the extraction root
            depth = path.count("/")
            for comp in link.split("/"):
                if comp == "..":
                    depth -= 1
                    if depth < 0:
                        raise UnsafeLayer(m.raw_name, f"symlink target {link!r} escapes the layer root")
                elif comp not in ("", "."):
                    depth += 1
        self._remove(path)
        self._make_symlink(m, path)
        self.kinds[path] = "symlink"
        self._record(m, path, m.mode)

    def _hardlink(self, m: Member, path: str) -> None:
        src = m.linkname
        kind = self.kinds.get(src) if src else "dir"
        if src == path:
            raise UnsafeLayer(m.raw_name, "hard link to itself")
        if kind is None or kind == _LOWER:
            self._lower_link(m, path, src)
            return
        if kind != "file":
            what = {"dir": "a directory", "symlink": "a symlink"}.get(kind, f"a {kind}")
            raise UnsafeLayer(m.raw_name, f"hard link target {m.raw_linkname!r} is {what}")
        self._remove(path)
        self._make_link(src, path)
        self.kinds[path] = "file"
        for table in (self.owners, self.modes, self.xattrs):
            if src in table:
                table[path] = table[src]

    def _lower_link(self, m: Member, path: str, src: str) -> None:
        """A hard link to a file of a lower layer: checked here as far as this layer can tell (the target's
        parents in this layer must be directories, never a symlink); the image view does the rest."""
        parent = src.rpartition("/")[0]
        walked = ""
        for comp in parent.split("/") if parent else ():
            walked = f"{walked}/{comp}" if walked else comp
            kind = self.kinds.get(walked)
            if kind == "symlink":
                raise UnsafeLayer(m.raw_name, f"hard link target goes through the symlink {walked!r} of this layer")
            if kind not in (None, "dir"):
                raise UnsafeLayer(m.raw_name, f"hard link target's parent {walked!r} is a {kind}, not a directory")
        self._remove(path)
        self.kinds[path] = _LOWER
        self.lower_links[path] = self.lower_links.get(src, src)
        self.kinds.setdefault(src, _LOWER)    # copied up into this layer: nothing may be written below it

    def _device(self, m: Member, path: str) -> None:
        self._remove(path)
        self.kinds[path] = m.kind
        self.devices[path] = {"type": m.kind, "major": m.devmajor, "minor": m.devminor,
                              "mode": m.mode, "uid": m.uid, "gid": m.gid, "mtime": m.mtime}

    _char = _block = _fifo = _device

    def finish(self) -> None:
        # directory modes and mtimes last: writing children would change them (docker does the same)
        for path in sorted(self.dirs, key=lambda p: -p.count("/") if p else 1):
            mode, mtime = self.dirs[path]
            target = self.disk(path)
            os.chmod(target, mode)
            utime_nofollow(target, mtime)
        if "" not in self.dirs:
            os.chmod(self.root, 0o755)


class _Packer(_Applier):
    """Applies members into a pack: the same checks and metadata as the tree, the files' bytes appended to
    one file (small ones gathered into one write), no inode per entry."""

    SMALL = 64 << 10                  # files up to this size are gathered in memory ...
    FLUSH = 1 << 20                   # ... and written in writes of about this size

    def __init__(self, pack_fd: int, reader: LayerReader, limits: Limits):
        super().__init__(Path("/nonexistent-pack-tree"), reader, limits)
        self.fd = pack_fd
        self.end = 0                  # the pack's length once `pending` is written
        self.pending = bytearray()

    def _mkdir(self, path: str, mode: int) -> None:
        pass

    def _delete(self, path: str, kind: str) -> None:
        pass                          # its bytes stay in the pack, unreferenced, as they stay in the tar

    def _flush(self) -> None:
        with memoryview(self.pending) as whole:
            view = whole
            while view:
                view = view[os.write(self.fd, view):]
            view.release()
        self.pending.clear()

    def _write_file(self, m: Member, path: str, mode: int) -> None:
        off = self.end
        if m.sparse is not None:
            self._flush()
            for region_off, chunk in self.reader.sparse_regions(m):
                os.pwrite(self.fd, chunk, off + region_off)
            self.end = off + m.size
            os.lseek(self.fd, self.end, os.SEEK_SET)
        elif m.data_size:
            if m.data_size <= self.SMALL:
                self.reader.copy_data(m, self.pending.extend)
                if len(self.pending) >= self.FLUSH:
                    self._flush()
            else:
                self._flush()
                self.reader.write_data(m, self.fd)
            self.end = off + m.data_size
        self.data_at[path] = off
        self.offsets[-1] = off

    def _make_symlink(self, m: Member, path: str) -> None:
        pass

    def _make_link(self, src: str, path: str) -> None:
        self.data_at[path] = self.data_at[src]
        self.offsets[-1] = self.data_at[src]

    def finish(self) -> None:
        self._flush()
        os.ftruncate(self.fd, self.end)   # a sparse file's hole at the very end


def apply_layer(tar_stream: BinaryIO, target: "str | os.PathLike", limits: Limits = Limits(),
                expected_diff_id: "Digest | str | None" = None) -> AppliedLayer:
    """Apply one layer stream (tar, or gzip/zstd, sniffed; or a path to one) into the new directory `target`;
    return its AppliedLayer. UnsafeLayer / TruncatedLayer / DigestMismatch leave nothing behind."""
    if isinstance(tar_stream, (str, os.PathLike)):
        with open(tar_stream, "rb") as f:
            return apply_layer(f, target, limits, expected_diff_id)
    target = Path(target)
    if target.is_symlink() or (target.exists() and (not target.is_dir() or any(target.iterdir()))):
        raise LabkitError(f"apply layer into {target}: the target exists and is not an empty directory")
    if not target.parent.is_dir():
        raise LabkitError(f"apply layer into {target}: the parent directory does not exist")
    partial = target.with_name(f"{target.name}.partial-{secrets.token_hex(6)}")
    os.mkdir(partial, 0o700)
    try:
        reader = LayerReader(open_layer_stream(tar_stream), limits, what=f"layer for {target.name}")
        applier = _Applier(partial, reader, limits)
        for member in reader:
            applier.apply(member)
        diff_id = reader.finish(expected_diff_id)
        applier.finish()
        if target.exists():
            os.rmdir(target)
        os.rename(partial, target)
    except BaseException as e:
        _rmtree(partial)
        error = _as_layer_error(e, target)
        if error is None:
            raise
        raise error from e
    return _applied(applier, reader, target, diff_id)


def _as_layer_error(e: BaseException, target: Path) -> "LabkitError | None":
    """Return the LabkitError that says what went wrong applying into `target`, or None to let `e` through
    as it is (labkit's own errors, interrupts, and anything unexpected)."""
    if isinstance(e, (LabkitError, KeyboardInterrupt, SystemExit)):
        return None
    if isinstance(e, (EOFError, ValueError, OverflowError)):
        return LabkitError(f"apply layer into {target}: the layer is truncated or corrupt ({e})")
    if isinstance(e, OSError):
        return LabkitError(f"apply layer into {target}: {e.strerror or e} ({e.filename or ''})")
    return None


def _applied(a: _Applier, reader: LayerReader, path: Path, diff_id: Digest, packed: bool = False) -> AppliedLayer:
    return AppliedLayer(path=path, diff_id=diff_id, size=reader.size, entries=reader.entries,
                        whiteouts=list(a.whiteouts), opaque_dirs=list(a.opaque), implicit_dirs=list(a.implicit),
                        owners=a.owners, modes=a.modes, devices=a.devices, xattrs=a.xattrs, root=a.root_meta,
                        index=a.index, lower_links=a.lower_links, packed=packed,
                        offsets=a.offsets if packed else [])


def pack_layer(tar_stream: BinaryIO, target: "str | os.PathLike", limits: Limits = Limits(),
               expected_diff_id: "Digest | str | None" = None) -> AppliedLayer:
    """Apply one layer stream (tar, or gzip/zstd, sniffed; or a path to one) as a pack: the new file `target`
    holds its regular files' bytes (see the module's docstring); return its AppliedLayer (packed). The same
    errors as apply_layer, and the same promise: on any error `target` is not left behind."""
    if isinstance(tar_stream, (str, os.PathLike)):
        with open(tar_stream, "rb") as f:
            return pack_layer(f, target, limits, expected_diff_id)
    target = Path(target)
    if not target.parent.is_dir():
        raise LabkitError(f"apply layer into {target}: the parent directory does not exist")
    try:
        fd = os.open(target, _OPEN_FLAGS, 0o600)
    except FileExistsError:
        raise LabkitError(f"apply layer into {target}: the target exists") from None
    reader = None
    try:
        try:
            # the stream is decompressed and hashed beside the parsing where there are threads
            reader = LayerReader(open_layer_stream(tar_stream), limits, what=f"layer for {target.parent.name}",
                                 read_ahead=platform.can_use_threads())
            packer = _Packer(fd, reader, limits)
            for member in reader:
                packer.apply(member)
            diff_id = reader.finish(expected_diff_id)
            packer.finish()
        finally:
            if reader is not None:
                reader.close()
            os.close(fd)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(target)
        error = _as_layer_error(e, target)
        if error is None:
            raise
        raise error from e
    return _applied(packer, reader, target, diff_id, packed=True)
