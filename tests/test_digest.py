"""labkit.digest: parsing (OCI descriptor.md#digests, go-digest's rules), hashing and verifying streams."""

from __future__ import annotations

import hashlib
import io

import pytest

from labkit.digest import Digest, Verifier, as_digest, digest_file, verified_chunks, verify_bytes
from labkit.errors import DigestMismatch, InvalidReference

EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HELLO = b"hello world\n"
HELLO_SHA256 = "sha256:a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"


@pytest.mark.parametrize("text,algorithm", [
    (EMPTY_SHA256, "sha256"),
    ("sha256:" + "f" * 64, "sha256"),
    ("sha384:" + "0" * 96, "sha384"),
    ("sha512:" + "f" * 128, "sha512"),
    (HELLO_SHA256, "sha256"),
])
def test_parse_valid(text, algorithm):
    d = Digest.parse(text)
    assert d.algorithm == algorithm
    assert str(d) == text
    assert Digest.parse(str(d)) == d
    assert as_digest(text) == d and as_digest(d) is d


@pytest.mark.parametrize("text,why", [
    ("", "must look like"),
    ("sha256", "must look like"),
    ("sha256:", "must look like"),
    (":" + "f" * 64, "must look like"),
    ("f" * 64, "must look like"),
    ("SHA256:" + "f" * 64, "must look like"),
    ("sha256:" + "F" * 64, "64 lowercase hex"),
    ("sha256:" + "f" * 63, "64 lowercase hex"),
    ("sha256:" + "f" * 65, "64 lowercase hex"),
    ("sha256:" + "g" * 64, "64 lowercase hex"),
    ("sha256:" + "f" * 34, "64 lowercase hex"),
    ("sha512:" + "f" * 64, "128 lowercase hex"),
    ("md5:" + "f" * 32, "unsupported algorithm md5"),
    ("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "unsupported algorithm"),
    ("invaliddigest:" + "f" * 64, "unsupported algorithm"),
    (" sha256:" + "f" * 64, "must look like"),
    ("sha256:" + "f" * 64 + " ", "must look like"),
    ("sha256:" + "f" * 64 + "\n", "must look like"),  # Python's `$` would accept this newline
    (None, "not a string"),
    (b"sha256:" + b"f" * 64, "not a string"),
])
def test_parse_invalid(text, why):
    with pytest.raises(InvalidReference, match="invalid digest") as exc:
        Digest.parse(text)
    assert why in str(exc.value)


def test_of_short_hasher_and_order():
    d = Digest.of(HELLO)
    assert str(d) == HELLO_SHA256
    assert str(Digest.of(b"")) == EMPTY_SHA256
    assert Digest.of(HELLO, "sha512").hex == hashlib.sha512(HELLO).hexdigest()
    assert d.short == "a948904f2f0f"
    h = d.hasher()
    h.update(HELLO)
    assert h.hexdigest() == d.hex
    assert sorted([Digest.parse("sha256:" + "b" * 64), Digest.parse("sha256:" + "a" * 64)])[0].hex == "a" * 64
    assert len({Digest.parse(HELLO_SHA256), Digest.of(HELLO)}) == 1


def test_digest_file():
    f = io.BytesIO(b"xx" + HELLO)
    f.read(2)
    assert str(digest_file(f, bufsize=3)) == HELLO_SHA256


def test_verifier_accepts_matching_content_in_chunks():
    v = Verifier(Digest.parse(HELLO_SHA256), size=len(HELLO))
    for i in range(0, len(HELLO), 5):
        v.update(HELLO[i:i + 5])
    v.check()
    assert v.count == len(HELLO)
    assert str(v.actual) == HELLO_SHA256


def test_verifier_without_size_checks_digest_only():
    v = Verifier(Digest.parse(HELLO_SHA256))
    v.update(HELLO)
    v.check()


def test_verifier_digest_mismatch():
    v = Verifier(Digest.parse(EMPTY_SHA256))
    v.update(HELLO)
    with pytest.raises(DigestMismatch, match="does not match its digest") as exc:
        v.check()
    assert exc.value.expected == EMPTY_SHA256
    assert exc.value.actual == HELLO_SHA256


def test_verifier_too_short():
    v = Verifier(Digest.parse(HELLO_SHA256), size=len(HELLO))
    v.update(HELLO[:-1])
    with pytest.raises(DigestMismatch, match=f"is {len(HELLO) - 1} bytes, expected {len(HELLO)}") as exc:
        v.check()
    assert exc.value.expected == HELLO_SHA256


def test_verifier_too_long_fails_as_soon_as_it_overflows():
    v = Verifier(Digest.parse(HELLO_SHA256), size=4)
    v.update(b"hell")
    with pytest.raises(DigestMismatch, match="longer than its declared size 4"):
        v.update(b"o")


def test_verifier_right_size_wrong_bytes():
    v = Verifier(Digest.parse(HELLO_SHA256), size=len(HELLO))
    v.update(HELLO.upper())
    with pytest.raises(DigestMismatch, match="does not match"):
        v.check()


def test_verify_bytes():
    assert verify_bytes(HELLO, HELLO_SHA256) is HELLO
    assert verify_bytes(HELLO, Digest.parse(HELLO_SHA256), size=len(HELLO)) is HELLO
    with pytest.raises(DigestMismatch):
        verify_bytes(HELLO, EMPTY_SHA256)
    with pytest.raises(DigestMismatch):
        verify_bytes(HELLO, HELLO_SHA256, size=len(HELLO) + 1)
    with pytest.raises(InvalidReference):
        verify_bytes(HELLO, "sha256:nope")


def test_verified_chunks_passes_everything_through():
    chunks = [HELLO[:3], HELLO[3:7], b"", HELLO[7:]]
    assert list(verified_chunks(chunks, HELLO_SHA256, size=len(HELLO))) == chunks


def test_verified_chunks_raises_only_after_the_last_chunk():
    seen = []
    with pytest.raises(DigestMismatch):
        for chunk in verified_chunks(iter([b"hello ", b"there\n"]), HELLO_SHA256):
            seen.append(chunk)
    assert seen == [b"hello ", b"there\n"]


def test_verified_chunks_stops_on_overflow():
    seen = []
    with pytest.raises(DigestMismatch, match="longer than its declared size"):
        for chunk in verified_chunks(iter([b"hello", b" world\n", b"never"]), HELLO_SHA256, size=5):
            seen.append(chunk)
    assert seen == [b"hello"]


def test_verified_chunks_size_mismatch():
    with pytest.raises(DigestMismatch, match="expected 100"):
        list(verified_chunks([HELLO], HELLO_SHA256, size=100))


def test_verified_chunks_parses_the_digest_up_front():
    gen = verified_chunks([HELLO], "not-a-digest")
    with pytest.raises(InvalidReference):
        next(gen)
