"""The peer-tool gate (tests/helpers/peers.py): a missing tool skips with the reason, and fails instead under
LABKIT_REQUIRE_PEERS=1, so CI (which installs every peer) cannot turn interop tests into silent skips."""

from __future__ import annotations

import pytest

from helpers import peers

uncached_missing = peers.missing.__wrapped__  # the real check, reading this test's PATH


@pytest.fixture
def bare_path(tmp_path, monkeypatch):
    """Return a PATH directory holding one program, umoci (a script), and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    umoci = bin_dir / "umoci"
    umoci.write_text("#!/bin/sh\necho umoci 0.0\n")
    umoci.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(peers, "missing", uncached_missing)
    monkeypatch.delenv(peers.REQUIRE_PEERS_ENV, raising=False)
    return bin_dir


def test_a_peer_on_path_is_found_and_a_missing_one_says_how_to_install_it(bare_path):
    assert peers.executable("umoci") == str(bare_path / "umoci") and peers.missing("umoci") is None
    assert peers.missing("skopeo") == ("skopeo (copies images between registries and layouts) is not installed: "
                                       "apt install skopeo")
    assert peers.run("umoci", "--version") == "umoci 0.0\n"


def test_require_skips_and_under_labkit_require_peers_fails(bare_path, monkeypatch):
    peers.require("umoci")  # present: nothing happens
    with pytest.raises(pytest.skip.Exception, match=r"^skopeo \(.*\) is not installed: apt install skopeo$"):
        peers.require("umoci", "skopeo")
    monkeypatch.setenv(peers.REQUIRE_PEERS_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="^LABKIT_REQUIRE_PEERS=1 and a peer tool is missing: skopeo "):
        peers.require("skopeo")
    with pytest.raises(pytest.fail.Exception, match="htpasswd"):
        peers.run("htpasswd", "-Bbn", "alice", "x")  # the helpers that run a peer check it too


def test_the_gate_marks_a_test_needing_a_missing_peer_skipped_with_the_reason(request, bare_path):
    request.node.add_marker(pytest.mark.interop("umoci", "docker-registry"))
    assert peers.needed(request.node) == ["umoci", "docker-registry"]
    peers.gate(request.node)
    skip = request.node.get_closest_marker("skip")
    assert skip.kwargs["reason"] == ("docker-registry (the distribution registry) is not installed: "
                                     "apt install docker-registry")


def test_under_labkit_require_peers_the_gate_leaves_the_failing_to_set_up(request, bare_path, monkeypatch):
    monkeypatch.setenv(peers.REQUIRE_PEERS_ENV, "1")
    request.node.add_marker(pytest.mark.interop("skopeo"))
    peers.gate(request.node)
    assert request.node.get_closest_marker("skip") is None


def test_browser_tests_need_chromium_and_playwright(request):
    request.node.add_marker(pytest.mark.browser)
    assert peers.needed(request.node) == ["chromium", "playwright"]


@pytest.mark.parametrize("marker, message", [
    (pytest.mark.interop(), "must name its peer tools"),
    (pytest.mark.interop("skopeo", "scopeo"), "not ['scopeo']"),
])
def test_the_gate_refuses_an_interop_marker_it_cannot_check(request, marker, message):
    request.node.add_marker(marker)
    with pytest.raises(pytest.UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        peers.gate(request.node)
