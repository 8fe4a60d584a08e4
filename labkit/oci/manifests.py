"""Image manifests and indexes (image-spec manifest.md, image-index.md; Docker v2 schema 2 and manifest
lists), parsed strictly from their exact bytes or built as canonical JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..errors import LabkitError, NotFound
from .descriptors import Descriptor
from .jsondoc import FrozenDict, RawDocument, canonical_json, load_object, optional_str, string_map, short_digest
from .mediatypes import (DOCKER_MANIFEST, IMAGE_MANIFEST_TYPES, INDEX_TYPES, MANIFEST_ACCEPT, MANIFEST_TYPES,
                         OCI_INDEX, OCI_MANIFEST, SCHEMA1_TYPES, base_media_type)
from .platforms import Platform, platform_matches

_SCHEMA1_MESSAGE = ("deprecated manifest format (schema 1) is not supported; the image must be pushed "
                    "again as Docker v2 schema 2 or OCI (docker push, or skopeo copy, from a current tool)")


def _classify(raw: bytes, doc: dict, media_type: "str | None") -> str:
    """Return the manifest/index media type of `doc`, checking schema version and shape."""
    subject = short_digest(raw)
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise LabkitError(f"parse manifest {subject}: 'mediaType' must be a string")
    hint = base_media_type(media_type) if media_type else None
    version = doc.get("schemaVersion")
    if (version == 1 and not isinstance(version, bool)) or declared in SCHEMA1_TYPES or hint in SCHEMA1_TYPES:
        raise LabkitError(f"{_SCHEMA1_MESSAGE} (manifest {subject})")
    if isinstance(version, bool) or version != 2:
        raise LabkitError(f"parse manifest {subject}: schemaVersion must be 2, got {version!r}")
    if declared in MANIFEST_TYPES and hint in MANIFEST_TYPES and (declared in INDEX_TYPES) != (hint in INDEX_TYPES):
        # An index served as a manifest (or the reverse) would be read differently by different tools.
        # Within one kind (Docker vs OCI) the content's own mediaType wins, as registries are lax there.
        raise LabkitError(f"parse manifest {subject}: served as {hint} but its mediaType says {declared}")
    has_index_shape = "manifests" in doc
    has_manifest_shape = "config" in doc or "layers" in doc
    kind = declared or (hint if hint in MANIFEST_TYPES else None)
    if kind is None:
        # image-spec: mediaType is optional in content, so infer it from the shape (manifest.md, image-index.md).
        if has_index_shape and not has_manifest_shape:
            return OCI_INDEX
        if "config" in doc and "layers" in doc and not has_index_shape:
            return OCI_MANIFEST
        raise LabkitError(f"parse manifest {subject}: no mediaType and the shape is neither an image manifest "
                          f"('config' + 'layers') nor an index ('manifests')")
    if kind not in MANIFEST_TYPES:
        raise LabkitError(f"parse manifest {subject}: unsupported media type {kind!r} "
                          f"(expected one of: {', '.join(MANIFEST_ACCEPT)})")
    # A document whose shape disagrees with its type could be read differently by different tools
    # (the confusion containerd guards against in validateMediaType).
    if kind in INDEX_TYPES and has_manifest_shape:
        raise LabkitError(f"parse manifest {subject}: declared as an index ({kind}) but has 'config'/'layers'")
    if kind in IMAGE_MANIFEST_TYPES and has_index_shape:
        raise LabkitError(f"parse manifest {subject}: declared as an image manifest ({kind}) but has 'manifests'")
    return kind


def _optional_descriptor(doc: dict, key: str, subject: str) -> "Descriptor | None":
    value = doc.get(key)
    if value is None:
        return None
    try:
        return Descriptor.from_json(value)
    except LabkitError as e:
        raise LabkitError(f"parse manifest {subject}: '{key}': {e}") from None


def _descriptor_list(doc: dict, key: str, subject: str, required: bool = True) -> tuple[Descriptor, ...]:
    value = doc.get(key)
    if value is None and not required:
        return ()
    if not isinstance(value, list):
        raise LabkitError(f"parse manifest {subject}: '{key}' must be a list of descriptors")
    out = []
    for i, item in enumerate(value):
        try:
            out.append(Descriptor.from_json(item))
        except LabkitError as e:
            raise LabkitError(f"parse manifest {subject}: {key}[{i}]: {e}") from None
    return tuple(out)


def _document(media_type: str, artifact_type: "str | None", body: dict, subject: "Descriptor | None",
              annotations: "Mapping[str, str] | None", what: str) -> bytes:
    """Return a new manifest or index as canonical JSON, keys in the image-spec Go struct order."""
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc.update(body)
    if subject is not None:
        doc["subject"] = subject.to_json()
    if annotations:
        doc["annotations"] = dict(sorted(string_map(annotations, f"{what} annotations").items()))
    return canonical_json(doc)


def _check_build_type(media_type: str, allowed: frozenset, what: str) -> None:
    if media_type not in allowed:
        raise LabkitError(f"build {what}: media type {media_type!r} is not one of {', '.join(sorted(allowed))}")


@dataclass(frozen=True)
class Manifest(RawDocument):
    """An image manifest (OCI or Docker v2 schema 2) with the exact bytes it was read from."""

    raw: bytes = field(repr=False)
    media_type: str
    config: Descriptor = field(compare=False)
    layers: tuple[Descriptor, ...] = field(compare=False)
    annotations: Mapping[str, str] = field(default_factory=FrozenDict, compare=False)
    subject: "Descriptor | None" = field(default=None, compare=False)
    artifact_type: "str | None" = field(default=None, compare=False)

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: "str | None" = None) -> "Manifest":
        """Return the Manifest in `raw` (media_type: the Content-Type or descriptor's, if known)."""
        doc = load_object(raw, "manifest")
        kind = _classify(raw, doc, media_type)
        if kind in INDEX_TYPES:
            raise LabkitError(f"parse manifest {short_digest(raw)}: expected an image manifest, got an index ({kind}); "
                              f"select a platform from it first")
        return cls._from_doc(bytes(raw), kind, doc)

    @classmethod
    def _from_doc(cls, raw: bytes, kind: str, doc: dict) -> "Manifest":
        subject = short_digest(raw)
        if not isinstance(doc.get("config"), dict):
            raise LabkitError(f"parse manifest {subject}: 'config' must be a descriptor object")
        config = _optional_descriptor(doc, "config", subject)
        layers = _descriptor_list(doc, "layers", subject)
        annotations = string_map(doc.get("annotations"), f"annotations of manifest {subject}")
        return cls(raw, kind, config, layers, annotations, _optional_descriptor(doc, "subject", subject),
                   optional_str(doc, "artifactType", subject))

    @classmethod
    def build(cls, config: Descriptor, layers: Iterable[Descriptor], media_type: str = OCI_MANIFEST,
              annotations: "Mapping[str, str] | None" = None, subject: "Descriptor | None" = None,
              artifact_type: "str | None" = None) -> "Manifest":
        """Return a new Manifest serialised as canonical JSON (same inputs, same bytes, same digest)."""
        _check_build_type(media_type, IMAGE_MANIFEST_TYPES, "manifest")
        body = {"config": config.to_json(), "layers": [layer.to_json() for layer in layers]}
        return cls.from_bytes(_document(media_type, artifact_type, body, subject, annotations, "manifest"))


    def descriptor(self, platform: "Platform | None" = None,
                   annotations: "Mapping[str, str] | None" = None) -> Descriptor:
        """Return the Descriptor that points at this manifest."""
        return Descriptor(self.media_type, self.digest, len(self.raw), platform,
                          annotations or FrozenDict(), (), self.artifact_type)

    @property
    def is_docker(self) -> bool:
        """Return True for a Docker v2 schema 2 manifest (False for OCI)."""
        return self.media_type == DOCKER_MANIFEST

    def blobs(self) -> list[Descriptor]:
        """Return the config and layer descriptors, the blobs a pull fetches and a push uploads."""
        return [self.config, *self.layers]

    @property
    def layers_size(self) -> int:
        """Return the sum of the (compressed) layer sizes, what a registry stores for this image."""
        return sum(layer.size for layer in self.layers)


@dataclass(frozen=True)
class Index(RawDocument):
    """An image index / Docker manifest list with the exact bytes it was read from."""

    raw: bytes = field(repr=False)
    media_type: str
    manifests: tuple[Descriptor, ...] = field(compare=False)
    annotations: Mapping[str, str] = field(default_factory=FrozenDict, compare=False)
    subject: "Descriptor | None" = field(default=None, compare=False)
    artifact_type: "str | None" = field(default=None, compare=False)

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: "str | None" = None) -> "Index":
        """Return the Index in `raw` (media_type: the Content-Type or descriptor's, if known)."""
        doc = load_object(raw, "index")
        kind = _classify(raw, doc, media_type)
        if kind in IMAGE_MANIFEST_TYPES:
            raise LabkitError(f"parse index {short_digest(raw)}: expected an index, got an image manifest ({kind})")
        return cls._from_doc(bytes(raw), kind, doc)

    @classmethod
    def _from_doc(cls, raw: bytes, kind: str, doc: dict) -> "Index":
        subject = short_digest(raw)
        manifests = _descriptor_list(doc, "manifests", subject)
        annotations = string_map(doc.get("annotations"), f"annotations of index {subject}")
        return cls(raw, kind, manifests, annotations, _optional_descriptor(doc, "subject", subject),
                   optional_str(doc, "artifactType", subject, "index"))

    @classmethod
    def build(cls, manifests: Iterable[Descriptor], media_type: str = OCI_INDEX,
              annotations: "Mapping[str, str] | None" = None, subject: "Descriptor | None" = None,
              artifact_type: "str | None" = None) -> "Index":
        """Return a new Index serialised as canonical JSON (same inputs, same bytes, same digest)."""
        _check_build_type(media_type, INDEX_TYPES, "index")
        body = {"manifests": [m.to_json() for m in manifests]}
        return cls.from_bytes(_document(media_type, artifact_type, body, subject, annotations, "index"))


    def descriptor(self, annotations: "Mapping[str, str] | None" = None) -> Descriptor:
        """Return the Descriptor that points at this index."""
        return Descriptor(self.media_type, self.digest, len(self.raw), None,
                          annotations or FrozenDict(), (), self.artifact_type)

    def images(self) -> list[Descriptor]:
        """Return the entries that are runnable images or nested indexes (no attestations, no unknown types)."""
        return [d for d in self.manifests if _selectable(d)]

    def select(self, platform: "Platform | str | None" = None) -> Descriptor:
        """Return the first entry for `platform` (default: the host's); NotFound listing what is offered.

        A nested index is returned as it is: the caller fetches it and selects again.
        """
        wanted = Platform.host() if platform is None else Platform.parse(platform)
        for desc in self.manifests:
            if _selectable(desc) and platform_matches(wanted, desc.platform):
                return desc
        offered = [str(d.platform) if d.platform is not None else "(any)" for d in self.images()]
        raise NotFound(f"no matching manifest for {wanted} in the manifest list entries of index "
                       f"{self.digest.algorithm}:{self.digest.short} (offered: {', '.join(offered) or 'none'})")


def _selectable(desc: Descriptor) -> bool:
    # image-index.md: an entry whose mediaType is unknown MUST be ignored. Schema 1 entries stay
    # selectable so the caller reports "deprecated manifest format" rather than "not found".
    mt = base_media_type(desc.media_type)
    return (mt in MANIFEST_TYPES or mt in SCHEMA1_TYPES) and not desc.is_attestation


def parse_manifest(raw: bytes, media_type: "str | None" = None) -> "Manifest | Index":
    """Return a Manifest or an Index, whichever `raw` holds; LabkitError for schema 1 and malformed content."""
    doc = load_object(raw, "manifest")
    kind = _classify(raw, doc, media_type)
    if kind in INDEX_TYPES:
        return Index._from_doc(bytes(raw), kind, doc)
    return Manifest._from_doc(bytes(raw), kind, doc)
