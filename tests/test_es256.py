"""The pure-Python ES256 signer of the lab's tokens, against RFC 6979's test vectors and `cryptography`.

`cryptography` (test extra only) is the independent implementation: it verifies our signatures, reads our
keys and certificates, and we read and verify its. The real distribution registry accepting the lab's
tokens is tests/test_lab_registry.py::test_real_distribution_registry_trusts_the_lab_realm.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from labkit.registry import der, es256, tokens

from helpers import peers

crypto = peers.import_module("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

# RFC 6979 appendix A.2.5 (ECDSA, 256 bits, prime field), SHA-256
RFC_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC_PUBLIC = (0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6,
              0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299)
RFC_SIGNATURES = {
    b"sample": ("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
                "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"),
    b"test": ("F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
              "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"),
}


def test_rfc6979_vectors():
    key = es256.PrivateKey(RFC_KEY)
    assert (key.public_key().x, key.public_key().y) == RFC_PUBLIC
    for message, (r, s) in RFC_SIGNATURES.items():
        signature = key.sign(message)
        assert signature.hex().upper() == r + s
        assert key.public_key().verify(message, signature)


@pytest.mark.parametrize("n", range(8))
def test_cryptography_verifies_our_signatures_and_we_verify_its(n):
    ours = es256.PrivateKey.generate()
    message = hashlib.sha256(bytes([n])).digest() * (n + 1)
    theirs_view = serialization.load_der_public_key(ours.public_key().spki_der())
    theirs_view.verify(es256.raw_to_der(ours.sign(message)), message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        theirs_view.verify(es256.raw_to_der(ours.sign(message)), message + b"!", ec.ECDSA(hashes.SHA256()))

    theirs = ec.generate_private_key(ec.SECP256R1())
    their_public = es256.PublicKey.from_spki_der(theirs.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    signature = es256.der_to_raw(theirs.sign(message, ec.ECDSA(hashes.SHA256())))
    assert their_public.verify(message, signature)
    assert not their_public.verify(message + b"!", signature)
    assert not their_public.verify(message, signature[:32] + (1).to_bytes(32, "big"))


def test_bad_signatures_are_refused_not_raised():
    public = es256.PrivateKey.generate().public_key()
    for sig in (b"", b"\0" * 64, b"\xff" * 64, b"\1" * 63, (es256.N).to_bytes(32, "big") * 2):
        assert public.verify(b"m", sig) is False


def test_keys_in_pem_both_ways():
    ours = es256.PrivateKey.generate()
    assert serialization.load_pem_private_key(ours.pem(), None).private_numbers().private_value == ours.d
    assert es256.PrivateKey.from_pem(ours.pem()) == ours
    theirs = ec.generate_private_key(ec.SECP256R1())
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem = theirs.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        assert es256.PrivateKey.from_pem(pem).d == theirs.private_numbers().private_value
    other_curve = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for bad in (other_curve, b"no pem here", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"):
        with pytest.raises(ValueError):
            es256.PrivateKey.from_pem(bad)
    assert "d=" not in repr(ours) and str(ours.d) not in repr(ours)


def test_libtrust_key_id_matches_one_computed_from_cryptography():
    key = es256.PrivateKey(RFC_KEY)
    spki = serialization.load_pem_private_key(key.pem(), None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki == key.public_key().spki_der()
    import base64

    b32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
    assert es256.libtrust_key_id(key.public_key()) == ":".join(b32[i:i + 4] for i in range(0, 48, 4))


@pytest.mark.parametrize("when", [datetime(2026, 12, 2, tzinfo=timezone.utc), datetime(2045, 6, 1, tzinfo=timezone.utc)])
def test_self_signed_certificate_reads_and_verifies_in_cryptography(when):
    key = es256.PrivateKey.generate()
    cert_der = es256.self_signed_certificate(key, "labkit lab registry token signer", days=3650, now=when)
    cert = x509.load_der_x509_certificate(cert_der)
    assert cert.version == x509.Version.v3
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "CN=labkit lab registry token signer"
    assert cert.not_valid_before_utc < when < cert.not_valid_after_utc  # the later one is a GeneralizedTime
    assert 0 < cert.serial_number < 1 << 159
    cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert es256.certificate_public_key(cert_der) == key.public_key()


def test_ensure_certificate_keeps_a_matching_one_and_replaces_a_foreign_one(tmp_path):
    key = tokens.load_or_create_key(tmp_path / "key.pem")
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600
    assert tokens.load_or_create_key(tmp_path / "key.pem") == key
    path = tokens.ensure_certificate(key, tmp_path / "cert.pem")
    first = path.read_bytes()
    assert tokens.ensure_certificate(key, path).read_bytes() == first
    x509.load_pem_x509_certificate(first)
    other = tokens.generate_key()
    replaced = tokens.ensure_certificate(other, path).read_bytes()
    assert replaced != first
    assert es256.certificate_public_key(der.unpem(replaced)[0][1]) == other.public_key()


def test_a_key_file_written_by_cryptography_still_loads(tmp_path):
    theirs = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "key.pem").write_bytes(theirs.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    assert tokens.load_or_create_key(tmp_path / "key.pem").d == theirs.private_numbers().private_value


def test_jwt_verifies_in_cryptography():
    issuer = tokens.TokenIssuer(tokens.generate_key())
    token = issuer.issue("lab", [tokens.Access("repository", "x", ("pull",))])
    header_b64, claims_b64, sig_b64 = token.split(".")
    public = serialization.load_der_public_key(issuer.public_key.spki_der())
    public.verify(es256.raw_to_der(tokens.b64url_decode(sig_b64)), f"{header_b64}.{claims_b64}".encode(),
                  ec.ECDSA(hashes.SHA256()))
    assert issuer.verify(token)["sub"] == "lab"


def test_pbkdf2_in_python_equals_hashlib(monkeypatch):
    cases = [(b"labkit", b"0123456789abcdef", 1000), (b"x" * 100, b"s", 3), (b"", b"", 1), (b"a" * 64, b"q", 7)]
    expected = [hashlib.pbkdf2_hmac("sha256", p, s, n) for p, s, n in cases]
    monkeypatch.delattr(hashlib, "pbkdf2_hmac")  # as in Pyodide
    assert [tokens.pbkdf2_sha256(p, s, n) for p, s, n in cases] == expected
    stored = tokens.hash_password("s3cret", iterations=2000)
    assert tokens.check_password(stored, "s3cret") and not tokens.check_password(stored, "wrong")


def test_der_round_trips():
    assert der.read(der.integer(0))[1] == b"\x00"
    for value in (0, 1, 127, 128, 255, 256, 2 ** 255, es256.N):
        tag, content, rest = der.read(der.integer(value))
        assert (tag, der.read_integer(content), rest) == (der.INTEGER, value, b"")
    long = der.octet_string(b"x" * 300)
    assert der.read(long)[1] == b"x" * 300 and long[1] == 0x82
    assert der.oid("1.2.840.10045.2.1").hex() == "06072a8648ce3d0201"
    assert der.unpem(der.pem("CERTIFICATE", b"\x01" * 100)) == [("CERTIFICATE", b"\x01" * 100)]
    for bad in (b"", b"\x30", b"\x30\x05\x00", b"\x30\x85\x00\x00\x00\x00\x00"):
        with pytest.raises(ValueError):
            der.read(bad)


def test_token_auth_runs_without_cryptography(tmp_path):
    """What the CLI and the notebooks reach (a token-auth lab registry, its certificate, a token) imports no
    `cryptography`: the browser has no wheel of it."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import sys
        sys.modules["cryptography"] = None  # any import of it now fails
        import requests
        import labkit.cli, labkit.notebook, labkit.lab
        from labkit.registry.server import LabRegistry
        with LabRegistry({str(tmp_path / 'reg')!r}, "127.0.0.1:0", auth="token") as reg:
            token = requests.get(reg.realm, params={{"service": "labkit-registry"}}, auth=("lab", "labkit")).json()
            ok = requests.get(reg.url + "/v2/", headers={{"Authorization": "Bearer " + token["token"]}})
            print(ok.status_code, reg.certificate_path.exists())
        print(sorted(m for m in sys.modules if m.startswith("cryptography")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["200 True", "['cryptography']"]  # only our blocking entry
