"""`docker search`: ask an index's `/v1/search?q=&n=` and print docker's table or JSON lines.

Where a term is looked up:
- `localhost:5000/zoo` (a first component with "." or ":", or "localhost": docker's splitReposSearchTerm)
  asks that registry for "zoo" (plain HTTP on loopback and insecure-registries, like every other call);
- any other term asks each configured mirror (daemon.json `registry-mirrors`) in order, then Docker Hub
  (`https://index.docker.io`). Merge rule: the first endpoint that answers wins, as for a pull through a
  mirror; its results are used as they are, nothing is merged. "Answers" means HTTP 200 with a JSON body
  holding a `results` list (an empty list too); any other answer or a connection error moves on to the next
  endpoint, and when none answers the error names every host tried with what went wrong there.
  (docker itself never sends search to a mirror; the lab does, so a classroom works offline.)

Filters are docker's, applied to the answer: `stars=N` (at least N), `is-official=true|false`,
`is-automated=true|false`. The table is docker's (tabwriter 10/1/3; descriptions over 45 characters cut to
42 plus "...", newlines collapsed, unless no_trunc); JSON lines carry docker's `--format json` keys and its
string values ("StarCount": "12", "IsOfficial": "true").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from ..errors import LabkitError, UsageError

HUB_INDEX_URL = "https://index.docker.io"
HUB_INDEX_NAME = "docker.io"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
TRUNC_AT = 45
FILTER_KEYS = ("stars", "is-official", "is-automated")
TABLE_MIN_WIDTH = 10  # docker's search table: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
TABLE_PADDING = 3


@dataclass(frozen=True)
class SearchResult:
    """One search hit, with Docker Hub's fields."""

    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False
    is_automated: bool = False

    @classmethod
    def from_json(cls, obj) -> "SearchResult":
        """Return a result from one entry of a /v1/search answer (missing fields take defaults)."""
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            raise ValueError("a search result needs a 'name' string")
        try:
            stars = int(obj.get("star_count") or 0)
        except (TypeError, ValueError):
            stars = 0
        return cls(obj["name"], str(obj.get("description") or ""), stars, obj.get("is_official") is True,
                   obj.get("is_automated") is True or obj.get("is_trusted") is True)

    def to_json(self) -> dict:
        """Return the result in Docker Hub's JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class SearchEndpoint:
    """One place to search: the base URL, the host named in messages, and the term it is asked for."""

    base_url: str
    name: str
    term: str
    mirror: bool = False


def split_term(term: str) -> tuple[str, str]:
    """Return (index name, remote term): ("localhost:5000", "zoo") or ("docker.io", "ubuntu")."""
    first, sep, rest = term.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        return HUB_INDEX_NAME, term
    return first, rest


def endpoints_for(term: str, settings: dict | None = None, index_url: str = HUB_INDEX_URL,
                  mirrors=None, home=None) -> list[SearchEndpoint]:
    """Return where to ask for `term`, in order: its registry (or the hosts `<home>/certs.d` configures for
    it, registry.hosts), or the mirrors then Docker Hub."""
    from .client import endpoint_for
    from .hosts import base_urls

    settings = settings or {}
    insecure = settings.get("insecure-registries") or ()
    index, remote = split_term(term)
    if index != HUB_INDEX_NAME:
        return [SearchEndpoint(base, index, remote)
                for base in base_urls(index, home, "search", endpoint_for(index, insecure))]
    out = []
    for m in (settings.get("registry-mirrors") or ()) if mirrors is None else mirrors:
        m = str(m).strip().rstrip("/")
        if m:
            base = m if "://" in m else endpoint_for(m, insecure)
            out.append(SearchEndpoint(base, urlsplit(base).netloc, remote, True))
    index_url = index_url.rstrip("/")
    out.append(SearchEndpoint(index_url, urlsplit(index_url).netloc, remote))
    return out


def parse_filters(filters) -> dict:
    """Return {"stars": int, "is-official": bool, "is-automated": bool} (only those given) from ["k=v", ...]."""
    out: dict = {}
    for f in filters or ():
        key, sep, value = str(f).partition("=")
        key = key.strip().lower()
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {f!r}")
        if key not in FILTER_KEYS:
            raise LabkitError(f"search: invalid filter '{key}'")
        value = value.strip()
        if key == "stars":
            try:
                out["stars"] = max(out.get("stars", 0), int(value))  # docker keeps the highest
            except ValueError:
                raise LabkitError(f"search: invalid filter 'stars={value}'") from None
        else:
            if value not in ("true", "false") or out.get(key, value == "true") != (value == "true"):
                raise LabkitError(f"search: invalid filter '{key}={value}'")
            out[key] = value == "true"
    return out


def apply_filters(results, filters: dict) -> list[SearchResult]:
    """Return the results that pass docker's search filters (as parse_filters returns them)."""
    out = []
    for r in results:
        if "is-automated" in filters and r.is_automated != filters["is-automated"]:
            continue
        if "is-official" in filters and r.is_official != filters["is-official"]:
            continue
        if "stars" in filters and r.star_count < filters["stars"]:
            continue
        out.append(r)
    return out


def _ask(session, ep: SearchEndpoint, limit: int, timeout) -> list[SearchResult]:
    """Return the results `ep` answers; LabkitError saying what went wrong otherwise."""
    import requests

    from .auth import RegistryAuth
    from .dockerconfig import load_docker_credentials

    url = f"{ep.base_url}/v1/search"
    try:
        creds = load_docker_credentials(ep.name)
    except LabkitError:
        creds = None
    try:  # a registry that wants auth for search (htpasswd) gets the login's credentials, on its 401 only
        resp = session.get(url, params={"q": ep.term, "n": str(limit)}, timeout=timeout, allow_redirects=True,
                           headers={"Accept": "application/json"}, auth=RegistryAuth(creds, session=session))
    except requests.RequestException as e:
        text = str(e).lower()
        reason = next((r for r in ("connection refused", "timed out", "name or service not known",
                                   "temporary failure in name resolution", "connection reset",
                                   "certificate verify failed") if r in text), type(e).__name__)
        raise LabkitError(reason) from None
    try:
        if resp.status_code != 200:
            raise LabkitError(f"HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise LabkitError("answer is not JSON") from None
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise LabkitError("answer has no 'results' list")
        out = []
        for item in results:
            try:
                out.append(SearchResult.from_json(item))
            except ValueError:
                continue  # one odd entry does not spoil the answer
        return out
    finally:
        resp.close()


def search(term: str, limit: int = DEFAULT_LIMIT, filters=(), settings: dict | None = None, session=None, *,
           index_url: str = HUB_INDEX_URL, mirrors=None, timeout=(5, 30), home=None) -> list[SearchResult]:
    """Return the search results for `term` (at most `limit`, after filters) from the first index that answers.

    settings: daemon.json (default: labkit's home) for registry-mirrors and insecure-registries.
    home: labkit's home, whose certs.d/ may send a registry's requests elsewhere (default: the current home).
    filters: docker's ["stars=3", "is-official=true", ...]. index_url: where Docker Hub's index is.
    """
    import requests

    term = (term or "").strip()
    if not term:
        raise UsageError("search: a search term is required")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"search: limit {limit} is outside the range of [1, {MAX_LIMIT}]")
    wanted = parse_filters(filters)
    from ..home import load_settings, resolve_home

    home = resolve_home() if home is None else home
    if settings is None:
        settings = load_settings(home)
    own = session is None
    session = session or requests.Session()
    failures = []
    try:
        for ep in endpoints_for(term, settings, index_url, mirrors, home):
            try:
                results = _ask(session, ep, limit, timeout)
            except LabkitError as e:
                failures.append(f"{ep.name}: {e}")
                continue
            return apply_filters(results[:limit], wanted)
    finally:
        if own:
            session.close()
    raise LabkitError(f"search {term}: no index answered ({'; '.join(failures)})")


# --- output ---------------------------------------------------------------------------------------------

def _description(text: str, no_trunc: bool) -> str:
    desc = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    if not no_trunc and len(desc) > TRUNC_AT:
        desc = desc[:TRUNC_AT - 3] + "..."
    return desc


def search_table(results, no_trunc: bool = False) -> str:
    """Return the lab text's search table: NAME, DESCRIPTION, STARS, OFFICIAL, AUTOMATED."""
    return search_output(results, no_trunc=no_trunc)


def search_json(results, no_trunc: bool = False) -> list[dict]:
    """Return one dict per result with docker's `search --format json` keys and string values."""
    return [s.marshal() for s in search_structs(results, no_trunc=no_trunc)]


SEARCH_HEADER = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL",
                 "IsAutomated": "AUTOMATED"}
SEARCH_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"  # Docker 29 (search.go)
SEARCH_TABLE_AUTOMATED = SEARCH_TABLE + "\t{{.IsAutomated}}"                     # the lab text's Docker


def search_structs(results, no_trunc: bool = False, docker29: bool = False) -> list:
    """Return the results as docker's *registry.searchContext rows: flags read "[OK]" or "" in a table and
    "true" or "false" in JSON (Docker 29 has no IsAutomated; its descriptions end in "…" when cut at 45,
    the lab text's in "...")."""
    from ..gotemplate import Struct

    def flag(value: bool) -> str:
        return "[OK]" if value else ""

    def json_flag(value: bool) -> str:
        return "true" if value else "false"

    out = []
    for r in results:
        if docker29:
            desc = r.description.replace("\n", " ").replace("\r", " ")
            if not no_trunc and len(desc) > TRUNC_AT:
                desc = desc[:TRUNC_AT - 1] + "…"
        else:
            desc = _description(r.description, no_trunc)
        fields = {"Name": r.name, "Description": desc, "StarCount": str(r.star_count),
                  "IsOfficial": flag(r.is_official)}
        json_fields = {"IsOfficial": json_flag(r.is_official)}
        if not docker29:
            fields["IsAutomated"] = flag(r.is_automated)
            json_fields["IsAutomated"] = json_flag(r.is_automated)
        out.append(Struct("*registry.searchContext", fields, json_fields))
    return out


def search_output(results, fmt: "str | None" = None, no_trunc: bool = False, docker29: bool = False) -> str:
    """Return `docker search` output: the table (the lab text's with AUTOMATED, or Docker 29's) or a --format."""
    from ..formatter import render

    template = fmt if fmt and fmt != "table" else SEARCH_TABLE if docker29 else SEARCH_TABLE_AUTOMATED
    rows = search_structs(results, no_trunc=no_trunc, docker29=docker29)
    return render(template, rows, SEARCH_HEADER, TABLE_MIN_WIDTH)


__all__ = ["search", "SearchResult", "SearchEndpoint", "split_term", "endpoints_for", "parse_filters",
           "apply_filters", "search_table", "search_json", "search_output", "search_structs", "HUB_INDEX_URL"]
