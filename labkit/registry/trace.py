"""An HTTP trace a caller can switch on: each exchange with redacted URL and headers (for teaching and debugging),
and which of its requests Docker Hub counts as a pull.

Docker Hub's rule, from its "Docker Hub pull usage and limits" page (docs.docker.com/docker-hub/usage/pulls/,
"Pull definition"):

    A Docker pull includes both a version check and any download that occurs as a result of the pull.
    Depending on the client, a `docker pull` can verify the existence of an image or tag without
    downloading it by performing a version check.
    Version checks do not count towards usage pricing.
    A pull for a normal image makes one pull for a single manifest.
    A pull for a multi-arch image will count as one pull for each different architecture.

and, on reading the limit headers: "Using GET emulates a real pull and counts towards the limit. Using HEAD
won't." So `hub_pull_marks` counts each successful GET of a manifest, a GET of an index together with the
GET of the platform manifest chosen from it (one architecture, one pull); a HEAD of a manifest is the version
check and counts nothing, nor do blobs or tokens. A pull of an image that is up to date (HEAD only) counts 0.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..oci.mediatypes import INDEX_TYPES

REDACTED = "<redacted>"
_MANIFEST_PATH = re.compile(r"^/v2/(?P<name>.+)/manifests/[^/]+$")
_SECRET_PARAM = re.compile(r"(sig|signature|token|password|passwd|secret|credential|key|auth|code)", re.I)
REQUEST_HEADERS = ("Accept", "Range", "Authorization", "User-Agent")
RESPONSE_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Docker-Content-Digest", "Location",
                    "WWW-Authenticate", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                    "Docker-Distribution-Api-Version")


def redact_url(url: str) -> str:
    """Return `url` without user info and with secret-looking query values (signatures, tokens) redacted."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="<>:/,")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_header(name: str, value: str) -> str:
    """Return a header value safe to show: credentials replaced, URLs redacted."""
    low = name.lower()
    if low in ("authorization", "proxy-authorization"):
        scheme = value.split(" ", 1)[0] if value else ""
        return f"{scheme} {REDACTED}".strip()
    if low in ("cookie", "set-cookie"):
        return REDACTED
    if low == "location":
        return redact_url(value)
    return value


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer, safe to print."""

    method: str
    url: str
    status: int
    request_headers: dict = field(default_factory=dict)
    response_headers: dict = field(default_factory=dict)
    elapsed: float | None = None

    def line(self) -> str:
        """Return a one-line summary like `GET http://127.0.0.1:5000/v2/ -> 401`."""
        return f"{self.method} {self.url} -> {self.status}"


def is_version_check(ex: Exchange) -> bool:
    """Return True for a HEAD of a manifest: Docker's version check, which Docker Hub does not count."""
    return ex.method == "HEAD" and _MANIFEST_PATH.match(urlsplit(ex.url).path) is not None


def hub_pull_marks(exchanges) -> list[int]:
    """Return, for each exchange, the number (1, 2, ...) of the pull Docker Hub counts it in, or 0.

    The rule is quoted at the top of this module: each successful GET of a manifest is one pull, except that
    the GET of an index and the GET of the platform manifest chosen from it are one pull together."""
    marks: list[int] = []
    count = 0
    open_index: "tuple[str, int] | None" = None  # (repository, pull number) of an index just fetched
    for ex in exchanges:
        m = _MANIFEST_PATH.match(urlsplit(ex.url).path)
        if ex.method != "GET" or m is None or not 200 <= ex.status < 300:
            marks.append(0)
            continue
        repo = m.group("name")
        ctype = header_value(ex.response_headers, "Content-Type").split(";")[0].strip()
        if open_index is not None and open_index[0] == repo and ctype not in INDEX_TYPES:
            marks.append(open_index[1])  # the architecture chosen from that index: the same pull
            open_index = None
            continue
        count += 1
        marks.append(count)
        open_index = (repo, count) if ctype in INDEX_TYPES else None
    return marks


def header_value(headers: dict, name: str) -> str:
    """Return header `name` (any case) from a recorded header dict, or ""."""
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return str(v)
    return ""


class Trace:
    """A thread-safe list of Exchanges; `record(response)` adds one per requests.Response."""

    def __init__(self, timing: bool = False):
        self.timing = timing
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def record(self, resp) -> None:
        """Add the exchange behind a requests.Response (its request, status and selected headers)."""
        if getattr(resp, "_labkit_traced", False):
            return
        resp._labkit_traced = True
        req = resp.request
        rq = {h: redact_header(h, req.headers[h]) for h in REQUEST_HEADERS if h in req.headers}
        rs = {h: redact_header(h, resp.headers[h]) for h in RESPONSE_HEADERS if h in resp.headers}
        ex = Exchange(req.method, redact_url(req.url), resp.status_code, rq, rs,
                      resp.elapsed.total_seconds() if self.timing and resp.elapsed is not None else None)
        with self._lock:
            self.exchanges.append(ex)

    def lines(self) -> list[str]:
        """Return one summary line per exchange, in order."""
        with self._lock:
            return [e.line() for e in self.exchanges]

    def hub_pulls(self) -> int:
        """Return how many pulls Docker Hub would count for these exchanges (see hub_pull_marks)."""
        with self._lock:
            return max(hub_pull_marks(self.exchanges), default=0)

    def report(self) -> list[str]:
        """Return one line per exchange, each request Docker Hub counts marked, then the total (`--trace`)."""
        with self._lock:
            exchanges = list(self.exchanges)
        out = []
        for ex, mark in zip(exchanges, hub_pull_marks(exchanges)):
            note = f"  (Docker Hub: pull {mark})" if mark else "  (version check: not a pull)" \
                if is_version_check(ex) else ""
            out.append(ex.line() + note)
        count = max(hub_pull_marks(exchanges), default=0)
        out.append(f"Docker Hub would count {count} pull{'' if count == 1 else 's'} "
                   f"(GETs of manifests; a HEAD is a version check)")
        return out

    def __len__(self) -> int:
        return len(self.exchanges)

    def __iter__(self):
        return iter(list(self.exchanges))
