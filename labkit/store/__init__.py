"""The content store: an OCI image layout on disk (blobs + index.json), image records, tags, GC, disk usage.

- `layout`: `OciLayout`, any OCI image layout directory (image-spec `image-layout.md`): verified atomic blob
  writes (`BlobWriter`), claims that keep blobs safe from GC (`Claim`), index.json updates under an
  inter-process lock, GC. The lab registry server uses it too.
- `images`: `Store`, labkit's image store at <home>/store: docker's view (tags, image IDs, `images`, `tag`,
  `rmi`) over the layout's index.json, and `ImageRecord`.
- `sizes`: layer measurement, the per-diff-ID layer cache and `system df` (mixed into `Store`).
"""

from .images import ANY_ID, CONFIG_ID, NONE, TARGET_ID, Entry, ImageRecord, Store, full_reference
from .layout import BlobWriter, Claim, OciLayout
from .sizes import ImageSizes, measure_layer

__all__ = [
    "ANY_ID", "BlobWriter", "CONFIG_ID", "Claim", "Entry", "ImageRecord", "ImageSizes", "NONE", "OciLayout", "Store",
    "TARGET_ID", "full_reference", "measure_layer",
]
