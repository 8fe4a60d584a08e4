"""The /dev a container runtime mounts: what a process sees there is the runtime's, not the image's.

runc mounts a tmpfs on /dev (hiding whatever the image has there) and creates its default devices in it: null,
zero, full, random, urandom and tty (character devices, mode 0666), the pts, shm and mqueue directories, and
the links fd -> /proc/self/fd, stdin/stdout/stderr -> /proc/self/fd/0..2, ptmx -> pts/ptmx, core ->
/proc/kcore (runc libcontainer/specconv/spec_linux.go AllowedDevices, libcontainer/rootfs_linux.go
setupDevSymlinks; moby daemon/oci_linux.go and oci/defaults.go give the same mounts). BuildKit's RUN steps get
the same /dev. `RuntimeFiles` wraps a container's files so that labkit's shell sees them that way: `tail -f
/dev/null` follows an empty file for good, `cat /dev/null` prints nothing, `> /dev/null` discards, and
nothing under /dev ever reaches the container's read-write layer (Docker's `diff` and `commit` never see a
mount's files).

A container may also carry read-only files mounted under /dev (`container.dev_mounts`: path -> bytes), as
BuildKit mounts a RUN heredoc with a #! line at /dev/pipes/NAME (mode 0755) to run it.
"""

from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import dataclass

from ..containers.view import MergedView
from ..paths import norm

DEV = "/dev"
CHUNK = 64 * 1024        # what one read of an endless device gives: labkit's programs read a file whole


@dataclass(frozen=True)
class DeviceNode:
    """A node of the runtime's /dev, with the fields of labkit.containers.ops.Node (and `rdev`: the device's
    major and minor numbers, which `ls -l` shows in place of a size)."""

    path: str
    type: str
    mode: int
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    layer_index: int = -1
    data: None = None            # no bytes on disk: reads and writes go to the device's behaviour
    rdev: "tuple[int, int] | None" = None


def _char(name: str, major: int, minor: int) -> DeviceNode:
    return DeviceNode(f"{DEV}/{name}", "char", 0o666, rdev=(major, minor))


def _dir(name: str, mode: int) -> DeviceNode:
    return DeviceNode(f"{DEV}/{name}" if name else DEV, "dir", mode, size=0)


def _link(name: str, target: str) -> DeviceNode:
    return DeviceNode(f"{DEV}/{name}", "symlink", 0o777, size=len(target), linkname=target)


NODES = {n.path: n for n in [
    _dir("", 0o755), _char("null", 1, 3), _char("zero", 1, 5), _char("full", 1, 7), _char("random", 1, 8),
    _char("urandom", 1, 9), _char("tty", 5, 0), _dir("pts", 0o755), _dir("shm", 0o1777), _dir("mqueue", 0o1777),
    _link("fd", "/proc/self/fd"), _link("stdin", "/proc/self/fd/0"), _link("stdout", "/proc/self/fd/1"),
    _link("stderr", "/proc/self/fd/2"), _link("ptmx", "pts/ptmx"), _link("core", "/proc/kcore")]}


def _error(code: int, path: str) -> OSError:
    cls = {errno.ENOENT: FileNotFoundError, errno.EISDIR: IsADirectoryError, errno.ENOTDIR: NotADirectoryError,
           errno.EACCES: PermissionError}.get(code, OSError)
    return cls(code, os.strerror(code), path)


def under_dev(path: str) -> bool:
    """Return True for /dev and the paths below it."""
    return path == DEV or path.startswith(DEV + "/")


class RuntimeFiles:
    """A container's files as its process sees them: the runtime's /dev over the container (see the module
    text); every other path and method is the container's own."""

    def __init__(self, container):
        self.container = container

    @classmethod
    def over(cls, fs):
        """Return `fs` seen through the runtime's mounts (once: wrapping twice changes nothing)."""
        return fs if isinstance(fs, cls) or not hasattr(fs, "node_at") else cls(fs)

    def __getattr__(self, name):
        return getattr(self.container, name)

    def _mounted(self) -> dict:
        return getattr(self.container, "dev_mounts", None) or {}

    def _nodes(self) -> dict:
        """Return the runtime's /dev nodes, with the mounted files and their directories."""
        mounted = self._mounted()
        if not mounted:
            return NODES
        out = dict(NODES)
        for path, data in mounted.items():
            d = posixpath.dirname(path)
            while under_dev(d) and d not in out:
                out[d] = DeviceNode(d, "dir", 0o755)
                d = posixpath.dirname(d)
            out[path] = DeviceNode(path, "file", 0o755, size=len(data))
        return out

    # -- reading -------------------------------------------------------------------------------------------

    def resolve(self, path: str, follow: bool = True, cwd: str = "/") -> str:
        p = norm(path, cwd)
        if under_dev(p):
            n = self._nodes().get(p)
            if follow and n is not None and n.type == "symlink":
                return self.container.resolve(norm(n.linkname, posixpath.dirname(p)), follow, cwd)
            return p
        return self.container.resolve(path, follow, cwd)

    def node_at(self, p: str):
        if under_dev(p):
            return self._nodes().get(p)
        return self.container.node_at(p)

    def lstat(self, path: str):
        p = norm(path)
        if under_dev(p):
            nodes = self._nodes()
            if p not in nodes:
                raise _error(errno.ENOENT, path)
            return nodes[p]
        return self.container.lstat(path)

    def stat(self, path: str):
        p = norm(path)
        if under_dev(p):
            n = self._nodes().get(p)
            if n is None:
                raise _error(errno.ENOENT, path)
            if n.type == "symlink":
                return self.stat(norm(n.linkname, posixpath.dirname(p)))
            return n
        return self.container.stat(path)

    exists = MergedView.exists          # both ask this class's stat and lstat
    lexists = MergedView.lexists

    def listdir(self, path: str = "/") -> list:
        p = norm(path)
        if under_dev(p):
            n = self.stat(p)
            if n.type != "dir":
                raise _error(errno.ENOTDIR, path)
            prefix = n.path.rstrip("/") + "/"
            return sorted(k[len(prefix):] for k in self._nodes() if k.startswith(prefix) and "/" not in k[len(prefix):])
        names = self.container.listdir(path)
        if self.container.resolve(path) == "/" and "dev" not in names:
            names = sorted(names + ["dev"])        # the mount point exists even where the image has no /dev
        return names

    def read(self, path: str) -> bytes:
        p = norm(path)
        if not under_dev(p):
            return self.container.read(path)
        n = self.stat(p)
        name = posixpath.basename(n.path)
        if n.path in self._mounted():
            return self._mounted()[n.path]
        if n.type == "dir":
            raise _error(errno.EISDIR, path)
        if name in ("zero", "full"):
            return b"\0" * CHUNK
        if name in ("random", "urandom"):
            return os.urandom(CHUNK)
        if name == "tty":
            raise _error(errno.ENXIO, path)      # no controlling terminal: labkit's terminal is not a file
        return b""                               # null: end of file at once

    # -- writing -------------------------------------------------------------------------------------------

    def _device_write(self, path: str) -> list:
        p = norm(path)
        n = self._nodes().get(p)
        if n is not None and n.type == "symlink":
            return self._device_write(norm(n.linkname, posixpath.dirname(p)))
        if n is None:
            # a new file on the runtime's tmpfs: it would live outside the container's layer; labkit keeps none
            raise _error(errno.EACCES, path)
        if n.type == "dir":
            raise _error(errno.EISDIR, path)
        if n.type == "file":
            raise _error(errno.EROFS, path)      # a read-only mount
        name = posixpath.basename(p)
        if name == "full":
            raise _error(errno.ENOSPC, path)
        if name == "tty":
            raise _error(errno.ENXIO, path)
        return []                                # null, zero, random, urandom take what is written

    def write(self, path: str, data: bytes, mode: int = 0o644, append: bool = False) -> list:
        if under_dev(norm(path)):
            return self._device_write(path)
        return self.container.write(path, data, mode=mode, append=append)

    def append(self, path: str, data: bytes) -> list:
        if under_dev(norm(path)):
            return self._device_write(path)
        return self.container.append(path, data)

    def touch(self, path: str) -> list:
        if under_dev(norm(path)):
            return self._device_write(path)
        return self.container.touch(path)

    def _refuse(self, *paths: str) -> None:
        for path in paths:
            if under_dev(norm(path)):
                raise _error(errno.EACCES, path)  # the runtime's devices are not the container's to change

    def mkdir(self, path: str, parents: bool = False, mode: int = 0o755) -> list:
        self._refuse(path)
        return self.container.mkdir(path, parents=parents, mode=mode)

    def remove(self, path: str, recursive: bool = False) -> list:
        self._refuse(path)
        return self.container.remove(path, recursive=recursive)

    def rename(self, src: str, dst: str) -> list:
        self._refuse(src, dst)
        return self.container.rename(src, dst)

    def chmod(self, path: str, mode: int) -> list:
        self._refuse(path)
        return self.container.chmod(path, mode)

    def symlink(self, target: str, path: str) -> list:
        self._refuse(path)
        return self.container.symlink(target, path)

    def link(self, existing: str, path: str) -> list:
        self._refuse(existing, path)
        return self.container.link(existing, path)
