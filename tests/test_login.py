"""docker login / logout: credentials checked against the lab registry (basic and token modes) and the real
registry (htpasswd, token server), docker's config file (content, mode, other keys kept), the command line."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from labkit.errors import AuthRequired, UsageError
from labkit.registry.dockerconfig import load_docker_credentials
from labkit.registry.login import config_key, login, logout, normalize_host

from helpers import imagefactory as factory
from helpers.registries import start_lab_registry

SECRET = "labkit-secret-pw"


def config_path() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("server,host,key", [
    (None, "docker.io", "https://index.docker.io/v1/"),
    ("", "docker.io", "https://index.docker.io/v1/"),
    ("docker.io", "docker.io", "https://index.docker.io/v1/"),
    ("https://index.docker.io/v1/", "docker.io", "https://index.docker.io/v1/"),
    ("registry-1.docker.io", "docker.io", "https://index.docker.io/v1/"),
    ("localhost:5000", "localhost:5000", "localhost:5000"),
    ("http://127.0.0.1:5000/", "127.0.0.1:5000", "127.0.0.1:5000"),
    ("Registry.Example.com/v2/", "registry.example.com", "registry.example.com"),
])
def test_host_and_config_key(server, host, key):
    assert normalize_host(server) == host
    assert config_key(host) == key


@pytest.fixture
def basic_lab_registry(tmp_path):
    """Return a lab registry with Basic auth for lab:SECRET."""
    reg = start_lab_registry(tmp_path, auth="basic", users={"lab": SECRET})
    yield reg
    reg.stop()


def test_login_basic_writes_dockers_config_mode_0600_keeping_other_keys(basic_lab_registry):
    host = basic_lab_registry.address
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"auths": {"other.example": {"auth": b64("x:y")},
                                          f"http://{host}": {"auth": b64("old:alias")}},
                                "psFormat": "table {{.ID}}", "proxies": {"default": {"httpProxy": "x"}}}))
    assert login(host, "lab", SECRET, settings={}) == "Login Succeeded"
    data = json.loads(path.read_text())
    assert data == {"auths": {"other.example": {"auth": b64("x:y")}, host: {"auth": b64(f"lab:{SECRET}")}},
                    "psFormat": "table {{.ID}}", "proxies": {"default": {"httpProxy": "x"}}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]  # no temp file left behind
    creds = load_docker_credentials(host)
    assert (creds.username, creds.password) == ("lab", SECRET)


def test_login_creates_the_config_and_its_folder(basic_lab_registry):
    assert not config_path().parent.exists()
    login(basic_lab_registry.address, "lab", SECRET, settings={})
    assert json.loads(config_path().read_text()) == {
        "auths": {basic_lab_registry.address: {"auth": b64(f"lab:{SECRET}")}}}
    assert config_path().read_text().startswith('{\n\t"auths"')  # docker's layout: tab-indented


def test_wrong_password_is_one_line_and_changes_nothing(basic_lab_registry):
    host = basic_lab_registry.address
    with pytest.raises(AuthRequired) as e:
        login(host, "lab", "not-the-password", settings={})
    assert str(e.value) == f"login {host}: unauthorized: incorrect username or password"
    assert "not-the-password" not in repr(e.value.__dict__)
    assert not config_path().exists()


def test_login_token_mode(tmp_path):
    reg = start_lab_registry(tmp_path, auth="token", users={"lab": SECRET})
    try:
        host = reg.address
        with pytest.raises(AuthRequired, match=rf"^login {host}: unauthorized: incorrect username or password$"):
            login(host, "lab", "nope", settings={})
        with pytest.raises(AuthRequired, match="incorrect username or password"):
            login(host, "nobody", SECRET, settings={})
        assert login(host, "lab", SECRET, settings={}) == "Login Succeeded"
        assert load_docker_credentials(host).password == SECRET
    finally:
        reg.stop()


def test_usage_errors():
    with pytest.raises(UsageError, match="username is required"):
        login("localhost:5000", "", "x")
    with pytest.raises(UsageError, match="password is required"):
        login("localhost:5000", "u", "")
    with pytest.raises(UsageError, match="cannot contain ':'"):
        login("localhost:5000", "a:b", "x")


def test_docker_hub_key_and_logout(monkeypatch):
    import labkit.registry.login as mod

    seen = []
    monkeypatch.setattr(mod, "verify", lambda host, creds, settings=None, **kw: seen.append(host))
    assert login(None, "student", SECRET) == "Login Succeeded"
    assert seen == ["docker.io"]
    hub_key = "https://index.docker.io/v1/"
    assert json.loads(config_path().read_text())["auths"] == {hub_key: {"auth": b64(f"student:{SECRET}")}}
    assert load_docker_credentials("docker.io").username == "student"
    assert logout() == "Removing login credentials for https://index.docker.io/v1/"
    assert json.loads(config_path().read_text()) == {"auths": {}}
    assert logout("docker.io") == "Not logged in to https://index.docker.io/v1/"


def test_logout_removes_every_alias_of_the_host(basic_lab_registry):
    host = basic_lab_registry.address
    login(host, "lab", SECRET, settings={})
    data = json.loads(config_path().read_text())
    data["auths"][f"https://{host}"] = {"auth": b64("x:y")}
    data["auths"]["keep.example"] = {"auth": b64("k:k")}
    config_path().write_text(json.dumps(data))
    assert logout(host) == f"Removing login credentials for {host}"
    assert json.loads(config_path().read_text())["auths"] == {"keep.example": {"auth": b64("k:k")}}
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    assert logout(host) == f"Not logged in to {host}"


# ---------------------------------------------------------------------------------------------------------
# The real distribution registry
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.interop("docker-registry", "htpasswd")
def test_real_registry_htpasswd(htpasswd_registry):
    host = htpasswd_registry.host
    with pytest.raises(AuthRequired, match=rf"^login {host}: unauthorized: incorrect username or password$"):
        login(host, "alice", "wrong", settings={})
    assert not config_path().exists()
    assert login(host, "alice", "wonder-land", settings={}) == "Login Succeeded"
    assert json.loads(config_path().read_text()) == {"auths": {host: {"auth": b64("alice:wonder-land")}}}


@pytest.mark.interop("docker-registry", "cryptography")
def test_real_registry_token(token_registry, token_server):
    host = token_registry.host
    with pytest.raises(AuthRequired, match="incorrect username or password"):
        login(host, "alice", "nope", settings={})
    assert login(host, "alice", "s3cret", settings={}) == "Login Succeeded"
    assert token_server.requests[-1]["user"] == "alice" and token_server.requests[-1]["ok"]


# ---------------------------------------------------------------------------------------------------------
# The command line, end to end
# ---------------------------------------------------------------------------------------------------------

class _Stdin(io.StringIO):
    def __init__(self, text: str = "", tty: bool = False):
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def run(monkeypatch, *argv, stdin: str = "") -> tuple[int, str, str]:
    from labkit.cli import main

    monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def test_cli_login_push_logout(monkeypatch, basic_lab_registry, labkit_home):
    from labkit.store import Store

    host = basic_lab_registry.address
    status, out, err = run(monkeypatch, "login", "-u", "lab", "--password-stdin", host, stdin=SECRET + "\n")
    assert (status, out) == (0, "Login Succeeded\n")
    assert err == f"WARNING! Your password will be stored unencrypted in {config_path()}.\n"
    assert load_docker_credentials(host).password == SECRET  # the newline was not kept

    # push uses what login stored
    img = factory.make_image([{"cli": b"login then push"}])
    factory.store_image(Store(labkit_home), img, f"{host}/zoo/cli:1")
    status, out, err = run(monkeypatch, "push", f"{host}/zoo/cli:1")
    assert status == 0, err
    assert out.splitlines()[-1] == f"1: digest: {img.manifest_digest} size: {len(img.manifest)}"

    status, out, err = run(monkeypatch, "logout", host)
    assert (status, out, err) == (0, f"Removing login credentials for {host}\n", "")
    status, out, err = run(monkeypatch, "push", f"{host}/zoo/cli:1")
    assert status == 1 and err.startswith(f"Error: push {host}/zoo/cli:1: ") and "labkit login" in err
    status, out, _ = run(monkeypatch, "logout", host)
    assert out == f"Not logged in to {host}\n"


def test_cli_login_password_flag_and_failures(monkeypatch, basic_lab_registry):
    host = basic_lab_registry.address
    status, out, err = run(monkeypatch, "login", "-u", "lab", "-p", SECRET, host)
    assert (status, out) == (0, "Login Succeeded\n")
    assert err.startswith("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")

    status, out, err = run(monkeypatch, "login", "-u", "lab", "--password-stdin", host, stdin="bad\n")
    assert (status, out) == (1, "")
    assert err == f"Error: login {host}: unauthorized: incorrect username or password\n"

    for argv, message in [
        (("login", host), "cannot perform an interactive login from a non TTY device"),
        (("login", "-u", "lab", host), "cannot perform an interactive login from a non TTY device"),
        (("login", "--password-stdin", host), "must provide --username with --password-stdin"),
        (("login", "-u", "lab", "-p", "x", "--password-stdin", host), "mutually exclusive"),
    ]:
        status, out, err = run(monkeypatch, *argv, stdin="whatever\n")
        assert status == 2 and message in err and out == "", argv
    # nothing printed anywhere ever holds the password
    assert SECRET not in out + err


def test_cli_login_prompts_on_a_tty(monkeypatch, basic_lab_registry):
    import getpass

    from labkit.cli import main

    monkeypatch.setattr(sys, "stdin", _Stdin("lab\n", tty=True))
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ": SECRET)
    out, err = io.StringIO(), io.StringIO()
    assert main(["login", basic_lab_registry.address], out, err) == 0, err.getvalue()
    assert out.getvalue() == "Username: Login Succeeded\n"
