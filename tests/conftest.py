"""Shared fixtures: every test gets its own labkit home; nothing touches the user's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def labkit_home(tmp_path, monkeypatch):
    """Return a fresh LABKIT_HOME for the test (also isolates the docker config and the clock)."""
    home = tmp_path / "labkit-home"
    home.mkdir()
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for var in ("LABKIT_NOW", "LABKIT_SEED", "LABKIT_OFFLINE", "LABKIT_NOTEBOOK_BASE"):
        # Unset for the test and restored afterwards, even when code under test sets it (notebook.setup
        # does): setenv records the old state, which delenv alone does not for an unset variable. They are
        # also set for the notebook kernels by notebooks/conftest.py when one pytest run collects both.
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    return home



@pytest.fixture(scope="session", autouse=True)
def no_stray_lab_registries(tmp_path_factory):
    """After the session, stop any lab registry a test started in the background and left running.

    A leak is a bug (it is reported): a stray server keeps serving a deleted folder, holds a port, and
    keeps a chroot's /dev busy."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for proc in Path("/proc").iterdir():
        try:
            argv = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if "labkit.labctl" in argv and "serve" in argv and any(a.startswith(base) for a in argv):
            print(f"\nconftest: stopping a lab registry a test left running (pid {proc.name})")
            try:
                os.kill(int(proc.name), signal.SIGTERM)
            except (OSError, ValueError):
                pass
