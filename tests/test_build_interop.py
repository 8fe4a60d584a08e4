"""A multi-stage build, pushed to the real distribution registry and unpacked by umoci, gives the tree the same
steps give on a real directory (real `sh` running the RUN lines, Python copying what COPY/ADD copy)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from helpers import peers, skopeo
from helpers.trees import scan

pytestmark = pytest.mark.interop("docker-registry", "skopeo", "umoci")

DOCKERFILE = """\
FROM busybox AS build
WORKDIR /src
COPY src/ ./
RUN mkdir -p out && cp main.txt out/app.bin && chmod 755 out/app.bin && echo debug > out/debug.log

FROM busybox
COPY --from=build /src/out/app.bin /usr/local/bin/app
COPY conf/ /etc/app/
ADD bundle.tar /opt/
WORKDIR /data
RUN rm ../etc/app/old.conf && ln -s /usr/local/bin/app run && echo ready > state && mkdir -p logs
"""

RUN_BUILD = "mkdir -p out && cp main.txt out/app.bin && chmod 755 out/app.bin && echo debug > out/debug.log"
RUN_FINAL = "rm ../etc/app/old.conf && ln -s /usr/local/bin/app run && echo ready > state && mkdir -p logs"


def _bundle() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, kind, data, mode in (("tool", "dir", b"", 0o750), ("tool/run.sh", "file", b"#!/bin/sh\n", 0o755),
                                       ("tool/README", "file", b"read me\n", 0o644)):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 1500000000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _context(root: Path) -> Path:
    files = {"Dockerfile": DOCKERFILE, "src/main.txt": "the app\n", "src/notes.md": "notes\n",
             "conf/app.conf": "port=80\n", "conf/old.conf": "old\n", "conf/sub/extra.conf": "x=1\n"}
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / "bundle.tar").write_bytes(_bundle())
    return root


def _umoci_unpack(layout: str, ref: str, bundle: Path) -> Path:
    peers.run("umoci", "unpack", "--rootless", "--image", f"{layout}:{ref}", str(bundle))
    return bundle / "rootfs"


def _sh(cwd: Path, script: str) -> None:
    subprocess.run(["/bin/sh", "-c", script], cwd=cwd, check=True, env={"PATH": "/usr/bin:/bin"})


def _copy_contents(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copystat(src, dest)
    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)


def test_multi_stage_build_pushed_and_unpacked_by_umoci_equals_the_steps_on_a_real_directory(
        lab, distribution_registry, tmp_path):
    ctx = _context(tmp_path / "ctx")
    ref = f"{distribution_registry.host}/app:1"
    result = lab.build(ctx, tags=[ref])
    lab.push(ref)
    oci = skopeo.copy_to_oci(ref, tmp_path / "pulled", "app")
    built = scan(_umoci_unpack(str(oci), "app", tmp_path / "bundle-built"), setid=False)

    # the oracle: busybox unpacked by umoci, then the Dockerfile's steps done by hand on real directories
    lab.pull("busybox")                                        # the build kept it unnamed, in its cache
    base = _umoci_unpack(str(lab.store.layout.root), "docker.io/library/busybox:latest", tmp_path / "bundle-base")
    stage = tmp_path / "stage-build"
    shutil.copytree(base, stage, symlinks=True)
    (stage / "src").mkdir(mode=0o755)
    _copy_contents(ctx / "src", stage / "src")
    _sh(stage / "src", RUN_BUILD)
    final = tmp_path / "stage-final"
    shutil.copytree(base, final, symlinks=True)
    (final / "usr" / "local" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(stage / "src" / "out" / "app.bin", final / "usr" / "local" / "bin" / "app")
    _copy_contents(ctx / "conf", final / "etc" / "app")
    (final / "opt").mkdir(exist_ok=True)
    with tarfile.open(ctx / "bundle.tar") as tf:
        # fully trusted, as ADD extracts; Python before 3.11.4 (Debian bookworm's 3.11.2) has no filter argument
        # and extracts that way by default
        trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        tf.extractall(final / "opt", **trusted)
    (final / "data").mkdir(mode=0o755)
    _sh(final / "data", RUN_FINAL)
    expected = scan(final, setid=False)

    assert built == expected
    assert "data/logs" in built and built["data/run"] == ("symlink", "/usr/local/bin/app")
    assert "src" not in built                                  # the build stage stays behind
    assert result.manifest_digest == lab.store.manifest(lab.image(ref)).digest
