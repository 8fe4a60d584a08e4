"""A small token server for tests: signs ES256 JWTs that the real distribution registry accepts.

Recipe (distribution: docs/spec/auth/jwt.md and its token access controller, registry/auth/token): the
registry's `rootcertbundle` holds a self-signed PEM certificate; the JWT header names the key with a libtrust
`kid`; claims are iss, aud (a plain string), integer exp/nbf/iat and `access` = [{type, name, actions}]. The
signature is raw r||s (JWS, RFC 7518 section 3.4), not DER.

    ts = TokenServer(tmp_path, users={"alice": "s3cret"}).start()
    start_distribution_registry(tmp_path, {"auth": ts.registry_auth_config()})
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def libtrust_kid(public_key) -> str:
    """Return the libtrust key ID: base32 of the first 30 bytes of sha256(DER SPKI), in groups of 4 joined by ':'."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class TokenServer:
    """An HTTP token endpoint on 127.0.0.1 issuing ES256 JWTs for the distribution registry.

    users: {name: password}; None means anonymous requests get tokens too. policy(user, type, name,
    actions) -> granted actions (default: everything asked for). insufficient_first=True makes the first
    token for each scope grant nothing, so the registry answers error="insufficient_scope".
    """

    def __init__(self, tmp_path: Path, *, users: dict | None = None, policy=None, issuer: str = "labkit-test-issuer",
                 service: str = "labkit-test-registry", expires_in: int | None = 300,
                 insufficient_first: bool = False):
        self.dir = Path(tmp_path) / f"tokenserver-{secrets.token_hex(4)}"
        self.dir.mkdir(parents=True)
        self.users = users
        self.policy = policy or (lambda user, typ, name, actions: actions)
        self.issuer = issuer
        self.service = service
        self.expires_in = expires_in
        self.insufficient_first = insufficient_first
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user (offline logins, spec/auth/oauth.md)
        self.requests: list[dict] = []  # what each token request asked for (no passwords)
        self._scopes_seen: set[str] = set()
        self._lock = threading.Lock()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = libtrust_kid(self.key.public_key())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labkit test token signer")])
        now = _dt.datetime.now(_dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - _dt.timedelta(days=1)).not_valid_after(now + _dt.timedelta(days=30))
                .sign(self.key, hashes.SHA256()))
        self.cert_path = self.dir / "root.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._server = None
        self._thread = None

    def starve_first_tokens(self) -> None:
        """From now on, the first token for each scope grants nothing (the registry says insufficient_scope)."""
        with self._lock:
            self.insufficient_first = True
            self._scopes_seen.clear()

    # -- JWT -----------------------------------------------------------------------------------------
    def sign(self, claims: dict) -> str:
        """Return a compact ES256 JWS of `claims` with a libtrust kid header."""
        header = {"typ": "JWT", "alg": "ES256", "kid": self.kid}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def issue(self, user: str | None, scopes: list[str]) -> str:
        """Return a token granting what the policy allows of `scopes` to `user`."""
        access = []
        for scope in scopes:
            typ, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            with self._lock:
                first = scope not in self._scopes_seen
                self._scopes_seen.add(scope)
            granted = [] if (self.insufficient_first and first) else list(self.policy(user, typ, name, wanted))
            access.append({"type": typ, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + 600,
                  "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
        return self.sign(claims)

    # -- HTTP ----------------------------------------------------------------------------------------
    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path != "/token":
                    self.send_error(404)
                    return
                params = parse_qsl(parts.query)
                scopes = [v for k, v in params if k == "scope"]
                service = next((v for k, v in params if k == "service"), None)
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    try:
                        u, _, p = base64.b64decode(header[6:]).decode().partition(":")
                    except ValueError:
                        u, p = "", ""
                    if server.users is None or server.users.get(u) != p:
                        server.requests.append({"scopes": scopes, "service": service, "user": u, "ok": False})
                        return self._reply(401, {"details": "incorrect username or password"})
                    user = u
                elif server.users is not None and not server.allow_anonymous:
                    server.requests.append({"scopes": scopes, "service": service, "user": None, "ok": False})
                    return self._reply(401, {"details": "authentication required"})
                server.requests.append({"scopes": scopes, "service": service, "user": user, "ok": True})
                body = {"token": server.issue(user, scopes), "issued_at":
                        _dt.datetime.now(_dt.timezone.utc).isoformat()}
                if server.expires_in is not None:
                    body["expires_in"] = server.expires_in
                if user and dict(params).get("offline_token") == "true":  # docker login asks for one
                    body["refresh_token"] = server.new_refresh_token(user)
                self._reply(200, body)

            def do_POST(self):
                """The OAuth2 token endpoint (distribution docs, spec/auth/oauth.md): refresh_token and password
                grants, form-encoded; answers access_token (and a refresh_token for access_type=offline)."""
                if urlsplit(self.path).path != "/token":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                grant = form.get("grant_type", "")
                scopes = [s for s in form.get("scope", "").split(" ") if s]
                user = None
                if grant == "refresh_token":
                    user = server.refresh_tokens.get(form.get("refresh_token", ""))
                elif grant == "password" and server.users is not None:
                    name = form.get("username", "")
                    user = name if server.users.get(name) == form.get("password") else None
                record = {"scopes": scopes, "service": form.get("service"), "user": user, "grant": grant,
                          "client_id": form.get("client_id"), "ok": user is not None}
                server.requests.append(record)
                if user is None:
                    return self._reply(401 if grant == "password" else 400, {"error": "invalid_grant"})
                body = {"access_token": server.issue(user, scopes), "scope": " ".join(scopes),
                        "issued_at": _dt.datetime.now(_dt.timezone.utc).isoformat()}
                if server.expires_in is not None:
                    body["expires_in"] = server.expires_in
                if form.get("access_type") == "offline":
                    body["refresh_token"] = server.new_refresh_token(user)
                self._reply(200, body)

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    allow_anonymous = False

    def new_refresh_token(self, user: str) -> str:
        """Return a new refresh token standing for `user`."""
        token = "rt-" + secrets.token_hex(16)
        with self._lock:
            self.refresh_tokens[token] = user
        return token

    def start(self) -> "TokenServer":
        """Start serving on a free port of 127.0.0.1 in a daemon thread; return self."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    @property
    def realm(self) -> str:
        """Return the token endpoint URL (the challenge's realm)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def registry_auth_config(self) -> dict:
        """Return the `auth:` section for the distribution registry's config.yml."""
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.cert_path)}}

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
