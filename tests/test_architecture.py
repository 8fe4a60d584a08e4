"""Imports point one way (DESIGN.md section 2): pure core <- disk <- network <- workflows <- faces.

Every import in every labkit module, at the top or inside a function, is checked against the levels
below; graphviz and ipywidgets may be imported only inside labkit/viz.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "labkit"

LEVELS = {
    "core": ["errors", "digest", "reference", "oci", "formatting", "clock", "fsutil", "home", "progress"],
    "disk": ["store", "tables", "layers", "imageview", "unpack", "containers", "shell", "names", "commit",
             "labimages"],
    "network": ["registry"],
    "workflows": ["pull", "push", "labctl"],
    "faces": ["lab", "cli", "commands", "magic", "inspect", "notebook", "viz", "__main__", "__init__"],
}
ORDER = list(LEVELS)
LEVEL_OF = {name: level for level, names in LEVELS.items() for name in names}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _level(module: str) -> "str | None":
    parts = module.split(".")
    if parts[0] != "labkit":
        return None
    return LEVEL_OF.get(parts[1] if len(parts) > 1 else "__init__")


def _imports(path: Path):
    """Yield (line, absolute module name) for every import in `path`."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)[:-9]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if not node.module:
                    for alias in node.names:
                        yield node.lineno, f"{module}.{alias.name}"
                    continue
            else:
                module = node.module or ""
            yield node.lineno, module


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "labimages/layout" not in str(p))


def test_every_module_has_a_level():
    missing = [_module_name(p) for p in MODULES if _level(_module_name(p)) is None]
    assert missing == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_down(path):
    own = ORDER.index(_level(_module_name(path)))
    wrong = []
    for line, module in _imports(path):
        level = _level(module)
        if level is not None and ORDER.index(level) > own:
            wrong.append(f"line {line}: {module} ({level})")
        top = module.split(".")[0]
        if top in ("graphviz", "ipywidgets") and not _module_name(path).startswith("labkit.viz"):
            wrong.append(f"line {line}: {module} outside labkit.viz")
    assert wrong == [], f"{_module_name(path)} imports upward: {wrong}"
