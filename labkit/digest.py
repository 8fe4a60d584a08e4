"""Content digests (OCI image spec `descriptor.md#digests`): parse, compute, verify while streaming."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

from .errors import DigestMismatch, InvalidReference

# descriptor.md: algorithm-component [a-z0-9]+ separated by [+._-]; encoded [a-zA-Z0-9=_-]+
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")
_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True, order=True)
class Digest:
    """A validated `algorithm:hex` digest; `str()` round-trips."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> "Digest":
        """Return the Digest for `text`, or raise InvalidReference naming the broken rule."""
        if not isinstance(text, str):
            raise InvalidReference(f"invalid digest {text!r}: not a string")
        m = _DIGEST_RE.fullmatch(text)  # not match(): `$` also matches before a trailing newline
        if not m:
            raise InvalidReference(f"invalid digest {text!r}: must look like sha256:<64 hex>")
        algorithm, encoded = m.groups()
        if algorithm not in _HEX_LEN:
            raise InvalidReference(f"invalid digest {text!r}: unsupported algorithm {algorithm}")
        if len(encoded) != _HEX_LEN[algorithm] or not re.fullmatch(r"[a-f0-9]+", encoded):
            raise InvalidReference(
                f"invalid digest {text!r}: {algorithm} needs {_HEX_LEN[algorithm]} lowercase hex characters")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> "Digest":
        """Return the digest of `data`."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        """Return the first 12 hex characters, as docker shows IDs."""
        return self.hex[:12]

    def hasher(self):
        """Return a fresh hashlib object for this digest's algorithm."""
        return hashlib.new(self.algorithm)


def as_digest(value: "Digest | str") -> Digest:
    """Return `value` as a Digest, parsing strings."""
    return value if isinstance(value, Digest) else Digest.parse(value)


class Verifier:
    """Hashes bytes as they pass; `check()` raises DigestMismatch unless they match digest and size."""

    def __init__(self, expected: Digest, size: int | None = None):
        self.expected = expected
        self.size = size
        self.count = 0
        self._hash = expected.hasher()

    def update(self, chunk: bytes) -> None:
        self.count += len(chunk)
        if self.size is not None and self.count > self.size:
            raise DigestMismatch(f"content of {self.expected} is longer than its declared size {self.size}",
                                 expected=str(self.expected))
        self._hash.update(chunk)

    @property
    def actual(self) -> Digest:
        """Return the digest of what has been seen so far."""
        return Digest(self.expected.algorithm, self._hash.hexdigest())

    def check(self) -> None:
        """Raise DigestMismatch unless everything seen matches the expected digest (and size)."""
        if self.size is not None and self.count != self.size:
            raise DigestMismatch(
                f"content of {self.expected} is {self.count} bytes, expected {self.size}",
                expected=str(self.expected), actual=str(self.actual))
        if self.actual != self.expected:
            raise DigestMismatch(f"content does not match its digest: expected {self.expected}, got {self.actual}",
                                 expected=str(self.expected), actual=str(self.actual))


def verify_bytes(data: bytes, expected: "Digest | str", size: int | None = None) -> bytes:
    """Return `data` unchanged if it matches `expected` (and size), else raise DigestMismatch."""
    v = Verifier(as_digest(expected), size)
    v.update(data)
    v.check()
    return data


def verified_chunks(chunks: Iterable[bytes], expected: "Digest | str", size: int | None = None) -> Iterator[bytes]:
    """Yield `chunks` while hashing them; raise DigestMismatch at the end if they do not match."""
    v = Verifier(as_digest(expected), size)
    for chunk in chunks:
        v.update(chunk)
        yield chunk
    v.check()


def digest_file(f: BinaryIO, algorithm: str = "sha256", bufsize: int = 1 << 20) -> Digest:
    """Return the digest of everything left in the open binary file `f`."""
    h = hashlib.new(algorithm)
    while chunk := f.read(bufsize):
        h.update(chunk)
    return Digest(algorithm, h.hexdigest())
