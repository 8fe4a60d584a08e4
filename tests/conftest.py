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

from labkit.home import save_settings
from labkit.lab import Lab
from labkit.layers.store import LayerStore
from labkit.store import Store

from helpers import peers
from helpers.registries import (HTPASSWD_USERS, TOKEN_USERS, start_distribution_registry, start_htpasswd_registry,
                                start_lab_registry, start_token_registry)
from helpers.scriptedserver import ScriptedServer


def pytest_collection_modifyitems(config, items):
    """Check each test's peer tools (helpers.peers.gate): skipped with the reason when one is missing."""
    for item in items:
        peers.gate(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Under LABKIT_REQUIRE_PEERS=1, fail a test whose peer tools are missing, before its fixtures start."""
    if peers.strict():
        peers.require(*peers.needed(item))


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
    """Return the lab registry seeded with the lab's stand-in images (what `labkit lab up` serves), on a free port.

    Shared by the whole session, so tests only read from it (pull, search); a test that pushes starts its own
    (the `lab_registry` fixture, or helpers.registries.start_lab_registry)."""
    registry = start_lab_registry(tmp_path_factory.mktemp("lab-images"), seeded=True)
    yield registry
    registry.stop()


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
        if "labkit.labctl" in argv and "serve" in argv and any(a == base or a.startswith(base + os.sep) for a in argv):
            print(f"\nconftest: stopping a lab registry a test left running (pid {proc.name})")
            try:
                os.kill(int(proc.name), signal.SIGTERM)
            except (OSError, ValueError):
                pass


# --- what tests work on: a store, a lab -------------------------------------------------------------------

@pytest.fixture
def store(labkit_home):
    """Return the content store (a labkit.store.Store) of the test's home."""
    return Store(labkit_home)


@pytest.fixture
def layer_store(store):
    """Return the layer store (a labkit.layers.store.LayerStore) of the test's home, over `store`."""
    return LayerStore(store.home, store=store)


@pytest.fixture
def mirrored_home(labkit_home, lab_images_registry):
    """Return the test's home with `lab_images_registry` as its docker.io mirror (as after `labkit lab up`)."""
    save_settings(labkit_home, {"registry-mirrors": [lab_images_registry.url]})
    return labkit_home


@pytest.fixture
def lab(mirrored_home):
    """Return a labkit.Lab on the test's home, pulling the lab images from `lab_images_registry`."""
    return Lab(mirrored_home)


# --- registries on 127.0.0.1 ------------------------------------------------------------------------------

@pytest.fixture
def scripted_server():
    """Return a ScriptedServer (helpers.scriptedserver): a registry that answers what the test scripts."""
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def lab_registry(tmp_path):
    """Return an empty lab registry (labkit.registry.server.LabRegistry, no auth) on a free loopback port."""
    registry = start_lab_registry(tmp_path)
    yield registry
    registry.stop()


@pytest.fixture
def distribution_registry(tmp_path):
    """Return a plain docker-registry (helpers.registries.DistributionRegistry; needs interop("docker-registry"))."""
    with start_distribution_registry(tmp_path) as registry:
        yield registry


@pytest.fixture
def htpasswd_registry(tmp_path):
    """Return a docker-registry with Basic auth for helpers.registries.HTPASSWD_USERS (alice:wonder-land)."""
    with start_htpasswd_registry(tmp_path, HTPASSWD_USERS) as registry:
        yield registry


@pytest.fixture
def token_server(tmp_path):
    """Return a started TokenServer (helpers.tokenserver) for helpers.registries.TOKEN_USERS (alice:s3cret)."""
    peers.require("cryptography")
    from helpers.tokenserver import TokenServer  # signs with cryptography: imported only once it is there

    server = TokenServer(tmp_path, users=TOKEN_USERS).start()
    yield server
    server.stop()


@pytest.fixture
def token_registry(tmp_path, token_server):
    """Return a docker-registry whose Bearer tokens come from `token_server`."""
    with start_token_registry(tmp_path, token_server) as registry:
        yield registry
