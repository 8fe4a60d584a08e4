"""Property: a random sequence of file operations on a container and the same on a real directory give the
same tree; committing the container gives an image whose view (and umoci's unpack) is that tree too."""

from __future__ import annotations

import os
import random
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import peers
from helpers.imagefactory import entry_image, store_image
from labkit.commit import commit
from labkit.containers import Containers
from labkit.imageview import ImageView
from labkit.layers.writer import Entry
from labkit.store import Store

NAMES = ["a", "b", "c", "d"]
MODES = [0o700, 0o711, 0o755, 0o777]          # owner rwx kept: the oracle must work for a non-root user too

# (path, kind, payload, mode)
BASE = [
    ("a", "dir", None, 0o755), ("a/b", "file", b"ab\n", 0o644), ("a/c", "dir", None, 0o700),
    ("a/c/d", "file", b"acd", 0o755), ("b", "file", b"b" * 3000, 0o644), ("c", "symlink", "a", 0o777),
    ("d", "dir", None, 0o711), ("d/a", "dir", None, 0o755), ("d/a/a", "file", b"", 0o600),
]

paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
data = st.binary(max_size=40)
ops = st.one_of(
    st.tuples(st.just("write"), paths, data),
    st.tuples(st.just("append"), paths, data),
    st.tuples(st.just("truncate"), paths, st.integers(0, 10)),
    st.tuples(st.just("mkdir"), paths),
    st.tuples(st.just("makedirs"), paths),
    st.tuples(st.just("remove"), paths),
    st.tuples(st.just("rmtree"), paths),
    st.tuples(st.just("rename"), paths, paths),
    st.tuples(st.just("chmod"), paths, st.sampled_from(MODES)),
    st.tuples(st.just("symlink"), st.sampled_from(NAMES), paths),
    st.tuples(st.just("link"), paths, paths),
)


def real_op(root: Path, op: tuple) -> None:
    """Do `op` on the real directory `root` with the os functions a program would call."""
    verb, *args = op
    P = lambda p: str(root) + p          # noqa: E731 - container path -> host path
    if verb in ("write", "append"):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if verb == "append" else os.O_TRUNC)
        fd = os.open(P(args[0]), flags, 0o644)
        try:
            os.write(fd, args[1])
        finally:
            os.close(fd)
    elif verb == "truncate":
        os.truncate(P(args[0]), args[1])
    elif verb == "mkdir":
        os.mkdir(P(args[0]), 0o755)
    elif verb == "makedirs":
        os.makedirs(P(args[0]), 0o755, exist_ok=True)
    elif verb in ("remove", "rmtree"):  # a file goes either way; a directory must be empty for remove
        p = P(args[0])
        if stat.S_ISDIR(os.lstat(p).st_mode):
            (os.rmdir if verb == "remove" else shutil.rmtree)(p)
        else:
            os.unlink(p)
    elif verb == "rename":
        os.rename(P(args[0]), P(args[1]))
    elif verb == "chmod":
        os.chmod(P(args[0]), args[1])
    elif verb == "symlink":
        os.symlink(args[0], P(args[1]))
    elif verb == "link":
        os.link(P(args[0]), P(args[1]), follow_symlinks=False)


def container_op(c, op: tuple) -> None:
    """Do `op` on the container through its file operations."""
    verb, *args = op
    if verb == "write":
        c.write(args[0], args[1])
    elif verb == "append":
        c.append(args[0], args[1])
    elif verb == "truncate":
        c.truncate(args[0], args[1])
    elif verb == "mkdir":
        c.mkdir(args[0])
    elif verb == "makedirs":
        c.mkdir(args[0], parents=True)
    elif verb == "remove":
        c.remove(args[0])
    elif verb == "rmtree":
        c.remove(args[0], recursive=True)
    elif verb == "rename":
        c.rename(args[0], args[1])
    elif verb == "chmod":
        c.chmod(args[0], args[1])
    elif verb == "symlink":
        c.symlink(args[0], args[1])
    elif verb == "link":
        c.link(args[0], args[1])


def real_tree(root: Path) -> dict:
    """Return {path: (type, mode, content or link target)} of a directory (symlinks not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = "/" + p.relative_to(root).as_posix()
            s = os.lstat(p)
            if stat.S_ISLNK(s.st_mode):
                out[rel] = ("symlink", None, os.readlink(p))
            elif stat.S_ISDIR(s.st_mode):
                out[rel] = ("dir", stat.S_IMODE(s.st_mode), None)
            else:
                out[rel] = ("file", stat.S_IMODE(s.st_mode), p.read_bytes())
    return out


def container_tree(c) -> dict:
    out = {}
    for n in c.walk("/"):
        if n.type == "symlink":
            out[n.path] = ("symlink", None, n.linkname)
        else:
            out[n.path] = (n.type, n.mode, c.read(n.path) if n.type == "file" else None)
    return out


def view_tree(view) -> dict:
    out = {}
    for n in view.walk():
        if not n.path:
            continue
        p = "/" + n.path
        if n.type == "symlink":
            out[p] = ("symlink", None, n.linkname)
        else:
            out[p] = (n.type, n.mode, n.data.read() if n.type == "file" else None)
    return out


@pytest.fixture(scope="module")
def base_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("prop-home")
    entries = []
    for path, kind, payload, mode in BASE:
        if kind == "file":
            entries.append(Entry(path, "file", payload, mode=mode))
        elif kind == "symlink":
            entries.append(Entry(path, "symlink", linkname=payload))
        else:
            entries.append(Entry(path, "dir", mode=mode))
    store_image(Store(home), entry_image([entries]), "prop:base")
    return home


def make_real(root: Path) -> None:
    root.mkdir()
    for path, kind, payload, mode in BASE:
        p = root / path
        if kind == "dir":
            p.mkdir()
            os.chmod(p, mode)
        elif kind == "file":
            p.write_bytes(payload)
            os.chmod(p, mode)
        else:
            os.symlink(payload, p)


def run_both(home: Path, sequence: list, work: Path):
    """Apply `sequence` to a new container and to a real copy of the base; return (container, real root)."""
    containers = Containers(home, rng=random.Random(0))
    c = containers.create("prop:base")
    real = work / "real"
    make_real(real)
    for op in sequence:
        try:
            real_op(real, op)
            real_err = None
        except OSError as e:
            real_err = type(e).__name__
        try:
            container_op(c, op)
            c_err = None
        except OSError as e:
            c_err = type(e).__name__
        assert (real_err is None) == (c_err is None), f"{op}: real {real_err}, container {c_err}"
    return containers, c, real


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=20))
def test_container_matches_real_directory_and_commit(base_home, sequence):
    with tempfile.TemporaryDirectory() as tmp:
        containers, c, real = run_both(base_home, sequence, Path(tmp))
        try:
            expected = real_tree(real)
            assert container_tree(c) == expected
            rec = commit(containers.store, containers.layer_store, c, "prop:committed")
            assert view_tree(ImageView.open(containers.store, containers.layer_store, rec)) == expected
            containers.store.rmi(str(rec.image_id), force=True)      # keep the store small across examples
        finally:
            containers.rm(c, force=True)


SEQUENCES = [
    [("rmtree", "/a"), ("mkdir", "/a"), ("write", "/a/b", b"new")],
    [("rename", "/a", "/d/b"), ("chmod", "/d/b/c", 0o777)],
    [("remove", "/c"), ("mkdir", "/c"), ("symlink", "a", "/c/a")],
    [("link", "/b", "/d/b"), ("append", "/d/b", b"!"), ("rename", "/d", "/a/c/d") ],
    [("rmtree", "/d/a"), ("rename", "/a/b", "/d/a")],
]


@pytest.mark.interop("umoci")
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_umoci_unpacks_the_committed_tree(base_home, sequence, tmp_path):
    containers, c, real = run_both(base_home, sequence, tmp_path)
    rec = commit(containers.store, containers.layer_store, c, "prop:umoci")
    bundle = tmp_path / "bundle"
    peers.run("umoci", "unpack", "--rootless", "--image", f"{containers.store.layout.root}:{rec.name}", str(bundle))
    assert real_tree(bundle / "rootfs") == real_tree(real)
    containers.rm(c, force=True)


@pytest.mark.interop("umoci")
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=15))
def test_umoci_unpack_matches_real_directory(base_home, sequence):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        containers, c, real = run_both(base_home, sequence, tmp)
        try:
            rec = commit(containers.store, containers.layer_store, c, "prop:umoci-random")
            bundle = tmp / "bundle"
            peers.run("umoci", "unpack", "--rootless", "--image", f"{containers.store.layout.root}:{rec.name}",
                      str(bundle))
            assert real_tree(bundle / "rootfs") == real_tree(real)
            containers.store.rmi(str(rec.image_id), force=True)
        finally:
            containers.rm(c, force=True)
