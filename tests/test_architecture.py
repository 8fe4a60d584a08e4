"""Imports point one way: pure core <- disk <- network <- workflows <- faces, and no labkit module imports
itself back through others (no import cycles).

Every import in every labkit module, at the top or inside a function, is checked against the levels
below; graphviz and ipywidgets may be imported only inside labkit/viz. Imports under `if TYPE_CHECKING:`
never run, so they are left out of the cycle check (they still must point down); a package's lazy
re-exports (`_EXPORTS = {name: submodule}` read by a PEP 562 `__getattr__`) count as imports of those
submodules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "labkit"

LEVELS = {
    "core": ["errors", "digest", "reference", "oci", "formatting", "clock", "fsutil", "home", "paths", "progress",
             "platform", "compression", "lazy", "transfers"],
    "disk": ["store", "tables", "layers", "imageview", "layerchanges", "unpack", "containers", "shell", "names",
             "commit", "labimages"],
    "network": ["registry"],
    "workflows": ["pull", "push", "labctl"],
    "faces": ["lab", "cli", "commands", "magic", "inspection", "notebook", "lessons", "viz", "__main__", "__init__"],
}
ORDER = list(LEVELS)
LEVEL_OF = {name: level for level, names in LEVELS.items() for name in names}


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    """Return the dotted module name of a file of the package at `root` (a package's own name for __init__)."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _level(module: str) -> "str | None":
    parts = module.split(".")
    if parts[0] != "labkit":
        return None
    return LEVEL_OF.get(parts[1] if len(parts) > 1 else "__init__")


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(path: Path, root: Path = PACKAGE):
    """Yield (line, imported name, runs) for every import in `path`: `name` is absolute ("labkit.oci.Descriptor"
    for `from ..oci import Descriptor`); `runs` is False for imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(), str(path))
    own = _module_name(path, root)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]

    def visit(node, runs):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child.lineno, alias.name, runs
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                for alias in child.names:
                    yield child.lineno, f"{module}.{alias.name}", runs
            elif _is_type_checking(child):
                for stmt in child.body:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), runs)
            else:
                yield from visit(child, runs)

    yield from visit(tree, True)
    if path.name == "__init__.py":
        yield from _lazy_exports(tree, own)


def _lazy_exports(tree: ast.Module, package: str):
    """Yield (line, submodule, True) for the lazy re-exports of a package's __init__ (PEP 562): its
    module-level `_EXPORTS = {name: submodule}` dict, which `__getattr__` imports on first use."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
                and isinstance(node.value, ast.Dict)):
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield node.lineno, f"{package}.{value.value}", True


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "labimages/layout" not in str(p))


MODULES = _files(PACKAGE)


def import_graph(root: Path = PACKAGE) -> "dict[str, dict[str, int]]":
    """Return {module: {module it imports at run time: first line}} for the package at `root`.

    An imported name resolves to the longest module it starts with (`from ..oci import Descriptor` is
    labkit.oci; `from . import tables` is labkit.tables); imports of the module itself and of other
    packages are left out.
    """
    files = {_module_name(p, root): p for p in _files(root)}
    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        edges = graph.setdefault(module, {})
        for line, name, runs in _imports(path, root):
            parts = name.split(".")
            while parts and ".".join(parts) not in files:
                parts.pop()
            target = ".".join(parts)
            if runs and target and target != module:
                edges.setdefault(target, line)
    return graph


def find_cycles(graph: "dict[str, dict[str, int] | set[str]]") -> list[list[str]]:
    """Return the import cycles of `graph`: each strongly connected group of two or more modules, as one
    cycle through it ("a", "b", ..., back to "a"), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:            # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(_cycle_through(graph, group) for group in groups)


def _cycle_through(graph, group: set) -> list[str]:
    """Return one cycle inside the strongly connected `group`, starting at its smallest module."""
    start = min(group)
    paths = {start: [start]}
    todo = [start]
    while todo:                             # breadth first: the shortest way back to `start`
        v = todo.pop(0)
        for w in sorted(graph.get(v, ())):
            if w == start:
                return paths[v] + [start]
            if w in group and w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    raise AssertionError(f"{sorted(group)} is not strongly connected")


def test_every_module_has_a_level():
    missing = [_module_name(p) for p in MODULES if _level(_module_name(p)) is None]
    assert missing == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_down(path):
    own = ORDER.index(_level(_module_name(path)))
    wrong = []
    for line, module, _ in _imports(path):
        level = _level(module)
        if level is not None and ORDER.index(level) > own:
            wrong.append(f"line {line}: {module} ({level})")
        top = module.split(".")[0]
        if top in ("graphviz", "ipywidgets") and not _module_name(path).startswith("labkit.viz"):
            wrong.append(f"line {line}: {module} outside labkit.viz")
    assert wrong == [], f"{_module_name(path)} imports upward: {wrong}"


def test_no_import_cycles():
    graph = import_graph()
    cycles = [" -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(c, c[1:])) + f" -> {c[-1]}"
              for c in find_cycles(graph)]
    assert cycles == []


def test_cycle_check_finds_cycles_through_function_level_imports(tmp_path):
    pkg = tmp_path / "labkit"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("from .b import thing\n")
    (pkg / "sub" / "b.py").write_text("def thing():\n    from ..c import other\n    return other\n")
    (pkg / "c.py").write_text("import labkit.a\n\ndef other():\n    pass\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
                              "from .c import other\n")
    graph = import_graph(pkg)
    assert graph["labkit.d"] == {"labkit.c": 4}            # the TYPE_CHECKING import never runs
    assert graph["labkit.sub"] == {"labkit.sub.b": 1}
    assert find_cycles(graph) == [["labkit.a", "labkit.sub.b", "labkit.c", "labkit.a"]]
    (pkg / "c.py").write_text("def other():\n    pass\n")
    assert find_cycles(import_graph(pkg)) == []


def test_cycle_check_sees_lazy_re_exports(tmp_path):
    pkg = tmp_path / "labkit"
    (pkg / "lazy").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "lazy" / "__init__.py").write_text('_EXPORTS = {"Thing": "things"}\n\ndef __getattr__(name):\n    ...\n')
    (pkg / "lazy" / "things.py").write_text("class Thing:\n    pass\n")
    (pkg / "user.py").write_text("from .lazy import Thing\n")
    assert import_graph(pkg)["labkit.lazy"] == {"labkit.lazy.things": 1}
    assert find_cycles(import_graph(pkg)) == []
    (pkg / "lazy" / "things.py").write_text("from ..user import x\n")
    assert find_cycles(import_graph(pkg)) == [["labkit.lazy", "labkit.lazy.things", "labkit.user", "labkit.lazy"]]


def test_cycle_check_reports_each_cycle_once():
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"c"}, "e": {"a"}}
    assert find_cycles(graph) == [["a", "b", "a"], ["c", "d", "c"]]
