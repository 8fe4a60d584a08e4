"""The lab registry: a small OCI distribution server (stdlib http.server) over an OCI image layout.

Speaks the OCI distribution spec (`spec.md`: pull, push, content discovery, content management) plus
the Docker Registry v2 extras clients rely on (`_catalog`, Docker-Content-Digest, Docker-Upload-UUID)
and Docker Hub's `/v1/search`. Its root is one OCI image layout holding every repository:

- manifests and blobs are blobs of the layout (content is shared across repositories);
- each tag is an `index.json` descriptor annotated `org.opencontainers.image.ref.name` = `<repo>:<tag>`
  and `io.labkit.repository` = `<repo>`, so skopeo and umoci can read the root by that name
  (`oci:ROOT:<repo>:<tag>`); a manifest pushed by digest only is kept by a descriptor with the
  repository annotation and no ref name;
- uploads in progress live beside the layout, in its temp area (`OciLayout.tmp_dir`/uploads), and are
  dropped when abandoned (idle for `upload_ttl`) or when the server restarts;
- the token signing key lives in `ROOT/.labkit-registry/token-key.pem` (mode 0600).

Search (`/v1/search?q=&n=`) reads each repository's image config labels (see LABEL_*). The referrers API
(`/v2/<name>/referrers/<digest>`, OCI distribution 1.1) lists manifests whose `subject` is a digest.

Decisions (a lab, not a multi-tenant service):
- blobs are shared: any repository serves any stored blob, a mount succeeds whenever the blob exists, and
  DELETE of a blob removes it for every repository; manifests and tags do belong to one repository;
- auth "token": anonymous tokens get pull on every repository and `registry:catalog:*`; users get pull,
  push and delete; `/v1/search` is open (it shows what anonymous pulls may read anyway); a push needs
  pull+push, a DELETE needs delete, a mount also needs pull on `from` (as distribution's token auth);
- auth "basic": every valid user may do everything, search included (as distribution's htpasswd);
- tokens live 300 s; exp/nbf are checked with distribution's 60 s leeway.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, Mapping

from ..digest import Digest, Verifier
from ..errors import DigestMismatch, InvalidReference, LabkitError, NotFound
from . import tokens
from .tokens import Access

log = logging.getLogger(__name__)

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_REPOSITORY = "io.labkit.repository"

# Image config labels that feed /v1/search (Docker Hub's result fields).
LABEL_DESCRIPTION = "io.labkit.description"   # "description"; falls back to org.opencontainers.image.description
LABEL_STARS = "io.labkit.stars"               # "star_count", an integer in text
LABEL_OFFICIAL = "io.labkit.official"         # "is_official", "true"/"false"
LABEL_AUTOMATED = "io.labkit.automated"       # "is_automated", "true"/"false"

REALM_PATH = "/token"
STATE_DIR = ".labkit-registry"
API_VERSION = "registry/2.0"
MAX_MANIFEST_BYTES = 4 << 20   # distribution's limit for a manifest body
UPLOAD_TTL = 3600.0            # seconds an idle upload session is kept
AUTH_MODES = ("none", "basic", "token")
_DRAIN_LIMIT = 1 << 20         # an unread request body up to this size is read so the connection stays open

_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_OCI_INDEX = "application/vnd.oci.image.index.v1+json"

# distribution-spec "Pulling manifests": a name is path components joined by "/".
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")

ERROR_MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a manifest or blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown to registry",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "TAG_INVALID": "manifest tag did not match URI",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
    "NOT_FOUND": "page not found",
    "UNKNOWN": "unknown error",
}


def valid_name(name: str) -> bool:
    """Return True when `name` is a repository name of the distribution grammar (at most 255 chars)."""
    return len(name) <= 255 and bool(NAME_RE.match(name))


def valid_tag(tag: str) -> bool:
    """Return True when `tag` is a valid tag (`[\\w][\\w.-]{0,127}`)."""
    return bool(TAG_RE.match(tag))


class RegistryProblem(LabkitError):
    """An HTTP error answer in the spec's shape: status, codes, and headers to add."""

    def __init__(self, status: int, code: str, message: str | None = None, detail=None,
                 headers: Mapping[str, str] | None = None, errors: list[dict] | None = None):
        super().__init__(message or ERROR_MESSAGES.get(code, code))
        self.status = status
        self.headers = dict(headers or {})
        self.errors = errors or [{"code": code, "message": message or ERROR_MESSAGES.get(code, code),
                                  "detail": detail if detail is not None else {}}]

    def body(self) -> bytes:
        """Return the JSON body `{"errors": [...]}`."""
        return json.dumps({"errors": self.errors}).encode()


# --- repositories recorded in index.json --------------------------------------------------------

def record_repository(rec: Mapping) -> str | None:
    """Return the repository an index.json descriptor belongs to (annotation, else its ref name)."""
    ann = rec.get("annotations") or {}
    repo = ann.get(ANNOTATION_REPOSITORY)
    if repo:
        return repo
    ref = ann.get(ANNOTATION_REF_NAME, "")
    head, sep, tail = ref.rpartition(":")
    if sep and "/" not in tail and valid_name(head):
        return head
    return None


def record_tag(rec: Mapping) -> str | None:
    """Return the tag an index.json descriptor names, or None for an untagged manifest."""
    repo = record_repository(rec)
    ref = (rec.get("annotations") or {}).get(ANNOTATION_REF_NAME, "")
    if repo and ref.startswith(repo + ":"):
        return ref[len(repo) + 1:]
    return None


class Repositories:
    """The tags and manifests of every repository, kept as descriptors in the layout's index.json."""

    def __init__(self, layout):
        self.layout = layout

    def records(self) -> list[dict]:
        """Return index.json's descriptors as JSON dicts."""
        return [d.to_json() for d in self.layout.index()]

    def _update(self, fn):
        """Run `fn(records) -> (new records, result)` as one locked read-modify-write of index.json."""
        from ..oci import Descriptor

        out = {}

        def change(old):
            new, out["result"] = fn([d.to_json() for d in old])
            return [Descriptor.from_json(r) for r in new]

        self.layout.update_index(change)
        return out["result"]

    def names(self) -> list[str]:
        """Return the sorted repository names."""
        return sorted({r for r in map(record_repository, self.records()) if r})

    def exists(self, repo: str) -> bool:
        """Return True when some manifest is recorded for `repo`."""
        return any(record_repository(r) == repo for r in self.records())

    def tags(self, repo: str) -> list[str] | None:
        """Return the sorted tags of `repo`, or None when the repository is unknown."""
        found, tags = False, set()
        for rec in self.records():
            if record_repository(rec) == repo:
                found = True
                tag = record_tag(rec)
                if tag is not None:
                    tags.add(tag)
        return sorted(tags) if found else None

    def resolve(self, repo: str, reference: str) -> dict | None:
        """Return the descriptor of `repo`'s manifest named by a tag or digest, or None."""
        is_digest = ":" in reference
        for rec in reversed(self.records()):
            if record_repository(rec) != repo:
                continue
            if (rec.get("digest") == reference) if is_digest else (record_tag(rec) == reference):
                return rec
        return self._child_of_index(repo, reference) if is_digest else None

    def _child_of_index(self, repo: str, digest: str) -> dict | None:
        """Return the descriptor of a platform manifest that one of `repo`'s recorded indexes lists, or None.

        A registry serves by digest every manifest an index in the repository references (a pull of a
        multi-platform image asks for the index by tag, then for one of its children by digest)."""
        for rec in self.records():
            if record_repository(rec) != repo or not str(rec.get("mediaType", "")).endswith(
                    ("manifest.list.v2+json", "image.index.v1+json")):
                continue
            try:
                doc = json.loads(self.layout.read_blob(Digest.parse(rec["digest"])))
            except (LabkitError, ValueError, OSError):
                continue
            for child in doc.get("manifests") or []:
                if isinstance(child, dict) and child.get("digest") == digest and self.layout.has_blob(digest):
                    return {"mediaType": child.get("mediaType", ""), "digest": digest, "size": child.get("size", 0),
                            "annotations": {ANNOTATION_REPOSITORY: repo}}
        return None

    def latest(self, repo: str) -> dict | None:
        """Return the descriptor of `repo:latest`, else of its most recently recorded tag."""
        tagged = [r for r in self.records() if record_repository(r) == repo and record_tag(r) is not None]
        for rec in tagged:
            if record_tag(rec) == "latest":
                return rec
        return tagged[-1] if tagged else None

    @staticmethod
    def _descriptor(repo: str, tag: str | None, media_type: str, digest: str, size: int) -> dict:
        ann = {ANNOTATION_REPOSITORY: repo}
        if tag is not None:
            ann[ANNOTATION_REF_NAME] = f"{repo}:{tag}"
        return {"mediaType": media_type, "digest": digest, "size": size, "annotations": ann}

    @classmethod
    def _keep_untagged(cls, repo: str, records: list[dict], dropped: list[dict]) -> list[dict]:
        """Return `records` plus an untagged descriptor for each dropped manifest no longer held in `repo`."""
        held = {r["digest"] for r in records if record_repository(r) == repo}
        for rec in dropped:
            if rec["digest"] not in held:
                records.append(cls._descriptor(repo, None, rec["mediaType"], rec["digest"], rec["size"]))
                held.add(rec["digest"])
        return records

    def put(self, repo: str, tag: str | None, media_type: str, digest: str, size: int) -> None:
        """Record a manifest in `repo`, under `tag` when given; a manifest a moved tag leaves stays by digest."""
        def change(records):
            keep, moved = [], []
            for rec in records:
                if record_repository(rec) == repo:
                    rtag = record_tag(rec)
                    if tag is not None and rtag == tag:
                        moved.append(rec)
                        continue
                    if rtag is None and rec["digest"] == digest:
                        continue  # re-added below, tagged or not
                    if tag is None and rec["digest"] == digest:
                        return records, None  # already held by a tag: nothing to record
                keep.append(rec)
            keep.append(self._descriptor(repo, tag, media_type, digest, size))
            return self._keep_untagged(repo, keep, moved), None

        self._update(change)

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Forget the manifest `digest` in `repo` and every tag on it; return False when it was not there."""
        def change(records):
            keep = [r for r in records if not (record_repository(r) == repo and r["digest"] == digest)]
            return keep, len(keep) != len(records)

        return self._update(change)

    def delete_tag(self, repo: str, tag: str) -> bool:
        """Remove `repo:tag`, keeping its manifest addressable by digest; return False when absent."""
        def change(records):
            gone = [r for r in records if record_repository(r) == repo and record_tag(r) == tag]
            keep = [r for r in records if not (record_repository(r) == repo and record_tag(r) == tag)]
            return self._keep_untagged(repo, keep, gone), bool(gone)

        return self._update(change)


# --- uploads in progress ------------------------------------------------------------------------

@dataclass
class UploadSession:
    """One blob upload in progress: its repository, temp file and size so far."""

    uuid: str
    repo: str
    path: Path
    size: int = 0
    touched: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Uploads:
    """Upload sessions, kept as temp files in one directory; idle ones are removed after `ttl` seconds."""

    def __init__(self, directory: Path, ttl: float = UPLOAD_TTL):
        self.directory = Path(directory)
        self.ttl = ttl
        self._sessions: dict[str, UploadSession] = {}
        self._lock = threading.Lock()
        # Sessions do not survive a restart (their state is in memory): whatever is on disk is abandoned.
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)

    def start(self, repo: str) -> UploadSession:
        """Return a new, empty session for `repo`."""
        self.sweep()
        uuid = secrets.token_hex(16)
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
        session = UploadSession(uuid, repo, self.directory / uuid)
        session.path.touch()
        with self._lock:
            self._sessions[uuid] = session
        return session

    def get(self, repo: str, uuid: str) -> UploadSession:
        """Return the session `uuid` of `repo`, or raise 404 BLOB_UPLOAD_UNKNOWN."""
        with self._lock:
            session = self._sessions.get(uuid)
        if session is None or session.repo != repo:
            raise RegistryProblem(404, "BLOB_UPLOAD_UNKNOWN", detail={"uuid": uuid})
        session.touched = time.monotonic()
        return session

    def discard(self, session: UploadSession) -> None:
        """Forget `session` and delete its temp file."""
        with self._lock:
            self._sessions.pop(session.uuid, None)
        session.path.unlink(missing_ok=True)

    def sweep(self) -> list[str]:
        """Remove sessions idle for longer than the ttl; return their ids."""
        cutoff = time.monotonic() - self.ttl
        with self._lock:
            stale = [s for s in self._sessions.values() if s.touched < cutoff and not s.lock.locked()]
        for session in stale:
            self.discard(session)
        return [s.uuid for s in stale]

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


# --- the HTTP server ----------------------------------------------------------------------------

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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, registry: "LabRegistry"):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.registry = registry
        self.connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self._conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up idle keep-alive connections so a stopped server stops answering."""
        with self._conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # The stdlib prints a traceback to stderr; the lab registry stays quiet.
        log.debug("connection from %s failed", client_address, exc_info=True)


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
                 allow_remote: bool = False):
        from ..store import OciLayout

        if auth not in AUTH_MODES:
            raise LabkitError(f"start lab registry: auth mode {auth!r} is not one of {', '.join(AUTH_MODES)}")
        self.root = Path(root)
        self.host, self.port = parse_addr(addr)
        if not allow_remote and not _is_loopback(self.host):
            raise LabkitError(f"start lab registry on {addr}: only loopback addresses unless allow_remote=True")
        self.auth = auth
        self.read_only = read_only
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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------------------------
    def bind(self) -> "LabRegistry":
        """Open the listening socket (port 0 picks a free port) without serving yet; return self."""
        if self._server is None:
            try:
                self._server = _Server((self.host, self.port), _Handler, self)
            except OSError as e:
                raise LabkitError(f"start lab registry on {self.host}:{self.port}: {e.strerror or e}") from None
            self.port = self._server.server_address[1]
        return self

    def start(self) -> "LabRegistry":
        """Serve in a background thread; return self (`.url` tells where)."""
        self.bind()
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"labkit-registry:{self.port}", daemon=True)
            self._thread.start()
        return self

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
            media_type = doc.get("mediaType") or (_OCI_INDEX if "manifests" in doc else _OCI_MANIFEST)
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


# --- request handling ---------------------------------------------------------------------------

_ROUTES = [
    ("base", re.compile(r"^/v2/?$")),
    ("catalog", re.compile(r"^/v2/_catalog$")),
    ("tags", re.compile(r"^/v2/(?P<name>.+)/tags/list$")),
    ("manifest", re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")),
    ("upload_start", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$")),
    ("upload", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)$")),
    ("blob", re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")),
    ("referrers", re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$")),
    ("search", re.compile(r"^/v1/search$")),
    ("token", re.compile(r"^/token$")),
]

_METHODS = {
    "base": {"GET", "HEAD"},
    "catalog": {"GET"},
    "tags": {"GET"},
    "manifest": {"GET", "HEAD", "PUT", "DELETE"},
    "upload_start": {"POST"},
    "upload": {"GET", "PATCH", "PUT", "DELETE"},
    "blob": {"GET", "HEAD", "DELETE"},
    "referrers": {"GET"},
    "search": {"GET"},
    "token": {"GET", "POST"},
}

_WRITES = {("manifest", "PUT"), ("manifest", "DELETE"), ("blob", "DELETE"), ("upload_start", "POST"),
           ("upload", "PATCH"), ("upload", "PUT"), ("upload", "DELETE")}


def required_access(route: str, method: str, name: str | None, query: Mapping[str, list[str]]) -> list[Access]:
    """Return the access a request needs (distribution's token auth rules; `[]` = any signed-in caller)."""
    if route == "catalog":
        return [Access("registry", "catalog", ("*",))]
    if name is None:
        return []
    if method in ("GET", "HEAD") and route != "upload":
        return [Access("repository", name, ("pull",))]
    if method == "DELETE" and route in ("manifest", "blob"):
        return [Access("repository", name, ("delete",))]
    needed = [Access("repository", name, ("pull", "push"))]
    source = (query.get("from") or [""])[0]
    if route == "upload_start" and query.get("mount") and source and source != name:
        needed.append(Access("repository", source, ("pull",)))
    return needed


def _challenge_scope(needed: list[Access]) -> str:
    return " ".join(a.scope() for a in needed)


def parse_range(header: str, total: int) -> tuple[int, int] | None:
    """Return the inclusive (start, end) of a single `bytes=` range within `total`, or None if unsatisfiable."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):  # suffix range: the last N bytes
        n = int(m.group(2))
        if n == 0 or total == 0:
            return None
        return max(0, total - n), total - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else total - 1
    if start >= total or end < start:
        return None
    return start, min(end, total - 1)


def parse_content_range(header: str) -> tuple[int, int] | None:
    """Return the inclusive (start, end) of an upload chunk's Content-Range (`0-99`, `bytes 0-99/*`)."""
    m = re.fullmatch(r"\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:/(?:\d+|\*))?\s*", header)
    if not m:
        return None
    start, end = int(m.group(1)), int(m.group(2))
    return (start, end) if end >= start else None


def parse_manifest_reference(reference: str) -> tuple[str | None, str | None]:
    """Return (tag, None) or (None, digest) for a manifest reference; RegistryProblem when invalid."""
    if ":" in reference:
        try:
            return None, str(Digest.parse(reference))
        except InvalidReference as e:
            raise RegistryProblem(400, "DIGEST_INVALID", str(e), detail={"digest": reference}) from None
    if not valid_tag(reference):
        raise RegistryProblem(400, "TAG_INVALID", f"invalid tag {reference!r}", detail={"tag": reference})
    return reference, None


def manifest_references(doc: dict) -> list[str]:
    """Return the digests a manifest or index points at (foreign layers with `urls` excepted)."""
    descs = []
    if isinstance(doc.get("config"), dict):
        descs.append(doc["config"])
    for key in ("layers", "manifests"):
        if isinstance(doc.get(key), list):
            descs.extend(d for d in doc[key] if isinstance(d, dict) and not d.get("urls"))
    if "manifests" not in doc and not isinstance(doc.get("config"), dict):
        raise RegistryProblem(400, "MANIFEST_INVALID", "manifest has neither config nor manifests")
    out = []
    for d in descs:
        try:
            out.append(str(Digest.parse(d.get("digest"))))
        except InvalidReference as e:
            raise RegistryProblem(400, "MANIFEST_INVALID", str(e)) from None
    return list(dict.fromkeys(out))


def _upload_range(size: int) -> str:
    # distribution's form: inclusive end, "0-0" for an empty upload.
    return f"0-{max(size - 1, 0)}"


def _truthy(text: str | None) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes", "on")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "labkit-registry/0.1"
    sys_version = ""
    timeout = 120  # idle keep-alive connections give their thread back eventually

    server: _Server

    # plumbing -----------------------------------------------------------------------------------
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def log_request(self, code="-", size="-"):
        registry = self.server.registry
        if registry._access_log is not None:
            registry.log_access(f'{self.client_address[0]} - - [{self.log_date_time_string()}] '
                                f'"{self.requestline}" {code} {size}')

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_POST(self):
        self._dispatch("POST")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self.method = method
        self.registry: LabRegistry = self.server.registry
        self._body_left = None
        split = urllib.parse.urlsplit(self.path)
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        path = urllib.parse.unquote(split.path)
        try:
            self._body_left = self._declared_body()
            for route, pattern in _ROUTES:
                m = pattern.match(path)
                if m:
                    break
            else:
                raise RegistryProblem(404, "NOT_FOUND", detail={"path": path})
            params = m.groupdict()
            if method not in _METHODS[route]:
                raise RegistryProblem(405, "UNSUPPORTED", f"{method} is not supported on {route} endpoints",
                                      headers={"Allow": ", ".join(sorted(_METHODS[route]))})
            if route == "token":
                return self._token(method)
            name = params.get("name")
            if name is not None and not valid_name(name):
                raise RegistryProblem(400, "NAME_INVALID", detail={"name": name})
            self._authorize(route, method, name)
            if self.registry.read_only and (route, method) in _WRITES:
                raise RegistryProblem(403, "DENIED", "this lab registry is read-only")
            getattr(self, f"_{route}")(**params)
        except RegistryProblem as p:
            self._send_problem(p)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # answer 500 rather than dropping the connection
            log.debug("lab registry: %s %s failed", method, self.path, exc_info=True)
            self._send_problem(RegistryProblem(500, "UNKNOWN", f"{type(e).__name__}: {e}"))

    # bodies ---------------------------------------------------------------------------------------
    def _declared_body(self) -> int | None:
        """Return the request body's Content-Length, -1 for chunked, None for none."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return -1
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            raise RegistryProblem(400, "SIZE_INVALID", f"bad Content-Length {length!r}") from None
        return n if n > 0 else None

    def _body_chunks(self, bufsize: int = 1 << 20) -> Iterator[bytes]:
        """Yield the request body (Content-Length or chunked transfer coding), marking it consumed."""
        left = self._body_left
        if left is None:
            return
        rfile = self.rfile
        if left >= 0:
            while left > 0:
                chunk = rfile.read(min(bufsize, left))
                if not chunk:
                    raise ConnectionResetError("client closed the connection mid-body")
                left -= len(chunk)
                self._body_left = left
                yield chunk
            self._body_left = None
            return
        while True:  # RFC 9112 section 7.1: size line, data, CRLF; a zero size then trailers end it
            line = rfile.readline(1024)
            if not line:
                raise ConnectionResetError("client closed the connection mid-body")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise RegistryProblem(400, "BLOB_UPLOAD_INVALID", f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                while rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                self._body_left = None
                return
            while size > 0:
                chunk = rfile.read(min(bufsize, size))
                if not chunk:
                    raise ConnectionResetError("client closed the connection mid-body")
                size -= len(chunk)
                yield chunk
            rfile.readline(8)

    def _read_body(self, limit: int) -> bytes:
        """Return the whole request body, refusing more than `limit` bytes."""
        parts, total = [], 0
        for chunk in self._body_chunks():
            total += len(chunk)
            if total > limit:
                raise RegistryProblem(413, "SIZE_INVALID", f"request body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    # answers --------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None,
              content_length: int | None = None) -> None:
        """Send a complete answer; HEAD gets the headers only (Content-Length still describes the body)."""
        if self._body_left is not None:
            # An unread request body would be taken for the next request: read a small one, else hang up.
            if 0 < self._body_left <= _DRAIN_LIMIT:
                try:
                    for _ in self._body_chunks():
                        pass
                except OSError:
                    self.close_connection = True
            else:
                self.close_connection = True
        self.send_response(status)
        self.send_header("Docker-Distribution-API-Version", API_VERSION)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status != 204:  # RFC 9110 section 8.6: no Content-Length on a 204
            self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.method != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, obj, headers: Mapping[str, str] | None = None) -> None:
        h = {"Content-Type": "application/json; charset=utf-8"}
        h.update(headers or {})
        self._send(status, json.dumps(obj, indent=None).encode(), h)

    def _send_problem(self, p: RegistryProblem) -> None:
        h = {"Content-Type": "application/json; charset=utf-8"}
        h.update(p.headers)
        self._send(p.status, p.body(), h)

    # auth -----------------------------------------------------------------------------------------
    def _authorize(self, route: str, method: str, name: str | None) -> None:
        registry = self.registry
        if registry.auth == "none":
            return
        if route == "search" and registry.auth == "token":
            return  # anonymous users may pull everything in token mode, so they may search it too
        needed = required_access(route, method, name, self.query)
        header = self.headers.get("Authorization")
        if registry.auth == "basic":
            creds = tokens.parse_basic(header)
            if creds and registry.users.check(*creds):
                return
            raise RegistryProblem(401, "UNAUTHORIZED", detail=[a.to_json() for a in needed],
                                  headers={"WWW-Authenticate": f'Basic realm="{tokens.SERVICE}"'})
        host = self.headers.get("Host") or registry.address
        challenge = f'Bearer realm="http://{host}{REALM_PATH}",service="{registry.issuer.service}"'
        if needed:
            challenge += f',scope="{_challenge_scope(needed)}"'
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RegistryProblem(401, "UNAUTHORIZED", detail=[a.to_json() for a in needed],
                                  headers={"WWW-Authenticate": challenge})
        try:
            claims = registry.issuer.verify(token.strip())
        except tokens.TokenError as e:
            raise RegistryProblem(401, "UNAUTHORIZED", str(e),
                                  headers={"WWW-Authenticate": challenge + ',error="invalid_token"'}) from None
        missing = [a for a in needed if not tokens.allows(claims.get("access"), a)]
        if missing:
            raise RegistryProblem(401, "UNAUTHORIZED", "insufficient scope",
                                  detail=[a.to_json() for a in missing],
                                  headers={"WWW-Authenticate": challenge + ',error="insufficient_scope"'})

    def _token(self, method: str) -> None:
        registry = self.registry
        if registry.issuer is None:
            raise RegistryProblem(404, "NOT_FOUND", "this lab registry does not use token auth")
        params = dict(self.query)
        if method == "POST":  # OAuth2 password grant (docker login with identity tokens)
            body = self._read_body(64 << 10).decode("utf-8", "replace")
            for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items():
                params.setdefault(k, []).extend(v)
        service = (params.get("service") or [registry.issuer.service])[0]
        if service != registry.issuer.service:
            raise RegistryProblem(400, "DENIED", f"unknown service {service!r}")
        user = None
        creds = tokens.parse_basic(self.headers.get("Authorization"))
        if creds is None and method == "POST" and (params.get("grant_type") or [""])[0] == "password":
            creds = ((params.get("username") or [""])[0], (params.get("password") or [""])[0])
        if creds is not None:
            if not registry.users.check(*creds):
                raise RegistryProblem(401, "UNAUTHORIZED", "incorrect username or password",
                                      headers={"WWW-Authenticate": f'Basic realm="{tokens.SERVICE}"'})
            user = creds[0]
        try:
            requested = tokens.parse_scopes(params.get("scope", []))
        except ValueError as e:
            raise RegistryProblem(400, "UNSUPPORTED", str(e)) from None
        token = registry.issuer.issue(user, tokens.grant(user, requested))
        now = time.time()
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        self._send_json(200, {"token": token, "access_token": token, "expires_in": registry.issuer.ttl,
                              "issued_at": issued})

    # /v2/ ----------------------------------------------------------------------------------------
    def _base(self) -> None:
        self._send_json(200, {})

    def _page(self, items: list[str], path: str, key: str, extra: dict) -> None:
        """Answer one page of a sorted list (`n`, `last`), with a Link header to the next page."""
        n_text = (self.query.get("n") or [None])[0]
        last = (self.query.get("last") or [None])[0]
        if last:
            items = [i for i in items if i > last]
        if n_text is not None and n_text != "":
            try:
                n = int(n_text)
                if n < 0:
                    raise ValueError
            except ValueError:
                raise RegistryProblem(400, "PAGINATION_NUMBER_INVALID", detail={"n": n_text}) from None
            page, more = items[:n], len(items) > n and n > 0
        else:
            page, more = items, False
        headers = {}
        if more:
            q = urllib.parse.urlencode({"n": n, "last": page[-1]})
            headers["Link"] = f'<{path}?{q}>; rel="next"'
        self._send_json(200, {**extra, key: page}, headers)

    def _catalog(self) -> None:
        self._page(self.registry.repos.names(), "/v2/_catalog", "repositories", {})

    def _tags(self, name: str) -> None:
        tags = self.registry.repos.tags(name)
        if tags is None:
            raise RegistryProblem(404, "NAME_UNKNOWN", detail={"name": name})
        self._page(tags, f"/v2/{name}/tags/list", "tags", {"name": name})

    # manifests -----------------------------------------------------------------------------------
    def _manifest(self, name: str, reference: str) -> None:
        tag, digest = parse_manifest_reference(reference)
        if self.method in ("GET", "HEAD"):
            return self._get_manifest(name, reference)
        if self.method == "PUT":
            return self._put_manifest(name, tag, digest)
        repos = self.registry.repos
        if digest is not None:
            deleted = repos.delete_manifest(name, digest)
        else:
            deleted = repos.delete_tag(name, tag)
        if not deleted:
            code = "MANIFEST_UNKNOWN" if repos.exists(name) else "NAME_UNKNOWN"
            raise RegistryProblem(404, code, detail={"name": name, "reference": reference})
        self._send(202)

    def _get_manifest(self, name: str, reference: str) -> None:
        repos = self.registry.repos
        rec = repos.resolve(name, reference)
        if rec is None:
            code = "MANIFEST_UNKNOWN" if repos.exists(name) else "NAME_UNKNOWN"
            raise RegistryProblem(404, code, detail={"name": name, "reference": reference})
        digest = Digest.parse(rec["digest"])
        try:
            raw = self.registry.layout.read_blob(digest)
        except NotFound:
            raise RegistryProblem(404, "MANIFEST_UNKNOWN", f"manifest {digest} is recorded but its blob is gone",
                                  detail={"name": name, "reference": reference}) from None
        self._send(200, raw, {"Content-Type": rec.get("mediaType") or _OCI_MANIFEST,
                              "Docker-Content-Digest": str(digest), "ETag": f'"{digest}"'})

    def _put_manifest(self, name: str, tag: str | None, digest: str | None) -> None:
        raw = self._read_body(MAX_MANIFEST_BYTES)
        actual = self.registry.put_manifest(name, tag or digest, raw, self.headers.get("Content-Type"))
        headers = {"Location": f"/v2/{name}/manifests/{actual}", "Docker-Content-Digest": str(actual)}
        subject = _subject_of(json.loads(raw))
        if subject:  # spec "Pushing Manifests with Subject": tells the client the referrers API is there
            headers["OCI-Subject"] = subject
        self._send(201, headers=headers)

    def _referrers(self, name: str, digest: str) -> None:
        d = self._parse_digest(digest)
        wanted = (self.query.get("artifactType") or [None])[0]
        found = referrers(self.registry, name, str(d), wanted)
        headers = {"Content-Type": _OCI_INDEX}
        if wanted:
            headers["OCI-Filters-Applied"] = "artifactType"
        self._send(200, json.dumps({"schemaVersion": 2, "mediaType": _OCI_INDEX, "manifests": found}).encode(),
                   headers)

    # blobs ---------------------------------------------------------------------------------------
    def _parse_digest(self, text: str) -> Digest:
        try:
            return Digest.parse(text)
        except InvalidReference as e:
            raise RegistryProblem(400, "DIGEST_INVALID", str(e), detail={"digest": text}) from None

    def _blob(self, name: str, digest: str) -> None:
        d = self._parse_digest(digest)
        layout = self.registry.layout
        if self.method == "DELETE":
            with layout.lock():
                if not layout.has_blob(d):
                    raise RegistryProblem(404, "BLOB_UNKNOWN", detail={"digest": digest})
                layout.blob_path(d).unlink(missing_ok=True)
            return self._send(202)
        try:
            f = layout.open_blob(d)
        except (NotFound, FileNotFoundError):
            raise RegistryProblem(404, "BLOB_UNKNOWN", detail={"digest": digest}) from None
        with f:
            total = os.fstat(f.fileno()).st_size
            headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": str(d),
                       "ETag": f'"{d}"', "Accept-Ranges": "bytes", "Cache-Control": "max-age=31536000"}
            start, end, status = 0, total - 1, 200
            range_header = self.headers.get("Range")
            if range_header and self.method == "GET":
                rng = parse_range(range_header, total)
                if rng is None:
                    raise RegistryProblem(416, "BLOB_UNKNOWN", "requested range not satisfiable",
                                          headers={"Content-Range": f"bytes */{total}"})
                start, end = rng
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{total}"
            length = end - start + 1 if total else 0
            self._send(status, headers=headers, content_length=length)
            if self.method == "GET" and length:
                self._send_file(f, start, length)

    def _send_file(self, f, offset: int, count: int) -> None:
        try:
            self.connection.sendfile(f, offset, count)
        except (AttributeError, OSError, ValueError) as e:
            if isinstance(e, (BrokenPipeError, ConnectionResetError)):
                raise
            f.seek(offset)
            while count > 0:
                chunk = f.read(min(1 << 20, count))
                if not chunk:
                    break
                self.wfile.write(chunk)
                count -= len(chunk)

    # uploads ----------------------------------------------------------------------------------------
    def _upload_headers(self, name: str, session) -> dict:
        return {"Location": f"/v2/{name}/blobs/uploads/{session.uuid}", "Range": _upload_range(session.size),
                "Docker-Upload-UUID": session.uuid, "Blob-Upload-Session-ID": session.uuid}

    def _upload_start(self, name: str) -> None:
        registry = self.registry
        mount = (self.query.get("mount") or [""])[0]
        if mount:
            try:
                d = Digest.parse(mount)
            except InvalidReference:
                d = None
            if d is not None and registry.layout.has_blob(d):
                return self._created_blob(name, d)
        digest = (self.query.get("digest") or [""])[0]
        if digest:  # monolithic upload: POST ?digest= with the whole blob as the body
            d = self._parse_digest(digest)
            self._ingest(self._body_chunks(), d, self._declared_size())
            return self._created_blob(name, d)
        session = registry.uploads.start(name)
        self._send(202, headers=self._upload_headers(name, session))

    def _declared_size(self) -> int | None:
        return self._body_left if self._body_left is not None and self._body_left >= 0 else (
            0 if self._body_left is None else None)

    def _ingest(self, chunks, d: Digest, size: int | None) -> None:
        """Stream `chunks` into the layout, verified against `d` (400 DIGEST_INVALID when they differ)."""
        try:
            with self.registry.layout.blob_writer(d, size) as w:
                # A blob already stored is not rewritten, but the upload must still match its digest.
                check = Verifier(d, size) if w.exists else None
                for chunk in chunks:
                    w.write(chunk)
                    if check is not None:
                        check.update(chunk)
                if check is not None:
                    check.check()
        except DigestMismatch as e:
            raise RegistryProblem(400, "DIGEST_INVALID", str(e), detail={"digest": str(d)}) from None

    def _created_blob(self, name: str, d: Digest) -> None:
        self._send(201, headers={"Location": f"/v2/{name}/blobs/{d}", "Docker-Content-Digest": str(d)})

    def _upload(self, name: str, uuid: str) -> None:
        uploads = self.registry.uploads
        session = uploads.get(name, uuid)
        if self.method == "GET":
            return self._send(204, headers=self._upload_headers(name, session))
        if self.method == "DELETE":
            uploads.discard(session)
            return self._send(204)
        with session.lock:
            if self.method == "PATCH" or self._body_left is not None:
                self._append(name, session)
            if self.method == "PATCH":
                return self._send(202, headers=self._upload_headers(name, session))
            digest = (self.query.get("digest") or [""])[0]
            if not digest:
                raise RegistryProblem(400, "DIGEST_INVALID", "finishing an upload needs ?digest=")
            d = self._parse_digest(digest)
            try:
                with open(session.path, "rb") as f:
                    self._ingest(iter(lambda: f.read(1 << 20), b""), d, session.size)
            finally:
                uploads.discard(session)
        self._created_blob(name, d)

    def _append(self, name: str, session) -> None:
        """Append the request body to the session, checking Content-Range against its offset."""
        content_range = self.headers.get("Content-Range")
        if content_range:
            rng = parse_content_range(content_range)
            length = self._body_left if self._body_left is not None else 0
            if (rng is None or rng[0] != session.size
                    or (length >= 0 and rng[1] - rng[0] + 1 != length)):
                raise RegistryProblem(416, "BLOB_UPLOAD_INVALID",
                                      f"chunk {content_range!r} does not continue the upload at offset {session.size}",
                                      headers=self._upload_headers(name, session))
        with open(session.path, "ab") as f:
            for chunk in self._body_chunks():
                f.write(chunk)
                session.size += len(chunk)
        session.touched = time.monotonic()

    # search ---------------------------------------------------------------------------------------
    def _search(self) -> None:
        q = (self.query.get("q") or [""])[0]
        try:
            n = int((self.query.get("n") or ["25"])[0] or 25)
            page = int((self.query.get("page") or ["1"])[0] or 1)
            if n < 1 or page < 1:
                raise ValueError
        except ValueError:
            raise RegistryProblem(400, "PAGINATION_NUMBER_INVALID", detail={"n": self.query.get("n")}) from None
        n = min(n, 100)
        results = [search_entry(self.registry, name) for name in self.registry.repos.names()]
        results = [r for r in results if q.lower() in r["name"].lower()]
        results.sort(key=lambda r: (-r["star_count"], r["name"]))
        chunk = results[(page - 1) * n: page * n]
        self._send_json(200, {"num_pages": max(1, -(-len(results) // n)), "num_results": len(results),
                              "page_size": n, "page": page, "query": q, "results": chunk})


def _subject_of(doc) -> str | None:
    subject = doc.get("subject") if isinstance(doc, dict) else None
    return subject.get("digest") if isinstance(subject, dict) and isinstance(subject.get("digest"), str) else None


def referrers(registry: LabRegistry, repo: str, digest: str, artifact_type: str | None = None) -> list[dict]:
    """Return descriptors of `repo`'s manifests whose `subject` is `digest` (spec "Listing Referrers")."""
    out, seen = [], set()
    for rec in registry.repos.records():
        if record_repository(rec) != repo or rec["digest"] in seen or rec.get("size", 0) > MAX_MANIFEST_BYTES:
            continue
        seen.add(rec["digest"])
        try:
            doc = json.loads(registry.layout.read_blob(Digest.parse(rec["digest"])))
        except (LabkitError, ValueError, OSError):
            continue
        if _subject_of(doc) != digest:
            continue
        kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
        if artifact_type and kind != artifact_type:
            continue
        desc = {"mediaType": rec["mediaType"], "digest": rec["digest"], "size": rec["size"]}
        if kind:
            desc["artifactType"] = kind
        if isinstance(doc.get("annotations"), dict) and doc["annotations"]:
            desc["annotations"] = doc["annotations"]
        out.append(desc)
    return out


def _image_labels(registry: LabRegistry, rec: Mapping) -> dict:
    """Return the config labels of the manifest `rec` (the first platform's, for an index)."""
    layout = registry.layout
    try:
        doc = json.loads(layout.read_blob(Digest.parse(rec["digest"])))
        if isinstance(doc.get("manifests"), list) and doc["manifests"]:
            doc = json.loads(layout.read_blob(Digest.parse(doc["manifests"][0]["digest"])))
        config = json.loads(layout.read_blob(Digest.parse(doc["config"]["digest"])))
        labels = (config.get("config") or {}).get("Labels") or {}
        return labels if isinstance(labels, dict) else {}
    except (LabkitError, ValueError, KeyError, TypeError, AttributeError, OSError):
        return {}


def search_entry(registry: LabRegistry, name: str) -> dict:
    """Return Docker Hub's search result for `name`, from its latest image's config labels."""
    rec = registry.repos.latest(name)
    labels = _image_labels(registry, rec) if rec else {}
    try:
        stars = int(labels.get(LABEL_STARS, 0))
    except (TypeError, ValueError):
        stars = 0
    return {
        "name": name[len("library/"):] if name.startswith("library/") else name,  # Docker Hub's familiar names
        "description": labels.get(LABEL_DESCRIPTION) or labels.get("org.opencontainers.image.description") or "",
        "star_count": stars,
        "is_official": _truthy(labels.get(LABEL_OFFICIAL)),
        "is_automated": _truthy(labels.get(LABEL_AUTOMATED)),
    }
