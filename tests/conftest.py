"""Shared fixtures: every test gets its own labkit home; nothing touches the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def labkit_home(tmp_path, monkeypatch):
    """Return a fresh LABKIT_HOME for the test (also isolates the docker config and the clock)."""
    home = tmp_path / "labkit-home"
    home.mkdir()
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for var in ("LABKIT_NOW", "LABKIT_SEED", "LABKIT_OFFLINE", "LABKIT_NOTEBOOK_BASE"):
        # also set for the notebook kernels by notebooks/conftest.py when one pytest run collects both
        monkeypatch.delenv(var, raising=False)
    return home
