"""Compare directory trees: what labkit unpacked against what a peer tool (umoci) or a reference wrote."""

from __future__ import annotations

import os
import stat


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
