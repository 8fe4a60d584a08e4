"""Layers: write reproducible layer tars, read and index them, apply them safely into their own trees.

Names load lazily (PEP 562) so `import labkit.layers` stays cheap for the command line.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Entry": "writer", "LayerBlob": "writer", "write_tar": "writer", "write_layer": "writer",
    "build_layer": "writer", "entries_from_dir": "writer",
    "open_layer_stream": "reader", "index_layer": "reader", "LayerIndex": "reader", "IndexEntry": "reader",
    "sniff_compression": "reader",
    "apply_layer": "apply", "AppliedLayer": "apply", "Limits": "limits",
    "classify_whiteout": "reader", "TruncatedLayer": "reader",
    "LayerStore": "store", "LayerTree": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
