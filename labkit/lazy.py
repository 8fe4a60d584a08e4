"""Lazy re-exports for a package's __init__ (PEP 562): each exported name loads its own module on first use,
so importing the package stays cheap for the command line."""

from __future__ import annotations

import importlib


def lazy_getattr(package: str, exports: "dict[str, str]", namespace: dict):
    """Return the module-level __getattr__ for `package`: it imports exports[name] (a submodule of `package`)
    when `name` is first asked for, and keeps the value in `namespace` (the package's globals()) so the
    next lookup is a plain attribute."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    return __getattr__
