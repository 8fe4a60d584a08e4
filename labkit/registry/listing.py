"""Content discovery: a repository's tags and the registry's catalog, every page of them.

Pagination is the distribution spec's (`?n=<count>&last=<name>`); the next page is whatever the `Link`
header's rel="next" target says (RFC 8288, formerly RFC 5988), resolved against the URL that answered, so
relative targets (`</v2/_catalog?last=b&n=2>`) work as well as absolute ones. A registry that ignores `n`
simply answers everything at once.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode, urljoin

from ..errors import AuthRequired, RegistryError

MAX_PAGES = 10000  # a registry whose Link never ends is stopped here

_TOKEN = re.compile(r"[A-Za-z0-9!#$&+\-.^_`|~*]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_TARGET = re.compile(r"\s*<([^>]*)>")
_BARE = re.compile(r"[^;,\s]*")


def parse_link_header(value: str | None) -> list[tuple[str, dict[str, str]]]:
    """Return [(target, {param: value})] from a Link header (RFC 8288 section 3); params lower-cased."""
    out: list[tuple[str, dict[str, str]]] = []
    text = value or ""
    pos = 0
    while True:
        m = _TARGET.match(text, pos)
        if not m:
            return out  # no (more) link-values: stop rather than guess
        target, params, pos = m.group(1).strip(), {}, m.end()
        while True:
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            if pos >= len(text) or text[pos] != ";":
                break
            pos += 1
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            name = _TOKEN.match(text, pos)
            if not name:
                break
            pos, v = name.end(), ""
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            if pos < len(text) and text[pos] == "=":
                pos += 1
                while pos < len(text) and text[pos] in " \t":
                    pos += 1
                q = _QUOTED.match(text, pos)
                t = q or _TOKEN.match(text, pos) or _BARE.match(text, pos)
                v = re.sub(r"\\(.)", r"\1", q.group(1)) if q else t.group(0)
                pos = t.end()
            params.setdefault(name.group(0).lower(), v)  # section 3.3: only the first rel counts
        out.append((target, params))
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text) or text[pos] != ",":
            return out
        pos += 1


def next_link(value: str | None, base_url: str) -> str | None:
    """Return the absolute URL of the Link header's rel="next" target, or None (rel may list several types)."""
    for target, params in parse_link_header(value):
        if "next" in params.get("rel", "").lower().split():
            return urljoin(base_url, target)
    return None


def _pages(client, path: str, key: str, n: int | None, what: str) -> list[str]:
    query = urlencode({"n": n}) if n is not None else ""
    url = client.url(path + (f"?{query}" if query else ""))
    items: list[str] = []
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        seen.add(url)
        try:
            resp = client.request("GET", url, what=what)
        except AuthRequired:
            # A token scope that is not a repository's (registry:catalog:*) is only learnt from the
            # registry's insufficient_scope answer; the second try asks for it.
            resp = client.request("GET", url, what=what)
        try:
            body = json.loads(resp.content or b"{}")
        except ValueError:
            raise RegistryError(f"{what}: {client.name} answered something that is not JSON", method="GET",
                                url=path, status=resp.status_code) from None
        finally:
            resp.close()
        page = body.get(key) if isinstance(body, dict) else None
        if page is None:
            page = []
        if not isinstance(page, list) or not all(isinstance(x, str) for x in page):
            raise RegistryError(f"{what}: {client.name} answered a '{key}' that is not a list of names",
                                method="GET", url=path, status=resp.status_code)
        items.extend(page)
        nxt = next_link(resp.headers.get("Link"), resp.url or url)
        if nxt is None or not page:
            return items
        if nxt in seen:
            raise RegistryError(f"{what}: {client.name} sent a Link back to a page it already answered",
                                method="GET", url=path, status=resp.status_code)
        url = nxt
    raise RegistryError(f"{what}: more than {MAX_PAGES} pages from {client.name}", method="GET", url=path)


def list_tags(client, repo: str, n: int | None = None) -> list[str]:
    """Return every tag of `repo`, fetched `n` per page (None: as many as the registry gives per page)."""
    return _pages(client, f"/v2/{repo}/tags/list", "tags", n, f"list tags of {repo}")


def catalog(client, n: int | None = None) -> list[str]:
    """Return every repository name the registry lists in /v2/_catalog, fetched `n` per page."""
    return _pages(client, "/v2/_catalog", "repositories", n, f"list repositories of {client.name}")


__all__ = ["list_tags", "catalog", "parse_link_header", "next_link"]
