"""The browser's code paths (labkit.platform), run in CPython with `platform.simulate()`.

Pyodide has no threads, processes, flock, hard links, dir_fd, mkfifo, sendfile, zstandard or isal; labkit
asks labkit.platform and takes another path there. These tests take those paths here, where the results
can be compared with the native ones (tests/test_lite.py runs the notebooks in a real browser).
"""

from __future__ import annotations

import io
import os
import sys
import threading

import pytest

from helpers.trees import scan
from labkit import platform
from labkit.layers import Entry, build_layer
from labkit.layers.apply import apply_layer, pack_layer
from labkit.layers.store import LayerStore
from labkit.store import Store

IMAGE = [
    [Entry("etc", "dir"), Entry("etc/motd", data=b"old motd\n"), Entry("usr/lib/libc.so", data=b"libc", mode=0o755),
     Entry("lib", "symlink", linkname="usr/lib"), Entry("usr/bin/busybox", data=b"bb" * 1000, mode=0o755),
     Entry("usr/bin/ls", "hardlink", linkname="usr/bin/busybox"), Entry("usr/bin/su", data=b"su", mode=0o4755),
     Entry("tmp", "dir", mode=0o1777), Entry("secret", "dir", mode=0o500), Entry("secret/key", data=b"k", mode=0o400)],
    [Entry("etc/motd", "whiteout"), Entry("etc/passwd", data=b"root\napp\n", mtime=1234567890),
     Entry("etc/localtime", "symlink", linkname="/usr/share/zoneinfo/UTC")],
]


@pytest.fixture
def store(labkit_home) -> Store:
    return Store(labkit_home)


@pytest.fixture
def no_threads_or_processes(monkeypatch):
    """Fail the test if labkit starts a thread or a process (the browser can start neither)."""
    import concurrent.futures
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError("started a thread or a process on the browser's code paths")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_simulate_flips_every_answer_and_restores_them():
    from labkit.oci import Platform

    native = (platform.in_browser(), platform.can_use_threads(), platform.can_use_processes(),
              platform.can_listen(), platform.can_lock_files(), platform.can_hard_link(),
              platform.supports_dir_fd(), platform.supports_nofollow_times())
    assert native == (False, True, True, True, True, True, True, True)
    with platform.simulate():
        assert platform.in_browser() and platform.machine() == "x86_64" and not platform.has_dot()
        assert not any((platform.can_use_threads(), platform.can_use_processes(), platform.can_listen(),
                        platform.can_lock_files(), platform.can_hard_link(), platform.supports_dir_fd(),
                        platform.supports_nofollow_times()))
        assert str(Platform.host()) == "linux/amd64"
        assert "browser" in platform.describe()
    assert (platform.in_browser(), platform.can_use_threads()) == (False, True)


def test_transfers_are_serial_in_the_browser_whatever_the_settings():
    from concurrent.futures import ThreadPoolExecutor

    from labkit.transfers import DOWNLOADS_KEY, SerialExecutor, concurrency, executor

    with executor(3, "test") as pool:
        assert isinstance(pool, ThreadPoolExecutor)
    assert concurrency({DOWNLOADS_KEY: 6}, DOWNLOADS_KEY) == 6
    order = []
    with platform.simulate():
        assert concurrency({DOWNLOADS_KEY: 6}, DOWNLOADS_KEY) == 1
        with executor(8, "test") as pool:  # a caller asking for 8 workers gets none there
            assert isinstance(pool, SerialExecutor)
            first = pool.submit(order.append, 1)
            order.append(2)  # submit() ran the task already
            failed = pool.submit(lambda: 1 / 0)
            assert first.done() and order == [1, 2]
            with pytest.raises(ZeroDivisionError):
                failed.result()


def _stored_image(store, ref="base:1"):
    from helpers import imagefactory as f

    return f.stored_entry_image(store.home, IMAGE, ref)


def test_unpack_by_path_writes_the_same_tree_as_unpack_by_descriptor(store, tmp_path, no_threads_or_processes,
                                                                    monkeypatch):
    import labkit.unpack as unpack_module
    from labkit.unpack import unpack

    _stored_image(store)
    layer_store = LayerStore(store.home, store=store)
    monkeypatch.setattr(unpack_module, "WRITERS", 0)   # natively files are written by threads, refused here
    with platform.simulate():                          # first: the layers are packed as the browser packs them
        here = unpack(store, layer_store, "base:1", tmp_path / "browser")
    native = unpack(store, layer_store, "base:1", tmp_path / "native")
    assert scan(tmp_path / "browser") == scan(tmp_path / "native")
    assert (here.files, here.dirs, here.symlinks, here.hardlinks, here.special_modes) == \
           (native.files, native.dirs, native.symlinks, native.hardlinks, native.special_modes)
    # the image's hard link is a hard link natively and a copy in the browser
    assert os.stat(tmp_path / "native/usr/bin/ls").st_ino == os.stat(tmp_path / "native/usr/bin/busybox").st_ino
    assert os.stat(tmp_path / "browser/usr/bin/ls").st_ino != os.stat(tmp_path / "browser/usr/bin/busybox").st_ino


def test_packing_a_layer_starts_no_thread(tmp_path, no_threads_or_processes):
    """The layer store's packs in the browser: the stream is read without the read-ahead thread."""
    from labkit.imageview import ImageView

    blob = build_layer(IMAGE[0] + [Entry("etc/passwd", data=b"root\n")])
    with platform.simulate():
        packed = pack_layer(io.BytesIO(blob.data), tmp_path / "pack")
        view = ImageView([packed])
        assert view.read("etc/passwd") == b"root\n" and view.read("usr/bin/ls") == b"bb" * 1000
    assert packed.packed and packed.diff_id == blob.diff_id
    # each regular file's bytes once (the hard link shares busybox's)
    assert (tmp_path / "pack").stat().st_size == len(b"old motd\n" b"libc" + b"bb" * 1000 + b"su" b"k" b"root\n")


def test_applying_a_layer_copies_hard_links_and_keeps_times(tmp_path, no_threads_or_processes):
    blob = build_layer(IMAGE[0] + [Entry("etc/passwd", data=b"root\n", mtime=1234567890)])
    apply_layer(io.BytesIO(blob.data), tmp_path / "native")
    with platform.simulate():
        apply_layer(io.BytesIO(blob.data), tmp_path / "browser")
    assert scan(tmp_path / "browser") == scan(tmp_path / "native")
    assert os.stat(tmp_path / "browser/usr/bin/ls").st_ino != os.stat(tmp_path / "browser/usr/bin/busybox").st_ino
    assert os.stat(tmp_path / "browser/etc/passwd").st_mtime == 1234567890
    assert os.stat(tmp_path / "browser/etc").st_mtime == os.stat(tmp_path / "native/etc").st_mtime


def test_claims_keep_blobs_from_gc_without_flock(store):
    layout = store.layout
    with platform.simulate():
        kept = layout.put_bytes(b"a blob a writer is working on")
        lost = layout.put_bytes(b"a blob nobody claims")
        with layout.claim([kept]):
            # a claim file left by a process that died (its token is not one of ours)
            (layout.claims_dir / "99999-deadbeef.claim").write_text(f"{lost}\n")
            assert layout.gc() == [lost]
            assert layout.has_blob(kept)
            assert not (layout.claims_dir / "99999-deadbeef.claim").exists()
        assert layout.gc() == [kept]


def test_file_lock_without_flock_is_a_no_op_that_nests(tmp_path):
    from labkit.fsutil import file_lock

    with platform.simulate():
        with file_lock(tmp_path / "locks" / "a.lock"):
            with file_lock(tmp_path / "locks" / "a.lock", shared=True):
                pass
    assert (tmp_path / "locks").is_dir()


def test_link_or_copy_and_utime_nofollow(tmp_path):
    from labkit.fsutil import link_or_copy, utime_nofollow

    (tmp_path / "f").write_bytes(b"x")
    assert link_or_copy(tmp_path / "f", tmp_path / "linked") is True
    assert os.stat(tmp_path / "linked").st_ino == os.stat(tmp_path / "f").st_ino
    os.symlink("f", tmp_path / "s")
    with platform.simulate():
        assert link_or_copy(tmp_path / "f", tmp_path / "copied") is False
        assert (tmp_path / "copied").read_bytes() == b"x"
        before = os.lstat(tmp_path / "s").st_mtime
        utime_nofollow(tmp_path / "s", 1000)  # a symlink keeps its own times there; its target is untouched
        assert os.lstat(tmp_path / "s").st_mtime == before and os.stat(tmp_path / "f").st_mtime != 1000
        utime_nofollow(tmp_path / "f", 1000)
        assert os.stat(tmp_path / "f").st_mtime == 1000
    utime_nofollow(tmp_path / "s", 2000)
    assert os.lstat(tmp_path / "s").st_mtime == 2000 and os.stat(tmp_path / "f").st_mtime == 1000


def test_pull_and_push_in_the_browser_start_no_thread_or_process(labkit_home, tmp_path, no_threads_or_processes):
    from labkit.home import save_settings
    from labkit.lab import Lab
    from labkit.labctl import seed
    from labkit.registry.server import LabRegistry

    seed(tmp_path / "registry")
    with platform.simulate():
        with LabRegistry(tmp_path / "registry", "127.0.0.1:0") as reg:
            save_settings(labkit_home, {"registry-mirrors": [reg.url]})
            lab = Lab(labkit_home)
            result = lab.pull("ubuntu")
            assert result.status.startswith("Downloaded newer image")
            assert lab.pull("ubuntu").status.startswith("Image is up to date")
            lab.tag("ubuntu", f"{reg.address}/mine/ubuntu:1")
            lab.push(f"{reg.address}/mine/ubuntu:1", progress=None)
            tags = __import__("requests").get(f"{reg.url}/v2/mine/ubuntu/tags/list").json()
            assert tags == {"name": "mine/ubuntu", "tags": ["1"]}


def test_notebook_setup_in_the_browser_serves_the_lab_registry_in_the_kernel(labkit_home, capsys,
                                                                             no_threads_or_processes):
    import labkit.notebook as nb
    from labkit.labctl import running
    from labkit.registry import transport

    with platform.simulate():
        try:
            lab = nb.setup("00", pull=["busybox"])
            said = capsys.readouterr().out
            assert "labkit in the browser: the lab registry was rebuilt in this tab's memory" in said
            assert nb.registry_url() == "http://127.0.0.1:5000" and "127.0.0.1:5000" in transport.served()
            assert running(labkit_home) is None  # no background process
            assert lab.settings()["registry-mirrors"] == ["http://127.0.0.1:5000"]
            assert [(i.repository, i.tag) for i in lab.images()] == [("busybox", "latest")]
            again = nb.setup("01")  # same kernel: the same registry, a fresh home, nothing said
            assert capsys.readouterr().out == "" and again.images() == []
            assert "JupyterLite" in nb.versions() and "viz.js" in nb.versions()
        finally:
            if nb._in_kernel is not None:
                nb._in_kernel.stop()
                nb._in_kernel = None


def test_environment_check_in_the_browser(tmp_path, monkeypatch):
    import types

    from labkit.registry.server import LabRegistry
    from labkit.viz import envcheck

    with platform.simulate(), LabRegistry(tmp_path / "registry", "127.0.0.1:0") as reg:
        checked = envcheck.check_registry(reg.url)
        assert checked.ok and "inside this browser tab" in checked.found
        assert not envcheck.is_online() and not envcheck.check_online().ok
        monkeypatch.setitem(sys.modules, "labkit_vizjs", None)
        graphviz = envcheck.check_graphviz()
        assert not graphviz.ok and "make lite" in graphviz.fix
        monkeypatch.setitem(sys.modules, "labkit_vizjs", types.ModuleType("labkit_vizjs"))
        graphviz = envcheck.check_graphviz()
        assert graphviz.ok and "viz.js" in graphviz.found
    stopped = envcheck.check_registry(reg.url, timeout=1)
    assert not stopped.ok and "nothing answers" in stopped.found


def test_token_key_is_written_without_hard_links(tmp_path):
    from labkit.registry import tokens

    with platform.simulate():
        key = tokens.load_or_create_key(tmp_path / "state" / "token-key.pem")
        assert tokens.load_or_create_key(tmp_path / "state" / "token-key.pem") == key
        assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["token-key.pem"]


def test_gzip_layers_without_isal(monkeypatch):
    from labkit.compression import open_layer_stream

    blob = build_layer([Entry("a", data=b"gzip" * 1000)], compression="gzip")
    monkeypatch.setitem(sys.modules, "isal", None)  # as in the browser: no isal wheel
    monkeypatch.setitem(sys.modules, "isal.igzip", None)
    tar = open_layer_stream(io.BytesIO(blob.data)).read()
    from labkit.digest import Digest

    assert Digest.of(tar) == blob.diff_id


def test_zstd_layers_through_the_standard_librarys_codec(monkeypatch):
    """Without zstandard, zstd goes through compression.zstd (Python 3.14, Pyodide); here the backport of it."""
    zstd = pytest.importorskip("backports.zstd")
    import zstandard

    from labkit.compression import open_layer_stream
    from labkit.digest import Digest

    entries = [Entry("etc/hello", data=b"zstd " * 5000), Entry("bin", "dir")]
    native = build_layer(entries, compression="zstd")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", type(sys)("compression"))
    monkeypatch.setitem(sys.modules, "compression.zstd", zstd)
    sys.modules["compression"].zstd = zstd
    here = build_layer(entries, compression="zstd")
    assert here.diff_id == native.diff_id  # the same tar inside
    for data in (native.data, here.data):
        assert Digest.of(open_layer_stream(io.BytesIO(data)).read()) == native.diff_id
    two_frames = open_layer_stream(io.BytesIO(native.data + here.data)).read()  # docker reads every frame
    assert two_frames[:len(two_frames) // 2] == two_frames[len(two_frames) // 2:]
    assert Digest.of(two_frames[:len(two_frames) // 2]) == native.diff_id
    monkeypatch.undo()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(here.data), read_across_frames=True)
    assert Digest.of(reader.read()) == native.diff_id  # what the backport wrote, zstandard reads
