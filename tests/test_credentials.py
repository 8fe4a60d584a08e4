"""Credentials as Docker finds them: credHelpers[server], then credsStore, then `auths`; the credential helper
protocol spoken with a real (scripted) `docker-credential-*` program; DOCKER_CONFIG; identity tokens (OAuth2
refresh tokens) from login to pull; login and logout through the helper."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
from pathlib import Path

import pytest

from labkit.errors import AuthRequired, LabkitError
from labkit.pull import pull
from labkit.registry.auth import Credentials
from labkit.registry.credhelper import CredentialHelper, CredentialHelperError
from labkit.registry.dockerconfig import (FileStore, HelperStore, HUB_SERVER, load_docker_credentials, read_config,
                                          store_for)
from labkit.registry.login import login, logout
from labkit.store import Store

from helpers import credhelper
from helpers import imagefactory as factory
from helpers.registries import seed_lab_registry, start_lab_registry

SECRET = "helper-kept-secret"


def config_file() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def write_config(doc: dict) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(json.dumps(doc))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def helper(tmp_path, monkeypatch):
    """A scripted docker-credential-labkittest on PATH."""
    bin_dir = tmp_path / "bin"
    installed = credhelper.install(bin_dir, "labkittest")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return installed


@pytest.fixture
def private_registry(tmp_path):
    """A lab registry with Basic auth for lab:SECRET holding private/app:1."""
    reg = start_lab_registry(tmp_path, auth="basic", users={"lab": SECRET})
    img = factory.make_image([{"app": b"private app"}])
    seed_lab_registry(reg, "private/app:1", img)
    yield reg, img
    reg.stop()


# --- the helper protocol ---------------------------------------------------------------------------------

def test_the_helper_protocol_store_get_list_erase(helper):
    h = CredentialHelper("labkittest")
    assert h.get("ghcr.io") is None  # "credentials not found in native keychain": anonymous, not an error
    h.store("ghcr.io", Credentials("octo", "pat-123"))
    h.store(HUB_SERVER, Credentials("", identity_token="refresh-abc"))
    assert h.get("ghcr.io") == Credentials("octo", "pat-123")
    assert h.get(HUB_SERVER) == Credentials("", identity_token="refresh-abc")  # kept under "<token>"
    assert helper.held()[HUB_SERVER] == ["<token>", "refresh-abc"]
    assert h.list() == {"ghcr.io": "octo", HUB_SERVER: "<token>"}
    h.erase("ghcr.io")
    assert h.get("ghcr.io") is None
    assert helper.calls() == [("get", "ghcr.io"), ("store", "ghcr.io"), ("store", HUB_SERVER), ("get", "ghcr.io"),
                              ("get", HUB_SERVER), ("list", ""), ("erase", "ghcr.io"), ("get", "ghcr.io")]


def test_a_helper_that_fails_or_is_missing_is_a_clear_error(helper):
    helper.fail_with("The user name or passphrase you entered is not correct.")
    with pytest.raises(CredentialHelperError, match=r"^docker-credential-labkittest get ghcr\.io: The user name or "
                                                    r"passphrase you entered is not correct\.$"):
        CredentialHelper("labkittest").get("ghcr.io")
    with pytest.raises(CredentialHelperError, match="docker-credential-nowhere get ghcr.io: the credential helper is "
                                                    "not installed"):
        CredentialHelper("nowhere").get("ghcr.io")
    with pytest.raises(CredentialHelperError, match="not a helper name"):
        CredentialHelper("../evil")


def test_a_secret_never_shows(helper):
    h = CredentialHelper("labkittest")
    h.store("ghcr.io", Credentials("octo", "pat-should-not-show"))
    shown = repr(h.get("ghcr.io")) + str(h.get("ghcr.io")) + repr(helper.calls())
    assert "pat-should-not-show" not in shown


# --- which store Docker uses -----------------------------------------------------------------------------

def test_cred_helpers_then_creds_store_then_auths(helper, tmp_path):
    other = credhelper.install(tmp_path / "bin", "other")
    helper.put("ghcr.io", "from-helpers", "a")
    other.put("ghcr.io", "from-store", "b")
    other.put("quay.io", "store-user", "c")
    write_config({"credHelpers": {"ghcr.io": "labkittest"}, "credsStore": "other",
                  "auths": {"ghcr.io": {"auth": b64("file:x")}, "quay.io": {"auth": b64("file:y")}}})
    assert load_docker_credentials("ghcr.io") == Credentials("from-helpers", "a")  # credHelpers[server] first
    assert load_docker_credentials("quay.io") == Credentials("store-user", "c")  # then credsStore
    assert load_docker_credentials("gitlab.example") is None  # the store has none: anonymous, auths not read
    write_config({"credHelpers": {"ghcr.io": "labkittest"},
                  "auths": {"quay.io": {"auth": b64("file:y")}, "ghcr.io": {"auth": b64("file:x")}}})
    assert load_docker_credentials("quay.io") == Credentials("file", "y")  # no credsStore: auths
    assert load_docker_credentials("ghcr.io") == Credentials("from-helpers", "a")
    assert isinstance(store_for("ghcr.io"), HelperStore) and isinstance(store_for("quay.io"), FileStore)


def test_docker_hub_is_asked_for_by_its_server_address(helper):
    helper.put(HUB_SERVER, "hubuser", "hubpass")
    write_config({"credsStore": "labkittest"})
    assert load_docker_credentials("docker.io") == Credentials("hubuser", "hubpass")
    assert helper.calls() == [("get", HUB_SERVER)]


def test_identity_token_in_auths():
    write_config({"auths": {"registry.example": {"auth": b64("alice:"), "identitytoken": "rt-1"}}})
    assert load_docker_credentials("registry.example") == Credentials("alice", "", "rt-1")


def test_docker_config_variable_is_honoured(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text(json.dumps({"auths": {"ghcr.io": {"auth": b64("env:var")}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(elsewhere))
    assert load_docker_credentials("ghcr.io") == Credentials("env", "var")


def test_a_configured_helper_that_is_missing_stops_the_pull_with_its_name(tmp_path):
    write_config({"credsStore": "desktop-not-here"})
    with pytest.raises(LabkitError, match="credentials for ghcr.io: docker-credential-desktop-not-here get "
                                          "ghcr.io: the credential helper is not installed"):
        load_docker_credentials("ghcr.io")


# --- login, pull and logout through a helper --------------------------------------------------------------

def test_login_stores_through_the_helper_and_pull_uses_it_logout_erases(helper, private_registry, tmp_path):
    reg, img = private_registry
    host = reg.address
    write_config({"credsStore": "labkittest", "psFormat": "table {{.ID}}"})
    warnings = []
    assert login(host, "lab", SECRET, settings={}, warn=warnings.append) == "Login Succeeded"
    assert warnings == []  # nothing stored unencrypted
    assert read_config() == {"credsStore": "labkittest", "psFormat": "table {{.ID}}", "auths": {host: {}}}
    assert helper.held() == {host: ["lab", SECRET]}
    assert SECRET not in config_file().read_text()

    res = pull(Store(tmp_path / "home"), f"{host}/private/app:1", settings={})
    assert res.manifest_digest == img.manifest_digest
    assert ("get", host) in helper.calls()

    assert logout(host) == f"Removing login credentials for {host}"
    assert helper.held() == {} and helper.calls()[-1] == ("erase", host)
    assert read_config()["auths"] == {}
    with pytest.raises(AuthRequired):  # anonymous again
        pull(Store(tmp_path / "home2"), f"{host}/private/app:1", settings={})


def test_a_helper_that_cannot_store_fails_the_login_and_keeps_the_file(helper, private_registry):
    reg, _ = private_registry
    write_config({"credsStore": "labkittest"})
    helper.fail_with("keychain is locked")
    with pytest.raises(CredentialHelperError, match=rf"login {reg.address}: Error saving credentials: "
                                                    rf"docker-credential-labkittest store {reg.address}: keychain is locked"):
        login(reg.address, "lab", SECRET, settings={})
    assert read_config() == {"credsStore": "labkittest"}


def test_logout_warns_when_the_helper_cannot_erase(helper, private_registry):
    reg, _ = private_registry
    write_config({"credsStore": "labkittest", "auths": {reg.address: {}}})
    helper.fail_with("keychain is locked")
    warnings = []
    assert logout(reg.address, warn=warnings.append) == f"Removing login credentials for {reg.address}"
    assert warnings == [f"WARNING: could not erase credentials: {reg.address}: docker-credential-labkittest erase "
                        f"{reg.address}: keychain is locked"]
    assert read_config()["auths"] == {}


def test_cli_login_with_a_helper_prints_no_unencrypted_warning(helper, private_registry, monkeypatch):
    from labkit.cli import main

    reg, _ = private_registry
    write_config({"credHelpers": {reg.address: "labkittest"}})
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    out, err = io.StringIO(), io.StringIO()
    assert main(["login", "-u", "lab", "--password-stdin", reg.address], out, err) == 0
    assert (out.getvalue(), err.getvalue()) == ("Login Succeeded\n", "")


# --- identity tokens (OAuth2 refresh tokens), against the real registry and a token server ----------------

@pytest.mark.interop("docker-registry", "cryptography")
def test_login_keeps_the_refresh_token_and_pulls_with_it(token_registry, token_server, tmp_path):
    host = token_registry.host
    assert login(host, "alice", "s3cret", settings={}) == "Login Succeeded"
    entry = read_config()["auths"][host]
    assert entry["auth"] == b64("alice:") and entry["identitytoken"].startswith("rt-")  # no password kept
    offline = token_server.requests[-1]
    assert offline["user"] == "alice" and offline["ok"]

    # push (then pull) with what login kept: the OAuth2 refresh-token grant, never the password
    store = Store(tmp_path / "home")
    img = factory.make_image([{"a": b"refresh token pull"}])
    factory.store_image(store, img, f"{host}/team/app:1")
    token_server.requests.clear()
    from labkit.push import push

    push(store, f"{host}/team/app:1", settings={})
    res = pull(Store(tmp_path / "home2"), f"{host}/team/app:1", settings={})
    assert res.manifest_digest == img.manifest_digest
    grants = [(r.get("grant"), r.get("client_id"), r["scopes"]) for r in token_server.requests]
    assert grants == [("refresh_token", "docker", ["repository:team/app:pull,push"]),
                      ("refresh_token", "docker", ["repository:team/app:pull"])]


@pytest.mark.interop("docker-registry", "cryptography")
def test_login_through_a_helper_keeps_the_refresh_token_as_token_user(helper, token_registry, token_server, tmp_path):
    host = token_registry.host
    write_config({"credsStore": "labkittest"})
    login(host, "alice", "s3cret", settings={})
    ((user, secret),) = helper.held().values()
    assert user == "<token>" and secret.startswith("rt-") and read_config()["auths"] == {host: {}}
    assert load_docker_credentials(host) == Credentials("", identity_token=secret)


@pytest.mark.interop("docker-registry", "cryptography")
def test_a_refused_refresh_token_says_log_in_again(token_registry, tmp_path):
    host = token_registry.host
    write_config({"auths": {host: {"auth": b64("alice:"), "identitytoken": "rt-forgotten"}}})
    with pytest.raises(AuthRequired, match=r"refused the identity token .* \(log in again\)"):
        pull(Store(tmp_path / "home"), f"{host}/team/app:1", settings={})
