"""`system df` in both image stores, its figures worked out from the files in the home (the blobs in the store,
the applied layers' files), not from labkit's own accounting.

- Docker 29, containerd store (moby daemon/disk_usage.go with daemon/containerd/service.go ImageDiskUsage and
  image_list.go): Images SIZE = every blob an image reaches (the index too) + each unpacked snapshot once;
  RECLAIMABLE = the Size of each image no container uses (its platforms' blobs + snapshots) minus what it
  shares; docker/cli formatter/disk_usage.go prints four types, sizes as go-units HumanSize (4 significant
  digits, no space), "(N%)" the integer percent of SIZE.
- the lab text's Docker, graphdriver store (moby daemon/images), as Docker 1.13 printed it (moby v1.13.0
  cli/command/formatter/disk_usage.go, go-units "%.4g %s"): Images SIZE = each layer once, an image's Size
  its layers; three types (Images, Containers, Local Volumes), 20-wide columns, "8.601 MB". (Docker 1.13's
  -v header "UNIQUE SiZE" is printed with its typo fixed, as Docker 19.03 and later print it.)
A layer's size is moby's directory.Size of its files: regular files once per inode, symlinks their target's
length, directories nothing.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest

from labkit.layers import apply_layer
from labkit.oci import Platform

from helpers.cli import run, stock
from helpers.gounits import human_size

pytestmark = pytest.mark.skipif(str(Platform.host()) != "linux/amd64", reason="the lab pulls linux/amd64 here")


def human(size: float, space: str = "", precision: int = 4) -> str:
    """Return go-units HumanSize (precision 4), or HumanSizeWithPrecision(size, precision)."""
    return human_size(size, precision, space)


def directory_size(root) -> int:
    """Return moby pkg/directory Size: bytes of files (once per inode) and symlinks under `root`."""
    seen, total = set(), 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISDIR(st.st_mode) or st.st_size == 0 or st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_size
    return total


@pytest.fixture
def stocked(lab, labkit_home, monkeypatch):
    """busybox (an index, linux/amd64 pulled) and ubuntu, and a created container on busybox."""
    monkeypatch.setenv("LABKIT_NOW", "2017-01-15T00:00:00Z")
    stock(lab, "c")
    return labkit_home


def facts(home) -> dict:
    """Return what the home holds, read from its files: per image, its blobs and its layers' sizes."""
    blobs = home / "store" / "blobs" / "sha256"

    def blob(d: str) -> bytes:
        return (blobs / d.split(":")[1]).read_bytes()

    out = {}
    for name in ("busybox", "ubuntu"):
        target = run("inspect", "-f", "{{.Id}}", name)[1].strip()
        doc = json.loads(blob(target))
        manifests = [m["digest"] for m in doc["manifests"]] if "manifests" in doc else [target]
        present, layers = {}, {}
        if target not in manifests:
            present[target] = len(blob(target))  # the index: in SIZE, in no image's Size
        for m in manifests:
            if not (blobs / m.split(":")[1]).exists():
                continue
            mdoc = json.loads(blob(m))
            present[m] = len(blob(m))
            for d in (mdoc["config"], *mdoc["layers"]):
                present[d["digest"]] = d["size"]
            diff_ids = json.loads(blob(mdoc["config"]["digest"]))["rootfs"]["diff_ids"]
            for diff, desc in zip(diff_ids, mdoc["layers"]):
                # what overlay2's diff directory of the layer holds: the layer applied as a tree of its own
                with tempfile.TemporaryDirectory() as tmp:
                    apply_layer(blobs / desc["digest"].split(":")[1], Path(tmp) / "diff")
                    layers[diff] = directory_size(Path(tmp) / "diff")
        out[name] = {"present": present, "layers": layers, "index": target not in manifests, "target": target}
    return out


def test_system_df_docker_29(stocked):
    f = facts(stocked)
    # no blob or layer is shared between the two: SharedSize 0, each image's Size is all it holds
    assert not set(f["busybox"]["present"]) & set(f["ubuntu"]["present"])
    total = sum(sum(i["present"].values()) + sum(i["layers"].values()) for i in f.values())
    ubuntu = sum(f["ubuntu"]["present"].values()) + sum(f["ubuntu"]["layers"].values())
    assert run("system", "df") == (0, (
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
        f"{'Images':<16}{'2':<10}{'1':<10}{human(total):<10}{human(ubuntu)} ({ubuntu * 100 // total}%)\n"
        "Containers      1         0         0B        0B\n"
        "Local Volumes   0         0         0B        0B\n"
        "Build Cache     0         0         0B        0B\n"), "")
    # -v: one row per image, Size its platforms' blobs (not the index) and snapshots
    busybox = sum(v for d, v in f["busybox"]["present"].items() if d != f["busybox"]["target"]) + \
        sum(f["busybox"]["layers"].values())
    rows = {r["Repository"]: r for r in json.loads(run("system", "df", "-v", "--format", "json")[1])["Images"]}
    assert (rows["busybox"]["Size"], rows["busybox"]["SharedSize"], rows["busybox"]["Containers"]) == (
        human(busybox, precision=3), "0B", "1")
    assert (rows["ubuntu"]["UniqueSize"], rows["ubuntu"]["Containers"]) == (human(ubuntu), "0")
    assert rows["busybox"]["ID"] == f["busybox"]["target"]


def test_system_df_lab_text(stocked):
    f = facts(stocked)
    layers = {d: s for i in f.values() for d, s in i["layers"].items()}
    ubuntu = sum(f["ubuntu"]["layers"].values())
    total = sum(layers.values())
    assert run("--image-store", "graphdriver", "system", "df") == (0, (
        "TYPE                TOTAL               ACTIVE              SIZE                RECLAIMABLE\n"
        f"{'Images':<20}{'2':<20}{'1':<20}{human(total, ' '):<20}{human(ubuntu, ' ')} ({ubuntu * 100 // total}%)\n"
        f"{'Containers':<20}{'1':<20}{'0':<20}{'0 B':<20}0 B\n"
        f"{'Local Volumes':<20}{'0':<20}{'0':<20}{'0 B':<20}0 B\n"), "")
    rows = {r["Repository"]: r for r in
            json.loads(run("--image-store", "graphdriver", "system", "df", "-v", "--format", "json")[1])["Images"]}
    assert rows["ubuntu"]["Size"] == human(ubuntu, " ", precision=3)
    assert rows["ubuntu"]["UniqueSize"] == human(ubuntu, " ") and rows["busybox"]["Containers"] == "1"


@pytest.mark.parametrize("store, zero, two", [("containerd", "0B", "2B"), ("graphdriver", "0 B", "2 B")])
def test_a_layer_that_only_deletes_is_zero_in_history(lab, store, zero, two):
    """Docker's layer SIZE is its files (moby: the layer's DiffSize / the snapshot's usage), not its tar's
    length: a layer that only deletes a file holds a whiteout and is 0B; Docker 29 prints go-units sizes,
    the lab text's Docker "0 B"."""
    s = ("--image-store", store)
    assert run(*s, "run", "-d", "--name", "one", "busybox", "sleep", "infinity")[0] == 0
    assert run(*s, "exec", "one", "sh", "-c", "echo x > /f") == (0, "", "")
    assert run(*s, "commit", "one", "steps:1")[0] == 0
    assert run(*s, "run", "-d", "--name", "two", "steps:1", "sleep", "infinity")[0] == 0
    assert run(*s, "exec", "two", "rm", "/f") == (0, "", "")
    assert run(*s, "commit", "two", "steps:2")[0] == 0
    sizes = run(*s, "history", "--format", "{{.Size}}", "steps:2")[1].splitlines()
    assert sizes[:2] == [zero, two]  # the deleting layer, then the one that wrote "x\n"
    raw = run(*s, "history", "-H", "false", "--format", "{{.Size}}", "steps:2")[1].splitlines()
    assert raw[:2] == ["0", "2"]
