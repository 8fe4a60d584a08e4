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
from pathlib import Path
from typing import Iterable, Mapping

from .. import platform
from ..errors import LabkitError
from ..fsutil import atomic_write_bytes
from . import der, es256

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
    digest = pbkdf2_sha256(password.encode(), salt, iterations)
    return "$".join(("pbkdf2_sha256", str(iterations), _b64(salt), _b64(digest)))


def pbkdf2_sha256(password: bytes, salt: bytes, iterations: int) -> bytes:
    """Return PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2), 32 bytes: hashlib's, or the same in Python where
    hashlib has none (Pyodide's hashlib is built without OpenSSL)."""
    if hasattr(hashlib, "pbkdf2_hmac"):
        return hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    # HMAC (RFC 2104) by hand, as CPython 3.11's pure-Python fallback did: the keyed inner and outer
    # hashes are made once and copied for every iteration.
    key = (hashlib.sha256(password).digest() if len(password) > 64 else password).ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def prf(message: bytes) -> bytes:
        i, o = inner.copy(), outer.copy()
        i.update(message)
        o.update(i.digest())
        return o.digest()

    block = prf(salt + (1).to_bytes(4, "big"))  # one block: SHA-256 gives the 32 bytes asked for
    total = int.from_bytes(block, "big")
    for _ in range(iterations - 1):
        block = prf(block)
        total ^= int.from_bytes(block, "big")
    return total.to_bytes(32, "big")


def is_password_hash(value: str) -> bool:
    """Return True when `value` looks like a hash made by hash_password (not a plain password)."""
    return value.startswith("pbkdf2_sha256$") and value.count("$") == 3


def check_password(stored: str, password: str) -> bool:
    """Return True when `password` matches `stored` (a hash_password string)."""
    try:
        _scheme, iterations, salt, expected = stored.split("$")
        digest = pbkdf2_sha256(password.encode(), _unb64(salt), int(iterations))
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


def libtrust_kid(public_key: es256.PublicKey) -> str:
    """Return the key ID docker's libtrust derives: sha256 of the DER public key, 30 bytes, base32, 4-groups."""
    return es256.libtrust_key_id(public_key)


def generate_key() -> es256.PrivateKey:
    """Return a new P-256 private key (for ES256)."""
    return es256.PrivateKey.generate()


def load_or_create_key(path: "str | os.PathLike") -> es256.PrivateKey:
    """Return the P-256 key kept in `path` (PEM, mode 0600), creating it on first use."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        pem = generate_key().pem()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            if platform.can_hard_link():
                try:
                    os.link(tmp, path)  # first writer wins when two servers start at once
                except FileExistsError:
                    pass
            else:  # one process (the browser): nobody to race with
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    os.chmod(path, 0o600)
    try:
        return es256.PrivateKey.from_pem(path.read_bytes())
    except ValueError as e:
        raise LabkitError(f"load the registry's token key {path}: {e}") from None


def ensure_certificate(key: es256.PrivateKey, path: "str | os.PathLike", days: int = 3650) -> Path:
    """Return `path`, writing a self-signed PEM certificate of `key` there unless one for it exists.

    The distribution registry only trusts token signers through certificates (`rootcertbundle`).
    """
    path = Path(path)
    public = key.public_key()
    if path.exists():
        try:
            if any(label == "CERTIFICATE" and es256.certificate_public_key(data) == public
                   for label, data in der.unpem(path.read_bytes())):
                return path
        except ValueError:
            pass
    cert = es256.self_signed_certificate(key, "labkit lab registry token signer", days=days)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(path, der.pem("CERTIFICATE", cert), mode=0o644)
    return path


def _es256_sign(key: es256.PrivateKey, signing_input: bytes) -> bytes:
    # JWS (RFC 7518 section 3.4) wants raw r||s, 32 bytes each, which es256 returns.
    return key.sign(signing_input)


def _es256_verify(public_key: es256.PublicKey, signing_input: bytes, signature: bytes) -> bool:
    return public_key.verify(signing_input, signature)


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
