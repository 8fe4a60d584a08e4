"""RUN after USER: what the command creates belongs to that user, as BuildKit's executor runs it as the user
it finds (moby/buildkit executor/oci/user.go GetUser -> moby/sys/user GetExecUser, the BuildKit of Docker 29:
"uid:gid" as is, a name or uid through /etc/passwd, a numeric user without an entry with gid 0, an unknown
name "unable to find user NAME: no matching entries in passwd file")."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.build.builder import BuildError
from labkit.build.events import Recorder


def _build(lab, tmp_path: Path, dockerfile: str, tag: str):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    rec = Recorder()
    return lab.build(ctx, progress=rec, clock=lambda: 0.0, tags=[tag]), rec


def _ids(lab, ref: str, path: str) -> tuple:
    node = lab.view(ref).lookup(path)
    return node.uid, node.gid


def _passwd(lab, name: str) -> tuple:
    rows = lab.view("busybox").read("etc/passwd").decode().splitlines()
    row = next(r.split(":") for r in rows if r.startswith(name + ":"))
    return int(row[2]), int(row[3])


def test_files_a_run_creates_after_user_belong_to_that_user(lab, tmp_path):
    lab.pull("busybox")
    _build(lab, tmp_path, "FROM busybox\nRUN mkdir /data && touch /data/root.txt\nUSER nobody\n"
                          "RUN echo hi > /tmp/nobody.txt && mkdir /tmp/d && ln -s /tmp/nobody.txt /tmp/l\n"
                          "USER 1234:5678\nRUN touch /tmp/numeric.txt\n"
                          "USER 4321\nRUN touch /tmp/nogroup.txt\n"
                          "USER nobody:root\nRUN touch /tmp/named-group.txt\n", "owned:1")
    nobody = _passwd(lab, "nobody")
    assert _ids(lab, "owned:1", "data/root.txt") == (0, 0)
    assert _ids(lab, "owned:1", "tmp/nobody.txt") == nobody
    assert _ids(lab, "owned:1", "tmp/d") == nobody
    assert _ids(lab, "owned:1", "tmp/numeric.txt") == (1234, 5678)
    assert _ids(lab, "owned:1", "tmp/nogroup.txt") == (4321, 0)          # no passwd entry: gid 0
    assert _ids(lab, "owned:1", "tmp/named-group.txt") == (nobody[0], 0)


def test_an_unknown_user_fails_the_run(lab, tmp_path):
    lab.pull("busybox")
    with pytest.raises(BuildError, match="^unable to find user nosuch: no matching entries in passwd file$"):
        _build(lab, tmp_path, "FROM busybox\nUSER nosuch\nRUN true\n", "nouser:1")
    with pytest.raises(BuildError, match="^unable to find group nosuch: no matching entries in group file$"):
        _build(lab, tmp_path, "FROM busybox\nUSER nobody:nosuch\nRUN true\n", "nogroup:1")
