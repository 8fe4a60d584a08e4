"""Registry auth as a pluggable requests auth object: answer a 401 once with a Bearer token or Basic credentials.

Token flow: docker's "Token Authentication Specification" (distribution docs, spec/auth/token.md):
GET <realm>?service=<service>&scope=repository:<name>:<actions>, with Basic credentials when we have them.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from ..errors import AuthRequired, LabkitError
from .challenge import Challenge, parse_challenges, pick_challenge

DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
DEFAULT_TOKEN_LIFETIME = 60  # seconds; token.md: "if omitted, a default of 60 seconds should be assumed"
_BAD_TOKENS = {"", "none", "null", "undefined"}
_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags)(?:/|$)")


@dataclass(frozen=True)
class Credentials:
    """A username and password (or token); the password never shows in repr or str."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"

    __str__ = __repr__

    def basic_header(self) -> str:
        """Return the value of an HTTP Basic Authorization header for these credentials."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def config_key_host(key: str) -> str:
    """Return the registry host a docker config `auths` key names ("https://index.docker.io/v1/" -> "docker.io")."""
    k = key.strip()
    if "://" in k:
        k = urlsplit(k).netloc
    k = k.split("/", 1)[0].lower()
    return "docker.io" if k in _HUB_ALIASES else k


def _decode_entry(entry: dict) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if sep and user:
            return Credentials(user, password)
        return None
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def load_docker_credentials(host: str, config_path=None) -> Credentials | None:
    """Return the credentials docker's config.json (`auths`) holds for registry `host`, or None."""
    from ..home import docker_config_path

    path = config_path or docker_config_path()
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise LabkitError(f"read docker config {path}: {type(e).__name__}") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    want = config_key_host(host)
    for key, entry in auths.items():
        if config_key_host(key) == want:
            creds = _decode_entry(entry)
            if creds:
                return creds
    return None


def scope_for_request(method: str, url: str, push: bool = False) -> str | None:
    """Return the token scope a registry request needs ("repository:library/debian:pull"), None for /v2/."""
    m = _REPO_PATH.match(urlsplit(url).path)
    if not m:
        return None
    writes = push or method.upper() not in ("GET", "HEAD")
    return f"repository:{m.group('name')}:{'pull,push' if writes else 'pull'}"


def _host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


class RegistryAuth(AuthBase):
    """Answers a registry's 401 once: a Bearer token from the realm (cached per realm/service/scope) or Basic.

    One object serves every repository on one client; it is thread-safe (pull fetches layers in parallel).
    `trace`, when set, is called with each token-endpoint response (already redacted by the caller).
    """

    def __init__(self, credentials: Credentials | None = None, *, push: bool = False,
                 session: requests.Session | None = None, timeout: float = 30,
                 clock: Callable[[], float] = time.monotonic):
        self.credentials = credentials
        self.push = push
        self.session = session
        self.timeout = timeout
        self.clock = clock
        self.trace: Callable[[requests.Response], None] | None = None
        self._lock = threading.RLock()
        self._challenges: dict[str, Challenge] = {}  # registry host -> last challenge seen
        self._tokens: dict[tuple, tuple[str, float]] = {}  # (realm, service, scope) -> (token, expiry)
        self.token_requests = 0  # how many times we asked a token endpoint (tests and teaching)

    def __repr__(self) -> str:
        who = self.credentials.username if self.credentials else None
        return f"RegistryAuth(user={who!r}, hosts={sorted(self._challenges)})"

    # -- the requests AuthBase protocol ---------------------------------------------------------------
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        host = _host_of(r.url)
        with self._lock:
            challenge = self._challenges.get(host)
        if challenge is not None and "Authorization" not in r.headers:
            value = self._authorization(challenge, r.method, r.url, fresh=False)
            if value:
                r.headers["Authorization"] = value
        r.register_hook("response", self._handle_401)
        return r

    def _handle_401(self, resp: requests.Response, **kwargs) -> requests.Response:
        if resp.status_code != 401 or getattr(resp.request, "_labkit_auth_retried", False):
            return resp
        challenge = pick_challenge(parse_challenges(resp.headers.get("WWW-Authenticate")))
        if challenge is None:
            return resp
        if self.trace:
            self.trace(resp)  # record the 401 before the token request it causes
        req = resp.request
        host = _host_of(req.url)
        with self._lock:
            self._challenges[host] = challenge
        sent = req.headers.get("Authorization")
        if challenge.scheme == "basic" and self.credentials is None:
            return resp  # nothing to answer with; the client reports AuthRequired
        # A rejected token (invalid_token, insufficient_scope, or just refused) is never offered again.
        value = self._authorization(challenge, req.method, req.url, fresh=True, rejected=sent)
        if not value or value == sent:
            return resp
        resp.content  # drain so the connection can be reused
        resp.close()
        retry = req.copy()
        retry.headers["Authorization"] = value
        retry._labkit_auth_retried = True
        new = resp.connection.send(retry, **kwargs)
        new.history.append(resp)
        new.request = retry
        return new

    # -- building the header ---------------------------------------------------------------------------
    def _authorization(self, challenge: Challenge, method: str, url: str, *, fresh: bool,
                       rejected: str | None = None) -> str | None:
        if challenge.scheme == "basic":
            return self.credentials.basic_header() if self.credentials else None
        if challenge.scheme != "bearer" or not challenge.realm:
            return None
        scope = scope_for_request(method, url, self.push)
        if scope is None and fresh and challenge.scope:
            scope = challenge.scope  # not a repository path (e.g. /v2/_catalog): ask for what the 401 named
        if fresh and challenge.error == "insufficient_scope" and challenge.scope:
            # The registry says which scope it wanted (token.md "insufficient_scope"); ask for that one.
            scope = _merge_scopes(scope, challenge.scope)
        key = (challenge.realm, challenge.service or "", scope or "")
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] > self.clock() and ("Bearer " + cached[0]) != rejected:
                return "Bearer " + cached[0]
            self._tokens.pop(key, None)
        token, lifetime = self.fetch_token(challenge.realm, challenge.service, scope)
        with self._lock:
            self._tokens[key] = (token, self.clock() + lifetime)
        return "Bearer " + token

    def fetch_token(self, realm: str, service: str | None, scope: str | None) -> tuple[str, float]:
        """Return (token, lifetime in seconds) from the token endpoint `realm`."""
        params = []
        if service:
            params.append(("service", service))
        if scope:
            for s in scope.split(" "):
                params.append(("scope", s))
        headers = {}
        if self.credentials:
            params.append(("account", self.credentials.username))
            headers["Authorization"] = self.credentials.basic_header()
        session = self.session or requests.Session()
        realm_host = urlsplit(realm).netloc or realm
        with self._lock:
            self.token_requests += 1
        try:
            resp = session.get(realm, params=params, headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as e:
            raise AuthRequired(f"cannot reach token server {realm_host} ({type(e).__name__})", method="GET",
                               url=realm_host) from None
        if self.trace:
            self.trace(resp)
        fail = dict(method="GET", url=realm_host, status=resp.status_code)
        if resp.status_code in (401, 403):
            what = "refused the credentials" if self.credentials else "wants credentials (log in first)"
            raise AuthRequired(f"token server {realm_host} {what} for {scope or 'the registry'}",
                               body=resp.text[:2000], **fail)
        if resp.status_code != 200:
            raise AuthRequired(f"token server {realm_host} answered HTTP {resp.status_code}",
                               body=resp.text[:2000], **fail)
        try:
            body = resp.json()
        except ValueError:
            raise AuthRequired(f"token server {realm_host} answered something that is not JSON", **fail) from None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or token.strip().lower() in _BAD_TOKENS:
            raise AuthRequired(f"token server {realm_host} answered without a token", **fail)
        try:
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        # Refresh a little early so a token does not expire between our check and the registry's.
        return token, max(1.0, lifetime - min(5.0, lifetime / 10))


def _merge_scopes(ours: str | None, theirs: str) -> str:
    parts = [s for s in (ours or "").split(" ") if s]
    for s in theirs.split(" "):
        if s and s not in parts:
            parts.append(s)
    return " ".join(parts)
