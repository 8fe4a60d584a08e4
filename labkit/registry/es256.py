"""ES256 in pure Python: ECDSA on the NIST P-256 curve with SHA-256, for the lab registry's bearer tokens.

Pure Python (hashlib, hmac, secrets), so the token server also runs in the browser, where no wheel of
`cryptography` exists. What it implements, and from where:
- the curve and ECDSA (FIPS 186-4, SEC 1 v2 section 4.1), with deterministic nonces (RFC 6979 section 3.2:
  the same key and message always give the same signature, and no random number generator can leak the key);
- JWS signatures as raw r||s, 32 bytes each (RFC 7518 section 3.4), and X.509's DER ECDSA-Sig-Value;
- keys in PEM: PKCS #8 (RFC 5208/5915, what `cryptography` and openssl write) and SEC 1 `EC PRIVATE KEY`;
  public keys as SubjectPublicKeyInfo (RFC 5480), whose sha256 makes docker's libtrust key ID;
- a self-signed X.509 v3 certificate (RFC 5280), which the distribution registry's `rootcertbundle` needs.
Speed: about a millisecond per signature in CPython; enough for a lab. Not hardened against timing
side channels (big-integer arithmetic in Python is not constant-time): a teaching registry on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import der

# P-256 (secp256r1), FIPS 186-4 appendix D.1.2.3: y^2 = x^3 - 3x + b over GF(p), base point G of order n.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_P256 = "1.2.840.10045.3.1.7"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_COMMON_NAME = "2.5.4.3"

# --- the curve, in Jacobian coordinates (X, Y, Z) for x = X/Z^2, y = Y/Z^3; Z == 0 is the point at infinity

_INFINITY = (1, 1, 0)


def _double(pt):
    x, y, z = pt
    if z == 0 or y == 0:
        return _INFINITY
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = 3 * (x - zz) * (x + zz) % P  # a = -3
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * yy * yy) % P, 2 * y * z % P


def _add(p1, p2):
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    h, r = (u2 - u1) % P, (s2 - s1) % P
    if h == 0:
        return _double(p1) if r == 0 else _INFINITY
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - s1 * hhh) % P, h * z1 * z2 % P


def _affine(pt) -> "tuple[int, int] | None":
    x, y, z = pt
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def _multiply(k: int, point: "tuple[int, int]") -> "tuple[int, int] | None":
    """Return k * point (affine), by double-and-add over k's bits."""
    result, addend = _INFINITY, (point[0], point[1], 1)
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _double(addend)
        k >>= 1
    return _affine(result)


def _multiply_add(a: int, p1: "tuple[int, int]", b: int, p2: "tuple[int, int]") -> "tuple[int, int] | None":
    """Return a*p1 + b*p2 in one pass (Shamir's trick), as ECDSA verification needs."""
    j1, j2 = (p1[0], p1[1], 1), (p2[0], p2[1], 1)
    both = _add(j1, j2)
    result = _INFINITY
    for i in range(max(a.bit_length(), b.bit_length()) - 1, -1, -1):
        result = _double(result)
        bits = ((a >> i) & 1, (b >> i) & 1)
        if bits == (1, 1):
            result = _add(result, both)
        elif bits == (1, 0):
            result = _add(result, j1)
        elif bits == (0, 1):
            result = _add(result, j2)
    return _affine(result)


def on_curve(point: "tuple[int, int]") -> bool:
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x - 3 * x + B)) % P == 0


# --- keys ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicKey:
    """A P-256 public key: the point (x, y)."""

    x: int
    y: int

    def point_bytes(self) -> bytes:
        """Return the uncompressed point 0x04 || X || Y (SEC 1 section 2.3.3)."""
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def spki_der(self) -> bytes:
        """Return the SubjectPublicKeyInfo (RFC 5480) in DER."""
        return der.sequence(der.sequence(der.oid(OID_EC_PUBLIC_KEY), der.oid(OID_P256)),
                            der.bit_string(self.point_bytes()))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return True when `signature` (raw r||s, 64 bytes) signs sha256(`message`) with this key."""
        if len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < N and 0 < s < N):
            return False
        e = int.from_bytes(hashlib.sha256(message).digest(), "big")
        w = pow(s, -1, N)
        point = _multiply_add(e * w % N, G, r * w % N, (self.x, self.y))
        return point is not None and point[0] % N == r

    @classmethod
    def from_spki_der(cls, data: bytes) -> "PublicKey":
        """Return the key of a DER SubjectPublicKeyInfo; ValueError unless it is a P-256 key."""
        tag, content, _ = der.read(data)
        (t1, alg, _), (t2, bits, _) = der.items(content)
        if tag != der.SEQUENCE or t1 != der.SEQUENCE or t2 != der.BIT_STRING:
            raise ValueError("not a SubjectPublicKeyInfo")
        if [v for _, v, _ in der.items(alg)] != [der.read(der.oid(OID_EC_PUBLIC_KEY))[1],
                                                 der.read(der.oid(OID_P256))[1]]:
            raise ValueError("not a P-256 public key")
        return cls.from_point_bytes(bits[1:])

    @classmethod
    def from_point_bytes(cls, data: bytes) -> "PublicKey":
        if len(data) != 65 or data[0] != 4:
            raise ValueError("not an uncompressed P-256 point")
        key = cls(int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big"))
        if not on_curve((key.x, key.y)):
            raise ValueError("the point is not on P-256")
        return key


@dataclass(frozen=True)
class PrivateKey:
    """A P-256 private key: the scalar d, 1 <= d < n."""

    d: int

    def __post_init__(self):
        if not 0 < self.d < N:
            raise ValueError("a P-256 private key is a number from 1 to n-1")

    def __repr__(self) -> str:  # never print the secret
        return f"PrivateKey(public={self.public_key()})"

    @classmethod
    def generate(cls) -> "PrivateKey":
        return cls(secrets.randbelow(N - 1) + 1)

    def public_key(self) -> PublicKey:
        x, y = _multiply(self.d, G)
        return PublicKey(x, y)

    def sign(self, message: bytes) -> bytes:
        """Return the raw r||s signature (64 bytes, as JWS wants) of sha256(`message`)."""
        digest = hashlib.sha256(message).digest()
        e = int.from_bytes(digest, "big")
        for k in _rfc6979_nonces(self.d, digest):
            point = _multiply(k, G)
            r = point[0] % N
            s = pow(k, -1, N) * (e + r * self.d) % N
            if r and s:
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        raise AssertionError("unreachable: RFC 6979 yields nonces until one works")  # pragma: no cover

    def pkcs8_der(self) -> bytes:
        """Return the key as PKCS #8 PrivateKeyInfo (RFC 5208) holding an RFC 5915 ECPrivateKey."""
        ec_private_key = der.sequence(der.integer(1), der.octet_string(self.d.to_bytes(32, "big")),
                                      der.explicit(1, der.bit_string(self.public_key().point_bytes())))
        return der.sequence(der.integer(0), der.sequence(der.oid(OID_EC_PUBLIC_KEY), der.oid(OID_P256)),
                            der.octet_string(ec_private_key))

    def pem(self) -> bytes:
        """Return the key as `-----BEGIN PRIVATE KEY-----` PEM (PKCS #8), as cryptography and openssl write it."""
        return der.pem("PRIVATE KEY", self.pkcs8_der())

    @classmethod
    def from_pem(cls, text: "bytes | str") -> "PrivateKey":
        """Return the key of a PKCS #8 (`PRIVATE KEY`) or SEC 1 (`EC PRIVATE KEY`) PEM; ValueError otherwise."""
        for label, data in der.unpem(text):
            if label == "PRIVATE KEY":
                _, content, _ = der.read(data)
                _version, (_, alg, _), (tag, inner, _) = der.items(content)[:3]
                if tag != der.OCTET_STRING or der.read(der.oid(OID_P256))[1] not in [v for _, v, _ in der.items(alg)]:
                    raise ValueError("not a P-256 key")
                return cls._from_ec_private_key(inner)
            if label == "EC PRIVATE KEY":
                return cls._from_ec_private_key(data)
        raise ValueError("no PRIVATE KEY or EC PRIVATE KEY block")

    @classmethod
    def _from_ec_private_key(cls, data: bytes) -> "PrivateKey":
        _, content, _ = der.read(data)
        fields = der.items(content)
        if len(fields) < 2 or fields[1][0] != der.OCTET_STRING:
            raise ValueError("not an ECPrivateKey")
        return cls(int.from_bytes(fields[1][1], "big"))


def _rfc6979_nonces(d: int, digest: bytes):
    """Yield the deterministic nonces of RFC 6979 section 3.2 for key `d` and a SHA-256 `digest`."""
    x = d.to_bytes(32, "big")
    h = (int.from_bytes(digest, "big") % N).to_bytes(32, "big")  # bits2octets
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        candidate = int.from_bytes(v, "big")
        if 0 < candidate < N:
            yield candidate
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


# --- signatures in X.509's form ------------------------------------------------------------------------

def raw_to_der(signature: bytes) -> bytes:
    """Return a raw r||s signature as the DER ECDSA-Sig-Value X.509 uses (SEQUENCE of two INTEGERs)."""
    return der.sequence(der.integer(int.from_bytes(signature[:32], "big")),
                        der.integer(int.from_bytes(signature[32:], "big")))


def der_to_raw(data: bytes) -> bytes:
    """Return the raw r||s form of a DER ECDSA-Sig-Value."""
    _, content, _ = der.read(data)
    (_, r, _), (_, s, _) = der.items(content)
    return der.read_integer(r).to_bytes(32, "big") + der.read_integer(s).to_bytes(32, "big")


# --- a self-signed certificate -------------------------------------------------------------------------

def self_signed_certificate(key: PrivateKey, common_name: str, days: int = 3650,
                            now: "datetime | None" = None) -> bytes:
    """Return a DER X.509 v3 certificate of `key`'s public key, signed by `key` itself (RFC 5280)."""
    now = now or datetime.now(timezone.utc)
    name = der.sequence(der.set_of(der.sequence(der.oid(OID_COMMON_NAME), der.utf8_string(common_name))))
    algorithm = der.sequence(der.oid(OID_ECDSA_SHA256))
    serial = secrets.randbits(159) | 1 << 158  # positive, at most 20 octets (RFC 5280 section 4.1.2.2)
    tbs = der.sequence(der.explicit(0, der.integer(2)), der.integer(serial), algorithm, name,
                       der.sequence(der.time_value(now - timedelta(days=1)), der.time_value(now + timedelta(days=days))),
                       name, key.public_key().spki_der())
    return der.sequence(tbs, algorithm, der.bit_string(raw_to_der(key.sign(tbs))))


def certificate_public_key(cert_der: bytes) -> PublicKey:
    """Return the public key a DER X.509 certificate certifies; ValueError when it holds no P-256 key."""
    _, cert, _ = der.read(cert_der)
    _, tbs, _ = der.read(cert)
    fields = der.items(tbs)
    if fields and fields[0][0] == 0xA0:  # the optional [0] version
        fields = fields[1:]
    if len(fields) < 6:
        raise ValueError("not an X.509 certificate")
    return PublicKey.from_spki_der(fields[5][2])


def libtrust_key_id(key: PublicKey) -> str:
    """Return docker's libtrust key ID: sha256 of the DER public key, 30 bytes, base32, groups of 4."""
    import base64

    b32 = base64.b32encode(hashlib.sha256(key.spki_der()).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))
