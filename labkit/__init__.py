"""labkit: container images for real, and the lab that teaches them.

The facade stays light: submodules load when first used, so `import labkit` is fast and never
pulls in graphviz or ipywidgets.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import LabkitError  # noqa: E402,F401
