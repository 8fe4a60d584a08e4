"""Two pulls at once (two terminals, two notebooks): both succeed and the store stays consistent."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from labkit.home import save_settings
from labkit.labctl import seed
from labkit.registry.server import LabRegistry
from labkit.store import Store


def test_two_processes_pulling_the_same_and_different_images(labkit_home, tmp_path):
    root = tmp_path / "registry"
    seed(root)
    with LabRegistry(root, "127.0.0.1:0") as registry:
        save_settings(labkit_home, {"registry-mirrors": [registry.url]})
        refs = ["node", "node", "mkerker/duckhunt"]  # duckhunt is built on node: shared layers too
        procs = [subprocess.Popen([sys.executable, "-m", "labkit", "pull", ref], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for ref in refs]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for status, out, err in results:
        assert status == 0, err
        assert "Status: " in out
    store = Store(labkit_home)
    assert sorted(r.repository for r in store.images()) == ["mkerker/duckhunt", "node"]
    for blob in store.layout.blobs():  # every blob is whole and named by its content
        assert hashlib.sha256(store.layout.blob_path(blob).read_bytes()).hexdigest() == blob.hex
    layers = sorted(p.name for p in (labkit_home / "layers" / "sha256").iterdir())
    assert all(len(name) == 64 for name in layers)  # no partial layer directory left behind
    assert len(layers) == len(store.config(store.resolve("mkerker/duckhunt")).diff_ids)
