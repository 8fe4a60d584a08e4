"""Reading a package's imports without importing it: every import statement of every module (top level or
inside a function), resolved to absolute names, and the package's import graph. tests/test_architecture.py
checks the direction of imports and cycles with it; tests/test_dependencies.py what a user must install.

Imports under `if TYPE_CHECKING:` never run, so they are marked; a package's lazy re-exports (`_EXPORTS =
{name: submodule}` read by a PEP 562 `__getattr__`) count as imports of those submodules.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "labkit"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """Return the dotted module name of a file of the package at `root` (a package's own name for __init__)."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports(path: Path, root: Path = PACKAGE):
    """Yield (line, imported name, runs) for every import in `path`: `name` is absolute ("labkit.oci.Descriptor"
    for `from ..oci import Descriptor`); `runs` is False for imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(), str(path))
    own = module_name(path, root)
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
            elif is_type_checking(child):
                for stmt in child.body:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), runs)
            else:
                yield from visit(child, runs)

    yield from visit(tree, True)
    if path.name == "__init__.py":
        yield from lazy_exports(tree, own)


def lazy_exports(tree: ast.Module, package: str):
    """Yield (line, submodule, True) for the lazy re-exports of a package's __init__ (PEP 562): its
    module-level `_EXPORTS = {name: submodule}` dict, which `__getattr__` imports on first use."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
                and isinstance(node.value, ast.Dict)):
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield node.lineno, f"{package}.{value.value}", True


def files(root: Path = PACKAGE) -> list[Path]:
    """Return the package's Python files (the shipped image layout left out)."""
    return sorted(p for p in root.rglob("*.py") if "labimages/layout" not in str(p))


def import_graph(root: Path = PACKAGE) -> "dict[str, dict[str, int]]":
    """Return {module: {module it imports at run time: first line}} for the package at `root`.

    An imported name resolves to the longest module it starts with (`from ..oci import Descriptor` is
    labkit.oci; `from . import tables` is labkit.tables); imports of the module itself and of other
    packages are left out.
    """
    paths = {module_name(p, root): p for p in files(root)}
    graph: dict[str, dict[str, int]] = {}
    for module, path in paths.items():
        edges = graph.setdefault(module, {})
        for line, name, runs in imports(path, root):
            parts = name.split(".")
            while parts and ".".join(parts) not in paths:
                parts.pop()
            target = ".".join(parts)
            if runs and target and target != module:
                edges.setdefault(target, line)
    return graph
