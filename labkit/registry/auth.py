"""Registry auth as a pluggable requests auth object: Basic credentials or Bearer tokens, sent as Docker sends them.

Token flow: docker's "Token Authentication Specification" (distribution docs, spec/auth/token.md):
GET <realm>?service=<service>&scope=repository:<name>:<actions>, with Basic credentials when we have them;
with an identity token, the OAuth2 refresh-token grant (spec/auth/oauth.md). Where credentials come from:
registry.dockerconfig.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.auth import AuthBase

from ..errors import AuthRequired
from .challenge import Challenge, parse_challenges, pick_challenge

CLIENT_ID = "docker"  # what Docker sends as client_id to token servers (registry/auth.go AuthClientID)
DEFAULT_TOKEN_LIFETIME = 60  # seconds; token.md: "if omitted, a default of 60 seconds should be assumed"
_BAD_TOKENS = {"", "none", "null", "undefined"}
_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags)(?:/|$)")


@dataclass(frozen=True)
class Credentials:
    """A username and password, or an identity token (docker config's `identitytoken`: an OAuth2 refresh
    token the token server gave at login); secrets never show in repr or str."""

    username: str
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def __repr__(self) -> str:
        token = ", identity_token=<redacted>" if self.identity_token else ""
        return f"Credentials(username={self.username!r}, password=<redacted>{token})"

    __str__ = __repr__

    def basic_header(self) -> str:
        """Return the value of an HTTP Basic Authorization header for these credentials."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def scope_for_request(method: str, url: str, push: bool = False) -> str | None:
    """Return the token scope a registry request needs, None when it names no repository (/v2/, _catalog).

    "repository:NAME:pull", or "repository:NAME:pull,push" for a push (containerd's order); a blob mount
    (`?mount=DIGEST&from=OTHER`) also needs `repository:OTHER:pull`, as distribution's token handler and
    containerd's pusher ask for it.
    """
    parts = urlsplit(url)
    m = _REPO_PATH.match(parts.path)
    if not m:
        return None
    writes = push or method.upper() not in ("GET", "HEAD")
    scope = f"repository:{m.group('name')}:{'pull,push' if writes else 'pull'}"
    source = next((v for k, v in parse_qsl(parts.query) if k == "from"), "")
    if source and source != m.group("name"):
        scope += f" repository:{source}:pull"
    return scope


def _host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


class RegistryAuth(AuthBase):
    """Docker's authorizer: challenges recorded per registry, credentials sent before they are asked for.

    As Docker's challenge manager does, the ping's 401 (`add_response`) only records how a registry wants
    to be authenticated. From then on every request to that registry carries its credentials at once: Basic
    when the challenge says Basic; for Bearer, a token for exactly the request's scope
    (`scope_for_request`), fetched once and reused for that scope until it expires. A 401 the registry
    still answers (no ping, a token it rejects, insufficient_scope) is answered once more, as containerd's
    resolver does.

    One object serves every repository on one client; it is thread-safe (transfers run in parallel).
    `trace`, when set, is called with each token-endpoint response (already redacted by the caller).
    """

    def __init__(self, credentials: Credentials | None = None, *, push: bool = False,
                 session: requests.Session | None = None, timeout: float = 30,
                 clock: Callable[[], float] = time.monotonic, offline: bool = False):
        self.credentials = credentials
        self.push = push
        self.session = session
        self.timeout = timeout
        self.clock = clock
        self.offline = offline  # ask for a refresh token (docker login's offline_token / access_type)
        self.trace: Callable[[requests.Response], None] | None = None
        self.refresh_token: str | None = getattr(credentials, "identity_token", None) or None
        self._lock = threading.RLock()
        self._fetching = threading.Lock()
        self._challenges: dict[str, Challenge] = {}  # registry host -> its challenge (the challenge manager)
        self._tokens: dict[tuple, tuple[str, float]] = {}  # (realm, service, scope) -> (token, expiry)
        self.token_requests = 0  # how many times we asked a token endpoint (tests and teaching)

    def __repr__(self) -> str:
        who = self.credentials.username if self.credentials else None
        return f"RegistryAuth(user={who!r}, hosts={sorted(self._challenges)})"

    def add_response(self, resp: requests.Response) -> Challenge | None:
        """Record the challenge of a 401 (the ping's) for its registry; return it (None if it has none)."""
        if resp.status_code != 401:
            return None
        challenge = pick_challenge(parse_challenges(resp.headers.get("WWW-Authenticate")))
        if challenge is not None:
            with self._lock:
                self._challenges[_host_of(resp.request.url)] = challenge
        return challenge

    def challenge_for(self, url: str) -> Challenge | None:
        """Return the challenge recorded for the registry of `url`, or None."""
        with self._lock:
            return self._challenges.get(_host_of(url))

    # -- the requests AuthBase protocol ---------------------------------------------------------------
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        challenge = self.challenge_for(r.url)
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
        with self._lock:
            self._challenges[_host_of(req.url)] = challenge
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
        if scope is None and not fresh and urlsplit(url).path.rstrip("/") != "/v2":
            return None  # not a repository (e.g. /v2/_catalog): wait for the 401 to name the scope
        if scope is None and fresh and challenge.scope:
            scope = challenge.scope  # not a repository path: ask for what the 401 named
        if fresh and challenge.error == "insufficient_scope" and challenge.scope:
            # The registry says which scope it wanted (token.md "insufficient_scope"); ask for that one.
            scope = _merge_scopes(scope, challenge.scope)
        key = (challenge.realm, challenge.service or "", scope or "")
        # One fetch at a time, as distribution's token handler holds its lock while it fetches: parallel
        # transfers that need the same scope wait for the first one's token instead of each asking.
        with self._fetching:
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
        """Return (token, lifetime in seconds) from the token endpoint `realm`.

        With a refresh token (docker config's `identitytoken`), as Docker does: an OAuth2 refresh_token grant
        POSTed to the realm (distribution docs, spec/auth/oauth.md); otherwise GET with Basic credentials
        (spec/auth/token.md). A refresh token in the answer replaces the one we had.
        """
        realm_host = urlsplit(realm).netloc or realm
        session = self.session or requests.Session()
        with self._lock:
            self.token_requests += 1
            refresh = self.refresh_token
        try:
            if refresh:
                form = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", CLIENT_ID)]
                if service:
                    form.append(("service", service))
                if scope:
                    form.append(("scope", scope))
                if self.offline:
                    form.append(("access_type", "offline"))
                resp = session.post(realm, data=form, timeout=self.timeout, allow_redirects=False)
            else:
                params = []
                if service:
                    params.append(("service", service))
                for s in (scope or "").split(" "):
                    if s:
                        params.append(("scope", s))
                headers = {}
                if self.credentials:
                    params.append(("account", self.credentials.username))
                    headers["Authorization"] = self.credentials.basic_header()
                if self.offline:
                    params += [("offline_token", "true"), ("client_id", CLIENT_ID)]
                resp = session.get(realm, params=params, headers=headers, timeout=self.timeout,
                                   allow_redirects=False)
        except requests.RequestException as e:
            raise AuthRequired(f"cannot reach token server {realm_host} ({type(e).__name__})", method="GET",
                               url=realm_host) from None
        if self.trace:
            self.trace(resp)
        fail = dict(method=resp.request.method, url=realm_host, status=resp.status_code)
        if resp.status_code in (400, 401, 403) and refresh:
            raise AuthRequired(f"token server {realm_host} refused the identity token for "
                               f"{scope or 'the registry'} (log in again)", body=resp.text[:2000], **fail)
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
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh.strip().lower() not in _BAD_TOKENS:
            with self._lock:
                self.refresh_token = new_refresh
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
