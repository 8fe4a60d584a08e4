"""`docker diff`: A/C/D lines from the read-write layer, parents of changes as C, one D per deleted directory,
in moby's walk order (depth first, names sorted: "/a", "/a/b", "/a-c")."""

from __future__ import annotations

import random

import pytest

from helpers.imagefactory import stored_entry_image
from labkit.containers import Containers, diff
from labkit.layers.writer import Entry

IMAGE = [
    Entry("etc", "dir"), Entry("etc/hosts", data=b"h"), Entry("etc/apt", "dir"), Entry("etc/apt/sources", data=b"s"),
    Entry("usr", "dir"), Entry("usr/share", "dir"), Entry("usr/share/doc", "dir"), Entry("usr/share/doc/a", data=b"a"),
    Entry("usr/share/doc/b", data=b"b"), Entry("a", "dir"), Entry("a/b", data=b""), Entry("a-c", data=b""),
    Entry("lnk", "symlink", linkname="etc"),
]


@pytest.fixture
def c(labkit_home):
    stored_entry_image(labkit_home, [IMAGE], "diff:1")
    return Containers(labkit_home, rng=random.Random(5)).create("diff:1")


CASES = [
    ("nothing", [], []),
    ("modify", [("append", "/etc/hosts", b"x")], ["C /etc", "C /etc/hosts"]),
    ("add at root", [("write", "/new", b"1")], ["A /new"]),
    ("add deep", [("mkdir", "/etc/apt/conf.d"), ("write", "/etc/apt/conf.d/x", b"1")],
     ["C /etc", "C /etc/apt", "A /etc/apt/conf.d", "A /etc/apt/conf.d/x"]),
    ("delete file", [("remove", "/usr/share/doc/a")], ["C /usr", "C /usr/share", "C /usr/share/doc", "D /usr/share/doc/a"]),
    ("delete dir is one D", [("rmtree", "/usr/share/doc")], ["C /usr", "C /usr/share", "D /usr/share/doc"]),
    ("recreated dir", [("rmtree", "/usr/share/doc"), ("mkdir", "/usr/share/doc"), ("write", "/usr/share/doc/a", b"n")],
     ["C /usr", "C /usr/share", "C /usr/share/doc", "C /usr/share/doc/a"]),
    ("add then delete own file", [("write", "/tmpfile", b"1"), ("remove", "/tmpfile")], []),
    ("rename", [("rename", "/etc/hosts", "/etc/hosts.bak")], ["C /etc", "D /etc/hosts", "A /etc/hosts.bak"]),
    ("walk order", [("write", "/a-c", b"1"), ("write", "/a/b", b"2"), ("write", "/a/c", b"3")],
     ["C /a", "C /a/b", "A /a/c", "C /a-c"]),
    ("chmod", [("chmod", "/etc/apt/sources", 0o600)], ["C /etc", "C /etc/apt", "C /etc/apt/sources"]),
    ("symlink", [("symlink", "hosts", "/etc/h")], ["C /etc", "A /etc/h"]),
    ("dir over image symlink", [("remove", "/lnk"), ("mkdir", "/lnk"), ("write", "/lnk/hosts", b"1")],
     ["C /lnk", "A /lnk/hosts"]),
]


@pytest.mark.parametrize("name,steps,expected", CASES, ids=[x[0] for x in CASES])
def test_diff(c, name, steps, expected):
    for step in steps:
        verb, *args = step
        if verb == "rmtree":
            c.remove(args[0], recursive=True)
        else:
            getattr(c, verb)(*args)
    assert diff(c) == expected
    assert c.diff() == expected
