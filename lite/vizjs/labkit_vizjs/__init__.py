"""@viz-js/viz (Graphviz compiled to WebAssembly, an ES module with the WebAssembly inlined) as package data.

labkit.viz.render imports it in the browser, where there is no `dot` program to run.
"""

from importlib.resources import files

VERSION = "3.31.0"  # of @viz-js/viz, the npm package viz.js comes from


def source() -> str:
    """Return the text of viz.js (the ES module of @viz-js/viz)."""
    return files(__name__).joinpath("viz.js").read_text(encoding="utf-8")
