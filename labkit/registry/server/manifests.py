"""Manifests as the registry checks them: references, the digests they point at, and their referrers.

The referrers API (`/v2/<name>/referrers/<digest>`, OCI distribution 1.1) lists manifests whose
`subject` is a digest.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ...digest import Digest
from ...errors import InvalidReference, LabkitError
from ...oci.limits import MAX_MANIFEST_SIZE
from .names import valid_tag
from .problems import RegistryProblem
from .repositories import record_repository

if TYPE_CHECKING:
    from .app import LabRegistry


def parse_manifest_reference(reference: str) -> tuple[str | None, str | None]:
    """Return (tag, None) or (None, digest) for a manifest reference; RegistryProblem when invalid."""
    if ":" in reference:
        try:
            return None, str(Digest.parse(reference))
        except InvalidReference as e:
            raise RegistryProblem(400, "DIGEST_INVALID", str(e), detail={"digest": reference}) from None
    if not valid_tag(reference):
        raise RegistryProblem(400, "TAG_INVALID", f"invalid tag {reference!r}", detail={"tag": reference})
    return reference, None


def manifest_references(doc: dict) -> list[str]:
    """Return the digests a manifest or index points at (foreign layers with `urls` excepted)."""
    descs = []
    if isinstance(doc.get("config"), dict):
        descs.append(doc["config"])
    for key in ("layers", "manifests"):
        if isinstance(doc.get(key), list):
            descs.extend(d for d in doc[key] if isinstance(d, dict) and not d.get("urls"))
    if "manifests" not in doc and not isinstance(doc.get("config"), dict):
        raise RegistryProblem(400, "MANIFEST_INVALID", "manifest has neither config nor manifests")
    out = []
    for d in descs:
        try:
            out.append(str(Digest.parse(d.get("digest"))))
        except InvalidReference as e:
            raise RegistryProblem(400, "MANIFEST_INVALID", str(e)) from None
    return list(dict.fromkeys(out))


def subject_of(doc) -> str | None:
    """Return the digest of a manifest document's `subject`, or None when it has none."""
    subject = doc.get("subject") if isinstance(doc, dict) else None
    return subject.get("digest") if isinstance(subject, dict) and isinstance(subject.get("digest"), str) else None


def referrers(registry: LabRegistry, repo: str, digest: str, artifact_type: str | None = None) -> list[dict]:
    """Return descriptors of `repo`'s manifests whose `subject` is `digest` (spec "Listing Referrers")."""
    out, seen = [], set()
    for rec in registry.repos.records():
        if record_repository(rec) != repo or rec["digest"] in seen or rec.get("size", 0) > MAX_MANIFEST_SIZE:
            continue
        seen.add(rec["digest"])
        try:
            doc = json.loads(registry.layout.read_blob(Digest.parse(rec["digest"])))
        except (LabkitError, ValueError, OSError):
            continue
        if subject_of(doc) != digest:
            continue
        kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
        if artifact_type and kind != artifact_type:
            continue
        desc = {"mediaType": rec["mediaType"], "digest": rec["digest"], "size": rec["size"]}
        if kind:
            desc["artifactType"] = kind
        if isinstance(doc.get("annotations"), dict) and doc["annotations"]:
            desc["annotations"] = doc["annotations"]
        out.append(desc)
    return out
