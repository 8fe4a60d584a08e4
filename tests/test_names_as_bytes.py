"""Names that are not UTF-8 (latin-1 bytes from old tars) and hard links to a lower layer's file, end to end:
layer store, merged view, container (reads, copy-on-write, whiteouts), `diff`, `commit`, `unpack`, and how
the faces show such a name (escaped, "caf\\xe9.txt", where docker prints the raw bytes)."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import tarfile

import pytest

from helpers import imagefactory as f
from helpers.peers import run
from helpers.trees import scan
from labkit.cli import main
from labkit.commit import commit
from labkit.containers import Containers
from labkit.paths import printable
from labkit.shell import run as shell_run
from labkit.unpack import unpack

CAFE = "caf\udce9.txt"           # b"caf\xe9.txt": latin-1, as os.listdir returns it (PEP 383)
DIR = "r\udce9pertoire"
BUSYBOX = b"\x7fELF busybox " * 8    # an ELF file: labkit's shell runs it as the applet its name says


@pytest.fixture
def containers(labkit_home, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    base = f.tar_layer([f.m_dir("bin/"), f.m_file("bin/busybox", BUSYBOX, mode=0o755),
                        f.m_file(CAFE, b"latin-1\n"), f.m_dir(DIR + "/"), f.m_file(DIR + "/old\udcff", b"old")])
    upper = f.tar_layer([f.m_hardlink("bin/sh", "bin/busybox"), f.m_file("na\udcefve", b"naive")]
                        + [f.m_hardlink(f"bin/{applet}", "bin/busybox") for applet in ("cat", "ls", "sleep")])
    cs = Containers(labkit_home, rng=random.Random(3))
    f.store_image(cs.store, f.make_image([base, upper]), "bytes:1")
    return cs


@pytest.mark.parametrize("text, shown", [
    ("plain/utf-8 caf\u00e9", "plain/utf-8 caf\u00e9"), (CAFE, "caf\\xe9.txt"), ("\udcff\udc80", "\\xff\\x80"),
    ("\ud800 lone", "\\ud800 lone")])
def test_printable(text, shown):
    assert printable(text) == shown
    printable(text).encode("utf-8")


def test_container_reads_writes_and_diffs_raw_names(containers):
    c = containers.create("bytes:1")
    assert c.read("/" + CAFE) == b"latin-1\n" and c.read("/bin/sh") == BUSYBOX
    assert sorted(c.listdir("/")) == sorted(["bin", CAFE, DIR, "na\udcefve"])
    c.write(f"/{DIR}/new\udce0", b"new")
    c.append("/" + CAFE, b"more\n")                                   # copy-up of a raw name
    c.remove(f"/{DIR}/old\udcff")                                    # a whiteout of a raw name
    c.link("/bin/sh", "/bin/ash")
    assert c.diff() == ["C /bin", "A /bin/ash", "C /bin/sh", f"C /{CAFE}", f"C /{DIR}", f"A /{DIR}/new\udce0",
                        f"D /{DIR}/old\udcff"]
    assert os.path.exists(os.fsencode(c.upper) + b"/r\xe9pertoire/new\xe0")     # raw bytes on disk
    # the shell shows them escaped
    out = shell_run(c, f"ls / /{DIR}").output
    assert "caf\\xe9.txt" in out and "new\\xe0" in out and "\udce9" not in out


def test_cli_prints_raw_names_escaped(containers, labkit_home, capsys):
    c = containers.create("bytes:1", name="bytes", cmd=["sleep", "infinity"])   # running, for exec
    containers.start(c)
    c.write(f"/{DIR}/n\udce9", b"x")
    out, err = io.StringIO(), io.StringIO()
    assert main(["--home", str(labkit_home), "diff", "bytes"], out=out, err=err) == 0
    assert out.getvalue() == "C /r\\xe9pertoire\nA /r\\xe9pertoire/n\\xe9\n"
    assert main(["--home", str(labkit_home), "exec", "bytes", "cat", "/nope\udce9"], out=out, err=err) == 1
    assert "/nope\\xe9" in out.getvalue() + err.getvalue()


@pytest.mark.interop("umoci")
def test_commit_keeps_raw_names_and_umoci_unpacks_the_same_tree(containers, tmp_path):
    c = containers.create("bytes:1")
    c.write(f"/{DIR}/new\udce0", b"new")
    c.remove(f"/{DIR}/old\udcff")
    c.link("/bin/sh", "/bin/ash")
    store = containers.store
    rec = commit(store, containers.layer_store, c, "committed:1")
    top = store.manifest(rec).layers[-1]
    tar = gzip.decompress(store.layout.read_blob(top.digest))
    with tarfile.open(fileobj=io.BytesIO(tar), encoding="latin-1") as tf:    # latin-1: the names' own bytes
        names = [t.name for t in tf.getmembers()]
    assert names == ["bin", "bin/ash", "bin/sh", "r\xe9pertoire", "r\xe9pertoire/.wh.old\xff",
                     "r\xe9pertoire/new\xe0"]
    mine = tmp_path / "mine"
    unpack(store, containers.layer_store, "committed:1", mine)
    entries = json.loads((store.layout.root / "index.json").read_text())["manifests"]
    ref_name = next(e["annotations"]["org.opencontainers.image.ref.name"] for e in entries
                    if e["digest"] == str(store.resolve("committed:1").manifest.digest))
    run("umoci", "unpack", "--rootless", "--image", f"{store.layout.root}:{ref_name}", str(tmp_path / "bundle"))
    assert scan(mine) == scan(tmp_path / "bundle" / "rootfs")
    assert os.listdir(os.fsencode(mine / DIR)) == [b"new\xe0"]
    # a new container over the committed image sees what the first one saw
    d = containers.create("committed:1")
    assert d.read(f"/{DIR}/new\udce0") == b"new" and d.read("/bin/ash") == BUSYBOX
