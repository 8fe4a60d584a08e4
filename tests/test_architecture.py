"""Imports point one way: pure core <- disk <- network <- workflows <- faces, and no labkit module imports
itself back through others (no import cycles).

Every import in every labkit module, at the top or inside a function, is checked against the levels
below; graphviz and ipywidgets may be imported only inside labkit/viz. Imports under `if TYPE_CHECKING:`
never run, so they are left out of the cycle check (they still must point down); a package's lazy
re-exports (`_EXPORTS = {name: submodule}` read by a PEP 562 `__getattr__`) count as imports of those
submodules.
"""

from __future__ import annotations

import pytest

from helpers.imports import PACKAGE, files, import_graph, imports, module_name

LEVELS = {
    "core": ["errors", "digest", "reference", "oci", "formatting", "clock", "fsutil", "home", "paths", "progress",
             "platform", "compression", "lazy", "transfers", "daemonconfig", "gotemplate", "formatter",
             # the Dockerfile front end is pure; the rest of `build` (context, cache, steps) works on disk
             "build.dockerfile", "build.shellwords", "build.instructions", "build.dockerignore", "build.plan",
             "build.events", "build.display", "build.checks"],
    "disk": ["store", "browserstorage", "tables", "layers", "imageview", "layerchanges", "unpack", "containers",
             "shell", "names", "commit", "labimages", "build", "imageservice", "prune"],
    "network": ["registry"],
    "workflows": ["pull", "push", "labctl"],
    "faces": ["lab", "cli", "commands", "magic", "inspection", "notebook", "lessons", "viz", "__main__", "__init__"],
}
ORDER = list(LEVELS)
LEVEL_OF = {name: level for level, names in LEVELS.items() for name in names}


def _level(module: str) -> "str | None":
    """Return the level of a module: a listed submodule ("build.dockerfile") first, else its top package."""
    parts = module.split(".")
    if parts[0] != "labkit":
        return None
    if len(parts) > 2 and ".".join(parts[1:3]) in LEVEL_OF:
        return LEVEL_OF[".".join(parts[1:3])]
    return LEVEL_OF.get(parts[1] if len(parts) > 1 else "__init__")


MODULES = files(PACKAGE)


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
    missing = [module_name(p) for p in MODULES if _level(module_name(p)) is None]
    assert missing == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    own = ORDER.index(_level(module_name(path)))
    wrong = []
    for line, module, _ in imports(path):
        level = _level(module)
        if level is not None and ORDER.index(level) > own:
            wrong.append(f"line {line}: {module} ({level})")
        top = module.split(".")[0]
        if top in ("graphviz", "ipywidgets") and not module_name(path).startswith("labkit.viz"):
            wrong.append(f"line {line}: {module} outside labkit.viz")
    assert wrong == [], f"{module_name(path)} imports upward: {wrong}"


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
