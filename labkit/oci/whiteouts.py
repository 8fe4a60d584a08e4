"""The names a layer uses to delete (image-spec layer.md#whiteouts).

`.wh.<name>` deletes <name> of the layers below; `.wh..wh..opq` in a directory hides everything the layers
below have in it. Other `.wh..wh.` names at the root are AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`,
`.wh..wh.orph`) that docker skips.
"""

from __future__ import annotations

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
AUFS_META_PREFIX = ".wh..wh."
