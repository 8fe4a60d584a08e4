"""DOT text -> SVG text, the one way every diagram of the lab is rendered (diagrams.svg calls it).

Natively, Graphviz's `dot` program draws it (through the graphviz package). In the browser there is no
program to run: viz.js (Graphviz compiled to WebAssembly, the npm package @viz-js/viz, shipped as the
wheel labkit-vizjs that the lite site serves) draws it inside the kernel's web worker. Loading viz.js is
asynchronous (WebAssembly compiles in the background); a synchronous render waits for it through
Pyodide's run_sync where the browser supports it (JSPI: Chromium), and notebook.setup() starts the load
early (`preload`) so a diagram cell later on finds it ready in any browser.
"""

from __future__ import annotations

from .. import platform
from ..errors import LabkitError

_viz = None        # viz.js's Viz instance, once loaded (browser only)
_loading = None    # the preload task, while it runs


def dot_to_svg(source: str, engine: str = "dot") -> str:
    """Return the SVG text Graphviz draws for the DOT `source` with `engine` (dot, neato, ...)."""
    if platform.in_browser():
        return _vizjs().renderString(source, _js_options({"format": "svg", "engine": engine}))
    import graphviz

    return graphviz.Source(source, engine=engine).pipe(format="svg", encoding="utf-8")


def renderer() -> str:
    """Return what draws the diagrams here: "dot", "viz.js", or "" when nothing can."""
    if platform.in_browser():
        try:
            import labkit_vizjs  # noqa: F401
        except ImportError:
            return ""
        return "viz.js"
    return "dot" if platform.has_dot() else ""


def preload() -> None:
    """In the browser, start loading viz.js now, in the background; elsewhere, nothing to do."""
    global _loading
    if not platform.in_browser() or _viz is not None or _loading is not None:
        return
    import asyncio

    _loading = asyncio.ensure_future(_load())


def _vizjs():
    if _viz is not None:
        return _viz
    from pyodide import ffi

    if not getattr(ffi, "can_run_sync", lambda: False)():
        preload()
        raise LabkitError("diagrams: Graphviz (viz.js) is still loading in this browser; run this cell again "
                          "in a moment")
    return ffi.run_sync(_loading if _loading is not None else _load())


async def _load():
    """Import viz.js (an ES module) from the labkit-vizjs wheel through a Blob URL; return its Viz instance."""
    global _viz, _loading
    if _viz is None:
        import js
        import labkit_vizjs
        from pyodide.code import run_js
        from pyodide.ffi import to_js

        blob = js.Blob.new(to_js([labkit_vizjs.source()]), _js_options({"type": "text/javascript"}))
        url = js.URL.createObjectURL(blob)
        try:
            module = await run_js("(url) => import(url)")(url)
        finally:
            js.URL.revokeObjectURL(url)
        _viz = await module.instance()
    _loading = None
    return _viz


def _js_options(options: dict):
    import js
    from pyodide.ffi import to_js

    return to_js(options, dict_converter=js.Object.fromEntries)
