"""The lab's state kept in the browser's storage (labkit.browserstorage), checked in CPython.

The Keeper's syncing runs here over a dict in place of IndexedDB (the JavaScript side is a put/delete in
one transaction, and a read of everything: tests/test_lite.py reloads a real browser). Then notebook.setup
on the browser's code paths (`platform.simulate()`): the lab registry set up in the storage, what a cell
pushes saved after the cell (through IPython's post_run_cell event), and a "reload" (a new kernel on an
empty folder) restoring it, pullable again from localhost:5000.
"""

from __future__ import annotations

import os

import pytest

from helpers.trees import scan
from labkit import browserstorage, platform
from labkit.browserstorage import Entry, Keeper


class DictStore:
    """IndexedDB's part, in a dict: load everything; apply puts and deletes together."""

    def __init__(self):
        self.entries: "dict[str, Entry]" = {}
        self.applied: list = []

    def load(self):
        return dict(self.entries)

    def apply(self, puts, deletes):
        self.applied.append((sorted(puts), list(deletes)))
        self.entries.update(puts)
        for key in deletes:
            self.entries.pop(key, None)


def _tree(root):
    (root / "lab-registry" / "blobs").mkdir(parents=True)
    (root / "lab-registry" / "blobs" / "a").write_bytes(bytes(range(256)) * 10)
    (root / "lab-registry" / "index.json").write_text('{"manifests": []}\n')
    (root / "daemon.json").write_text("{}\n")
    os.chmod(root / "daemon.json", 0o600)
    os.utime(root / "daemon.json", (1_600_000_000, 1_600_000_000))
    (root / "locked").mkdir()
    (root / "locked" / "key").write_text("k")
    os.chmod(root / "locked" / "key", 0o400)
    os.chmod(root / "locked", 0o500)
    os.symlink("lab-registry/index.json", root / "index-link")
    (root / "notebooks" / "03").mkdir(parents=True)   # skipped: setup rebuilds it
    (root / "notebooks" / "03" / "x").write_text("x")


def test_restore_gives_back_the_tree_saved_minus_the_skipped_names(tmp_path):
    store = DictStore()
    _tree(tmp_path / "a")
    saved = Keeper(tmp_path / "a", store, skip=("notebooks",)).save()
    assert not any(k.startswith("notebooks") for k in store.entries)
    assert saved.entries == len(store.entries) == 8 and saved.bytes == 2560 + 18 + 3 + 1
    restored = Keeper(tmp_path / "b", store, skip=("notebooks",)).restore()
    assert restored.entries == 8
    expected = {k: v for k, v in scan(tmp_path / "a").items() if not k.startswith("notebooks")}
    assert scan(tmp_path / "b") == expected
    assert os.stat(tmp_path / "b" / "daemon.json").st_mtime == 1_600_000_000


def test_a_save_stores_only_what_changed(tmp_path):
    store = DictStore()
    _tree(tmp_path)
    keeper = Keeper(tmp_path, store, skip=("notebooks",))
    keeper.save()
    assert keeper.save().entries == 0 and len(store.applied) == 1   # nothing changed: nothing written
    (tmp_path / "lab-registry" / "blobs" / "b").write_bytes(b"new")
    tmp = tmp_path / "daemon.json.tmp"
    tmp.write_text('{"registry-mirrors": []}\n')
    os.replace(tmp, tmp_path / "daemon.json")                     # replaced: a new file, the same name
    (tmp_path / "lab-registry" / "blobs" / "a").unlink()
    (tmp_path / "notebooks" / "03" / "y").write_text("y")           # skipped
    keeper.save()
    assert store.applied[-1] == (["daemon.json", "lab-registry/blobs/b"], ["lab-registry/blobs/a"])
    assert store.entries["daemon.json"].data == b'{"registry-mirrors": []}\n'


def test_two_kernels_on_one_storage_never_undo_each_other(tmp_path):
    store = DictStore()
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "shared").write_text("shared")
    Keeper(tmp_path / "first", store).save()
    a, b = Keeper(tmp_path / "a", store), Keeper(tmp_path / "b", store)
    a.restore(), b.restore()
    (tmp_path / "a" / "pushed-by-a").write_text("a")
    a.save()
    (tmp_path / "b" / "pushed-by-b").write_text("b")
    b.save()                                          # b never saw a's file: it leaves it alone
    assert sorted(store.entries) == ["pushed-by-a", "pushed-by-b", "shared"]
    (tmp_path / "a" / "pushed-by-a").unlink()
    a.save()                                          # a deletes only what it knew
    assert sorted(store.entries) == ["pushed-by-b", "shared"]
    (tmp_path / "b" / "shared").unlink()
    b.save()
    assert sorted(store.entries) == ["pushed-by-b"]


def test_restore_replaces_what_is_in_the_way(tmp_path):
    store = DictStore()
    (tmp_path / "src" / "d").mkdir(parents=True)
    (tmp_path / "src" / "d" / "f").write_text("stored")
    (tmp_path / "src" / "l").write_text("a file now")
    Keeper(tmp_path / "src", store).save()
    (tmp_path / "dst" / "d").mkdir(parents=True)
    (tmp_path / "dst" / "d" / "f").write_text("local")
    os.symlink("elsewhere", tmp_path / "dst" / "l")
    Keeper(tmp_path / "dst", store).restore()
    assert (tmp_path / "dst" / "d" / "f").read_text() == "stored"
    assert not (tmp_path / "dst" / "l").is_symlink() and (tmp_path / "dst" / "l").read_text() == "a file now"


def test_outside_the_browser_there_is_no_storage():
    with pytest.raises(browserstorage.Unavailable, match="not Pyodide"):
        browserstorage.site_backend()


# --- notebook.setup on the browser's paths -----------------------------------------------------------------

@pytest.fixture
def kernel(monkeypatch):
    """The browser's code paths with a DictStore as the site's storage; returns it. A new "kernel" is a
    call of `reload(store)`: the in-kernel registry stopped and forgotten, the home's files gone."""
    import labkit.notebook as nb

    store = DictStore()
    monkeypatch.setattr(browserstorage, "site_backend", lambda: store)
    with platform.simulate():
        yield store
        _forget_kernel()


def _forget_kernel():
    import labkit.notebook as nb

    if nb._in_kernel is not None:
        nb._in_kernel.stop()
    nb._in_kernel = None
    nb._keeper.clear()


def test_setup_keeps_the_lab_registry_and_pushes_in_the_storage_across_a_reload(kernel, labkit_home, capsys):
    import shutil

    import requests

    import labkit.notebook as nb

    lab = nb.setup("04", pull=["busybox"])
    said = capsys.readouterr().out
    assert "the lab registry was set up in this browser's storage" in said
    assert any(k.startswith("lab-registry/blobs/") for k in kernel.entries)
    assert not any(k.startswith(("notebooks/", "run/", "tmp/")) for k in kernel.entries)
    lab.tag("busybox", "localhost:5000/me/busybox:kept")
    lab.push("localhost:5000/me/busybox:kept", progress=None)
    nb._keeper[0].save()                                # what the post_run_cell event does after the cell

    _forget_kernel()                                    # a reload: a new kernel, memory gone
    shutil.rmtree(labkit_home)
    labkit_home.mkdir()
    again = nb.setup("05")
    said = capsys.readouterr().out
    assert "restored from this browser's storage" in said, said
    assert requests.get("http://127.0.0.1:5000/v2/me/busybox/tags/list").json()["tags"] == ["kept"]
    again.pull("localhost:5000/me/busybox:kept")
    assert [i.tag for i in again.images()] == ["kept"]


def test_setup_saves_after_every_cell_through_ipython(kernel, labkit_home):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert shell.run_cell("import labkit.notebook as nb\nlab = nb.setup('04', pull=['busybox'])").success
        before = len(kernel.applied)
        cell = shell.run_cell("lab.tag('busybox', 'localhost:5000/me/bb:1')\n"
                              "lab.push('localhost:5000/me/bb:1', progress=None)")
        assert cell.success
        assert len(kernel.applied) == before + 1             # saved once, after the cell
        assert "lab-registry/index.json" in kernel.applied[-1][0]
        assert b"me/bb" in kernel.entries["lab-registry/index.json"].data
        assert shell.run_cell("1 + 1").success and len(kernel.applied) == before + 1  # nothing changed
    finally:
        InteractiveShell.clear_instance()


def test_a_storage_that_fails_leaves_the_lab_in_memory_and_says_why(monkeypatch, labkit_home, capsys):
    import labkit.notebook as nb

    class Refusing(DictStore):
        def load(self):
            raise OSError("QuotaExceededError")

    monkeypatch.setattr(browserstorage, "site_backend", Refusing)
    with platform.simulate():
        try:
            lab = nb.setup("00", pull=["busybox"])
            said = capsys.readouterr().out
            assert "rebuilt in this tab's memory" in said and "QuotaExceededError" in said
            assert [i.repository for i in lab.images()] == ["busybox"] and nb._keeper == []
        finally:
            _forget_kernel()


def test_a_registry_kept_from_an_older_site_is_set_up_again_with_this_sites_lab_images(kernel, labkit_home,
                                                                                         capsys):
    import json
    import shutil

    import labkit.notebook as nb
    from labkit.labctl import lab_images_missing

    nb.setup("00")
    capsys.readouterr()
    kept = json.loads(kernel.entries["lab-registry/index.json"].data)
    dropped = kept["manifests"].pop(0)["digest"]              # as if an older labkit had seeded it
    kernel.entries["lab-registry/index.json"] = browserstorage.Entry(
        "file", 0o644, 1_600_000_000, json.dumps(kept).encode())

    _forget_kernel()
    shutil.rmtree(labkit_home)
    labkit_home.mkdir()
    nb.setup("01", pull=["busybox"])
    said = capsys.readouterr().out
    assert "lab images are newer than those kept" in said and "set up again" in said, said
    assert lab_images_missing(labkit_home / "lab-registry") == []
    assert dropped in {m["digest"] for m in json.loads(kernel.entries["lab-registry/index.json"].data)["manifests"]}
