"""Docker Hub's `/v1/search` over the lab registry: results from each repository's image config labels."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Mapping

from ...digest import Digest
from ...errors import LabkitError
from ...oci.keys import DESCRIPTION, LABEL_AUTOMATED, LABEL_DESCRIPTION, LABEL_OFFICIAL, LABEL_STARS
from .problems import RegistryProblem

if TYPE_CHECKING:
    from .app import LabRegistry


def search_page(registry: LabRegistry, query: Mapping[str, list[str]]) -> dict:
    """Return the `/v1/search` answer for a parsed query string (`q`, `n`, `page`)."""
    q = (query.get("q") or [""])[0]
    try:
        n = int((query.get("n") or ["25"])[0] or 25)
        page = int((query.get("page") or ["1"])[0] or 1)
        if n < 1 or page < 1:
            raise ValueError
    except ValueError:
        raise RegistryProblem(400, "PAGINATION_NUMBER_INVALID", detail={"n": query.get("n")}) from None
    n = min(n, 100)
    results = [search_entry(registry, name) for name in registry.repos.names()]
    results = [r for r in results if q.lower() in r["name"].lower()]
    results.sort(key=lambda r: (-r["star_count"], r["name"]))
    chunk = results[(page - 1) * n: page * n]
    return {"num_pages": max(1, -(-len(results) // n)), "num_results": len(results),
            "page_size": n, "page": page, "query": q, "results": chunk}


def _image_labels(registry: LabRegistry, rec: Mapping) -> dict:
    """Return the config labels of the manifest `rec` (the first platform's, for an index)."""
    layout = registry.layout
    try:
        doc = json.loads(layout.read_blob(Digest.parse(rec["digest"])))
        if isinstance(doc.get("manifests"), list) and doc["manifests"]:
            doc = json.loads(layout.read_blob(Digest.parse(doc["manifests"][0]["digest"])))
        config = json.loads(layout.read_blob(Digest.parse(doc["config"]["digest"])))
        labels = (config.get("config") or {}).get("Labels") or {}
        return labels if isinstance(labels, dict) else {}
    except (LabkitError, ValueError, KeyError, TypeError, AttributeError, OSError):
        return {}


def search_entry(registry: LabRegistry, name: str) -> dict:
    """Return Docker Hub's search result for `name`, from its latest image's config labels."""
    rec = registry.repos.latest(name)
    labels = _image_labels(registry, rec) if rec else {}
    try:
        stars = int(labels.get(LABEL_STARS, 0))
    except (TypeError, ValueError):
        stars = 0
    return {
        "name": name[len("library/"):] if name.startswith("library/") else name,  # Docker Hub's familiar names
        "description": labels.get(LABEL_DESCRIPTION) or labels.get(DESCRIPTION) or "",
        "star_count": stars,
        "is_official": _truthy(labels.get(LABEL_OFFICIAL)),
        "is_automated": _truthy(labels.get(LABEL_AUTOMATED)),
    }


def _truthy(text: str | None) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes", "on")
