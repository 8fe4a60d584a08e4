#!/usr/bin/env python3
"""Build the zero-server edition of the lab: a static JupyterLite site with a Pyodide kernel, in build/lite/.

    python3 lite/build.py [--out DIR]          (`make lite` runs this; `make lite-serve` serves the result)

Everything comes from the package registries at pinned versions, and the site fetches nothing from
anywhere else when it runs (no CDN: a local Pyodide, PyPI fallback off):
1. the build tools (lite/requirements.txt) in a venv of their own, build/lite-venv;
2. from the npm registry, with `npm pack`: `pyodide` (the runtime's core files and its lock file) and
   `@viz-js/viz` (Graphviz compiled to WebAssembly, for the diagrams);
3. from PyPI: the pure-Python wheels the kernel loads, at the versions Pyodide's lock names, and the
   notebooks' own (comm, ipywidgets, graphviz);
4. built from this checkout: labkit's wheel, and labkit-vizjs (viz.js as package data, lite/vizjs/);
5. a local Pyodide folder (static/pyodide/): the runtime, every wheel, and a pyodide-lock.json that lists
   exactly those wheels, so the kernel loads `labkit` and what it needs from the site the moment a cell
   imports it (no install cell);
6. `jupyter lite build` over the repository's numbered notebooks, copied from notebooks/ as they are
   (their stored outputs are the CPython ones); lite/serve.py goes in too (`python3 serve.py` serves it).
Downloads are kept in build/lite-cache/ between builds; intermediate files go to <out>.work/.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PYODIDE = "314.0.6"  # the version jupyterlite-pyodide-kernel 0.8.6 is built for
NPM = {  # package@version -> the integrity the npm registry publishes for its tarball
    f"pyodide@{PYODIDE}": "sha512-BKDTJyIqFxC4BExLqeRS3f5xvXZIjOt8C3zGLN/Cc7tFxSwvKVhVkchQQ2AGLOtR4YrVOIFxbV8poyDOOmWwxQ==",
    "@viz-js/viz@3.31.0": "sha512-r7zlQdRvcwvIpjHGgs+KNWHeE/P5/Dq7k8ZAKaMCbZqomxCBJV78gVuQYaHzFVca+kB0mX0fMW9UFevCOBG50A==",
}
# What the kernel imports at start (besides the kernel extension's own wheels), and what labkit needs:
# taken from PyPI at the versions Pyodide's lock pins, with everything they depend on in that lock.
FROM_LOCK = ["micropip", "packaging", "ipython", "jedi", "requests", "platformdirs"]
# Not in Pyodide's lock: pinned here (comm: the kernel installs it at start; the others: the notebooks).
EXTRA_WHEELS = ["comm==0.2.3", "ipywidgets==8.1.9", "graphviz==0.21"]
# The runtime files of the npm package that a site needs (the rest are typings, maps and demo pages).
PYODIDE_CORE = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "package.json"]
NOTEBOOKS = "[0-9][0-9]-*.ipynb"
PURE_WHEEL = ["--no-deps", "--only-binary=:all:", "--implementation", "py", "--abi", "none",
              "--platform", "any", "--python-version", "3.14"]


_T0 = time.monotonic()


def log(msg: str) -> None:
    """Print a step of the build, with the seconds since it started (where a slow build spends its time)."""
    print(f"[lite {time.monotonic() - _T0:5.1f} s] {msg}", flush=True)


def run(*cmd, cwd=None, env=None, capture=False) -> str:
    """Run a command; on failure print its output and stop the build."""
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        sys.exit(f"[lite] failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout[-4000:]}")
    return p.stdout if capture else ""


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def norm(name: str) -> str:
    """Return a distribution name normalized as PEP 503 does (lock keys and wheel names compare this way)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- 1. build tools ----------------------------------------------------------------------------------

def build_venv(path: Path) -> Path:
    """Return the python of the build-tools venv at `path`, (re)creating it when lite/requirements.txt changed."""
    reqs = HERE / "requirements.txt"
    stamp = path / ".requirements.sha256"
    python = path / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == sha256_file(reqs):
        return python
    log(f"build tools -> {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    venv.EnvBuilder(clear=True, with_pip=True).create(path)
    run(python, "-m", "pip", "install", "-q", "--no-compile", "-r", reqs)  # it runs once: compile what it imports
    stamp.write_text(sha256_file(reqs))
    return python


# --- 2. npm packages -----------------------------------------------------------------------------------

def npm_packages(cache: Path) -> dict[str, Path]:
    """Return {package@version: unpacked package dir}, fetching each tarball with `npm pack` once."""
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for spec, integrity in NPM.items():
        name, _, version = spec.rpartition("@")
        tgz = cache / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not tgz.exists() or _integrity(tgz) != integrity:
            if shutil.which("npm") is None:
                sys.exit("[lite] npm is needed to fetch the Pyodide runtime and viz.js: "
                         "install it (Debian: apt-get install npm) and run again")
            log(f"npm pack {spec}")
            packed = json.loads(run("npm", "pack", "--json", "--pack-destination", cache, spec, capture=True))
            tgz = cache / packed[0]["filename"]
        if _integrity(tgz) != integrity:
            sys.exit(f"[lite] {tgz.name}: integrity {_integrity(tgz)} is not the pinned {integrity}")
        dest = cache / tgz.name.removesuffix(".tgz")
        if not (dest / "package" / "package.json").exists():
            shutil.rmtree(dest, ignore_errors=True)
            _extract_package(tgz, dest)
        out[spec] = dest / "package"
    return out


def _extract_package(tgz: Path, dest: Path) -> None:
    """Extract an npm package (its integrity checked) into `dest`: files and directories only, all inside it.
    tarfile's "data" filter does that since Python 3.11.4; before it (Debian bookworm's 3.11.2), the same
    checks by hand."""
    with tarfile.open(tgz) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
            return
        root = dest.resolve()
        for member in tar.getmembers():
            inside = (root / member.name).resolve().is_relative_to(root)
            if not (member.isfile() or member.isdir()) or not inside:
                sys.exit(f"[lite] {tgz.name}: refusing {member.name!r} (not a file or directory inside the package)")
        tar.extractall(dest)


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


# --- 3. wheels from PyPI -------------------------------------------------------------------------------

def lock_closure(lock: dict, names: list[str]) -> list[str]:
    """Return `name==version` for `names` and everything they depend on, as Pyodide's lock pins them."""
    packages = {norm(k): v for k, v in lock["packages"].items()}
    seen: set[str] = set()
    todo = [norm(n) for n in names]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += [norm(d) for d in packages[n]["depends"]]
    return sorted(f"{packages[n]['name']}=={packages[n]['version']}" for n in seen)


def pypi_wheels(python: Path, lock: dict, dest: Path) -> None:
    """Download the pure wheels the site serves into `dest` (once; pip skips what is there)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = lock_closure(lock, FROM_LOCK) + EXTRA_WHEELS
    have = {_wheel_key(w) for w in dest.glob("*.whl")}
    missing = [r for r in wanted if norm(r.replace("==", "=")) not in have]
    if missing:
        log(f"pip download {len(missing)} wheels")
        run(python, "-m", "pip", "download", "-q", *PURE_WHEEL, "-d", dest, *missing)
    stale = have - {norm(r.replace("==", "=")) for r in wanted}
    for w in dest.glob("*.whl"):  # a pin moved: drop the old wheel so the lock lists one version
        if _wheel_key(w) in stale:
            w.unlink()


def _wheel_key(path: Path) -> str:
    name, version = path.name.split("-")[:2]
    return norm(f"{name}={version}")


# --- 4. wheels built here ------------------------------------------------------------------------------

def labkit_wheel(python: Path, work: Path, dest: Path) -> Path:
    """Build labkit's wheel from this checkout (a copy of pyproject.toml, README.md and labkit/)."""
    src = work / "labkit-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "labkit", src / "labkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return _wheel(python, src, dest)


def vizjs_wheel(python: Path, viz_package: Path, work: Path, dest: Path) -> Path:
    """Build labkit-vizjs (lite/vizjs) with the npm package's dist/viz.js inside."""
    src = work / "vizjs-src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(HERE / "vizjs", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    version = json.loads((viz_package / "package.json").read_text())["version"]
    if f'version = "{version}"' not in (src / "pyproject.toml").read_text():
        sys.exit(f"[lite] lite/vizjs/pyproject.toml must carry viz.js's version {version}")
    shutil.copy2(viz_package / "dist" / "viz.js", src / "labkit_vizjs" / "viz.js")
    return _wheel(python, src, dest)


def _wheel(python: Path, src: Path, dest: Path) -> Path:
    before = set(dest.glob("*.whl"))
    out = run(python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dest, src,
              capture=True)
    built = sorted(set(dest.glob("*.whl")) - before) or sorted(dest.glob("*.whl"), key=os.path.getmtime)[-1:]
    if not built:
        sys.exit(f"[lite] no wheel built from {src}\n{out}")
    return built[-1]


# --- 5. the local Pyodide folder -----------------------------------------------------------------------

def pyodide_folder(python: Path, pyodide_package: Path, wheel_dirs: list[Path], out: Path,
                   more: "dict[str, dict]") -> None:
    """Write the runtime, every wheel and a lock listing exactly them into `out` (lite/lockfile.py)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name in PYODIDE_CORE:
        shutil.copy2(pyodide_package / name, out / name)
    wheels = [w for d in wheel_dirs for w in sorted(d.glob("*.whl"))]
    for w in wheels:
        shutil.copy2(w, out / w.name)
    report = run(python, HERE / "lockfile.py", pyodide_package / "pyodide-lock.json", out,
                 json.dumps(more), capture=True)
    for line in report.splitlines():
        log(line)


# --- 6. the site ---------------------------------------------------------------------------------------

def lite_dir(work: Path, pyodide_out: Path) -> Path:
    """Lay out JupyterLite's input folder: settings, the notebooks, the local Pyodide under static/."""
    site = work / "lite-dir"
    shutil.rmtree(site, ignore_errors=True)  # with its task database: a build is never half-skipped
    (site / "files").mkdir(parents=True)
    notebooks = sorted((ROOT / "notebooks").glob(NOTEBOOKS))
    if not notebooks:
        sys.exit("[lite] no notebooks/NN-*.ipynb to put in the site")
    for nb in notebooks:
        shutil.copy2(nb, site / "files" / nb.name)
    (site / "static").mkdir()
    shutil.move(str(pyodide_out), site / "static" / "pyodide")
    for name in ("jupyter-lite.json", "jupyter_lite_config.json", "overrides.json"):
        shutil.copy2(HERE / name, site / name)
    return site


def jupyter_lite_build(python: Path, site: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore")  # optional-dependency chatter (libarchive, translations)
    run(python, "-m", "jupyterlite_core", "build", "--lite-dir", site, "--output-dir", out, cwd=site, env=env)
    config = json.loads((out / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    if kernel.get("pyodideUrl") != "./static/pyodide/pyodide.mjs" or not kernel.get("disablePyPIFallback"):
        sys.exit(f"[lite] the site would fetch Pyodide or wheels from the internet: {kernel}")


def site_size(out: Path) -> tuple[int, int]:
    """Return (bytes, files) of the built site."""
    files = [p for p in out.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def main(argv: "list[str] | None" = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "lite", help="the site (default: build/lite)")
    ap.add_argument("--venv", type=Path, default=ROOT / "build" / "lite-venv", help="the build tools' venv")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "lite-cache", help="downloads kept here")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    out, cache = args.out.resolve(), args.cache.resolve()
    work = out.with_name(out.name + ".work")  # beside the site: two builds into two folders never share it
    python = build_venv(args.venv.resolve())
    npm = npm_packages(cache / "npm")
    pyodide_package, viz_package = npm[f"pyodide@{PYODIDE}"], npm["@viz-js/viz@3.31.0"]
    lock = json.loads((pyodide_package / "pyodide-lock.json").read_text())
    pypi_wheels(python, lock, cache / "wheels")
    own = work / "wheels"
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir(parents=True)
    labkit = labkit_wheel(python, work, own)
    vizjs = vizjs_wheel(python, viz_package, work, own)
    log(f"built {labkit.name}, {vizjs.name}")
    # labkit's entry in the lock also names what its notebooks import (the `notebooks` extra is read
    # from its metadata) and the viz.js wheel its diagrams render with in the browser.
    pyodide_folder(python, pyodide_package, [cache / "wheels", own], work / "pyodide",
                   {"labkit": {"extras": ["notebooks"], "depends": ["labkit-vizjs"]}})
    site = lite_dir(work, work / "pyodide")
    log("jupyter lite build")
    jupyter_lite_build(python, site, out)
    shutil.copy2(HERE / "serve.py", out / "serve.py")  # a site on a USB stick serves itself: python3 serve.py
    size, files = site_size(out)
    rel = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    log(f"site: {rel} ({size / 1e6:.1f} MB in {files} files; {len(list((out / 'files').glob(NOTEBOOKS)))} "
        f"notebooks) in {time.monotonic() - t0:.0f} s")
    log(f"serve it: python3 lite/serve.py {rel}   (or: make lite-serve)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
