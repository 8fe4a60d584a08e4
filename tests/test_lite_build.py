"""The browser edition's build rules (lite/build.py, lite/lockfile.py), without building: what the site's
Pyodide lock lists and why, and labkit's dependencies as Pyodide resolves them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11: labkit's own dependency tomli (pyproject.toml)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    """Import lite/<name>.py under a name of its own (lite/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"lite_{name}", ROOT / "lite" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("build")
lockfile = _load("lockfile")


def _wheel(path: Path, name: str, version: str, requires: "list[str]" = (), top: "list[str] | None" = None,
           modules: "list[str]" = ()) -> Path:
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    meta = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"] + [f"Requires-Dist: {r}" for r in requires]
    whl = path / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(f"{info}/METADATA", "\n".join(meta) + "\n")
        if top is not None:
            z.writestr(f"{info}/top_level.txt", "\n".join(top) + "\n")
        for m in modules:
            z.writestr(m, "")
    return whl


def test_labkit_needs_no_native_accelerator_in_pyodide():
    from packaging.requirements import Requirement  # pytest's own dependency

    deps = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    linux = dict(lockfile.PYODIDE_ENV, sys_platform="linux", platform_system="Linux")  # the same Python, natively

    def wanted(d, env):
        return d.marker is None or d.marker.evaluate(env)

    assert {d.name for d in deps if wanted(d, linux) and not wanted(d, lockfile.PYODIDE_ENV)} == {"zstandard", "isal"}
    in_pyodide = {d.name for d in deps if wanted(d, lockfile.PYODIDE_ENV)}
    assert {"requests", "platformdirs"} <= in_pyodide and not in_pyodide & {"zstandard", "isal"}


def test_the_lock_lists_exactly_the_wheels_of_the_folder(tmp_path):
    npm_lock = {"info": {"python": "3.14.2"}, "packages": {
        "requests": {"name": "requests", "version": "2.33.1", "depends": ["urllib3"], "imports": ["requests"],
                     "file_name": "requests-2.33.1-py3-none-any.whl", "sha256": "cdn", "install_dir": "site",
                     "package_type": "package", "unvendored_tests": False},
        "urllib3": {"name": "urllib3", "version": "2.6.3", "depends": [], "imports": ["urllib3"],
                    "file_name": "urllib3-2.6.3-py3-none-any.whl", "sha256": "cdn", "install_dir": "site",
                    "package_type": "package", "unvendored_tests": False},
        "numpy": {"name": "numpy", "version": "2.0", "depends": [], "imports": ["numpy"], "file_name": "numpy.whl",
                  "sha256": "cdn", "install_dir": "site", "package_type": "package", "unvendored_tests": False}}}
    (tmp_path / "npm-lock.json").write_text(json.dumps(npm_lock))
    folder = tmp_path / "pyodide"
    folder.mkdir()
    _wheel(folder, "requests", "2.33.1", ["urllib3"], top=["requests"])
    _wheel(folder, "urllib3", "2.6.3", top=["urllib3"])
    _wheel(folder, "labkit-vizjs", "3.31.0", modules=["labkit_vizjs/__init__.py"])
    _wheel(folder, "labkit", "0.1.0", ["requests>=2.28", "zstandard>=0.21; sys_platform != 'emscripten'",
                                       "jupyterlab>=4; extra == 'notebooks'", "pytest; extra == 'test'"],
           top=["labkit"])
    lockfile.main(str(tmp_path / "npm-lock.json"), str(folder),
                  json.dumps({"labkit": {"extras": ["notebooks"], "depends": ["labkit-vizjs"]}}))
    lock = json.loads((folder / "pyodide-lock.json").read_text())
    assert sorted(lock["packages"]) == ["labkit", "labkit-vizjs", "requests", "urllib3"]  # no numpy: not here
    labkit = lock["packages"]["labkit"]
    assert labkit["depends"] == ["labkit-vizjs", "requests"]  # zstandard: native only; jupyterlab: not the kernel's
    assert labkit["imports"] == ["labkit"] and lock["packages"]["labkit-vizjs"]["imports"] == ["labkit_vizjs"]
    requests = lock["packages"]["requests"]
    assert requests["depends"] == ["urllib3"] and requests["sha256"] != "cdn"
    assert requests["sha256"] == __import__("hashlib").sha256(
        (folder / "requests-2.33.1-py3-none-any.whl").read_bytes()).hexdigest()


def test_a_dependency_the_site_lacks_stops_the_build(tmp_path):
    (tmp_path / "npm-lock.json").write_text(json.dumps({"info": {}, "packages": {}}))
    _wheel(tmp_path, "labkit", "0.1.0", ["requests>=2.28"], top=["labkit"])
    with pytest.raises(SystemExit, match="labkit needs requests"):
        lockfile.main(str(tmp_path / "npm-lock.json"), str(tmp_path), "{}")


def test_lock_closure_follows_dependencies_at_the_locks_versions():
    lock = {"packages": {"ipython": {"name": "ipython", "version": "9.12.0", "depends": ["traitlets", "Pygments"]},
                         "traitlets": {"name": "traitlets", "version": "5.14.3", "depends": []},
                         "pygments": {"name": "Pygments", "version": "2.20.0", "depends": []},
                         "numpy": {"name": "numpy", "version": "2", "depends": []}}}
    assert build.lock_closure(lock, ["IPython"]) == ["Pygments==2.20.0", "ipython==9.12.0", "traitlets==5.14.3"]


def test_the_site_settings_fetch_nothing_from_the_internet():
    config = json.loads((ROOT / "lite" / "jupyter-lite.json").read_text())["jupyter-config-data"]
    assert config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]["disablePyPIFallback"] is True
    pins = [line for line in (ROOT / "lite" / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)  # every build tool pinned
    assert all(v.startswith("sha512-") for v in build.NPM.values())
    assert all("==" in w for w in build.EXTRA_WHEELS)


def _serve(*args, script=ROOT / "lite" / "serve.py"):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, str(script), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_sends_modules_and_webassembly_with_the_types_browsers_insist_on(tmp_path):
    import re
    import urllib.request

    (tmp_path / "index.html").write_text("<html></html>")
    (tmp_path / "pyodide.mjs").write_text("export {};")
    (tmp_path / "pyodide.asm.wasm").write_bytes(b"\0asm\1\0\0\0")
    shutil.copy2(ROOT / "lite" / "serve.py", tmp_path / "serve.py")  # as lite/build.py puts it in the site
    server = _serve("--port", "0", script=tmp_path / "serve.py")      # no folder named: the one it is in
    try:
        said = server.stdout.readline()
        assert said.startswith(f"serving {tmp_path} at "), said
        url = re.search(r"http://127\.0\.0\.1:\d+/", said).group(0)
        types = {name: urllib.request.urlopen(url + name).headers["Content-Type"]
                 for name in ("pyodide.mjs", "pyodide.asm.wasm", "index.html")}
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert types == {"pyodide.mjs": "text/javascript", "pyodide.asm.wasm": "application/wasm",
                     "index.html": "text/html"}


def test_serve_refuses_a_missing_site_and_a_taken_port_in_one_line(tmp_path):
    import socket

    missing = _serve(tmp_path / "nothing")
    out, err = missing.communicate(timeout=30)
    assert missing.returncode == 1 and err.strip().splitlines() == [
        f"no site in {tmp_path / 'nothing'}: build it first (make lite)"]
    (tmp_path / "index.html").write_text("<html></html>")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = _serve(tmp_path, "--port", taken.getsockname()[1])
        out, err = busy.communicate(timeout=30)
    assert busy.returncode == 1 and len(err.strip().splitlines()) == 1
    assert "Address already in use" in err and "--port" in err
