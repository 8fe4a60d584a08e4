"""Notebook set-up: each lab notebook calls `setup()` at its top, so it runs alone, in any order, offline,
and stores the same outputs every run.

What setup gives a notebook:
- its own fresh labkit home (`<home>/notebooks/<name>`), so no notebook sees another's images or containers;
- the clock pinned to the lab's "now" (LABKIT_NOW = labimages.LAB_NOW), so CREATED columns never drift,
  and LABKIT_SEED set, so container IDs and names are the same every run;
- the user's own lab registry set as the docker.io mirror: the one `labkit lab up` runs, started now
  when it is not running yet. It runs in the background and outlives the kernel, so notebooks open side
  by side share it and none of them pulls it from under another. It is used only once it proves it is
  this home's (labctl): on a shared host, or after a home was deleted, port 5000 may hold another's,
  and then this home's registry takes a free port;
- the image store the notebook plays (`image_store`): "graphdriver", the lab text's Docker, unless the
  notebook asks for "containerd" (Docker 29's default), written into the home's daemon.json as Docker's
  `features.containerd-snapshotter`; a cell can still show the other one with `%docker --image-store ...`
  or `labkit.Lab(image_store=...)`;
- the `%docker` magic, loaded when running under IPython.

In the browser (the lab's zero-server edition: Pyodide, no processes, no sockets) the lab registry is
served inside the kernel instead (registry.transport), on the same 127.0.0.1:5000. The user's home (the
lab registry with what was pushed to it, daemon.json; not the notebooks' own homes, which their set-up
rebuilds anyway) is kept in the browser's storage (browserstorage): restored when a kernel's first set-up
runs, saved after every cell, so it survives a reload. A browser that cannot (no JSPI to wait for the
storage) gets the lab registry seeded into the tab's memory, until the kernel restarts. Setup says which in
one line. Everything else is the same code.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_BASE_ENV = "LABKIT_NOTEBOOK_BASE"  # the user's own home, remembered before setup points LABKIT_HOME elsewhere
_CURRENT: list = []  # the Lab the last setup() returned: what a notebook's exercises check
_in_kernel = None  # the lab registry this kernel serves in-process (the browser), once set up
_keeper: list = []  # the browserstorage.Keeper of the user's home, when this browser keeps it


def setup(name: str, *, pull: "tuple[str, ...] | list[str]" = (), now: "str | None" = "lab",
          image_store: str = "graphdriver"):
    """Return a Lab on a fresh home for notebook `name`, with the lab registry as mirror, `image_store` set
    ("graphdriver" or "containerd") and `pull` stored."""
    from .daemonconfig import CONTAINERD, SNAPSHOTTER_FEATURE, image_store_name
    from .home import resolve_home, save_settings
    from .lab import Lab
    from .labctl import share_redirects
    from .labimages import LAB_NOW

    image_store = image_store_name(image_store)
    base = Path(os.environ.get(_BASE_ENV) or resolve_home())
    os.environ[_BASE_ENV] = str(base)
    home = base / "notebooks" / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["LABKIT_HOME"] = str(home)
    if now == "lab":
        os.environ["LABKIT_NOW"] = LAB_NOW
    elif now:
        os.environ["LABKIT_NOW"] = now
    else:
        os.environ.pop("LABKIT_NOW", None)
    os.environ["LABKIT_SEED"] = name  # container IDs and names come out the same every run
    url = _ensure_registry(base)
    save_settings(home, {"registry-mirrors": [url],
                         "features": {SNAPSHOTTER_FEATURE: image_store == CONTAINERD}})
    share_redirects(base, home)  # localhost:5000 is this user's registry, wherever it listens
    _load_magic()
    lab = Lab(home)
    for ref in pull:
        lab.pull(ref)
    _CURRENT[:] = [lab]
    return lab


def another_home(lab, name: str):
    """Return a Lab for a second person on the same lab (a colleague, another machine): a fresh home
    `lab.home/name` with the same daemon.json and the same registry names (localhost:5000 stays this lab's
    registry even where it listens on a free port)."""
    from .home import settings_path
    from .lab import Lab
    from .labctl import share_redirects

    home = Path(lab.home) / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    if settings_path(lab.home).is_file():
        shutil.copyfile(settings_path(lab.home), settings_path(home))
    share_redirects(lab.home, home)
    return Lab(home)


def current_lab():
    """Return the Lab the notebook's setup() made (exercises check its state); an error when setup has not run."""
    from .errors import LabkitError

    if not _CURRENT:
        raise LabkitError("run the notebook's first code cell (its setup) first")
    return _CURRENT[0]


def registry_url() -> str:
    """Return the URL of the lab registry the notebooks use: the user's own (see setup)."""
    from .home import resolve_home
    from .labctl import default_addr, running

    if _in_kernel is not None:
        return _in_kernel.url
    state = running(Path(os.environ.get(_BASE_ENV) or resolve_home()))
    return state["url"] if state else f"http://{default_addr()}"


def _ensure_registry(base: Path) -> str:
    """Return the URL of `base`'s lab registry, started in the background when it is not running yet (on
    127.0.0.1:5000, or on a free port when that port is another's: one line on stderr says so)."""
    import sys

    from . import platform
    from .labctl import lab_up, running

    if not platform.can_use_processes():
        return _ensure_registry_in_kernel(base)
    for line in lab_up(base):
        if " is in use by " in line:
            print(line, file=sys.stderr)
    return running(base)["url"]


KEPT_OUT = ("notebooks", "run", "tmp")  # of the home kept in the browser: each notebook's setup rebuilds its own


def _ensure_registry_in_kernel(base: Path) -> str:
    """Return the URL of the lab registry this kernel serves in-process (the browser): `base` restored from
    the browser's storage (and saved after every cell from now on), seeded when it holds no lab registry yet.
    Start loading the diagrams' renderer meanwhile."""
    global _in_kernel
    if _in_kernel is None:
        import time

        from . import browserstorage, platform
        from .labctl import default_addr, lab_images_missing, seed
        from .registry.server import LabRegistry
        from .viz import render

        t0 = time.monotonic()
        render.preload()
        platform.apply_umask()  # files the notebook writes get the modes they get natively (COPY keeps them)
        keeper = restored = why_not = None
        try:
            keeper = browserstorage.Keeper(base, browserstorage.site_backend(), skip=KEPT_OUT)
            restored = keeper.restore()
        except browserstorage.Unavailable as e:
            keeper, why_not = None, str(e)
        except Exception as e:  # noqa: BLE001 - a storage that fails: the lab still runs, in memory
            keeper, why_not = None, f"this browser's storage failed ({type(e).__name__}: {e})"
        root = base / "lab-registry"
        outdated = bool(restored and restored.entries and (root / "index.json").is_file()
                        and lab_images_missing(root))  # kept from an older site: its lab images are not these
        seeded = seed(root, fresh=keeper is None or outdated)
        _in_kernel = LabRegistry(root, default_addr()).start()
        if keeper:
            _keeper[:] = [keeper]
            _save_after_each_cell(keeper)()
        print(_kept_line(restored, seeded, why_not, time.monotonic() - t0, outdated))
    return _in_kernel.url


def _kept_line(restored, seeded: bool, why_not: "str | None", seconds: float, outdated: bool = False) -> str:
    """Return setup's one line on where the lab's state lives in the browser."""
    if outdated:
        return (f"labkit in the browser: this site's lab images are newer than those kept in this browser's "
                f"storage, so the lab registry was set up again there ({seconds:.1f} s); what you had pushed to "
                "it is gone.")
    if restored is None:
        return (f"labkit in the browser: the lab registry was rebuilt in this tab's memory ({seconds:.1f} s): "
                f"{why_not}, so it lasts until the kernel restarts, and the first cell rebuilds it then.")
    if seeded:
        return (f"labkit in the browser: the lab registry was set up in this browser's storage ({seconds:.1f} s); "
                "it keeps what you push to it across reloads (each notebook's own images come from its first cell).")
    return (f"labkit in the browser: the lab registry and what you pushed to it were restored from this "
            f"browser's storage ({restored.bytes / 1e6:.1f} MB, {seconds:.1f} s).")


def _save_after_each_cell(keeper):
    """Save `keeper`'s folder after every cell this kernel runs (IPython's post_run_cell event); return the
    save function (it reports a failure once, on stderr, and never raises)."""
    told = []

    def save(_result=None) -> None:
        try:
            keeper.save()
        except Exception as e:  # noqa: BLE001 - a full or refused storage must not break the student's cell
            if not told:
                told.append(e)
                import sys

                print(f"labkit: the lab's files could not be saved in this browser's storage ({e}); they "
                      "last until the kernel restarts", file=sys.stderr)

    try:
        from IPython import get_ipython
    except ImportError:
        return save
    ip = get_ipython()
    if ip is not None:
        ip.events.register("post_run_cell", save)
    return save


def _load_magic() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        from .magic import load_ipython_extension

        load_ipython_extension(ip)


def versions() -> str:
    """Return one line naming the versions this notebook runs with (labkit, Python, graphviz, ipywidgets)."""
    import platform
    import subprocess
    from importlib import metadata

    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    from . import __version__
    from . import platform as where

    if where.in_browser():  # Pyodide: diagrams by viz.js, the front end is JupyterLite
        return (f"labkit {__version__} | Python {platform.python_version()} | graphviz {dist('graphviz')} "
                f"(viz.js {dist('labkit-vizjs')}) | ipywidgets {dist('ipywidgets')} | JupyterLite (Pyodide)")
    try:
        dot = subprocess.run(["dot", "-V"], capture_output=True, text=True, timeout=10).stderr.split()
        dot_version = dot[dot.index("version") + 1] if "version" in dot else "?"
    except (OSError, subprocess.SubprocessError):
        dot_version = "missing"
    return (f"labkit {__version__} | Python {platform.python_version()} | graphviz {dist('graphviz')} "
            f"(dot {dot_version}) | ipywidgets {dist('ipywidgets')} | jupyterlab {dist('jupyterlab')}")
