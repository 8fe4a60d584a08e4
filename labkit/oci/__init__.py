"""OCI / Docker image models, pure (no disk, no network), one module per part of the specs:

    mediatypes   media types and what each kind tells a reader (index? layer compression? foreign?)
    keys         annotation and label keys: the image spec's, Docker's, labkit's own (io.labkit.*)
    whiteouts    the names a layer deletes with (.wh.<name>, .wh..wh..opq)
    layout       the image layout's version
    platforms    Platform, containerd's parsing, normalization and matching
    descriptors  Descriptor
    limits       size caps (the 4 MiB manifest cap)
    manifests    Manifest, Index, parse_manifest
    config       ImageConfig (parse, build, derive), HistoryItem
    chainids     chain IDs of layer stacks
    jsondoc      what every parsed document shares: strict JSON, canonical JSON, exact bytes

`from labkit.oci import Manifest` works for the names below; each loads its own module on first use, so
`from labkit.oci import OCI_MANIFEST` does not pay for the models. Every parsed object keeps the exact bytes
it came from, because a digest is the sha256 of those bytes (image-spec descriptor.md#digests);
re-serialising would change it.
"""

from __future__ import annotations

from ..lazy import lazy_getattr

_EXPORTS = {
    "DOCKER_MANIFEST": "mediatypes", "DOCKER_MANIFEST_LIST": "mediatypes", "OCI_MANIFEST": "mediatypes",
    "OCI_INDEX": "mediatypes", "DOCKER_CONFIG": "mediatypes", "OCI_CONFIG": "mediatypes", "OCI_EMPTY": "mediatypes",
    "DOCKER_LAYER_TAR": "mediatypes", "DOCKER_LAYER_GZIP": "mediatypes", "DOCKER_LAYER_ZSTD": "mediatypes",
    "DOCKER_LAYER_FOREIGN_TAR": "mediatypes", "DOCKER_LAYER_FOREIGN_GZIP": "mediatypes",
    "OCI_LAYER_TAR": "mediatypes", "OCI_LAYER_GZIP": "mediatypes", "OCI_LAYER_ZSTD": "mediatypes",
    "OCI_LAYER_NONDISTRIBUTABLE_TAR": "mediatypes", "OCI_LAYER_NONDISTRIBUTABLE_GZIP": "mediatypes",
    "OCI_LAYER_NONDISTRIBUTABLE_ZSTD": "mediatypes", "DOCKER_SCHEMA1": "mediatypes",
    "DOCKER_SCHEMA1_SIGNED": "mediatypes", "MANIFEST_ACCEPT": "mediatypes", "INDEX_TYPES": "mediatypes",
    "IMAGE_MANIFEST_TYPES": "mediatypes", "MANIFEST_TYPES": "mediatypes", "SCHEMA1_TYPES": "mediatypes",
    "CONFIG_TYPES": "mediatypes", "LAYER_TYPES": "mediatypes", "FOREIGN_LAYER_TYPES": "mediatypes",
    "base_media_type": "mediatypes", "layer_compression": "mediatypes", "is_foreign_layer": "mediatypes",
    "ATTESTATION_ANNOTATION": "keys",
    "MAX_MANIFEST_SIZE": "limits",
    "FrozenDict": "jsondoc", "canonical_json": "jsondoc",
    "Platform": "platforms", "platform_matches": "platforms",
    "Descriptor": "descriptors",
    "Manifest": "manifests", "Index": "manifests", "parse_manifest": "manifests",
    "HistoryItem": "config", "ImageConfig": "config",
    "chain_ids": "chainids", "chain_id": "chainids",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
