"""What every parsed OCI document shares: strict JSON loading, canonical JSON writing, read-only maps, and
the exact bytes a document came from (its digest is the sha256 of those bytes, image-spec
descriptor.md#digests; re-serialising would change it)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Mapping

from ..digest import Digest
from ..errors import LabkitError

class FrozenDict(dict):
    """A dict that refuses changes and can be hashed, so frozen dataclasses can hold annotations."""

    __slots__ = ()

    def _readonly(self, *args, **kwargs):
        raise TypeError("FrozenDict is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore
    __ior__ = _readonly  # type: ignore

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


def string_map(value: Any, what: str) -> FrozenDict:
    """Return `value` (None, or a map of strings to strings) as a FrozenDict; LabkitError naming `what`."""
    if value is None:
        return FrozenDict()
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in value.items()):
        raise LabkitError(f"{what} must map strings to strings, got {value!r:.80}")
    return FrozenDict(value)


def canonical_json(obj: Any) -> bytes:
    """Return `obj` as compact UTF-8 JSON bytes; key order is the caller's, so build dicts in a fixed order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            # Two parsers may keep different copies of a duplicate key; refuse rather than guess.
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def short_digest(raw: bytes) -> str:
    """Return how errors name a document: its short digest ("sha256:0123456789ab")."""
    d = Digest.of(raw)
    return f"{d.algorithm}:{d.short}"


def load_object(raw: bytes, kind: str) -> dict:
    """Return the JSON object in `raw` (UTF-8, no duplicate keys); LabkitError naming the `kind` of document."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise LabkitError(f"parse {kind}: expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as e:
        raise LabkitError(f"parse {kind} {short_digest(raw)}: not UTF-8 JSON ({e.reason} at byte {e.start})") from None
    except ValueError as e:
        raise LabkitError(f"parse {kind} {short_digest(raw)}: invalid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise LabkitError(f"parse {kind} {short_digest(raw)}: expected a JSON object, got {type(doc).__name__}")
    return doc


def optional_str(doc: dict, key: str, subject: str, what: str = "manifest") -> "str | None":
    """Return doc[key] when it is a string, None when absent; LabkitError for anything else."""
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise LabkitError(f"parse {what} {subject}: '{key}' must be a string")
    return value


class RawDocument:
    """Mixin for documents kept as the exact bytes they came from: their digest and size come from `raw`."""

    raw: bytes

    @cached_property
    def digest(self) -> Digest:
        """Return the sha256 digest of the exact bytes."""
        return Digest.of(self.raw)

    @property
    def size(self) -> int:
        """Return the length of the bytes."""
        return len(self.raw)
