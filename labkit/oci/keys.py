"""Annotation and label keys: those of the specs and Docker, and labkit's own (`io.labkit.*`).

Annotations sit on descriptors, manifests and indexes (image-spec annotations.md); labels sit in an image
config's `config.Labels`.
"""

from __future__ import annotations

# --- the image spec's (annotations.md) ------------------------------------------------------------------

# A tag of an image layout's index.json entry: `<name>:<tag>` in labkit's store and lab registry (skopeo and
# umoci read and write it too).
REF_NAME = "org.opencontainers.image.ref.name"
DESCRIPTION = "org.opencontainers.image.description"

# --- Docker's ------------------------------------------------------------------------------------------

# The containerd image store's image label naming the image a `docker commit` (or a classic builder step) was
# made from: the parent's image ID, i.e. its target digest (moby daemon/containerd/image_builder.go
# imageLabelClassicBuilderParent). labkit keeps it as an annotation of the image's index.json entries; BuildKit
# sets none.
IMAGE_PARENT = "org.mobyproject.image.parent"

# Docker (buildx) marks provenance/SBOM entries of an index with this annotation and unknown/unknown.
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"

# --- labkit's own ---------------------------------------------------------------------------------------

# On a store's index.json entry: the index an image was pulled through, kept for the `Digest:` line and
# "up to date" checks (the entry itself points at the platform manifest whose blobs the store has).
INDEX_DIGEST = "io.labkit.index.digest"
# On a lab registry's index.json entry: the repository the manifest belongs to (one layout holds them all).
REPOSITORY = "io.labkit.repository"

# Config labels of the lab's stand-in images; the lab registry's search answers from them.
LABEL_STAND_IN = "io.labkit.stand-in"        # what real image this small reproducible image stands in for
LABEL_DESCRIPTION = "io.labkit.description"  # search's "description"; falls back to DESCRIPTION
LABEL_STARS = "io.labkit.stars"              # search's "star_count", an integer in text
LABEL_OFFICIAL = "io.labkit.official"        # search's "is_official", "true"/"false"
LABEL_AUTOMATED = "io.labkit.automated"      # search's "is_automated", "true"/"false"
