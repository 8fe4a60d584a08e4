"""`docker login` / `docker logout`: check credentials against a registry, then keep them in docker's config.

login asks GET /v2/ with the credentials: a Basic challenge is answered with them, a Bearer challenge with a
token fetched using them (spec/auth/token.md), so a wrong password fails here and not at the next pull.
Only then is `auths` in docker's config.json updated, as docker writes it: `{"auths": {"<host>": {"auth":
base64("user:pass")}}}`, Docker Hub under "https://index.docker.io/v1/". Other keys of the file are kept;
the file is written atomically with mode 0600. base64 is an encoding, not encryption: anyone who can read
the file can read the password (docker's credential helpers are not supported here).
Credentials never appear in a message, a log line or a trace.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import AuthRequired, UsageError
from .auth import DOCKER_HUB_CONFIG_KEY, Credentials, config_key_host

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
    """Return the `auths` key docker uses for `host` ("https://index.docker.io/v1/" for Docker Hub)."""
    return DOCKER_HUB_CONFIG_KEY if host == "docker.io" else host


def read_config(path: Path) -> dict:
    """Return docker's config.json as a dict ({} when the file does not exist)."""
    from ..fsutil import read_json_object

    return read_json_object(path, "docker config")


def write_config(path: Path, data: dict) -> None:
    """Write docker's config.json atomically, mode 0600 (it holds credentials), in docker's layout."""
    from ..fsutil import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(data, indent="\t").encode(), mode=0o600)


def verify(host: str, credentials: Credentials, settings: dict | None = None, **client_options) -> None:
    """Return None when the registry at `host` accepts `credentials`; AuthRequired when it refuses them."""
    from .client import client_for

    client = client_for(host, settings=settings, credentials=credentials, **client_options)
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


def login(host: str | None, username: str, password: str, settings: dict | None = None, *,
          config_path: "str | os.PathLike | None" = None, **client_options) -> str:
    """Check `username`/`password` against the registry `host` (None: Docker Hub), store them in docker's
    config and return "Login Succeeded"; AuthRequired (one line) when the registry refuses them."""
    from ..home import docker_config_path

    host = normalize_host(host)
    if not username:
        raise UsageError(f"login {host}: a username is required")
    if not password:
        raise UsageError(f"login {host}: a password is required")
    if ":" in username:
        raise UsageError(f"login {host}: a username cannot contain ':'")
    if settings is None:
        from ..home import load_settings, resolve_home
        settings = load_settings(resolve_home())
    verify(host, Credentials(username, password), settings, **client_options)
    path = Path(config_path) if config_path else docker_config_path()
    data = read_config(path)
    auths = data.get("auths") if isinstance(data.get("auths"), dict) else {}
    # One entry per registry: older aliases ("http://host", "index.docker.io") would shadow the new one.
    auths = {k: v for k, v in auths.items() if config_key_host(k) != host}
    auths[config_key(host)] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode("ascii")}
    data["auths"] = auths
    write_config(path, data)
    return LOGIN_SUCCEEDED


def logout(host: str | None = None, *, config_path: "str | os.PathLike | None" = None) -> str:
    """Remove the stored credentials for `host` (None: Docker Hub); return docker's line saying what happened."""
    from ..home import docker_config_path

    host = normalize_host(host)
    shown = config_key(host)
    path = Path(config_path) if config_path else docker_config_path()
    data = read_config(path)
    auths = data.get("auths") if isinstance(data.get("auths"), dict) else {}
    keep = {k: v for k, v in auths.items() if config_key_host(k) != host}
    if len(keep) == len(auths):
        return f"Not logged in to {shown}"
    data["auths"] = keep
    write_config(path, data)
    return f"Removing login credentials for {shown}"


__all__ = ["login", "logout", "verify", "normalize_host", "config_key", "LOGIN_SUCCEEDED"]
