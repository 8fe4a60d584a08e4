"""Content descriptors (image-spec descriptor.md): media type, digest and size of a blob, and the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..digest import Digest
from ..errors import LabkitError
from .jsondoc import FrozenDict, string_map
from .keys import ATTESTATION_ANNOTATION
from .platforms import Platform

@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: media type, digest and size of a blob, plus optional platform and annotations."""

    media_type: str
    digest: Digest
    size: int
    platform: "Platform | None" = None
    annotations: Mapping[str, str] = field(default_factory=FrozenDict)
    urls: tuple[str, ...] = ()
    artifact_type: "str | None" = None

    def __post_init__(self):
        if isinstance(self.digest, str):
            object.__setattr__(self, "digest", Digest.parse(self.digest))
        if not isinstance(self.annotations, FrozenDict):
            object.__setattr__(self, "annotations", string_map(self.annotations, "descriptor annotations"))
        if not isinstance(self.urls, tuple):
            object.__setattr__(self, "urls", tuple(self.urls))

    @classmethod
    def from_json(cls, data: Any) -> "Descriptor":
        """Return the Descriptor of a descriptor JSON object; LabkitError naming what is wrong."""
        if not isinstance(data, Mapping):
            raise LabkitError(f"invalid descriptor {data!r:.80}: expected a JSON object")
        media_type = data.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise LabkitError(f"invalid descriptor {_brief(data)}: 'mediaType' must be a non-empty string")
        try:
            digest = Digest.parse(data.get("digest"))
        except LabkitError as e:
            raise LabkitError(f"invalid descriptor {_brief(data)}: {e}") from None
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise LabkitError(f"invalid descriptor {_brief(data)}: 'size' must be a non-negative integer")
        platform = Platform.from_json(data["platform"]) if data.get("platform") is not None else None
        urls = data.get("urls")
        urls = [] if urls is None else urls
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise LabkitError(f"invalid descriptor {_brief(data)}: 'urls' must be a list of strings")
        artifact_type = data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise LabkitError(f"invalid descriptor {_brief(data)}: 'artifactType' must be a string")
        annotations = string_map(data.get("annotations"), f"annotations of descriptor {digest}")
        return cls(media_type, digest, size, platform, annotations, tuple(urls), artifact_type)

    def to_json(self) -> dict:
        """Return the descriptor JSON object (keys in the image-spec Go struct order, empty ones left out)."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    @property
    def is_attestation(self) -> bool:
        """Return True for an index entry that holds provenance/SBOM attestations, not a runnable image."""
        return (self.annotations.get(ATTESTATION_ANNOTATION) == "attestation-manifest"
                or (self.platform is not None and self.platform.is_unknown))

    def with_platform(self, platform: "Platform | None") -> "Descriptor":
        """Return a copy of this descriptor with `platform`."""
        return Descriptor(self.media_type, self.digest, self.size, platform, self.annotations, self.urls,
                          self.artifact_type)


def _brief(data: Mapping) -> str:
    digest = data.get("digest")
    return str(digest) if isinstance(digest, str) else f"{dict(data)!r:.80}"
