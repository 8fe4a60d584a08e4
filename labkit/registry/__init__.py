"""Talking to registries: WWW-Authenticate challenges, auth, the HTTP client and its trace.

Submodules load on first use (requests is not imported by `import labkit.registry`), so the command
line starts fast.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Challenge": "challenge", "parse_challenges": "challenge", "pick_challenge": "challenge",
    "Credentials": "auth", "RegistryAuth": "auth", "load_docker_credentials": "auth",
    "scope_for_request": "auth",
    "RegistryClient": "client", "RegistryNotFound": "client", "FetchedManifest": "client",
    "client_for": "client", "endpoint_for": "client", "is_loopback": "client", "is_insecure": "client",
    "Trace": "trace", "Exchange": "trace", "redact_url": "trace",
}


def __getattr__(name):
    """Return a public name from its submodule, importing it on first use."""
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{mod}", __name__), name)


__all__ = sorted(_EXPORTS)
