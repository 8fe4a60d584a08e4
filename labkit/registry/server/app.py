"""The lab registry's lifecycle: LabRegistry over an OCI image layout, serving from a thread or the foreground,
or, where nothing can listen on a socket (the browser), inside this process (registry.transport).

Its root is one OCI image layout holding every repository; the token signing key lives in
`ROOT/.labkit-registry/token-key.pem` (mode 0600).
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import types
from pathlib import Path
from typing import Callable, Mapping

from ... import platform
from ...digest import Digest
from ...errors import LabkitError
from ...oci.mediatypes import OCI_INDEX, OCI_MANIFEST
from .. import tokens, transport
from .access import REALM_PATH
from .handler import RegistryHandler
from .listener import Listener
from .manifests import manifest_references, parse_manifest_reference
from .names import valid_name
from .problems import ERROR_MESSAGES, RegistryProblem
from .repositories import Repositories
from .uploads import UPLOAD_TTL, Uploads

log = logging.getLogger(__name__)

STATE_DIR = ".labkit-registry"
AUTH_MODES = ("none", "basic", "token")


def parse_addr(addr: str) -> tuple[str, int]:
    """Return (host, port) from `host:port`, `[v6]:port` or `:port` (host defaults to 127.0.0.1)."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise LabkitError(f"parse registry address {addr!r}: expected HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port_no = int(port)
    except ValueError:
        raise LabkitError(f"parse registry address {addr!r}: port {port!r} is not a number") from None
    if not 0 <= port_no <= 65535:
        raise LabkitError(f"parse registry address {addr!r}: port {port_no} out of range")
    return host, port_no


def is_loopback(host: str) -> bool:
    """Return True when `host` is `localhost` or a loopback IP address."""
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LabRegistry:
    """The lab registry over the OCI layout at `root`; `start()` serves it from a background thread.

    auth: "none"; "basic" (any user of `users` may do anything); "token" (Docker's bearer tokens from
    this server's own realm `/token`: anonymous users may pull every repository, users of `users` may
    pull, push and delete; both may list the catalog). `users` maps names to passwords or to
    tokens.hash_password() strings; when None, `ROOT/.labkit-registry/users` (lines `user:pbkdf2_sha256$...`)
    if it exists, else {"lab": "labkit"}. `read_only` answers writes 403 DENIED (a seeded mirror stays intact).
    """

    def __init__(self, root: "str | os.PathLike", addr: str = "127.0.0.1:5000", auth: str = "none",
                 users: Mapping[str, str] | None = None, *, read_only: bool = False,
                 access_log: "Callable[[str], None] | io.TextIOBase | None" = None,
                 upload_ttl: float = UPLOAD_TTL, token_ttl: int = tokens.TOKEN_TTL,
                 allow_remote: bool = False, identity: "bytes | None" = None):
        from ...store import OciLayout

        if auth not in AUTH_MODES:
            raise LabkitError(f"start lab registry: auth mode {auth!r} is not one of {', '.join(AUTH_MODES)}")
        self.root = Path(root)
        self.host, self.port = parse_addr(addr)
        if not allow_remote and not is_loopback(self.host):
            raise LabkitError(f"start lab registry on {addr}: only loopback addresses unless allow_remote=True")
        self.auth = auth
        self.read_only = read_only
        self.identity = identity  # the home's secret, proved at /_labkit/identity (server/identity.py)
        self.root.mkdir(parents=True, exist_ok=True)
        self.layout = OciLayout(self.root)
        self.layout.ensure_layout()
        self.repos = Repositories(self.layout)
        self.state_dir = self.root / STATE_DIR
        self.uploads = Uploads(self.layout.tmp_dir / "uploads", ttl=upload_ttl)
        users_file = self.state_dir / "users"
        if users is None and users_file.exists():
            users = tokens.load_users(users_file)
        self.users = tokens.Users(users)
        self.issuer = None
        if auth == "token":
            self.issuer = tokens.TokenIssuer.from_root(self.root, ttl=token_ttl)
            tokens.ensure_certificate(self.issuer.key, self.certificate_path)
        self._access_log = access_log
        self._server: Listener | None = None
        self._thread: threading.Thread | None = None
        self._in_process: list[str] = []  # the addresses served in-process (see start)

    # lifecycle ----------------------------------------------------------------------------------
    def bind(self) -> "LabRegistry":
        """Open the listening socket (port 0 picks a free port) without serving yet; return self."""
        if self._server is None:
            try:
                self._server = Listener((self.host, self.port), RegistryHandler, self)
            except OSError as e:
                raise LabkitError(f"start lab registry on {self.host}:{self.port}: {e.strerror or e}") from None
            self.port = self._server.server_address[1]
        return self

    def start(self) -> "LabRegistry":
        """Serve in a background thread; return self (`.url` tells where).

        Where nothing can listen (the browser), serve in-process instead: every requests Session of this
        process reaches the registry's handler at `.url` directly (port 0 picks an unused number).
        """
        if not platform.can_listen():
            return self.serve_in_process()
        self.bind()
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"labkit-registry:{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_in_process(self) -> "LabRegistry":
        """Answer requests for `.url` inside this process, with no socket (registry.transport); return self."""
        if not self._in_process:
            if self.port == 0:
                self.port = transport.free_port(self.host)
            server = types.SimpleNamespace(registry=self, server_address=(self.host, self.port))
            addresses = [self.address]
            if is_loopback(self.host) and self.host != "localhost":
                addresses.append(f"localhost:{self.port}")  # as a socket on 127.0.0.1 answers localhost
            transport.serve(addresses, transport.InProcessAdapter(RegistryHandler, server))
            self._in_process = addresses
        return self

    @property
    def in_process(self) -> bool:
        """Return True while this registry is served in-process (no socket)."""
        return bool(self._in_process)

    def serve_forever(self) -> None:
        """Serve in this thread until stop() or KeyboardInterrupt."""
        self.bind()
        try:
            self._server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, hang up open connections and close the socket."""
        if self._in_process:
            transport.withdraw(self._in_process)
            self._in_process = []
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._server is not None:
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "LabRegistry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def stale(self) -> bool:
        """Return True when the registry's root is gone (its home was deleted under it)."""
        return not (self.root / "index.json").is_file()

    @property
    def url(self) -> str:
        """Return the base URL, e.g. `http://127.0.0.1:5000`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def address(self) -> str:
        """Return `host:port`, the registry part of image references (`127.0.0.1:5000/repo:tag`)."""
        return self.url.removeprefix("http://")

    @property
    def certificate_path(self) -> Path:
        """Return the self-signed certificate of the token key (token mode), for another registry's
        `auth.token.rootcertbundle`: the real distribution registry can trust this realm."""
        return self.state_dir / "token-cert.pem"

    @property
    def realm(self) -> str:
        """Return the token realm URL (`<url>/token`)."""
        return self.url + REALM_PATH

    def __repr__(self) -> str:
        return f"LabRegistry(root={str(self.root)!r}, url={self.url!r}, auth={self.auth!r})"

    # helpers for notebooks and tests -----------------------------------------------------------
    def issue_token(self, subject: str | None, scopes: "list[str]", **kw) -> str:
        """Return a token granting what the policy gives `subject` (None = anonymous) for `scopes`."""
        if self.issuer is None:
            raise LabkitError("issue token: the lab registry runs without token auth")
        return self.issuer.issue(subject, tokens.grant(subject, tokens.parse_scopes(scopes)), **kw)

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str | None = None) -> Digest:
        """Check and store a manifest under a tag or its digest (as a PUT does); return its digest.

        Raises RegistryProblem (MANIFEST_INVALID, MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID, TAG_INVALID,
        NAME_INVALID) when the registry would refuse it. Seeding code stores blobs with layout.put_bytes first.
        """
        if not valid_name(repo):
            raise RegistryProblem(400, "NAME_INVALID", detail={"name": repo})
        tag, digest = parse_manifest_reference(reference)
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            raise RegistryProblem(400, "MANIFEST_INVALID", f"manifest is not valid JSON: {e}") from None
        if doc.get("schemaVersion") != 2:
            raise RegistryProblem(400, "MANIFEST_INVALID",
                                  f"schemaVersion {doc.get('schemaVersion')!r} is not supported (need 2)")
        media_type = (media_type or "").split(";")[0].strip()
        if not media_type or media_type in ("application/octet-stream", "application/json"):
            media_type = doc.get("mediaType") or (OCI_INDEX if "manifests" in doc else OCI_MANIFEST)
        if doc.get("mediaType") and doc["mediaType"] != media_type:
            raise RegistryProblem(400, "MANIFEST_INVALID",
                                  f"Content-Type {media_type} differs from the manifest's mediaType {doc['mediaType']}")
        missing = [d for d in manifest_references(doc) if not self.layout.has_blob(Digest.parse(d))]
        if missing:
            raise RegistryProblem(400, "MANIFEST_BLOB_UNKNOWN", errors=[
                {"code": "MANIFEST_BLOB_UNKNOWN", "message": ERROR_MESSAGES["MANIFEST_BLOB_UNKNOWN"],
                 "detail": {"digest": d}} for d in missing])
        actual = Digest.of(raw)
        if digest is not None and str(actual) != digest:
            wanted = Digest.parse(digest)
            if Digest.of(raw, wanted.algorithm) != wanted:
                raise RegistryProblem(400, "DIGEST_INVALID", f"manifest digest is {actual}, not {digest}",
                                      detail={"digest": digest})
            actual = wanted
        with self.layout.claim([actual]):  # kept from gc until index.json records it
            self.layout.put_bytes(raw, expected=actual)
            self.repos.put(repo, tag, media_type, str(actual), len(raw))
        return actual

    def gc(self, grace: float = 3600.0) -> list[Digest]:
        """Remove blobs no recorded manifest reaches; return them. Blobs younger than `grace` seconds stay:
        a push uploads its blobs before the manifest that references them."""
        return self.layout.gc(grace=grace)

    def log_access(self, line: str) -> None:
        """Write one access-log line when an access log was asked for."""
        sink = self._access_log
        if sink is None:
            return
        try:
            if callable(sink):
                sink(line)
            else:
                sink.write(line + "\n")
                sink.flush()
        except Exception:  # a broken log must not break serving
            log.debug("access log write failed", exc_info=True)


def serve_forever(root: "str | os.PathLike", addr: str = "127.0.0.1:5000", auth: str = "none",
                  users: Mapping[str, str] | None = None, *,
                  on_ready: Callable[[str], None] | None = None, **kw) -> None:
    """Serve the lab registry in the foreground until Ctrl-C; `on_ready(url)` runs once it listens."""
    registry = LabRegistry(root, addr, auth, users, **kw).bind()
    if on_ready is not None:
        on_ready(registry.url)
    registry.serve_forever()
