"""Size caps the specs' reference implementations set, which labkit keeps as a client and as a registry."""

from __future__ import annotations

# distribution (registry/handlers/manifests.go, maxManifestBodySize) refuses manifest bodies over 4 MiB;
# clients should refuse bigger ones before parsing them.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
