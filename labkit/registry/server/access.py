"""Who may do what: the access a request needs, checking its credentials, and the token realm's answers.

- auth "token": anonymous tokens get pull on every repository and `registry:catalog:*`; users get pull,
  push and delete; `/v1/search` is open (it shows what anonymous pulls may read anyway); a push needs
  pull+push, a DELETE needs delete, a mount also needs pull on `from` (as distribution's token auth);
- auth "basic": every valid user may do everything, search included (as distribution's htpasswd);
- tokens live 300 s; exp/nbf are checked with distribution's 60 s leeway.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import TYPE_CHECKING, Callable, Mapping

from .. import tokens
from ..tokens import Access
from .problems import RegistryProblem

if TYPE_CHECKING:
    from .app import LabRegistry

REALM_PATH = "/token"


def required_access(route: str, method: str, name: str | None, query: Mapping[str, list[str]]) -> list[Access]:
    """Return the access a request needs (distribution's token auth rules; `[]` = any signed-in caller)."""
    if route == "catalog":
        return [Access("registry", "catalog", ("*",))]
    if name is None:
        return []
    if method in ("GET", "HEAD") and route != "upload":
        return [Access("repository", name, ("pull",))]
    if method == "DELETE" and route in ("manifest", "blob"):
        return [Access("repository", name, ("delete",))]
    needed = [Access("repository", name, ("pull", "push"))]
    source = (query.get("from") or [""])[0]
    if route == "upload_start" and query.get("mount") and source and source != name:
        needed.append(Access("repository", source, ("pull",)))
    return needed


def challenge_scope(needed: list[Access]) -> str:
    """Return the `scope` of a Bearer challenge asking for `needed`."""
    return " ".join(a.scope() for a in needed)


def authorize(registry: LabRegistry, route: str, method: str, name: str | None,
              query: Mapping[str, list[str]], headers) -> None:
    """Raise 401 UNAUTHORIZED (with a challenge) unless the request's credentials allow what it needs."""
    if registry.auth == "none":
        return
    if route == "search" and registry.auth == "token":
        return  # anonymous users may pull everything in token mode, so they may search it too
    needed = required_access(route, method, name, query)
    header = headers.get("Authorization")
    if registry.auth == "basic":
        creds = tokens.parse_basic(header)
        if creds and registry.users.check(*creds):
            return
        raise RegistryProblem(401, "UNAUTHORIZED", detail=[a.to_json() for a in needed],
                              headers={"WWW-Authenticate": f'Basic realm="{tokens.SERVICE}"'})
    host = headers.get("Host") or registry.address
    challenge = f'Bearer realm="http://{host}{REALM_PATH}",service="{registry.issuer.service}"'
    if needed:
        challenge += f',scope="{challenge_scope(needed)}"'
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RegistryProblem(401, "UNAUTHORIZED", detail=[a.to_json() for a in needed],
                              headers={"WWW-Authenticate": challenge})
    try:
        claims = registry.issuer.verify(token.strip())
    except tokens.TokenError as e:
        raise RegistryProblem(401, "UNAUTHORIZED", str(e),
                              headers={"WWW-Authenticate": challenge + ',error="invalid_token"'}) from None
    missing = [a for a in needed if not tokens.allows(claims.get("access"), a)]
    if missing:
        raise RegistryProblem(401, "UNAUTHORIZED", "insufficient scope",
                              detail=[a.to_json() for a in missing],
                              headers={"WWW-Authenticate": challenge + ',error="insufficient_scope"'})


def token_answer(registry: LabRegistry, method: str, query: Mapping[str, list[str]], headers,
                 read_body: Callable[[], bytes]) -> dict:
    """Return the token realm's JSON answer (`token`, `expires_in`, ...) to a GET or POST of `/token`."""
    if registry.issuer is None:
        raise RegistryProblem(404, "NOT_FOUND", "this lab registry does not use token auth")
    params = dict(query)
    if method == "POST":  # OAuth2 password grant (docker login with identity tokens)
        body = read_body().decode("utf-8", "replace")
        for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items():
            params.setdefault(k, []).extend(v)
    service = (params.get("service") or [registry.issuer.service])[0]
    if service != registry.issuer.service:
        raise RegistryProblem(400, "DENIED", f"unknown service {service!r}")
    user = None
    creds = tokens.parse_basic(headers.get("Authorization"))
    if creds is None and method == "POST" and (params.get("grant_type") or [""])[0] == "password":
        creds = ((params.get("username") or [""])[0], (params.get("password") or [""])[0])
    if creds is not None:
        if not registry.users.check(*creds):
            raise RegistryProblem(401, "UNAUTHORIZED", "incorrect username or password",
                                  headers={"WWW-Authenticate": f'Basic realm="{tokens.SERVICE}"'})
        user = creds[0]
    try:
        requested = tokens.parse_scopes(params.get("scope", []))
    except ValueError as e:
        raise RegistryProblem(400, "UNSUPPORTED", str(e)) from None
    token = registry.issuer.issue(user, tokens.grant(user, requested))
    now = time.time()
    issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {"token": token, "access_token": token, "expires_in": registry.issuer.ttl, "issued_at": issued}
