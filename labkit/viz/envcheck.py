"""The environment check of notebook 00: is everything the lab needs here, and what to do when it is not.

Each check returns a Check (name, ok, what was found, how to fix it). Being offline is not a problem: the
lab runs on its own registry, so the online check is informational (`required=False`) and says so. The
online probe is quick (one TCP connection to Docker Hub with a short timeout, DNS included) and
LABKIT_OFFLINE=1 forces "offline" (stable stored outputs when notebooks are tested on a connected machine).
In the browser (labkit.platform) the checks say what stands in there: viz.js for `dot`, the lab registry
served inside the kernel, and no Docker Hub (the edition is offline by design).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass

from .. import platform
from ..reference import DOCKER_HUB_API_HOST as HUB_HOST

OFFLINE_ENV = "LABKIT_OFFLINE"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it is fine, what was found, and the fix if not."""

    name: str
    ok: bool
    found: str
    fix: str = ""
    required: bool = True

    def line(self) -> str:
        """Return the check as report lines: a mark, the name and what was found; then the fix when needed."""
        mark = "ok  " if self.ok else ("FIX " if self.required else "note")
        text = f"[{mark}] {self.name}: {self.found}"
        return text + (f"\n       -> {self.fix}" if self.fix and not self.ok and self.required else "")


def check_labkit() -> Check:
    """Return a Check of the installed labkit version."""
    try:
        from .. import __version__
    except ImportError:  # pragma: no cover - we are inside labkit
        return Check("labkit", False, "not importable", "pip install -e . (from the labkit folder)")
    return Check("labkit", True, f"version {__version__}")


def check_graphviz() -> Check:
    """Return a Check that the graphviz Python package and its `dot` program (viz.js in the browser) are there."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return Check("graphviz", False, "the Python package is missing (diagrams cannot be drawn)",
                     "pip install graphviz (or: conda install python-graphviz)")
    if platform.in_browser():
        from .render import renderer

        if renderer() == "viz.js":
            return Check("graphviz", True, "viz.js (Graphviz compiled to WebAssembly) draws the diagrams in this "
                                           "browser")
        return Check("graphviz", False, "viz.js is not in this site (diagrams cannot be rendered)",
                     "rebuild the site with `make lite`")
    dot = shutil.which("dot")
    if dot is None:
        return Check("graphviz", False, "the `dot` program is not on PATH (diagrams cannot be rendered)",
                     "install Graphviz: sudo apt-get install graphviz (Debian/Ubuntu), brew install graphviz "
                     "(macOS), or conda install graphviz")
    try:
        subprocess.run([dot, "-V"], capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        return Check("graphviz", False, f"`dot -V` failed ({type(e).__name__})", "reinstall Graphviz")
    return Check("graphviz", True, "the `dot` program is installed (diagrams will render)")


def check_widgets() -> Check:
    """Return a Check that ipywidgets is installed."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return Check("ipywidgets", False, "not installed (the interactive widgets will not show)",
                     "pip install ipywidgets, then restart JupyterLab")
    return Check("ipywidgets", True, "installed (widgets will show)")


def check_registry(url: "str | None" = None, timeout: float = 2.0) -> Check:
    """Return a Check that the lab registry answers `GET /v2/` at `url` (default: the notebooks' one)."""
    from urllib.parse import urlsplit

    import requests

    if url is None:
        from ..notebook import registry_url

        url = registry_url()
    where = urlsplit(url).netloc
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy, no .netrc
        try:
            server = session.get(url.rstrip("/") + "/v2/", timeout=timeout).headers.get("Server") or ""
        except requests.RequestException as e:
            return Check("lab registry", False, f"nothing answers on {where} ({type(e).__name__})",
                         "run the first code cell again (it starts one), or `labkit lab up` in a terminal")
    if not server.startswith("labkit-registry"):
        return Check("lab registry", False, f"another program answers on {where} (Server: {server or 'none'})",
                     "run the first code cell again: it starts this home's lab registry on a free port")
    # no address when all is well: it is 127.0.0.1:5000 or a free port, and a stored notebook names no port
    if platform.in_browser():
        return Check("lab registry", True, "this home's lab registry answers, inside this browser tab (it stands in "
                                           "for Docker Hub)")
    return Check("lab registry", True, "this home's lab registry answers (it stands in for Docker Hub)")


def is_online(host: str = HUB_HOST, port: int = 443, timeout: float = 1.5) -> bool:
    """Return True if a TCP connection to Docker Hub opens within `timeout` seconds (DNS included)."""
    if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0") or not platform.can_use_threads():
        return False  # in the browser: no sockets to Docker Hub (and registries do not answer web pages)
    answer: list = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    t = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    t.start()
    t.join(timeout + 0.5)
    return bool(answer and answer[0])


def check_online(timeout: float = 1.5) -> Check:
    """Return an informational Check of whether Docker Hub is reachable (offline is fine for the lab)."""
    if is_online(timeout=timeout):
        return Check("internet", True, "online: the optional Docker Hub cells will talk to the real Docker Hub",
                     required=False)
    return Check("internet", False, "offline (that is normal and fine: every step runs on the lab registry; "
                 "the few optional Docker Hub cells will say so and skip)", required=False)


def check_environment(registry_url: "str | None" = None, online_timeout: float = 1.5) -> list[Check]:
    """Return every check of the lab's environment, in the report's order."""
    return [check_labkit(), check_graphviz(), check_widgets(), check_registry(registry_url),
            check_online(online_timeout)]


def report(checks: "list[Check]") -> str:
    """Return the friendly report: one line per check, a fix under each problem, and a verdict."""
    lines = [c.line() for c in checks]
    problems = [c for c in checks if c.required and not c.ok]
    if problems:
        lines.append(f"\n{len(problems)} thing(s) to fix before the lab works fully: see the -> lines above.")
    else:
        lines.append("\nAll set: everything the lab needs is here.")
    return "\n".join(lines)
