"""The lab registry's HTTP request handler: routing, request bodies, answers and the distribution endpoints."""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Iterator, Mapping

from ...digest import Digest, Verifier
from ...errors import DigestMismatch, InvalidReference, NotFound
from ...oci.limits import MAX_MANIFEST_SIZE
from ...oci.mediatypes import OCI_INDEX, OCI_MANIFEST
from .access import authorize, token_answer
from .manifests import parse_manifest_reference, referrers, subject_of
from .names import valid_name
from .identity import identity_proof
from .problems import RegistryProblem
from .ranges import parse_content_range, parse_range, upload_range
from .routes import WRITES, match_route
from .search import search_page

if TYPE_CHECKING:
    from .app import LabRegistry
    from .listener import Listener

log = logging.getLogger(__name__)

API_VERSION = "registry/2.0"
DRAIN_LIMIT = 1 << 20          # an unread request body up to this size is read so the connection stays open


class RegistryHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests: routes them, checks access, and serves the distribution API."""

    protocol_version = "HTTP/1.1"
    server_version = "labkit-registry/0.1"
    sys_version = ""
    timeout = 120  # idle keep-alive connections give their thread back eventually

    server: Listener

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
            route, params = match_route(path, method)
            if route == "token":
                return self._token(method)
            if route == "identity":
                return self._identity()
            name = params.get("name")
            if name is not None and not valid_name(name):
                raise RegistryProblem(400, "NAME_INVALID", detail={"name": name})
            authorize(self.registry, route, method, name, self.query, self.headers)
            if self.registry.read_only and (route, method) in WRITES:
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
            if 0 < self._body_left <= DRAIN_LIMIT:
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

    # identity ---------------------------------------------------------------------------------------
    def _identity(self) -> None:
        """Prove, without revealing it, that this server holds a home's identity secret (HMAC of the
        caller's nonce), and say whether its root still exists: a home checks that the registry on the lab's
        port is its own, and that one whose home was deleted is stale."""
        registry = self.registry
        if registry.identity is None:
            raise RegistryProblem(404, "NOT_FOUND", "this lab registry has no identity", detail={"path": self.path})
        nonce = (self.query.get("nonce") or [""])[0]
        if not 16 <= len(nonce) <= 128:
            raise RegistryProblem(400, "UNSUPPORTED", "identity: give a nonce of 16 to 128 characters")
        self._send_json(200, {"proof": identity_proof(registry.identity, nonce), "stale": registry.stale,
                              "pid": os.getpid()})

    # token realm ------------------------------------------------------------------------------------
    def _token(self, method: str) -> None:
        self._send_json(200, token_answer(self.registry, method, self.query, self.headers,
                                          lambda: self._read_body(64 << 10)))

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
        self._send(200, raw, {"Content-Type": rec.get("mediaType") or OCI_MANIFEST,
                              "Docker-Content-Digest": str(digest), "ETag": f'"{digest}"'})

    def _put_manifest(self, name: str, tag: str | None, digest: str | None) -> None:
        raw = self._read_body(MAX_MANIFEST_SIZE)
        actual = self.registry.put_manifest(name, tag or digest, raw, self.headers.get("Content-Type"))
        headers = {"Location": f"/v2/{name}/manifests/{actual}", "Docker-Content-Digest": str(actual)}
        subject = subject_of(json.loads(raw))
        if subject:  # spec "Pushing Manifests with Subject": tells the client the referrers API is there
            headers["OCI-Subject"] = subject
        self._send(201, headers=headers)

    def _referrers(self, name: str, digest: str) -> None:
        d = self._parse_digest(digest)
        wanted = (self.query.get("artifactType") or [None])[0]
        found = referrers(self.registry, name, str(d), wanted)
        headers = {"Content-Type": OCI_INDEX}
        if wanted:
            headers["OCI-Filters-Applied"] = "artifactType"
        self._send(200, json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found}).encode(),
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
        return {"Location": f"/v2/{name}/blobs/uploads/{session.uuid}", "Range": upload_range(session.size),
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
        self._send_json(200, search_page(self.registry, self.query))
