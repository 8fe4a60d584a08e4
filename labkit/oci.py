"""OCI / Docker image models: media types, platforms, descriptors, manifests, indexes, configs, chain IDs.

Pure: no disk, no network. Every parsed object keeps the exact bytes it came from, because a digest is
the sha256 of those bytes (image-spec `descriptor.md#digests`); re-serialising would change it.
"""

from __future__ import annotations

import hashlib
import json
import platform as _pyplatform
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

from .clock import build_time, parse_time, rfc3339
from .digest import Digest
from .errors import LabkitError, NotFound

# --- Media types (image-spec media-types.md; distribution manifest-v2-2.md) -------------------------

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_LAYER_FOREIGN_TAR = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

# Order matters only as a preference list for Accept headers: indexes first so a multi-platform
# image resolves to its index (docker and containerd send the same four).
MANIFEST_ACCEPT = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_MANIFEST_TYPES
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
CONFIG_TYPES = frozenset({DOCKER_CONFIG, OCI_CONFIG})

LAYER_TYPES: Mapping[str, "str | None"] = {
    DOCKER_LAYER_TAR: None,
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_ZSTD: "zstd",
    DOCKER_LAYER_FOREIGN_TAR: None,
    DOCKER_LAYER_FOREIGN_GZIP: "gzip",
    OCI_LAYER_TAR: None,
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDISTRIBUTABLE_TAR: None,
    OCI_LAYER_NONDISTRIBUTABLE_GZIP: "gzip",
    OCI_LAYER_NONDISTRIBUTABLE_ZSTD: "zstd",
}
FOREIGN_LAYER_TYPES = frozenset({
    DOCKER_LAYER_FOREIGN_TAR, DOCKER_LAYER_FOREIGN_GZIP,
    OCI_LAYER_NONDISTRIBUTABLE_TAR, OCI_LAYER_NONDISTRIBUTABLE_GZIP, OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
})

# distribution caps manifests at 4 MiB; clients should refuse bigger ones before parsing them.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024

# Docker (buildx) marks provenance/SBOM entries of an index with this annotation and unknown/unknown.
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"

_SCHEMA1_MESSAGE = ("deprecated manifest format (schema 1) is not supported; the image must be pushed "
                    "again as Docker v2 schema 2 or OCI (docker push, or skopeo copy, from a current tool)")


def base_media_type(media_type: str) -> str:
    """Return `media_type` without parameters or surrounding space, lowercased (as in a Content-Type)."""
    return media_type.split(";", 1)[0].strip().lower()


def layer_compression(media_type: str) -> "str | None":
    """Return "gzip", "zstd" or None (plain tar) for a layer media type; LabkitError if it is not a layer."""
    mt = base_media_type(media_type) if isinstance(media_type, str) else media_type
    try:
        return LAYER_TYPES[mt]
    except (KeyError, TypeError):
        raise LabkitError(f"unsupported layer media type {media_type!r}: expected a tar, tar+gzip or "
                          f"tar+zstd layer (OCI or Docker)") from None


def is_foreign_layer(media_type: str) -> bool:
    """Return True for foreign/non-distributable layers (their blob may live at the descriptor's urls)."""
    return base_media_type(media_type) in FOREIGN_LAYER_TYPES


# --- A hashable, JSON-serialisable read-only dict ----------------------------------------------------

class FrozenDict(dict):
    """A dict that refuses changes and can be hashed, so frozen dataclasses can hold annotations."""

    __slots__ = ()

    def _readonly(self, *args, **kwargs):
        raise TypeError("FrozenDict is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore
    __ior__ = _readonly  # type: ignore

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


def _string_map(value: Any, what: str) -> FrozenDict:
    if value is None:
        return FrozenDict()
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in value.items()):
        raise LabkitError(f"{what} must map strings to strings, got {value!r:.80}")
    return FrozenDict(value)


# --- Platforms (image-index.md#platform; containerd/platforms database.go) --------------------------

_KNOWN_OS = frozenset({"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
                       "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos"})
_KNOWN_ARCH = frozenset({"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
                         "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
                         "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm"})
_COMPONENT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")  # containerd's specifierRe


def _normalize_os(os_name: str) -> str:
    os_name = os_name.lower()
    return "darwin" if os_name == "macos" else os_name


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    # Mirrors containerd/platforms normalizeArch, so "same platform" means what it means to docker.
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant


@dataclass(frozen=True)
class Platform:
    """An image platform: os, architecture, optional variant, os.version and os.features."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.os_features, tuple):
            object.__setattr__(self, "os_features", tuple(self.os_features))

    @classmethod
    def parse(cls, text: "str | Platform") -> "Platform":
        """Return the Platform for "os/arch[/variant]" (or a lone known os or arch); LabkitError if malformed."""
        if isinstance(text, Platform):
            return text
        if not isinstance(text, str):
            raise LabkitError(f"invalid platform {text!r}: expected a string like linux/amd64")
        parts = text.strip().lower().split("/")
        if not 1 <= len(parts) <= 3 or not all(_COMPONENT_RE.match(p) for p in parts):
            raise LabkitError(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64/v8")
        if len(parts) == 1:
            # containerd's specifier rules: a lone OS gets the host's architecture, a lone arch gets linux.
            word = parts[0]
            if _normalize_os(word) in _KNOWN_OS:
                host = cls.host()
                return cls(word, host.architecture, host.variant)
            arch, _ = _normalize_arch(word, "")
            if arch in _KNOWN_ARCH:
                return cls("linux", word)
            raise LabkitError(f"invalid platform {text!r}: {word!r} is neither a known os nor a known "
                              f"architecture; expected os/arch[/variant], e.g. linux/amd64")
        return cls(*parts)

    @classmethod
    def host(cls) -> "Platform":
        """Return the platform of this machine as a linux image platform (normalized)."""
        return cls("linux", *_machine_arch(_pyplatform.machine())).normalized()

    def normalized(self) -> "Platform":
        """Return this platform with containerd's normalization (x86_64 -> amd64, arm64/v8 -> arm64, ...)."""
        arch, variant = _normalize_arch(self.architecture, self.variant)
        return Platform(_normalize_os(self.os), arch, variant, self.os_version, self.os_features)

    @classmethod
    def from_json(cls, data: Any) -> "Platform":
        """Return the Platform of an OCI platform object; LabkitError if it is malformed."""
        if not isinstance(data, Mapping):
            raise LabkitError(f"invalid platform {data!r:.80}: expected a JSON object")
        os_name, arch = data.get("os"), data.get("architecture")
        if not isinstance(os_name, str) or not isinstance(arch, str):
            raise LabkitError(f"invalid platform {dict(data)!r:.120}: 'os' and 'architecture' must be strings")
        variant = data.get("variant") or ""
        os_version = data.get("os.version") or ""
        features = data.get("os.features") or ()
        if not isinstance(variant, str) or not isinstance(os_version, str):
            raise LabkitError(f"invalid platform {dict(data)!r:.120}: 'variant' and 'os.version' must be strings")
        if not isinstance(features, (list, tuple)) or not all(isinstance(f, str) for f in features):
            raise LabkitError(f"invalid platform {dict(data)!r:.120}: 'os.features' must be a list of strings")
        return cls(os_name, arch, variant, os_version, tuple(features))

    def to_json(self) -> dict:
        """Return the OCI platform object (keys in Go's struct order; empty fields left out)."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    @property
    def is_unknown(self) -> bool:
        """Return True for the unknown/unknown platform that marks attestation manifests."""
        return self.os == "unknown" or self.architecture == "unknown"

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def _machine_arch(machine: str) -> tuple[str, str]:
    m = machine.lower()
    if m in ("x86_64", "amd64", "x64"):
        return "amd64", ""
    if m in ("i386", "i486", "i586", "i686", "x86"):
        return "386", ""
    if m in ("aarch64", "arm64", "armv8b"):
        return "arm64", ""
    found = re.match(r"^armv(\d+)", m)
    if found:
        return "arm", "v" + found.group(1)
    return m or "unknown", ""


def platform_matches(wanted: "Platform | str", candidate: "Platform | None") -> bool:
    """Return True if an index entry with `candidate` platform serves `wanted` (None matches anything)."""
    if candidate is None:
        return True
    if candidate.is_unknown:
        return False
    w = Platform.parse(wanted).normalized()
    c = candidate.normalized()
    # Strict match after normalization, like containerd's OnlyStrict: no fallback from arm/v7 to v6 or
    # from amd64 to 386. os.version and os.features are not compared (linux images leave them empty).
    return (w.os, w.architecture, w.variant) == (c.os, c.architecture, c.variant)


# --- Descriptors (descriptor.md) --------------------------------------------------------------------

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
            object.__setattr__(self, "annotations", _string_map(self.annotations, "descriptor annotations"))
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
        annotations = _string_map(data.get("annotations"), f"annotations of descriptor {digest}")
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


# --- JSON parsing shared by manifests, indexes and configs -------------------------------------------

def canonical_json(obj: Any) -> bytes:
    """Return `obj` as compact UTF-8 JSON bytes; key order is the caller's, so build dicts in a fixed order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            # Two parsers may keep different copies of a duplicate key; refuse rather than guess.
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _subject(raw: bytes) -> str:
    d = Digest.of(raw)
    return f"{d.algorithm}:{d.short}"


def _load_object(raw: bytes, kind: str) -> dict:
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise LabkitError(f"parse {kind}: expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as e:
        raise LabkitError(f"parse {kind} {_subject(raw)}: not UTF-8 JSON ({e.reason} at byte {e.start})") from None
    except ValueError as e:
        raise LabkitError(f"parse {kind} {_subject(raw)}: invalid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise LabkitError(f"parse {kind} {_subject(raw)}: expected a JSON object, got {type(doc).__name__}")
    return doc


def _classify(raw: bytes, doc: dict, media_type: "str | None") -> str:
    """Return the manifest/index media type of `doc`, checking schema version and shape."""
    subject = _subject(raw)
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


def _optional_str(doc: dict, key: str, subject: str, what: str = "manifest") -> "str | None":
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise LabkitError(f"parse {what} {subject}: '{key}' must be a string")
    return value


def _check_build_type(media_type: str, allowed: frozenset, what: str) -> None:
    if media_type not in allowed:
        raise LabkitError(f"build {what}: media type {media_type!r} is not one of {', '.join(sorted(allowed))}")


# --- Manifests and indexes (manifest.md, image-index.md) ---------------------------------------------

class _RawDocument:
    """Mixin for documents kept as the exact bytes they came from: their digest and size come from `raw`."""

    raw: bytes

    @cached_property
    def digest(self) -> Digest:
        """Return the sha256 digest of the exact bytes."""
        return Digest.of(self.raw)

    @property
    def size(self) -> int:
        """Return the length of the bytes."""
        return len(self.raw)


@dataclass(frozen=True)
class Manifest(_RawDocument):
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
        doc = _load_object(raw, "manifest")
        kind = _classify(raw, doc, media_type)
        if kind in INDEX_TYPES:
            raise LabkitError(f"parse manifest {_subject(raw)}: expected an image manifest, got an index ({kind}); "
                              f"select a platform from it first")
        return cls._from_doc(bytes(raw), kind, doc)

    @classmethod
    def _from_doc(cls, raw: bytes, kind: str, doc: dict) -> "Manifest":
        subject = _subject(raw)
        if not isinstance(doc.get("config"), dict):
            raise LabkitError(f"parse manifest {subject}: 'config' must be a descriptor object")
        config = _optional_descriptor(doc, "config", subject)
        layers = _descriptor_list(doc, "layers", subject)
        annotations = _string_map(doc.get("annotations"), f"annotations of manifest {subject}")
        return cls(raw, kind, config, layers, annotations, _optional_descriptor(doc, "subject", subject),
                   _optional_str(doc, "artifactType", subject))

    @classmethod
    def build(cls, config: Descriptor, layers: Iterable[Descriptor], media_type: str = OCI_MANIFEST,
              annotations: "Mapping[str, str] | None" = None, subject: "Descriptor | None" = None,
              artifact_type: "str | None" = None) -> "Manifest":
        """Return a new Manifest serialised as canonical JSON (same inputs, same bytes, same digest)."""
        _check_build_type(media_type, IMAGE_MANIFEST_TYPES, "manifest")
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
        if artifact_type:
            doc["artifactType"] = artifact_type
        doc["config"] = config.to_json()
        doc["layers"] = [layer.to_json() for layer in layers]
        if subject is not None:
            doc["subject"] = subject.to_json()
        if annotations:
            doc["annotations"] = dict(sorted(_string_map(annotations, "manifest annotations").items()))
        return cls.from_bytes(canonical_json(doc))


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
class Index(_RawDocument):
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
        doc = _load_object(raw, "index")
        kind = _classify(raw, doc, media_type)
        if kind in IMAGE_MANIFEST_TYPES:
            raise LabkitError(f"parse index {_subject(raw)}: expected an index, got an image manifest ({kind})")
        return cls._from_doc(bytes(raw), kind, doc)

    @classmethod
    def _from_doc(cls, raw: bytes, kind: str, doc: dict) -> "Index":
        subject = _subject(raw)
        manifests = _descriptor_list(doc, "manifests", subject)
        annotations = _string_map(doc.get("annotations"), f"annotations of index {subject}")
        return cls(raw, kind, manifests, annotations, _optional_descriptor(doc, "subject", subject),
                   _optional_str(doc, "artifactType", subject, "index"))

    @classmethod
    def build(cls, manifests: Iterable[Descriptor], media_type: str = OCI_INDEX,
              annotations: "Mapping[str, str] | None" = None, subject: "Descriptor | None" = None,
              artifact_type: "str | None" = None) -> "Index":
        """Return a new Index serialised as canonical JSON (same inputs, same bytes, same digest)."""
        _check_build_type(media_type, INDEX_TYPES, "index")
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
        if artifact_type:
            doc["artifactType"] = artifact_type
        doc["manifests"] = [m.to_json() for m in manifests]
        if subject is not None:
            doc["subject"] = subject.to_json()
        if annotations:
            doc["annotations"] = dict(sorted(_string_map(annotations, "index annotations").items()))
        return cls.from_bytes(canonical_json(doc))


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
    doc = _load_object(raw, "manifest")
    kind = _classify(raw, doc, media_type)
    if kind in INDEX_TYPES:
        return Index._from_doc(bytes(raw), kind, doc)
    return Manifest._from_doc(bytes(raw), kind, doc)


# --- Image configuration (config.md) ------------------------------------------------------------------

# image-spec v1.ImageConfig field order, so built configs read like those docker and buildkit write.
_CONFIG_KEY_ORDER = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
                     "StopSignal", "ArgsEscaped")
_HISTORY_KEY_ORDER = ("created", "author", "created_by", "comment", "empty_layer")


@dataclass(frozen=True)
class HistoryItem:
    """One history entry matched with the layer it made (diff_id None for an empty_layer entry)."""

    entry: Mapping[str, Any]
    diff_id: "Digest | None"
    index: int  # position of the layer in rootfs.diff_ids, -1 for empty_layer entries

    @property
    def empty_layer(self) -> bool:
        """Return True if this history step changed no files."""
        return self.diff_id is None

    @property
    def created_by(self) -> str:
        """Return the command that made this step ("" when not recorded)."""
        return self.entry.get("created_by") or ""


@dataclass(frozen=True)
class ImageConfig(_RawDocument):
    """An image configuration with the exact bytes it was read from; its digest is the image ID."""

    raw: bytes = field(repr=False)
    architecture: str = field(compare=False)
    os: str = field(compare=False)
    variant: str = field(default="", compare=False)
    os_version: str = field(default="", compare=False)
    os_features: tuple[str, ...] = field(default=(), compare=False)
    created: "datetime | None" = field(default=None, compare=False)
    author: str = field(default="", compare=False)
    config: dict = field(default_factory=dict, compare=False, repr=False)
    diff_ids: tuple[Digest, ...] = field(default=(), compare=False)
    history: tuple[dict, ...] = field(default=(), compare=False, repr=False)
    data: dict = field(default_factory=dict, compare=False, repr=False)  # the whole parsed document

    @classmethod
    def from_bytes(cls, raw: bytes) -> "ImageConfig":
        """Return the ImageConfig in `raw`; LabkitError naming the field that breaks config.md."""
        doc = _load_object(raw, "image config")
        raw = bytes(raw)
        subject = _subject(raw)

        def fail(why: str) -> LabkitError:
            return LabkitError(f"parse image config {subject}: {why}")

        arch, os_name = doc.get("architecture"), doc.get("os")
        if not isinstance(arch, str) or not isinstance(os_name, str):
            raise fail("'architecture' and 'os' must be strings")
        variant = _optional_str(doc, "variant", subject, "image config") or ""
        os_version = _optional_str(doc, "os.version", subject, "image config") or ""
        features = [] if doc.get("os.features") is None else doc["os.features"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise fail("'os.features' must be a list of strings")
        author = _optional_str(doc, "author", subject, "image config") or ""
        created = None
        if doc.get("created") is not None:
            if not isinstance(doc["created"], str):
                raise fail("'created' must be an RFC 3339 string")
            try:
                created = parse_time(doc["created"])
            except (ValueError, OverflowError) as e:
                raise fail(f"'created' is not an RFC 3339 time: {doc['created']!r} ({e})") from None
        config = {} if doc.get("config") is None else doc["config"]
        if not isinstance(config, dict):
            raise fail("'config' must be an object or null")
        rootfs = doc.get("rootfs")
        if not isinstance(rootfs, dict):
            raise fail("'rootfs' is required and must be an object")
        if rootfs.get("type") != "layers":
            # config.md: implementations MUST generate an error for an unknown rootfs.type.
            raise fail(f"rootfs.type must be 'layers', got {rootfs.get('type')!r}")
        raw_ids = rootfs.get("diff_ids")
        if raw_ids is None:
            raw_ids = []
        if not isinstance(raw_ids, list):
            raise fail("rootfs.diff_ids must be a list of digests")
        try:
            diff_ids = tuple(Digest.parse(d) for d in raw_ids)
        except LabkitError as e:
            raise fail(f"rootfs.diff_ids: {e}") from None
        history = [] if doc.get("history") is None else doc["history"]
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise fail("'history' must be a list of objects")
        return cls(raw, arch, os_name, variant, os_version, tuple(features), created, author, config,
                   diff_ids, tuple(history), doc)

    @property
    def image_id(self) -> Digest:
        """Return the image ID, which is the config digest (config.md#imageid)."""
        return self.digest

    @property
    def platform(self) -> Platform:
        """Return the platform this image is built for."""
        return Platform(self.os, self.architecture, self.variant, self.os_version, self.os_features)

    def descriptor(self, media_type: str = OCI_CONFIG) -> Descriptor:
        """Return the Descriptor a manifest uses to point at this config."""
        return Descriptor(media_type, self.digest, len(self.raw))

    @property
    def cmd(self) -> "list[str] | None":
        """Return config.Cmd (None when unset)."""
        return self.config.get("Cmd")

    @property
    def entrypoint(self) -> "list[str] | None":
        """Return config.Entrypoint (None when unset)."""
        return self.config.get("Entrypoint")

    @property
    def env(self) -> list[str]:
        """Return config.Env as a list of "KEY=value" strings."""
        return list(self.config.get("Env") or [])

    @property
    def working_dir(self) -> str:
        """Return config.WorkingDir ("" when unset)."""
        return self.config.get("WorkingDir") or ""

    @property
    def user(self) -> str:
        """Return config.User ("" when unset)."""
        return self.config.get("User") or ""

    @property
    def labels(self) -> dict:
        """Return config.Labels ({} when unset)."""
        return dict(self.config.get("Labels") or {})

    @property
    def exposed_ports(self) -> list[str]:
        """Return the keys of config.ExposedPorts, e.g. ["80/tcp"]."""
        return list((self.config.get("ExposedPorts") or {}).keys())

    @property
    def chain_ids(self) -> list[Digest]:
        """Return the chain ID of each layer prefix (config.md#layer-chainid)."""
        return chain_ids(self.diff_ids)

    def layer_history(self) -> list[HistoryItem]:
        """Return history entries matched to layers, oldest first (as `docker history` lists them, reversed).

        Entries with empty_layer true get no layer. Layers that no history entry accounts for get an
        empty entry (docker shows them as <missing>); more non-empty entries than layers is an error.
        """
        items: list[HistoryItem] = []
        n = 0
        for entry in self.history:
            if entry.get("empty_layer") is True:
                items.append(HistoryItem(entry, None, -1))
                continue
            if n >= len(self.diff_ids):
                raise LabkitError(f"image config {self.digest.algorithm}:{self.digest.short}: history has more "
                                  f"non-empty entries than the {len(self.diff_ids)} layers in rootfs.diff_ids")
            items.append(HistoryItem(entry, self.diff_ids[n], n))
            n += 1
        for i in range(n, len(self.diff_ids)):
            items.append(HistoryItem({}, self.diff_ids[i], i))
        return items

    @staticmethod
    def build(*, diff_ids: Iterable["Digest | str"] = (), architecture: "str | None" = None,
              os: "str | None" = None, variant: "str | None" = None, platform: "Platform | str | None" = None,
              created: "datetime | str | None" = None, author: str = "",
              config: "Mapping[str, Any] | None" = None, history: Iterable[Mapping[str, Any]] = (),
              os_version: str = "", os_features: Sequence[str] = (), **config_fields: Any) -> bytes:
        """Return canonical config JSON bytes for a new image.

        `platform` (or architecture/os/variant; default: the host's) says what it runs on; `created`
        defaults to clock.build_time(); `config` holds docker's keys (Cmd, Env, ...) and keyword
        arguments named like them (cmd=, entrypoint=, env=, working_dir=, labels=, exposed_ports=,
        user=, volumes=, stop_signal=) override single keys.
        """
        if platform is not None:
            plat = Platform.parse(platform)
        elif architecture is None:
            plat = Platform.host()
        else:
            plat = Platform(os or "linux", architecture)  # an explicit arch never borrows the host's variant
        arch = architecture or plat.architecture
        os_name = os or plat.os
        var = plat.variant if variant is None else variant
        created_text = _time_text(created if created is not None else build_time())
        ids = [str(Digest.parse(d) if isinstance(d, str) else d) for d in diff_ids]

        merged = dict(config or {})
        for key, value in config_fields.items():
            docker_key = _CONFIG_KWARGS.get(key)
            if docker_key is None:
                raise LabkitError(f"build image config: unknown field {key!r} "
                                  f"(known: {', '.join(sorted(_CONFIG_KWARGS))})")
            merged[docker_key] = value

        hist = [_history_entry(h) for h in history]
        non_empty = sum(1 for h in hist if not h.get("empty_layer"))
        if non_empty > len(ids):
            raise LabkitError(f"build image config: {non_empty} non-empty history entries but only "
                              f"{len(ids)} layers")

        doc: dict[str, Any] = {"created": created_text}
        if author:
            doc["author"] = author
        doc["architecture"] = arch
        doc["os"] = os_name
        if os_version:
            doc["os.version"] = os_version
        if os_features:
            doc["os.features"] = list(os_features)
        if var:
            doc["variant"] = var
        doc["config"] = _canonical_config(merged)
        doc["rootfs"] = {"type": "layers", "diff_ids": ids}
        if hist:
            doc["history"] = hist
        return canonical_json(doc)

    @classmethod
    def create(cls, **fields: Any) -> "ImageConfig":
        """Return the ImageConfig that build(**fields) serialises."""
        return cls.from_bytes(cls.build(**fields))

    def derive(self, *, diff_ids: Iterable["Digest | str"] = (), created_by: str = "", comment: str = "",
               created: "datetime | str | None" = None, author: str = "", empty_layer: bool = False,
               config: "Mapping[str, Any] | None" = None) -> bytes:
        """Return canonical config bytes for a child image: these layers and one history entry added.

        What `commit` needs: parent config kept, `config` keys replace the parent's, one history step.
        """
        when = created if created is not None else build_time()
        new_ids = list(diff_ids)
        if not new_ids and not empty_layer:
            empty_layer = True
        if new_ids and empty_layer:
            raise LabkitError("derive image config: empty_layer=True but layers were added")
        step: dict[str, Any] = {"created": when}
        if author:
            step["author"] = author
        if created_by:
            step["created_by"] = created_by
        if comment:
            step["comment"] = comment
        if empty_layer:
            step["empty_layer"] = True
        merged = dict(self.config)
        merged.update(config or {})
        # Layers that the parent's history never described get placeholder entries so the mapping
        # of history to layers stays right for the new layers.
        history = [dict(h) for h in self.history]
        described = sum(1 for h in history if h.get("empty_layer") is not True)
        history += [{} for _ in range(max(0, len(self.diff_ids) - described))]
        for _ in new_ids[1:]:
            history.append({"created": when, "created_by": created_by, **({"comment": comment} if comment else {})})
        history.append(step)
        return ImageConfig.build(
            diff_ids=[*self.diff_ids, *new_ids], platform=self.platform, created=when,
            author=author or self.author, config=merged, history=history,
            os_version=self.os_version, os_features=self.os_features)


_CONFIG_KWARGS = {"user": "User", "exposed_ports": "ExposedPorts", "env": "Env", "entrypoint": "Entrypoint",
                  "cmd": "Cmd", "volumes": "Volumes", "working_dir": "WorkingDir", "labels": "Labels",
                  "stop_signal": "StopSignal", "args_escaped": "ArgsEscaped"}


def _time_text(value: "datetime | str") -> str:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, str):
        return value
    raise LabkitError(f"build image config: a time must be a datetime or RFC 3339 string, got {value!r}")


def _history_entry(entry: Mapping[str, Any]) -> dict:
    if not isinstance(entry, Mapping):
        raise LabkitError(f"build image config: history entry {entry!r:.80} is not an object")
    out: dict[str, Any] = {}
    for key in _HISTORY_KEY_ORDER:
        value = entry.get(key)
        if value is None or value == "" or (key == "empty_layer" and value is not True):
            continue
        out[key] = _time_text(value) if key == "created" else value
    for key in sorted(set(entry) - set(_HISTORY_KEY_ORDER)):
        if entry[key] is not None:
            out[key] = entry[key]
    return out


def _canonical_config(config: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    for key in list(_CONFIG_KEY_ORDER) + sorted(set(config) - set(_CONFIG_KEY_ORDER)):
        value = config.get(key)
        if value is None:
            continue
        if key in ("ExposedPorts", "Volumes"):
            # A Go map[string]struct{}: keys mapped to {} (config.md); a list of keys is accepted.
            keys = value.keys() if isinstance(value, Mapping) else value
            value = {k: {} for k in sorted(keys)}
        elif key == "Env" and isinstance(value, Mapping):
            value = [f"{k}={v}" for k, v in value.items()]
        elif key == "Labels":
            value = dict(sorted(_string_map(value, "config Labels").items()))
        elif key in ("Cmd", "Entrypoint") and isinstance(value, str):
            raise LabkitError(f"build image config: {key} must be a list of strings (exec form), got {value!r}")
        elif isinstance(value, (list, tuple)):
            value = list(value)
        out[key] = value
    return out


# --- Chain IDs (config.md#layer-chainid) --------------------------------------------------------------

def chain_ids(diff_ids: Iterable["Digest | str"]) -> list[Digest]:
    """Return the ChainID of each layer prefix: ChainID(L0)=DiffID(L0), then sha256(parent + " " + DiffID)."""
    out: list[Digest] = []
    for d in diff_ids:
        diff = d if isinstance(d, Digest) else Digest.parse(d)
        if not out:
            out.append(diff)
        else:
            out.append(Digest("sha256", hashlib.sha256(f"{out[-1]} {diff}".encode()).hexdigest()))
    return out


def chain_id(diff_ids: Iterable["Digest | str"]) -> "Digest | None":
    """Return the ChainID of the whole stack (None for no layers)."""
    ids = chain_ids(diff_ids)
    return ids[-1] if ids else None
