"""Layers: write reproducible layer tars, read and index them, apply them safely (into trees, or as packs).

Names load lazily (PEP 562) so `import labkit.layers` stays cheap for the command line.
"""

from __future__ import annotations

from ..lazy import lazy_getattr

_EXPORTS = {
    "Entry": "writer", "LayerBlob": "writer", "write_tar": "writer", "write_layer": "writer",
    "build_layer": "writer", "entries_from_dir": "writer",
    "index_layer": "reader", "LayerIndex": "reader", "IndexEntry": "reader",
    "apply_layer": "apply", "pack_layer": "apply", "AppliedLayer": "apply", "Limits": "limits",
    "classify_whiteout": "reader",
    "LayerStore": "store", "LayerTree": "store",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
