"""A lab registry's identity: a secret its home keeps, proved by HMAC so that asking never reveals it.

On a shared host (a class JupyterHub where every user shares one loopback) or after a home was deleted,
the registry answering on the lab's port may not be this home's. The home sends a fresh nonce to
`GET /_labkit/identity?nonce=...`; only the registry started with the home's secret answers the right proof.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 32


def new_secret() -> bytes:
    """Return a fresh identity secret."""
    return secrets.token_bytes(SECRET_BYTES)


def new_nonce() -> str:
    """Return a fresh nonce to challenge a registry with."""
    return secrets.token_hex(16)


def identity_proof(secret: bytes, nonce: str) -> str:
    """Return the proof of holding `secret` for `nonce` (hex HMAC-SHA256)."""
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()


def proof_matches(secret: bytes, nonce: str, proof: object) -> bool:
    """Return True if `proof` is the right answer to `nonce` for `secret` (constant-time compare)."""
    return isinstance(proof, str) and hmac.compare_digest(identity_proof(secret, nonce), proof)
