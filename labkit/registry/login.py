"""`docker login` / `docker logout`: check credentials against a registry, then keep them where Docker does.

login asks GET /v2/ as `docker login` does (docker/docker registry/auth.go, loginV2): a ping without
credentials, then again with them; a Basic challenge is answered with them, a Bearer challenge with a token
fetched using them, asking for a refresh token (offline_token=true&client_id=docker). So a wrong password fails
here and not at the next pull. Only then are the credentials stored, in the store Docker would use
(registry.dockerconfig.store_for): the credential helper `credHelpers`/`credsStore` names, which gets them
over its stdin and leaves config.json with `{"auths": {"<server>": {}}}`; else `auths` in config.json, as
`{"auth": base64("user:pass")}`, Docker Hub under "https://index.docker.io/v1/". When the token server gave a
refresh token, it is kept as `identitytoken` instead of the password (docker/cli, cli/command/registry/
login.go). Other keys of the file are kept; it is written atomically with mode 0600. base64 is an encoding,
not encryption: anyone who can read the file can read a password kept there.
Credentials never appear in a message, a log line or a trace.
"""

from __future__ import annotations

import os
from typing import Callable
from urllib.parse import urlsplit

from ..errors import AuthRequired, UsageError
from .auth import Credentials
from .credhelper import CredentialHelperError
from .dockerconfig import HelperStore, config_key_host, config_path, server_address, store_for

LOGIN_SUCCEEDED = "Login Succeeded"


def normalize_host(server: str | None) -> str:
    """Return the registry host a login names: "docker.io" for Docker Hub (and no server), else host[:port]."""
    text = (server or "").strip()
    if not text:
        return "docker.io"
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.split("/", 1)[0]
    if not text:
        raise UsageError(f"login: {server!r} does not name a registry host")
    return config_key_host(text)


def config_key(host: str) -> str:
    """Return the server address docker keys `host` by ("https://index.docker.io/v1/" for Docker Hub)."""
    return server_address(host)


def verify(host: str, credentials: Credentials, settings: dict | None = None, *,
           home: "str | os.PathLike | None" = None, **client_options) -> str:
    """Check `credentials` against the registry at `host`; return the refresh token its token server gave
    ("" when none); AuthRequired when the registry refuses them. `home`'s certs.d may send `host`'s requests
    elsewhere (registry.hosts)."""
    from ..home import resolve_home
    from .auth import RegistryAuth
    from .client import client_for

    auth = RegistryAuth(credentials, offline=True)
    home = resolve_home() if home is None else home
    client = client_for(host, settings=settings, home=home, operation="login", credentials=credentials, auth=auth,
                        **client_options)
    auth.session = client.session
    what = f"login {host}"
    try:
        client.ping(what)
    except AuthRequired as e:
        if e.status not in (401, 403):
            raise  # e.g. the token server is unreachable: say that, not "wrong password"
        raise AuthRequired(f"{what}: unauthorized: incorrect username or password", method=e.method, url=e.url,
                           status=e.status, codes=e.codes) from None
    finally:
        client.close()
    return auth.refresh_token or ""


def login(host: str | None, username: str, password: str, settings: dict | None = None, *,
          config_path: "str | os.PathLike | None" = None, warn: "Callable[[str], object] | None" = None,
          home: "str | os.PathLike | None" = None, **client_options) -> str:
    """Check `username`/`password` against the registry `host` (None: Docker Hub), keep them where Docker would
    and return "Login Succeeded"; AuthRequired (one line) when the registry refuses them. `warn` gets docker's
    warning when a password goes into config.json itself."""
    host = normalize_host(host)
    if not username:
        raise UsageError(f"login {host}: a username is required")
    if not password:
        raise UsageError(f"login {host}: a password is required")
    if ":" in username:
        raise UsageError(f"login {host}: a username cannot contain ':'")
    from ..home import load_settings, resolve_home

    home = resolve_home() if home is None else home
    if settings is None:
        settings = load_settings(home)
    server = server_address(host)
    store = store_for(server, config_path)  # a bad credsStore fails here, before the registry is asked
    token = verify(host, Credentials(username, password), settings, home=home, **client_options)
    credentials = Credentials(username, "", token) if token else Credentials(username, password)
    try:
        store.store(server, credentials)
    except CredentialHelperError as e:
        raise CredentialHelperError(f"login {host}: Error saving credentials: {e}") from None
    if warn is not None and not isinstance(store, HelperStore) and not token:
        warn(f"WARNING! Your password will be stored unencrypted in {store.path}.")
    return LOGIN_SUCCEEDED


def logout(host: str | None = None, *, config_path: "str | os.PathLike | None" = None,
           warn: "Callable[[str], object] | None" = None) -> str:
    """Forget the credentials for `host` (None: Docker Hub), through its credential helper when one is
    configured; return docker's line saying what happened. A helper that fails to erase gets docker's
    warning (`warn`), and the config file's entry goes anyway."""
    host = normalize_host(host)
    server = server_address(host)
    store = store_for(server, config_path)
    if isinstance(store, HelperStore):
        try:
            store.helper.erase(server)
        except CredentialHelperError as e:
            if warn is not None:
                warn(f"WARNING: could not erase credentials: {server}: {e}")
        store.file.erase(server)
        return f"Removing login credentials for {server}"
    if not store.erase(server):
        return f"Not logged in to {server}"
    return f"Removing login credentials for {server}"


__all__ = ["login", "logout", "verify", "normalize_host", "config_key", "config_path", "LOGIN_SUCCEEDED"]
