"""The lab registry's routes: URL patterns, the methods each allows, and which requests write."""

from __future__ import annotations

import re

from .problems import RegistryProblem

ROUTES = [
    ("base", re.compile(r"^/v2/?$")),
    ("catalog", re.compile(r"^/v2/_catalog$")),
    ("tags", re.compile(r"^/v2/(?P<name>.+)/tags/list$")),
    ("manifest", re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")),
    ("upload_start", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$")),
    ("upload", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)$")),
    ("blob", re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")),
    ("referrers", re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$")),
    ("search", re.compile(r"^/v1/search$")),
    ("token", re.compile(r"^/token$")),
    ("identity", re.compile(r"^/_labkit/identity$")),  # labkit's own: "are you this home's lab registry?"
]

METHODS = {
    "base": {"GET", "HEAD"},
    "catalog": {"GET"},
    "tags": {"GET"},
    "manifest": {"GET", "HEAD", "PUT", "DELETE"},
    "upload_start": {"POST"},
    "upload": {"GET", "PATCH", "PUT", "DELETE"},
    "blob": {"GET", "HEAD", "DELETE"},
    "referrers": {"GET"},
    "search": {"GET"},
    "token": {"GET", "POST"},
    "identity": {"GET"},
}

WRITES = {("manifest", "PUT"), ("manifest", "DELETE"), ("blob", "DELETE"), ("upload_start", "POST"),
            ("upload", "PATCH"), ("upload", "PUT"), ("upload", "DELETE")}


def match_route(path: str, method: str) -> tuple[str, dict]:
    """Return (route, path parameters) for a request; 404 NOT_FOUND or 405 UNSUPPORTED when none fits."""
    for route, pattern in ROUTES:
        m = pattern.match(path)
        if m:
            break
    else:
        raise RegistryProblem(404, "NOT_FOUND", detail={"path": path})
    if method not in METHODS[route]:
        raise RegistryProblem(405, "UNSUPPORTED", f"{method} is not supported on {route} endpoints",
                              headers={"Allow": ", ".join(sorted(METHODS[route]))})
    return route, m.groupdict()
