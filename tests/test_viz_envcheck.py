"""The environment check of notebook 00: each check's verdict and the friendly report."""

from __future__ import annotations

import socket

import pytest

from labkit.labctl import seed
from labkit.registry.server import LabRegistry
from labkit.viz import envcheck

from helpers.net import free_port


def test_report_lists_fixes_only_for_problems():
    checks = [envcheck.Check("labkit", True, "version 1"),
              envcheck.Check("graphviz", False, "no dot", "install Graphviz"),
              envcheck.Check("internet", False, "offline (fine)", "unused", required=False)]
    text = envcheck.report(checks)
    assert "[ok  ] labkit: version 1" in text
    assert "[FIX ] graphviz: no dot\n       -> install Graphviz" in text
    assert "[note] internet: offline (fine)" in text and "unused" not in text
    assert text.endswith("1 thing(s) to fix before the lab works fully: see the -> lines above.")
    assert envcheck.report(checks[:1]).endswith("All set: everything the lab needs is here.")


def test_offline_is_forced_by_the_environment(monkeypatch):
    monkeypatch.setenv(envcheck.OFFLINE_ENV, "1")
    c = envcheck.check_online()
    assert not c.ok and not c.required and c.found.startswith("offline (that is normal and fine")


def test_online_probe_on_loopback():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert envcheck.is_online("127.0.0.1", s.getsockname()[1], timeout=1)
    assert not envcheck.is_online("127.0.0.1", free_port(), timeout=1)


def test_registry_check(tmp_path):
    root = tmp_path / "reg"
    seed(root)
    with LabRegistry(root, "127.0.0.1:0") as reg:
        c = envcheck.check_registry(reg.url)
        assert c.ok and c.found == "this home's lab registry answers (it stands in for Docker Hub)"
    c = envcheck.check_registry(reg.url, timeout=1)
    assert not c.ok and "nothing answers" in c.found and "labkit lab up" in c.fix


@pytest.mark.parametrize("fn", [envcheck.check_labkit, envcheck.check_graphviz, envcheck.check_widgets])
def test_installed_parts_are_found(fn):
    assert fn().ok
