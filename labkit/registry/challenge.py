"""Parse WWW-Authenticate headers (RFC 7235 section 4.1, RFC 6750 section 3) into challenges."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# RFC 7230 section 3.2.6 tchar; a scheme and a parameter name are tokens.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WS = " \t"


@dataclass(frozen=True)
class Challenge:
    """One auth challenge: a lower-case scheme ("bearer", "basic", ...) and its lower-case-named parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def realm(self) -> str | None:
        """Return the realm parameter (the token endpoint for Bearer), or None."""
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        """Return the service parameter, or None."""
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        """Return the scope parameter (space-separated scopes), or None."""
        return self.params.get("scope")

    @property
    def error(self) -> str | None:
        """Return the error parameter (RFC 6750: invalid_token, insufficient_scope, ...), or None."""
        return self.params.get("error")

    def __eq__(self, other):
        if not isinstance(other, Challenge):
            return NotImplemented
        return (self.scheme, dict(self.params), self.token68) == (other.scheme, dict(other.params), other.token68)

    def __hash__(self):
        return hash((self.scheme, tuple(sorted(self.params.items())), self.token68))


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] in _TCHAR:
        pos += 1
    return text[start:pos], pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted-string starting at the opening quote; an unterminated one runs to the end."""
    out = []
    pos += 1
    while pos < len(text):
        c = text[pos]
        if c == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if c == '"':
            return "".join(out), pos + 1
        out.append(c)
        pos += 1
    return "".join(out), pos


def _bare_value(text: str, pos: int) -> tuple[str, int]:
    # Lenient: registries send unquoted realms such as https://auth.example/token, which are not tokens.
    start = pos
    while pos < len(text) and text[pos] not in ", \t":
        pos += 1
    return text[start:pos], pos


def _param_name_at(text: str, pos: int) -> tuple[str, int] | None:
    """Return (name, position after '=') when an auth-param starts at pos, else None."""
    name, p = _token(text, pos)
    if not name:
        return None
    p = _skip(text, p, _WS)
    if p < len(text) and text[p] == "=":
        return name, p + 1
    return None


def parse_challenges(header: str | None) -> list[Challenge]:
    """Return the challenges in a WWW-Authenticate value, in order (empty list for an empty or junk header)."""
    text = header or ""
    out: list[Challenge] = []
    pos = 0
    while pos < len(text):
        pos = _skip(text, pos, _WS + ",")
        scheme, p = _token(text, pos)
        if not scheme:
            # Not a scheme: skip to the next comma and try again rather than give up on the header.
            while pos < len(text) and text[pos] != ",":
                pos += 1
            continue
        pos = _skip(text, p, _WS)
        params: dict[str, str] = {}
        token68 = None
        # token68 (RFC 7235 section 2.1): a bare credential-like value, possibly ending in '='.
        found = _param_name_at(text, pos)
        if found is None or (found[1] < len(text) and text[found[1]] == "="):
            t, tp = _token(text, pos)
            if t:
                tp2 = _skip(text, tp, "=")
                after = _skip(text, tp2, _WS)
                if after >= len(text) or text[after] == ",":
                    token68 = text[pos:tp2]
                    pos = after
        if token68 is None:
            while pos < len(text):
                start = _skip(text, pos, _WS + ",")
                found = _param_name_at(text, start)
                if found is None:
                    pos = start
                    break  # a new challenge (or the end) starts here
                name, p = found
                p = _skip(text, p, _WS)
                if p < len(text) and text[p] == '"':
                    value, p = _quoted(text, p)
                else:
                    value, p = _bare_value(text, p)
                params.setdefault(name.lower(), value)
                pos = _skip(text, p, _WS)
                if pos < len(text) and text[pos] != ",":
                    break  # junk after a value: treat what follows as the next challenge
        out.append(Challenge(scheme.lower(), params, token68))
    return out


def pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    """Return the challenge labkit answers: Bearer first, then Basic; None when neither is offered."""
    for scheme in ("bearer", "basic"):
        for c in challenges:
            if c.scheme == scheme:
                return c
    return None
