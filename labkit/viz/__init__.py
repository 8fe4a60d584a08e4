"""Drawings, widgets and self-check exercises for the notebooks (the faces' end of labkit).

Submodules load when first used (PEP 562), so `import labkit.viz` and `labkit.viz.models` never import
graphviz or ipywidgets; `diagrams` needs graphviz; the widget classes (widgetbase.NotebookWidget and its
subclasses in widgets, layerexplorer, playground, imagerow, exercises) import ipywidgets when one is built.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("models", "diagrams", "messages", "widgetbase", "widgets", "exercises", "layerexplorer", "playground",
               "imagerow", "envcheck")

__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    if name not in _SUBMODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{name}", __name__)
    globals()[name] = module
    return module
