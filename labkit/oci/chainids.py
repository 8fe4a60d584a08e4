"""Chain IDs (image-spec config.md#layer-chainid): one name for a stack of layers."""

from __future__ import annotations

import hashlib
from typing import Iterable

from ..digest import Digest


def chain_ids(diff_ids: Iterable["Digest | str"]) -> list[Digest]:
    """Return the ChainID of each layer prefix: ChainID(L0)=DiffID(L0), then sha256(parent + " " + DiffID)."""
    out: list[Digest] = []
    for d in diff_ids:
        diff = d if isinstance(d, Digest) else Digest.parse(d)
        if not out:
            out.append(diff)
        else:
            out.append(Digest("sha256", hashlib.sha256(f"{out[-1]} {diff}".encode()).hexdigest()))
    return out


def chain_id(diff_ids: Iterable["Digest | str"]) -> "Digest | None":
    """Return the ChainID of the whole stack (None for no layers)."""
    ids = chain_ids(diff_ids)
    return ids[-1] if ids else None
