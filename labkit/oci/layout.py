"""The image-spec's image layout (image-layout.md): the `oci-layout` file's version."""

from __future__ import annotations

LAYOUT_VERSION = "1.0.0"    # the `imageLayoutVersion` of the `oci-layout` file
