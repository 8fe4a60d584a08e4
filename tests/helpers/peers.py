"""Peer tools: the one place that decides whether this machine has them, and running them.

labkit is tested against real tools (docker-registry, skopeo, umoci, htpasswd, Chromium through Playwright,
repo2docker). A test names the peers it needs with a marker, and tests/conftest.py checks them before it
runs:

    @pytest.mark.interop("docker-registry", "skopeo")     # tools from PEERS
    @pytest.mark.browser                                   # = chromium + playwright

A missing peer skips the test with the reason (what is missing and how to install it). CI installs every
peer (`.ci/run`) and sets LABKIT_REQUIRE_PEERS=1: then a missing peer fails the test instead, so a broken
CI image cannot turn the interop tests into silent skips. The helpers that start or run a peer call
`require` too, so a test that forgot its marker still skips (or fails) with the same clear reason.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_PEERS_ENV = "LABKIT_REQUIRE_PEERS"


@dataclass(frozen=True)
class Peer:
    """A tool the tests compare labkit with: its program name and where it comes from."""

    name: str
    what: str
    install: str


PEERS = {p.name: p for p in [
    Peer("docker-registry", "the distribution registry", "apt install docker-registry"),
    Peer("skopeo", "copies images between registries and layouts", "apt install skopeo"),
    Peer("umoci", "unpacks OCI layouts", "apt install umoci"),
    Peer("htpasswd", "writes the registry's Basic auth file", "apt install apache2-utils"),
    Peer("chromium", "the browser for the JupyterLab test", "apt install chromium"),
    Peer("playwright", "drives Chromium", "pip install -e '.[test]' (and apt install libatomic1 for its driver)"),
    Peer("repo2docker", "what Binder runs", "pip install -e '.[test]' (jupyter-repo2docker)"),
    Peer("buildah", "builds images from Dockerfiles", "apt install buildah"),
    Peer("npm", "fetches the browser edition's runtime (make lite)", "apt install npm"),
    # Python packages of the test extra that serve as independent implementations to compare with:
    Peer("cryptography", "an independent ES256 and X.509 implementation", "pip install -e '.[test]'"),
]}

PYTHON_PEERS = {"cryptography"}  # importable modules rather than programs

BROWSER = ("chromium", "playwright")  # what @pytest.mark.browser needs


def executable(name: str) -> "str | None":
    """Return the path of program `name`: on PATH, or beside this Python (a console script of the venv)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


@functools.lru_cache(maxsize=None)
def missing(name: str) -> "str | None":
    """Return why peer `name` cannot be used here (None when it can); checked once per session."""
    peer = PEERS[name]  # a KeyError names a typo in a marker
    if name == "playwright":
        if importlib.util.find_spec("playwright") is None:
            return f"playwright ({peer.what}) is not installed: {peer.install}"
        # The Python package runs a Node driver; it needs libatomic.so.1, which a bare system may lack.
        try:
            p = subprocess.run([sys.executable, "-m", "playwright", "--version"], capture_output=True,
                               text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"playwright's driver does not start ({e}): {peer.install}"
        if p.returncode != 0:
            tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"playwright's driver does not start ({tail[0]}): {peer.install}"
        return None
    if name in PYTHON_PEERS:
        if importlib.util.find_spec(name) is None:
            return f"{name} ({peer.what}) is not installed: {peer.install}"
        return None
    if executable(name) is None:
        return f"{name} ({peer.what}) is not installed: {peer.install}"
    return None


def strict() -> bool:
    """Return True when a missing peer is an error (LABKIT_REQUIRE_PEERS=1, as CI sets it)."""
    return os.environ.get(REQUIRE_PEERS_ENV, "") == "1"


def require(*names: str) -> None:
    """Skip the running test when a peer in `names` is missing (fail it under LABKIT_REQUIRE_PEERS=1)."""
    reasons = [r for r in map(missing, names) if r]
    if not reasons:
        return
    message = "; ".join(reasons)
    if strict():
        pytest.fail(f"{REQUIRE_PEERS_ENV}=1 and a peer tool is missing: {message}", pytrace=False)
    pytest.skip(message)


def import_module(name: str):
    """Import Python peer `name` for a test module: skip the module when it is missing (fail under
    LABKIT_REQUIRE_PEERS=1), like a marker does for one test."""
    reason = missing(name)
    if reason:
        if strict():
            pytest.fail(f"{REQUIRE_PEERS_ENV}=1 and a peer is missing: {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return importlib.import_module(name)


def needed(item) -> list[str]:
    """Return the peers test `item` declares: its interop markers' arguments; browser means BROWSER."""
    names = [name for mark in item.iter_markers("interop") for name in mark.args]
    if item.get_closest_marker("browser"):
        names += BROWSER
    return list(dict.fromkeys(names))


def gate(item) -> None:
    """At collection: refuse an interop marker that names no known peer (the gate could not check it), and
    mark `item` skipped, with the reasons, when a peer it needs is missing (not under LABKIT_REQUIRE_PEERS=1:
    then the test fails when it is set up, see tests/conftest.py)."""
    for mark in item.iter_markers("interop"):
        unknown = [name for name in mark.args if name not in PEERS]
        if not mark.args or unknown:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.interop must name its peer tools from "
                                    f"{sorted(PEERS)}" + (f", not {unknown}" if unknown else ""))
    reasons = [r for r in map(missing, needed(item)) if r]
    if reasons and not strict():
        item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def attempt(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run peer tool `cmd[0]` and return the finished process (text output), whatever its exit status."""
    require(cmd[0])
    return subprocess.run([executable(cmd[0]), *cmd[1:]], capture_output=True, text=True, timeout=timeout)


def run(*cmd: str, timeout: float = 120) -> str:
    """Run peer tool `cmd[0]` and return its stdout; fail the test with its output when it fails."""
    p = attempt(*cmd, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout
