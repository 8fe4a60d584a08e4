"""Repositories recorded in the layout's index.json: each tag is a descriptor annotated with its ref name.

A tag is an `index.json` descriptor annotated `org.opencontainers.image.ref.name` = `<repo>:<tag>` and
`io.labkit.repository` = `<repo>`, so skopeo and umoci can read the root by that name
(`oci:ROOT:<repo>:<tag>`); a manifest pushed by digest only is kept by a descriptor with the repository
annotation and no ref name.
"""

from __future__ import annotations

import json
from typing import Mapping

from ...digest import Digest
from ...errors import LabkitError
from ...oci.keys import REF_NAME, REPOSITORY
from .names import valid_name


def record_repository(rec: Mapping) -> str | None:
    """Return the repository an index.json descriptor belongs to (annotation, else its ref name)."""
    ann = rec.get("annotations") or {}
    repo = ann.get(REPOSITORY)
    if repo:
        return repo
    ref = ann.get(REF_NAME, "")
    head, sep, tail = ref.rpartition(":")
    if sep and "/" not in tail and valid_name(head):
        return head
    return None


def record_tag(rec: Mapping) -> str | None:
    """Return the tag an index.json descriptor names, or None for an untagged manifest."""
    repo = record_repository(rec)
    ref = (rec.get("annotations") or {}).get(REF_NAME, "")
    if repo and ref.startswith(repo + ":"):
        return ref[len(repo) + 1:]
    return None


class Repositories:
    """The tags and manifests of every repository, kept as descriptors in the layout's index.json."""

    def __init__(self, layout):
        self.layout = layout

    def records(self) -> list[dict]:
        """Return index.json's descriptors as JSON dicts."""
        return [d.to_json() for d in self.layout.index()]

    def _update(self, fn):
        """Run `fn(records) -> (new records, result)` as one locked read-modify-write of index.json."""
        from ...oci import Descriptor

        out = {}

        def change(old):
            new, out["result"] = fn([d.to_json() for d in old])
            return [Descriptor.from_json(r) for r in new]

        self.layout.update_index(change)
        return out["result"]

    def names(self) -> list[str]:
        """Return the sorted repository names."""
        return sorted({r for r in map(record_repository, self.records()) if r})

    def exists(self, repo: str) -> bool:
        """Return True when some manifest is recorded for `repo`."""
        return any(record_repository(r) == repo for r in self.records())

    def tags(self, repo: str) -> list[str] | None:
        """Return the sorted tags of `repo`, or None when the repository is unknown."""
        found, tags = False, set()
        for rec in self.records():
            if record_repository(rec) == repo:
                found = True
                tag = record_tag(rec)
                if tag is not None:
                    tags.add(tag)
        return sorted(tags) if found else None

    def resolve(self, repo: str, reference: str) -> dict | None:
        """Return the descriptor of `repo`'s manifest named by a tag or digest, or None."""
        is_digest = ":" in reference
        for rec in reversed(self.records()):
            if record_repository(rec) != repo:
                continue
            if (rec.get("digest") == reference) if is_digest else (record_tag(rec) == reference):
                return rec
        return self._child_of_index(repo, reference) if is_digest else None

    def _child_of_index(self, repo: str, digest: str) -> dict | None:
        """Return the descriptor of a platform manifest that one of `repo`'s recorded indexes lists, or None.

        A registry serves by digest every manifest an index in the repository references (a pull of a
        multi-platform image asks for the index by tag, then for one of its children by digest)."""
        for rec in self.records():
            if record_repository(rec) != repo or not str(rec.get("mediaType", "")).endswith(
                    ("manifest.list.v2+json", "image.index.v1+json")):
                continue
            try:
                doc = json.loads(self.layout.read_blob(Digest.parse(rec["digest"])))
            except (LabkitError, ValueError, OSError):
                continue
            for child in doc.get("manifests") or []:
                if isinstance(child, dict) and child.get("digest") == digest and self.layout.has_blob(digest):
                    return {"mediaType": child.get("mediaType", ""), "digest": digest, "size": child.get("size", 0),
                            "annotations": {REPOSITORY: repo}}
        return None

    def latest(self, repo: str) -> dict | None:
        """Return the descriptor of `repo:latest`, else of its most recently recorded tag."""
        tagged = [r for r in self.records() if record_repository(r) == repo and record_tag(r) is not None]
        for rec in tagged:
            if record_tag(rec) == "latest":
                return rec
        return tagged[-1] if tagged else None

    @staticmethod
    def _descriptor(repo: str, tag: str | None, media_type: str, digest: str, size: int) -> dict:
        ann = {REPOSITORY: repo}
        if tag is not None:
            ann[REF_NAME] = f"{repo}:{tag}"
        return {"mediaType": media_type, "digest": digest, "size": size, "annotations": ann}

    @classmethod
    def _keep_untagged(cls, repo: str, records: list[dict], dropped: list[dict]) -> list[dict]:
        """Return `records` plus an untagged descriptor for each dropped manifest no longer held in `repo`."""
        held = {r["digest"] for r in records if record_repository(r) == repo}
        for rec in dropped:
            if rec["digest"] not in held:
                records.append(cls._descriptor(repo, None, rec["mediaType"], rec["digest"], rec["size"]))
                held.add(rec["digest"])
        return records

    def put(self, repo: str, tag: str | None, media_type: str, digest: str, size: int) -> None:
        """Record a manifest in `repo`, under `tag` when given; a manifest a moved tag leaves stays by digest."""
        def change(records):
            keep, moved = [], []
            for rec in records:
                if record_repository(rec) == repo:
                    rtag = record_tag(rec)
                    if tag is not None and rtag == tag:
                        moved.append(rec)
                        continue
                    if rtag is None and rec["digest"] == digest:
                        continue  # re-added below, tagged or not
                    if tag is None and rec["digest"] == digest:
                        return records, None  # already held by a tag: nothing to record
                keep.append(rec)
            keep.append(self._descriptor(repo, tag, media_type, digest, size))
            return self._keep_untagged(repo, keep, moved), None

        self._update(change)

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Forget the manifest `digest` in `repo` and every tag on it; return False when it was not there."""
        def change(records):
            keep = [r for r in records if not (record_repository(r) == repo and r["digest"] == digest)]
            return keep, len(keep) != len(records)

        return self._update(change)

    def delete_tag(self, repo: str, tag: str) -> bool:
        """Remove `repo:tag`, keeping its manifest addressable by digest; return False when absent."""
        def change(records):
            gone = [r for r in records if record_repository(r) == repo and record_tag(r) == tag]
            keep = [r for r in records if not (record_repository(r) == repo and record_tag(r) == tag)]
            return self._keep_untagged(repo, keep, gone), bool(gone)

        return self._update(change)
