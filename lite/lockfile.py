"""Write the pyodide-lock.json of the site's own Pyodide folder: exactly the wheels that lie in it.

    python lockfile.py NPM_PYODIDE_LOCK FOLDER MORE_JSON       (lite/build.py runs it in the build venv)

Pyodide loads a package named in its lock, with the lock's dependencies, when a cell imports one of the
package's top-level names (the kernel calls loadPackagesFromImports before each cell). So:
- a wheel Pyodide's own lock knows keeps that entry, with our file's name and sha256 (Pyodide's CDN
  serves rebuilt wheels whose hashes differ from PyPI's);
- a wheel it does not know (labkit, labkit-vizjs, comm, ipywidgets, graphviz) gets an entry made from the
  wheel's metadata: its top-level import names, and its Requires-Dist as they apply in Pyodide
  (sys_platform "emscripten"), keeping those present; MORE_JSON adds extras or names per package
  ({"labkit": {"extras": ["notebooks"], "depends": ["labkit-vizjs"]}});
- everything else of Pyodide's lock is left out: offline, only what the site holds can load.
A dependency that stays missing stops the build (it would be an ImportError in the browser), except the
few that serve JupyterLab's side only (NOT_IN_KERNEL).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

# The marker environment of Pyodide 314 (Python 3.14, emscripten, wasm32).
PYODIDE_ENV = {"sys_platform": "emscripten", "platform_system": "Emscripten", "platform_machine": "wasm32",
               "os_name": "posix", "python_version": "3.14", "python_full_version": "3.14.2",
               "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


# Requirements that serve the notebook server, its front end or its tests, not the kernel: left out on purpose.
NOT_IN_KERNEL = {"jupyterlab", "jupyterlab-widgets", "widgetsnbextension", "nbval"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_metadata(path: Path) -> tuple[dict, list[str]]:
    """Return (METADATA headers as a dict of lists, top-level import names) of a wheel."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        msg = Parser().parsestr(z.read(f"{info}/METADATA").decode())
        if f"{info}/top_level.txt" in names:
            top = [t for t in z.read(f"{info}/top_level.txt").decode().split() if t]
        else:
            top = sorted({n.split("/")[0].removesuffix(".py") for n in names
                          if not n.split("/")[0].endswith((".dist-info", ".data"))
                          and (n.endswith("/__init__.py") and n.count("/") == 1 or "/" not in n and n.endswith(".py"))})
    headers: dict[str, list[str]] = {}
    for key, value in msg.items():
        headers.setdefault(key, []).append(value)
    return headers, top


def requirements(headers: dict, extras: list[str]) -> list[str]:
    """Return the names a wheel requires in Pyodide, with `extras` switched on."""
    out = []
    for line in headers.get("Requires-Dist", []):
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate(dict(PYODIDE_ENV, extra=e)) for e in ["", *extras]):
            out.append(req.name)
    return out


def main(npm_lock: str, folder: str, more_json: str) -> int:
    folder_path = Path(folder)
    more = json.loads(more_json)
    lock = json.loads(Path(npm_lock).read_text())
    known = {norm(k): (k, v) for k, v in lock["packages"].items()}
    entries: dict[str, dict] = {}
    wanted: dict[str, list[str]] = {}
    for whl in sorted(folder_path.glob("*.whl")):
        headers, top = wheel_metadata(whl)
        name, version = headers["Name"][0], headers["Version"][0]
        sha = hashlib.sha256(whl.read_bytes()).hexdigest()
        extra = more.get(name, {})
        if norm(name) in known:
            key, entry = known[norm(name)]
            if entry["version"] != version:
                print(f"{whl.name}: Pyodide's lock has {entry['version']}; this site serves {version}")
            entries[key] = dict(entry, version=version, file_name=whl.name, sha256=sha)
        else:
            key = norm(name)
            entries[key] = {"name": name, "version": version, "file_name": whl.name, "install_dir": "site",
                            "package_type": "package", "imports": top, "depends": [], "sha256": sha,
                            "unvendored_tests": False}
            wanted[key] = requirements(headers, extra.get("extras", [])) + extra.get("depends", [])
    present = {norm(k): k for k in entries}
    for key, names in wanted.items():
        keep = sorted({present[norm(n)] for n in names if norm(n) in present})
        dropped = sorted({n for n in names if norm(n) not in present})
        entries[key]["depends"] = keep
        unexpected = [n for n in dropped if norm(n) not in NOT_IN_KERNEL]
        if unexpected:
            sys.exit(f"{key} needs {', '.join(unexpected)}, which the site does not hold")
    missing = [f"{k} needs {d}" for k, e in entries.items() for d in e["depends"] if norm(d) not in present]
    if missing:
        sys.exit("dependencies missing from the site: " + "; ".join(missing))
    lock["packages"] = dict(sorted(entries.items()))
    (folder_path / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    print(f"pyodide-lock.json: {len(entries)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
