"""An HTTP trace a caller can switch on: each exchange with redacted URL and headers (for teaching and debugging)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
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

    def __len__(self) -> int:
        return len(self.exchanges)

    def __iter__(self):
        return iter(list(self.exchanges))
