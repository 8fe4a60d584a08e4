"""labkit: container images for real, and the lab that teaches them.

The facade stays light: submodules load when first used, so `import labkit` is fast and never
pulls in graphviz or ipywidgets.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import LabkitError  # noqa: E402,F401


def __getattr__(name: str):
    """Load `labkit.Lab` on first use (the facade imports nothing heavy until it is asked for)."""
    if name == "Lab":
        from .lab import Lab

        return Lab
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
