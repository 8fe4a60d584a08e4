"""Repository names and tags: the distribution spec's grammar ("Pulling manifests")."""

from __future__ import annotations

import re

# distribution-spec "Pulling manifests": a name is path components joined by "/".
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


def valid_name(name: str) -> bool:
    """Return True when `name` is a repository name of the distribution grammar (at most 255 chars)."""
    return len(name) <= 255 and bool(NAME_RE.match(name))


def valid_tag(tag: str) -> bool:
    """Return True when `tag` is a valid tag (`[\\w][\\w.-]{0,127}`)."""
    return bool(TAG_RE.match(tag))
