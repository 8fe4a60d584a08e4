"""Credentials and bearer tokens of the lab registry: password hashes, the ES256 signing key, JWTs, scopes.

The token flow is Docker's (distribution `docs/spec/auth/token.md`, `jwt.md`): a client that gets a 401
asks the realm (`/token`) for a JWT naming the access it needs; the registry checks the signature, the
issuer, the audience, the validity window and the `access` claim on every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import LabkitError
from ..fsutil import atomic_write_bytes

ISSUER = "labkit-token-issuer"
SERVICE = "labkit-registry"
TOKEN_TTL = 300  # seconds; Docker Hub hands out 300 s tokens too

LAB_USER = "lab"
LAB_PASSWORD = "labkit"

# Actions a signed-in user may get on any repository, and the anonymous user's.
USER_ACTIONS = ("pull", "push", "delete")
ANONYMOUS_ACTIONS = ("pull",)

_PBKDF2_ITERATIONS = 60_000


class TokenError(LabkitError):
    """A bearer token that is malformed, forged, expired or meant for someone else."""


# --- passwords -----------------------------------------------------------------------------------

def hash_password(password: str, *, salt: bytes | None = None, iterations: int = _PBKDF2_ITERATIONS) -> str:
    """Return a stored hash `pbkdf2_sha256$<iterations>$<salt>$<hash>` (base64) of `password`."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$".join(("pbkdf2_sha256", str(iterations), _b64(salt), _b64(digest)))


def is_password_hash(value: str) -> bool:
    """Return True when `value` looks like a hash made by hash_password (not a plain password)."""
    return value.startswith("pbkdf2_sha256$") and value.count("$") == 3


def check_password(stored: str, password: str) -> bool:
    """Return True when `password` matches `stored` (a hash_password string)."""
    try:
        _scheme, iterations, salt, expected = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


def load_users(path: "str | os.PathLike") -> dict[str, str]:
    """Return {user: stored hash} from an htpasswd-like file of `user:pbkdf2_sha256$...` lines."""
    users = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, stored = line.partition(":")
        if not sep or not is_password_hash(stored):
            raise LabkitError(f"read users file {path}: line {line!r} is not user:pbkdf2_sha256$...")
        users[user] = stored
    return users


class Users:
    """The registry's accounts: checks Basic credentials against stored hashes (with a small memo)."""

    def __init__(self, users: "Mapping[str, str] | None" = None):
        users = {LAB_USER: LAB_PASSWORD} if users is None else users
        self._hashes = {u: (p if is_password_hash(p) else hash_password(p)) for u, p in users.items()}
        self._memo: set[tuple[str, bytes]] = set()
        self._lock = threading.Lock()

    def __contains__(self, user: str) -> bool:
        return user in self._hashes

    def check(self, user: str, password: str) -> bool:
        """Return True when `user` exists and `password` is theirs."""
        stored = self._hashes.get(user)
        if stored is None:
            return False
        # PBKDF2 is slow on purpose; a push makes dozens of requests with the same credentials.
        key = (user, hashlib.sha256(stored.encode() + b"\0" + password.encode()).digest())
        with self._lock:
            if key in self._memo:
                return True
        if not check_password(stored, password):
            return False
        with self._lock:
            self._memo.add(key)
        return True


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return (user, password) from an `Authorization: Basic ...` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


# --- scopes and access ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Access:
    """One entry of a token's `access` claim: a resource type and name, and the actions allowed on it."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse_scope(cls, scope: str) -> "Access":
        """Return the Access asked for by a scope `type:name:action,action` (`repository:x/y:pull,push`)."""
        rtype, sep, rest = scope.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2 and rtype and name):
            raise ValueError(f"invalid scope {scope!r}: expected type:name:actions")
        return cls(rtype, name, tuple(a for a in actions.split(",") if a))

    def scope(self) -> str:
        """Return this access as scope text (the form of the challenge's `scope` parameter)."""
        return f"{self.type}:{self.name}:{','.join(self.actions)}"

    def to_json(self) -> dict:
        """Return the claim form {"type", "name", "actions"}."""
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


def parse_scopes(values: Iterable[str]) -> list[Access]:
    """Return the Access entries of `scope` query values (each may hold several, space-separated)."""
    out = []
    for value in values:
        for part in value.split():
            out.append(Access.parse_scope(part))
    return out


def grant(user: str | None, requested: Iterable[Access]) -> list[Access]:
    """Return what the lab's policy grants `user` (None = anonymous) out of `requested`.

    Anonymous: pull on every repository; signed-in users: pull, push and delete on every repository;
    both: the catalog (`registry:catalog:*`), since anonymous users can pull every name anyway.
    """
    allowed = set(USER_ACTIONS if user else ANONYMOUS_ACTIONS)
    granted = []
    for acc in requested:
        if acc.type == "repository":
            wanted = set(acc.actions)
            if "*" in wanted:
                wanted = set(USER_ACTIONS)
            actions = tuple(a for a in ("pull", "push", "delete") if a in wanted and a in allowed)
        elif acc.type == "registry" and acc.name == "catalog":
            actions = ("*",) if acc.actions else ()
        else:
            actions = ()
        if actions:
            granted.append(Access(acc.type, acc.name, actions))
    return granted


def allows(access_claim: object, needed: Access) -> bool:
    """Return True when a token's `access` claim covers every action of `needed` (`*` covers all)."""
    if not isinstance(access_claim, list):
        return False
    have: set[str] = set()
    for entry in access_claim:
        if (isinstance(entry, dict) and entry.get("type") == needed.type and entry.get("name") == needed.name
                and isinstance(entry.get("actions"), list)):
            have.update(a for a in entry["actions"] if isinstance(a, str))
    return "*" in have or all(a in have for a in needed.actions)


# --- keys and JWTs -------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def b64url(data: bytes) -> str:
    """Return unpadded base64url text (JWS encoding, RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Return the bytes of unpadded base64url text; ValueError when it is not base64url."""
    if not isinstance(text, str) or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def libtrust_kid(public_key) -> str:
    """Return the key ID docker's libtrust derives: sha256 of the DER public key, 30 bytes, base32, 4-groups."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


def generate_key():
    """Return a new P-256 private key (for ES256)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def load_or_create_key(path: "str | os.PathLike"):
    """Return the P-256 key kept in `path` (PEM, mode 0600), creating it on first use."""
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        pem = generate_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # first writer wins when two servers start at once
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    os.chmod(path, 0o600)
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as e:
        raise LabkitError(f"load the registry's token key {path}: {e}") from None


def ensure_certificate(key, path: "str | os.PathLike", days: int = 3650) -> Path:
    """Return `path`, writing a self-signed PEM certificate of `key` there unless one for it exists.

    The distribution registry only trusts token signers through certificates (`rootcertbundle`).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    path = Path(path)
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if path.exists():
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            if cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo) == spki:
                return path
        except ValueError:
            pass
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labkit lab registry token signer")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
            .sign(key, hashes.SHA256()))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return path


def _es256_sign(key, signing_input: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    # JWS (RFC 7518 section 3.4) wants raw r||s, 32 bytes each, not the DER that cryptography returns.
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _es256_verify(public_key, signing_input: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if len(signature) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def encode_jwt(key, claims: Mapping, kid: str | None = None) -> str:
    """Return a compact ES256 JWS of `claims` signed with `key`, with the libtrust `kid` in its header."""
    header = {"typ": "JWT", "alg": "ES256", "kid": kid or libtrust_kid(key.public_key())}
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode())
                             for part in (header, dict(claims)))
    return signing_input + "." + b64url(_es256_sign(key, signing_input.encode()))


def decode_jwt_unverified(token: str) -> tuple[dict, dict]:
    """Return (header, claims) of a compact JWS without checking anything (for teaching and tests)."""
    try:
        header_b64, claims_b64, _sig = token.split(".")
        return json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))
    except ValueError as e:
        raise TokenError(f"decode token: not a compact JWS ({e})") from None


class TokenIssuer:
    """Signs and checks the lab registry's tokens with one ES256 key."""

    def __init__(self, key, issuer: str = ISSUER, service: str = SERVICE, ttl: int = TOKEN_TTL, leeway: int = 60):
        self.key = key
        self.public_key = key.public_key()
        self.kid = libtrust_kid(self.public_key)
        self.issuer = issuer
        self.service = service
        self.ttl = ttl
        self.leeway = leeway

    @classmethod
    def from_root(cls, root: "str | os.PathLike", **kw) -> "TokenIssuer":
        """Return the issuer whose key lives in the registry root (created at first start)."""
        return cls(load_or_create_key(key_path(root)), **kw)

    def issue(self, subject: str | None, access: Iterable[Access], *, ttl: int | None = None,
              now: int | None = None, audience: str | None = None) -> str:
        """Return a signed token for `subject` ("" when anonymous) carrying `access`."""
        # Real time, not labkit.clock: LABKIT_NOW pins what notebooks print, while tokens must also
        # be accepted by clients and registries that read the wall clock.
        now = int(time.time()) if now is None else int(now)
        claims = {
            "iss": self.issuer,
            "sub": subject or "",
            "aud": audience or self.service,  # a plain string: distribution rejects a list here
            "exp": now + (self.ttl if ttl is None else ttl),
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [a.to_json() for a in access],
        }
        return encode_jwt(self.key, claims, self.kid)

    def verify(self, token: str, *, now: int | None = None) -> dict:
        """Return the claims of `token`, or raise TokenError saying which check failed."""
        try:
            header_b64, claims_b64, sig_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            signature = b64url_decode(sig_b64)
        except ValueError:
            raise TokenError("verify token: not a compact JWS") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenError("verify token: header and claims must be JSON objects")
        if header.get("alg") != "ES256":
            raise TokenError(f"verify token: algorithm {header.get('alg')!r} is not ES256")
        if header.get("kid") != self.kid:
            raise TokenError(f"verify token: unknown signing key {header.get('kid')!r}")
        if not _es256_verify(self.public_key, f"{header_b64}.{claims_b64}".encode(), signature):
            raise TokenError("verify token: bad signature")
        if claims.get("iss") != self.issuer:
            raise TokenError(f"verify token: issuer {claims.get('iss')!r} is not {self.issuer!r}")
        aud = claims.get("aud")
        if aud != self.service and not (isinstance(aud, list) and self.service in aud):
            raise TokenError(f"verify token: audience {aud!r} is not {self.service!r}")
        now = int(time.time()) if now is None else now
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int) or not isinstance(nbf, int):
            raise TokenError("verify token: exp and nbf must be integers")
        if now > exp + self.leeway:
            raise TokenError("verify token: expired")
        if now + self.leeway < nbf:
            raise TokenError("verify token: not valid yet")
        return claims


def key_path(root: "str | os.PathLike") -> Path:
    """Return where the registry keeps its token signing key inside its root."""
    return Path(root) / ".labkit-registry" / "token-key.pem"
