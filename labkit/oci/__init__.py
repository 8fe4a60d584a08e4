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

`from labkit.oci import Manifest` works for the names below; they load on first use, so a module that
needs only constants imports `labkit.oci.mediatypes` (or keys, whiteouts, layout, limits) without paying for the
models. Every parsed object keeps the exact bytes it came from, because a digest is the sha256 of those
bytes (image-spec descriptor.md#digests); re-serialising would change it.
"""

from __future__ import annotations

_EXPORTS = {
    "mediatypes": (
        "DOCKER_MANIFEST", "DOCKER_MANIFEST_LIST", "OCI_MANIFEST", "OCI_INDEX", "DOCKER_CONFIG", "OCI_CONFIG",
        "OCI_EMPTY", "DOCKER_LAYER_TAR", "DOCKER_LAYER_GZIP", "DOCKER_LAYER_ZSTD", "DOCKER_LAYER_FOREIGN_TAR",
        "DOCKER_LAYER_FOREIGN_GZIP", "OCI_LAYER_TAR", "OCI_LAYER_GZIP", "OCI_LAYER_ZSTD",
        "OCI_LAYER_NONDISTRIBUTABLE_TAR", "OCI_LAYER_NONDISTRIBUTABLE_GZIP", "OCI_LAYER_NONDISTRIBUTABLE_ZSTD",
        "DOCKER_SCHEMA1", "DOCKER_SCHEMA1_SIGNED", "MANIFEST_ACCEPT", "INDEX_TYPES", "IMAGE_MANIFEST_TYPES",
        "MANIFEST_TYPES", "SCHEMA1_TYPES", "CONFIG_TYPES", "LAYER_TYPES", "FOREIGN_LAYER_TYPES",
        "base_media_type", "layer_compression", "is_foreign_layer"),
    "keys": ("ATTESTATION_ANNOTATION",),
    "jsondoc": ("FrozenDict", "canonical_json"),
    "platforms": ("Platform", "platform_matches"),
    "descriptors": ("Descriptor",),
    "limits": ("MAX_MANIFEST_SIZE",),
    "manifests": ("Manifest", "Index", "parse_manifest"),
    "config": ("HistoryItem", "ImageConfig"),
    "chainids": ("chain_ids", "chain_id"),
}
__all__ = [name for names in _EXPORTS.values() for name in names]


def __getattr__(name: str):
    """Load the models on first use (PEP 562) and keep every exported name here from then on."""
    if name not in __all__:
        raise AttributeError(f"module 'labkit.oci' has no attribute {name!r}")
    from . import chainids, config, descriptors, jsondoc, keys, limits, manifests, mediatypes, platforms

    modules = {"mediatypes": mediatypes, "keys": keys, "jsondoc": jsondoc, "limits": limits, "platforms": platforms,
               "descriptors": descriptors, "manifests": manifests, "config": config, "chainids": chainids}
    for module, names in _EXPORTS.items():
        for exported in names:
            globals()[exported] = getattr(modules[module], exported)
    return globals()[name]
