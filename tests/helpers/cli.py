"""The `labkit` command in-process, and the state of a home to show that a failed command changed nothing.

    status, out, err = run("images", "--format", "{{.ID}}")
    before = home_state(home); run("rmi", "nope"); assert home_state(home) == before
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

from labkit.cli import main


def run(*argv: str, stdin: str = "") -> "tuple[int, str, str]":
    """Return (exit status, stdout, stderr) of one labkit command run in this process."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err, inp=io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue()


# what a reader may create too: the store's scratch folder (its lock, claims, ingest) and the layer locks
_SCRATCH = ("tmp", "layers/locks", "layerdb/lock")


def stock(lab, container: str) -> None:
    """Pull the lab's busybox (an index) and ubuntu into `lab` and create the container `container` on busybox
    (it stays Created: busybox's command is a shell that would exit at once)."""
    lab.pull("busybox")
    lab.pull("ubuntu")
    status, _, err = run("create", "--name", container, "busybox")
    assert status == 0, err


def home_state(home: "str | os.PathLike") -> dict:
    """Return path -> (kind, mode, content digest or link target) of everything in a labkit home but its
    scratch and lock files: two equal states mean no setting, record, blob, layer or container changed."""
    home = Path(home)
    out = {}
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = p.relative_to(home).as_posix()
            if any(rel == s or rel.startswith(s + "/") for s in _SCRATCH):
                continue
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(p.read_bytes()).hexdigest())
    return out
