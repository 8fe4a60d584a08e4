"""Media types of images and their parts (image-spec media-types.md; distribution manifest-v2-2.md), and
what each kind tells a reader (which are indexes, which layers are compressed how, which are foreign)."""

from __future__ import annotations

from typing import Mapping

from ..errors import LabkitError

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
