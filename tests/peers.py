"""Helpers for tests that compare labkit with its peers: running skopeo/umoci, and scanning a tree."""

from __future__ import annotations

import os
import stat
import subprocess


def run(*cmd: str) -> str:
    """Run a peer tool and return its stdout; fail the test with its output when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout


def scan(root, setid: bool = True) -> dict:
    """Return path -> (type, permission bits, content or link target) for everything below `root`
    (setid=False masks setuid/setgid, which umoci keeps and labkit records instead)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            perm = stat.S_IMODE(st.st_mode) if setid else stat.S_IMODE(st.st_mode) & ~0o6000
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(perm))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as fh:
                    out[rel] = ("file", oct(perm), fh.read())
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo", oct(perm))
            else:
                out[rel] = ("device", oct(st.st_mode))
    return out
