"""Shared fixtures and the peer-tool gate.

Every test gets its own labkit home (nothing touches the user's). A test that needs a peer tool says so
with `@pytest.mark.interop("skopeo", ...)` or `@pytest.mark.browser`; it is skipped with the reason when
the tool is missing here, and fails instead under LABKIT_REQUIRE_PEERS=1 (CI). Helpers live in
tests/helpers/ (see its __init__), never in another test module.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from helpers import peers


def _needed_peers(item) -> list[str]:
    """Return the peer tools `item` declares (interop marker arguments; browser means chromium + playwright)."""
    needed = [name for mark in item.iter_markers("interop") for name in mark.args]
    if item.get_closest_marker("browser"):
        needed += peers.BROWSER
    return list(dict.fromkeys(needed))


def pytest_collection_modifyitems(config, items):
    """Check every interop marker names known peer tools; mark tests whose peers are missing as skipped.

    Under LABKIT_REQUIRE_PEERS=1 nothing is skipped here: pytest_runtest_setup fails those tests instead."""
    for item in items:
        for mark in item.iter_markers("interop"):
            unknown = [name for name in mark.args if name not in peers.PEERS]
            if not mark.args or unknown:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.interop must name its peer tools from {sorted(peers.PEERS)}"
                    + (f", not {unknown}" if unknown else ""))
        reasons = [r for r in map(peers.missing, _needed_peers(item)) if r]
        if reasons and not peers.strict():
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Fail a test whose peer tools are missing under LABKIT_REQUIRE_PEERS=1, before its fixtures start."""
    if peers.strict():
        peers.require(*_needed_peers(item))


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


@pytest.fixture(scope="session")
def lab_images_registry(tmp_path_factory):
    """The lab registry seeded with the lab's stand-in images (what `labkit lab up` serves), on a free port.

    Shared by the whole session, so tests only read from it (pull, search); a test that pushes starts its own
    (helpers.registries.start_lab_registry)."""
    from labkit.labctl import seed
    from labkit.registry.server import LabRegistry

    root = tmp_path_factory.mktemp("lab-images") / "registry"
    seed(root)
    registry = LabRegistry(root, "127.0.0.1:0").start()
    yield registry
    registry.stop()


@pytest.fixture
def lab(labkit_home, lab_images_registry):
    """A Lab on the test's home whose docker.io mirror is the seeded lab registry (as after `labkit lab up`)."""
    from labkit.home import save_settings
    from labkit.lab import Lab

    save_settings(labkit_home, {"registry-mirrors": [lab_images_registry.url]})
    return Lab(labkit_home)


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
