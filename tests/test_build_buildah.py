"""COPY, ADD, WORKDIR and .dockerignore against a real builder: Debian's buildah builds the same Dockerfile
FROM the same base (the lab registry's busybox), and both images unpacked by umoci give the same tree.

Trees, not digests, are compared (buildah squashes its steps into one layer and writes its own metadata);
buildah's mount stubs (/dev, /proc, /sys, /run, /etc/hosts, /etc/resolv.conf, /etc/hostname) are left out.
No RUN step: the stand-in busybox holds no real programs for buildah to run.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from helpers import peers
from helpers.trees import scan

pytestmark = pytest.mark.interop("buildah", "skopeo", "umoci")

STUBS = ("dev", "proc", "sys", "run", "etc/hosts", "etc/resolv.conf", "etc/hostname")

DOCKERFILE = """\
FROM {base}
WORKDIR /srv/app
COPY src/ ./
COPY one.txt /dest/renamed.txt
COPY one.txt two.txt /many/
COPY *.md /docs/
COPY nested /nested
ADD bundle.tar.gz /opt/
ADD plain.txt /opt/plain/
COPY --chmod=0700 one.txt /private/
COPY --chown=1000:1000 one.txt /owned/
WORKDIR data
COPY . /all/
"""


def _bundle() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.USTAR_FORMAT) as tf:
        for name, kind, data, mode in (("pkg", "dir", b"", 0o755), ("pkg/bin", "dir", b"", 0o750),
                                       ("pkg/bin/tool", "file", b"#!/bin/sh\n", 0o755),
                                       ("pkg/README", "file", b"read me\n", 0o644)):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 1500000000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _context(root: Path, base: str) -> Path:
    files = {"Dockerfile": DOCKERFILE.format(base=base), "src/main.py": "print(1)\n", "src/lib/util.py": "x = 1\n",
             "one.txt": "1\n", "two.txt": "2\n", "a.md": "a\n", "b.md": "b\n", "nested/deep/er/f.txt": "f\n",
             "plain.txt": "plain\n", "debug.log": "excluded\n", "secret/key": "excluded\n",
             ".dockerignore": "*.log\nsecret\n"}
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    os.chmod(root / "src" / "main.py", 0o755)
    os.symlink("main.py", root / "src" / "link.py")
    (root / "bundle.tar.gz").write_bytes(_bundle())
    return root


def _umoci(layout: Path, ref: str, bundle: Path) -> dict:
    peers.run("umoci", "unpack", "--rootless", "--image", f"{layout}:{ref}", str(bundle))
    tree = scan(bundle / "rootfs", setid=False)
    return {p: v for p, v in tree.items() if not any(p == s or p.startswith(s + "/") for s in STUBS)}


def test_buildah_and_labkit_build_the_same_tree(lab, lab_images_registry, tmp_path):
    base = f"{lab_images_registry.address}/library/busybox:latest"
    ctx = _context(tmp_path / "ctx", base)
    lab.build(ctx, tags=["same:1"])
    ours = _umoci(lab.store.layout.root, "docker.io/library/same:1", tmp_path / "bundle-labkit")

    auth = Path(os.environ["DOCKER_CONFIG"]) / "config.json"       # buildah push reads it: an empty one
    auth.parent.mkdir(parents=True, exist_ok=True)
    auth.write_text("{}")
    store = ["--root", str(tmp_path / "buildah-root"), "--runroot", str(tmp_path / "buildah-runroot"),
             "--storage-driver", "vfs"]
    peers.run("buildah", *store, "bud", "--isolation", "chroot", "--tls-verify=false", "-t", "same:1", str(ctx),
              timeout=600)
    peers.run("buildah", *store, "push", "same:1", f"oci:{tmp_path / 'buildah-oci'}:same")
    theirs = _umoci(tmp_path / "buildah-oci", "same", tmp_path / "bundle-buildah")

    # One known difference: a directory COPY --chmod creates takes the octal mode in BuildKit since Docker 28.1
    # (tonistiigi/fsutil#228, moby/moby#49851), where Debian's buildah 1.28 makes it 0755.
    assert (ours.pop("private"), theirs.pop("private")) == (("dir", "0o700"), ("dir", "0o755"))
    assert ours == theirs
    assert ours["srv/app/data"][0] == "dir" and ours["private/one.txt"][1] == "0o700"
    assert "all/debug.log" not in ours and "all/secret" not in ours and ours["opt/pkg/bin/tool"][2] == b"#!/bin/sh\n"
