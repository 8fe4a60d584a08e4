"""WWW-Authenticate parsing (RFC 7235 4.1, RFC 6750 3): one table of real and awkward headers."""

from __future__ import annotations

import pytest

from labkit.registry.challenge import Challenge, parse_challenges, pick_challenge

C = Challenge

CASES = [
    # Docker Hub, as it answers GET /v2/
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
     [C("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"})]),
    # distribution with token auth, on a manifest: scope with a colon list, comma inside quotes
    ('Bearer realm="http://127.0.0.1:9/token",service="reg",scope="repository:library/debian:pull,push"',
     [C("bearer", {"realm": "http://127.0.0.1:9/token", "service": "reg",
                   "scope": "repository:library/debian:pull,push"})]),
    # error= insufficient_scope and invalid_token (RFC 6750 3.1)
    ('Bearer realm="r",service="s",scope="repository:x:pull",error="insufficient_scope"',
     [C("bearer", {"realm": "r", "service": "s", "scope": "repository:x:pull", "error": "insufficient_scope"})]),
    ('Bearer realm="r", error="invalid_token", error_description="The access token expired"',
     [C("bearer", {"realm": "r", "error": "invalid_token", "error_description": "The access token expired"})]),
    # htpasswd Basic from distribution
    ('Basic realm="Registry Realm"', [C("basic", {"realm": "Registry Realm"})]),
    # scheme in any case; parameter names in any case
    ('BEARER REALM="r",Service="s"', [C("bearer", {"realm": "r", "service": "s"})]),
    ('basic realm="x"', [C("basic", {"realm": "x"})]),
    ('bAsIc Realm=x', [C("basic", {"realm": "x"})]),
    # unquoted values, including a URL (not a token, but registries send it)
    ('Bearer realm=https://auth.example.com/token,service=registry.example.com',
     [C("bearer", {"realm": "https://auth.example.com/token", "service": "registry.example.com"})]),
    # spaces around '=' and ',' (RFC 7235 BWS)
    ('Bearer realm = "r" , service = "s"', [C("bearer", {"realm": "r", "service": "s"})]),
    # escaped quote and backslash in a quoted-string
    (r'Basic realm="say \"hi\" \\ ok"', [C("basic", {"realm": 'say "hi" \\ ok'})]),
    # multiple challenges in one header
    ('Basic realm="a", Bearer realm="b",service="c"',
     [C("basic", {"realm": "a"}), C("bearer", {"realm": "b", "service": "c"})]),
    ('Bearer realm="b", scope="repository:a:pull,push", Basic realm="a"',
     [C("bearer", {"realm": "b", "scope": "repository:a:pull,push"}), C("basic", {"realm": "a"})]),
    # commas inside quotes must not split; several scopes separated by spaces
    ('Bearer realm="r",scope="repository:a:pull repository:b:pull,push"',
     [C("bearer", {"realm": "r", "scope": "repository:a:pull repository:b:pull,push"})]),
    # a challenge with no parameters, then one with
    ('Negotiate, Basic realm="x"', [C("negotiate"), C("basic", {"realm": "x"})]),
    # token68 forms
    ('Negotiate abc123==', [C("negotiate", token68="abc123==")]),
    ('Newauth abc, Basic realm="x"', [C("newauth", token68="abc"), C("basic", {"realm": "x"})]),
    # empty and junk
    ("", []),
    ("   ", []),
    (",,,", []),
    ('Basic realm=""', [C("basic", {"realm": ""})]),
    # unterminated quote: keep what is there
    ('Basic realm="open', [C("basic", {"realm": "open"})]),
    # the first of a duplicated parameter wins
    ('Bearer realm="one",realm="two"', [C("bearer", {"realm": "one"})]),
    # trailing comma, leading whitespace
    ('  Bearer realm="r",', [C("bearer", {"realm": "r"})]),
]


@pytest.mark.parametrize("header,expected", CASES, ids=[c[0][:40] or "<empty>" for c in CASES])
def test_parse_challenges(header, expected):
    assert parse_challenges(header) == expected


def test_none_header():
    assert parse_challenges(None) == []


def test_accessors():
    (c,) = parse_challenges('Bearer realm="r",service="s",scope="repository:x:pull",error="insufficient_scope"')
    assert (c.realm, c.service, c.scope, c.error) == ("r", "s", "repository:x:pull", "insufficient_scope")
    (b,) = parse_challenges('Basic realm="x"')
    assert (b.service, b.scope, b.error) == (None, None, None)


@pytest.mark.parametrize("header,scheme", [
    ('Basic realm="a", Bearer realm="b"', "bearer"),
    ('Negotiate, Basic realm="a"', "basic"),
    ("Negotiate abc", None),
    ("", None),
])
def test_pick_challenge(header, scheme):
    picked = pick_challenge(parse_challenges(header))
    assert (picked.scheme if picked else None) == scheme


def test_params_are_read_only():
    (c,) = parse_challenges('Basic realm="x"')
    with pytest.raises(TypeError):
        c.params["realm"] = "y"
