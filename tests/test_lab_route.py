"""The lab route: what a student installs (`make lab`: a venv with `.[notebooks]` only) runs every notebook.

The test venv holds the test extra too (pytest, playwright, ...), so a notebook that needs one of those
would pass every other test and still crash for students. Here a fresh venv gets only `.[notebooks]`, as
`make lab` installs it, and runs every numbered notebook top to bottom. A static check beside it says the
same of the conda route (environment.yml) for what the notebooks import themselves.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))

# import name -> (pip distribution in pyproject.toml, conda package in environment.yml)
THIRD_PARTY = {
    "graphviz": ("graphviz", "python-graphviz"),
    "ipywidgets": ("ipywidgets", "ipywidgets"),
    "IPython": ("ipython", "ipython"),
    "requests": ("requests", "requests"),
    "platformdirs": ("platformdirs", "platformdirs"),
}


def _code(cell_source: str) -> str:
    """Return a code cell's Python, IPython's line magics and shell escapes left out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell_source.splitlines())


def notebook_imports(path: Path) -> set[str]:
    """Return the top-level module names a notebook's code cells import."""
    names = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(_code("".join(cell["source"])))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.split(".")[0])
    return names


def _declared() -> tuple[str, str]:
    pyproject = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.S | re.M).group(1)
    extra = re.search(r"^notebooks = \[(.*?)^\]", pyproject, re.S | re.M).group(1)
    return deps + extra, (ROOT / "environment.yml").read_text()


def test_every_notebook_import_is_declared_for_pip_and_conda():
    pip_side, conda_side = _declared()
    for path in NOTEBOOKS:
        for name in sorted(notebook_imports(path)):
            if name == "labkit" or name in sys.stdlib_module_names:
                continue
            assert name in THIRD_PARTY, f"{path.name} imports {name}: declare it (pyproject, environment.yml)"
            pip_name, conda_name = THIRD_PARTY[name]
            assert f'"{pip_name}' in pip_side, f"{path.name} imports {name}: add {pip_name} to .[notebooks]"
            assert f"- {conda_name}" in conda_side, f"{path.name} imports {name}: add {conda_name} to environment.yml"


def test_nbval_is_in_both_routes():
    pip_side, conda_side = _declared()
    assert '"nbval' in pip_side and "- nbval" in conda_side


@pytest.mark.timeout(2800)  # the install's and the run's own timeouts below, and a margin
def test_every_numbered_notebook_runs_in_a_fresh_notebooks_only_venv(tmp_path):
    """`make lab`'s install (pip install -e '.[notebooks]' into a new venv), then every notebook, top to bottom."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABKIT_", "JUPYTER", "PYTHON", "VIRTUAL_ENV"))}
    # a private HOME: no user kernelspec or IPython profile may stand in for the venv's own
    env.update(HOME=str(home), JUPYTER_DATA_DIR=str(home / "jupyter-data"), IPYTHONDIR=str(home / "ipython"),
               JUPYTER_CONFIG_DIR=str(home / "jupyter-config"), PIP_NO_INPUT="1")
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[notebooks]"],
                             env=env, capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    # nothing of the test extra came along: the notebooks below run without it
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], env=env, capture_output=True, text=True).stdout.lower()
    for test_only in ("playwright==", "hypothesis==", "pytest-timeout==", "cryptography=="):  # (nbval brings pytest)
        assert test_only not in freeze, f"{test_only.rstrip('=')} is in the .[notebooks] venv"
    copy = tmp_path / "notebooks"
    copy.mkdir()
    for path in NOTEBOOKS + [ROOT / "notebooks" / "execute.py"]:
        (copy / path.name).write_bytes(path.read_bytes())
    run = subprocess.run([str(python), str(copy / "execute.py")], env=env, capture_output=True, text=True,
                         timeout=1800, cwd=copy)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    for path in sorted(copy.glob("[0-9][0-9]-*.ipynb")):
        for n, cell in enumerate(json.loads(path.read_text())["cells"]):
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", f"{path.name} cell {n}: {output.get('ename')}"
                text = "".join(output.get("text", ""))
                assert "Traceback" not in text and "ModuleNotFoundError" not in text, f"{path.name} cell {n}: {text[-500:]}"
    assert sorted(p.name for p in copy.glob("[0-9][0-9]-*.ipynb")) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_imports_parse(path):
    # the static check above reads every code cell; a cell it cannot parse would hide an import
    assert notebook_imports(path) >= {"labkit"}
