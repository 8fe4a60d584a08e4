"""Talking to registries: WWW-Authenticate challenges, auth, the HTTP client and its trace.

Submodules load on first use (requests is not imported by `import labkit.registry`), so the command
line starts fast.
"""

from __future__ import annotations

from ..lazy import lazy_getattr

_EXPORTS = {
    "Challenge": "challenge", "parse_challenges": "challenge", "pick_challenge": "challenge",
    "Credentials": "auth", "RegistryAuth": "auth", "scope_for_request": "auth",
    "load_docker_credentials": "dockerconfig", "store_for": "dockerconfig", "CredentialHelper": "credhelper",
    "RegistryClient": "client", "RegistryNotFound": "client", "FetchedManifest": "client",
    "client_for": "client", "endpoint_for": "client", "is_loopback": "client", "is_insecure": "client",
    "Trace": "trace", "Exchange": "trace", "redact_url": "trace",
}


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


__all__ = sorted(_EXPORTS)
