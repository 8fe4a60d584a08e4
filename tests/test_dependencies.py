"""Every third-party module labkit can import is one pip installs: a declared dependency, or an extra.

The walk starts where users start (the `labkit` command, and every `labkit` module a notebook imports),
follows every import of every module it reaches (at the top or inside a function: a function-level import
runs the day someone calls it), and checks each module outside the standard library:
- reachable from the command: in pyproject's `dependencies` (`pip install labkit` must run every verb,
  `registry serve --auth token` included);
- reachable from the notebooks: in `dependencies` or the `notebooks` extra;
- anywhere in labkit: declared somewhere (a dependency or an extra).
A module that comes with a dependency (urllib3 with requests) is still declared when labkit imports it:
labkit then relies on it directly.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from importlib import metadata
import pytest

from helpers.imports import PACKAGE, files, import_graph, imports, module_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = PACKAGE.parent
CLI_ROOTS = ("labkit.cli", "labkit.__main__")

# Modules labkit imports only where they come with the platform, never from pip: the browser edition's
# Pyodide runtime, the standard library of a newer Python, and the wheel `make lite` builds for the site.
# Each one's import sits on the branch for that platform (labkit.platform, or an ImportError fallback).
PROVIDED_ELSEWHERE = {
    "js": "Pyodide's runtime (the browser's globals)",
    "pyodide": "Pyodide's runtime",
    "pyodide_js": "Pyodide's runtime (its JavaScript API: the file system, labkit.platform.apply_umask)",
    "compression": "the standard library from Python 3.14 (compression.zstd; Pyodide has it, zstandard does not build there)",
    "labkit_vizjs": "lite/vizjs, the wheel make lite builds into the site (graphviz drawn in the browser)",
}


def declared() -> "dict[str, set[str]]":
    """Return {"dependencies": {names}, "<extra>": {names}, ...} from pyproject.toml (names normalized)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"dependencies": project.get("dependencies", [])}
    groups.update(project.get("optional-dependencies", {}))
    return {group: {normalize(re.match(r"[A-Za-z0-9._-]+", req).group(0)) for req in reqs}
            for group, reqs in groups.items()}


def normalize(name: str) -> str:
    """Return a distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(module: str) -> "set[str]":
    """Return the distributions that provide top-level `module` (its own name when none is installed)."""
    found = metadata.packages_distributions().get(module)
    return {normalize(d) for d in found} if found else {normalize(module)}


def notebook_roots() -> "set[str]":
    """Return every labkit module a notebook's code cells import (and the %docker magic setup loads)."""
    roots = {"labkit.magic"}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                             for line in "".join(cell["source"]).splitlines())
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    roots |= {a.name for a in node.names if a.name.split(".")[0] == "labkit"}
                elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "labkit":
                    roots.add(node.module)
                    roots |= {f"{node.module}.{a.name}" for a in node.names}
    return roots


def third_party_reached(roots) -> "dict[str, str]":
    """Return {third-party top-level module: a labkit module that imports it} over what `roots` reach."""
    graph = import_graph()
    paths = {module_name(p): p for p in files()}
    todo = [r for r in roots if r in graph]
    seen = set(todo)
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    out: dict[str, str] = {}
    for module in sorted(seen):
        for _line, name, runs in imports(paths[module]):
            top = name.split(".")[0]
            if runs and top not in ("labkit", "__future__") and top not in sys.stdlib_module_names \
                    and top not in PROVIDED_ELSEWHERE:
                out.setdefault(top, module)
    return out


def missing(reached: "dict[str, str]", allowed: "set[str]") -> "list[str]":
    out = []
    for module, where in sorted(reached.items()):
        if not distributions(module) & allowed:
            out.append(f"{module} (imported by {where}; distributions {sorted(distributions(module))})")
    return out


def test_the_walk_reaches_the_far_corners_of_the_command():
    reached = third_party_reached(CLI_ROOTS)
    # `registry serve --auth token` signs tokens, `pull` talks HTTP, `images` reads compressed layers
    assert {"requests", "urllib3", "zstandard", "isal", "platformdirs"} <= set(reached)
    assert "cryptography" not in reached  # the token server signs with labkit's own ES256 code
    assert "graphviz" not in reached and "ipywidgets" not in reached  # drawing is the notebooks' business


def test_everything_the_command_imports_is_a_dependency():
    assert missing(third_party_reached(CLI_ROOTS), declared()["dependencies"]) == []


def test_everything_the_notebooks_import_is_a_dependency_or_in_the_notebooks_extra():
    groups = declared()
    roots = notebook_roots()
    assert {"labkit.notebook", "labkit.viz.diagrams"} <= roots
    assert missing(third_party_reached(roots), groups["dependencies"] | groups["notebooks"]) == []


def test_every_third_party_import_in_labkit_is_declared_somewhere():
    everything = set().union(*declared().values())
    assert missing(third_party_reached(set(import_graph())), everything) == []


def test_modules_provided_elsewhere_are_imported_only_off_the_native_path():
    # they stay out of the command's and the notebooks' reach in a native Python: each import sits in a
    # function that runs only in the browser (or after zstandard is missing)
    graph = import_graph()
    paths = {module_name(p): p for p in files()}
    top_level = {name.split(".")[0] for module in graph for _line, name, runs in imports(paths[module])
                 if runs and not _inside_function(paths[module], _line)}
    assert not top_level & set(PROVIDED_ELSEWHERE)
    assert (ROOT / "lite" / "vizjs" / "pyproject.toml").is_file()  # labkit_vizjs has a home in the repository


def _inside_function(path, line: int) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno
               for node in ast.walk(tree))


@pytest.mark.parametrize("text,names", [
    ('"requests>=2.28"', {"requests"}),
    ('"zstandard>=0.21; sys_platform != \'emscripten\'"', {"zstandard"}),
    ('"tomli>=1.1; python_version < \'3.11\'"', {"tomli"}),
])
def test_requirement_names_are_read_as_pip_reads_them(text, names):
    assert {normalize(re.match(r"[A-Za-z0-9._-]+", json.loads(text)).group(0))} == names


def test_a_missing_declaration_is_caught():
    """The check itself: a module no group declares is reported with who imports it."""
    assert missing({"nosuchthing": "labkit.x", "requests": "labkit.y"}, declared()["dependencies"]) == [
        "nosuchthing (imported by labkit.x; distributions ['nosuchthing'])"]
    assert missing({"graphviz": "labkit.viz.diagrams"}, declared()["dependencies"]) != []
