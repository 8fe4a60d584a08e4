"""A registry client (OCI distribution spec / Docker Registry HTTP API v2) on a requests.Session.

Manifests are verified against the digest they were fetched by; blobs stream into the store's blob_writer,
which verifies them while they arrive. Redirects are followed here (not by requests) so that a redirect to
another host never carries our Authorization header.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urljoin, urlsplit

import requests

from ..digest import Digest, Verifier, as_digest
from ..errors import AuthRequired, DigestMismatch, LabkitError, NotFound, RateLimited, RegistryError
from ..oci.limits import MAX_MANIFEST_SIZE
from ..oci.mediatypes import MANIFEST_ACCEPT, SCHEMA1_TYPES
from ..reference import DEFAULT_DOMAIN, DOCKER_HUB_API_HOST
from .auth import Credentials, RegistryAuth
from .trace import Trace, redact_url

MAX_CONFIG_SIZE = 64 << 20
CHUNK_SIZE = 1 << 20
_FROM_CONFIG = object()
_LOOPBACK_NAMES = {"localhost"}


class RegistryNotFound(RegistryError, NotFound):
    """A registry answered 404 (unknown repository, manifest, tag or blob); both a RegistryError and a NotFound."""


def split_host_port(host: str) -> tuple[str, str]:
    """Return (hostname, port or "") for "host", "host:port", "[::1]:5000" or "::1"."""
    h = host.strip()
    if h.startswith("["):
        name, _, rest = h[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    if h.count(":") > 1:
        return h, ""  # a bare IPv6 address
    name, _, port = h.partition(":")
    return name, port


def is_loopback(host: str) -> bool:
    """Return True for localhost, 127.0.0.0/8 and ::1 (with or without a port)."""
    name = split_host_port(host)[0].lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_insecure(host: str, insecure_registries=()) -> bool:
    """Return True when `host` may be spoken to over plain HTTP: loopback, or listed (host[:port] or CIDR)."""
    if is_loopback(host):
        return True
    name = split_host_port(host)[0].lower()
    for entry in insecure_registries or ():
        e = str(entry).strip().lower()
        if "://" in e:
            e = urlsplit(e).netloc
        if e == host.lower() or e == name:
            return True
        if "/" in e:
            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(e, strict=False):
                    return True
            except ValueError:
                pass
    return False


def endpoint_for(host: str, insecure_registries=()) -> str:
    """Return the base URL for registry `host`: http:// for loopback and insecure registries, else https://."""
    api = DOCKER_HUB_API_HOST if host == DEFAULT_DOMAIN else host
    return ("http://" if is_insecure(api, insecure_registries) else "https://") + api


@dataclass(frozen=True)
class FetchedManifest:
    """Manifest (or index) bytes as the registry served them, verified, with their media type and digest."""

    raw: bytes
    media_type: str
    digest: Digest

    @property
    def size(self) -> int:
        """Return the length of the raw bytes."""
        return len(self.raw)


@dataclass(frozen=True)
class ManifestHead:
    """What a HEAD on a manifest says: media type, digest (Docker-Content-Digest) and size."""

    media_type: str
    digest: Digest | None
    size: int | None


def _manifest_head(resp) -> ManifestHead:
    """Return the ManifestHead a HEAD answer describes (digest None when the header is missing or not a digest)."""
    dcd = resp.headers.get("Docker-Content-Digest", "").strip()
    length = resp.headers.get("Content-Length")
    try:
        digest = as_digest(dcd) if dcd else None
    except ValueError:
        digest = None
    return ManifestHead(resp.headers.get("Content-Type", "").split(";")[0].strip(), digest,
                        int(length) if length and length.isdigit() else None)


def _error_codes(resp) -> tuple[tuple[str, ...], str]:
    """Return (codes, first message) from a registry's {"errors": [...]} body (distribution spec errors)."""
    try:
        body = json.loads(resp.content or b"{}")
    except (ValueError, RuntimeError):
        return (), ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return (), ""
    codes = tuple(str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code"))
    message = next((str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")), "")
    return codes, message


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import datetime, timezone
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _short_reason(e: Exception) -> str:
    text = str(e).lower()
    for needle in ("connection refused", "connection reset", "timed out", "name or service not known",
                   "remote end closed connection", "connection aborted", "certificate verify failed"):
        if needle in text:
            return needle
    return type(e).__name__


def _arrived(resp):
    """Yield a streamed body as it arrives (up to CHUNK_SIZE at a time). A read waits for what the network has
    delivered, not for a whole chunk, so when the connection drops every byte received is already written,
    and the resumed request asks only for the rest. Errors come out as requests' own exceptions."""
    read1 = getattr(resp.raw, "read1", None)  # urllib3 2
    if read1 is None:
        yield from resp.iter_content(CHUNK_SIZE)
        return
    import urllib3

    while True:
        try:
            data = read1(CHUNK_SIZE, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as e:
            raise requests.exceptions.ConnectionError(e) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise requests.exceptions.ChunkedEncodingError(e) from None
        if not data:
            return
        yield data


class _StripAuth(requests.auth.AuthBase):
    """Auth for requests to a host that is not the registry: send no Authorization (and never read .netrc)."""

    def __call__(self, r):
        r.headers.pop("Authorization", None)
        return r


class RegistryClient:
    """Talks to one registry endpoint; methods raise labkit errors naming what was attempted (`what`)."""

    def __init__(self, host: str, *, base_url: str | None = None, credentials=_FROM_CONFIG,
                 auth: requests.auth.AuthBase | None = None, session: requests.Session | None = None,
                 insecure_registries=(), retries: int = 3, backoff: float = 0.2,
                 max_retry_after: float = 2.0, timeout=(10, 60), trace: "Trace | bool | None" = None,
                 push: bool = False, name: str | None = None, sleep: Callable[[float], None] = time.sleep):
        self.host = host
        self.base_url = (base_url or endpoint_for(host, insecure_registries)).rstrip("/")
        self.netloc = urlsplit(self.base_url).netloc.lower()
        self.name = name or host
        self.session = session or requests.Session()
        if credentials is _FROM_CONFIG:
            from .dockerconfig import load_docker_credentials
            credentials = load_docker_credentials(host)
        self.auth = auth if auth is not None else RegistryAuth(credentials, push=push, session=self.session)
        self.retries = max(1, retries)
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.sleep = sleep
        self.trace = Trace() if trace is True else (None if trace is None or trace is False else trace)
        if self.trace is not None and isinstance(self.auth, RegistryAuth):
            self.auth.trace = self.trace.record

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    # -- low level --------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Return the absolute URL of an API path such as /v2/library/debian/manifests/latest."""
        return self.base_url + path

    def _record(self, resp) -> None:
        if self.trace is not None:
            for old in resp.history:
                self.trace.record(old)
            self.trace.record(resp)

    def _send_once(self, method: str, url: str, headers: dict, stream: bool, authorize: bool = True):
        """Send one request, following up to 5 redirects by hand; returns the final response."""
        for _ in range(6):
            same_host = urlsplit(url).netloc.lower() == self.netloc
            auth = self.auth if same_host and authorize else _StripAuth()
            resp = self.session.request(method, url, headers=headers, stream=stream, timeout=self.timeout,
                                        allow_redirects=False, auth=auth)
            self._record(resp)
            if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                url = urljoin(url, resp.headers["Location"])
                resp.close()
                if resp.status_code == 303:
                    method = "GET"
                continue
            return resp
        raise RegistryError(f"too many redirects from {self.name}", method=method, url=redact_url(url))

    def request(self, method: str, path: str, *, what: str, headers: dict | None = None, stream: bool = False,
                ok=(200,), authorize: bool = True) -> requests.Response:
        """Send a request with bounded retries (connection errors, 5xx, short 429s); raise on other statuses.

        authorize=False sends it without credentials (the ping)."""
        url = path if "://" in path else self.url(path)
        headers = dict(headers or {})
        for attempt in range(self.retries):
            last = attempt == self.retries - 1
            try:
                resp = self._send_once(method, url, headers, stream, authorize)
            except AuthRequired as e:  # from the token endpoint, via the auth object
                status = f", {e.status}" if e.status else ""
                raise AuthRequired(f"{what}: {e} ({self.name}{status})", method=method, url=redact_url(url),
                                   status=e.status, codes=e.codes, body=e.body) from None
            except requests.RequestException as e:
                if last:
                    raise RegistryError(f"{what}: cannot reach {self.name} ({_short_reason(e)}, "
                                        f"{self.retries} tries)", method=method, url=redact_url(url)) from None
                self.sleep(self.backoff * (2 ** attempt))
                continue
            if resp.status_code in ok:
                return resp
            if resp.status_code >= 500 and not last:
                resp.close()
                self.sleep(self.backoff * (2 ** attempt))
                continue
            if resp.status_code == 429 and not last:
                wait = _retry_after_seconds(resp.headers.get("Retry-After"))
                if wait is not None and wait <= self.max_retry_after:
                    resp.close()
                    self.sleep(wait)
                    continue
            raise self.error(resp, what, tries=attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, method: str, path: str, *, what: str, data: bytes = b"", headers: dict | None = None,
             ok=(201, 202)) -> requests.Response:
        """Send one request with a body (an upload or a manifest PUT) and return the response; no retries,
        since uploads are not idempotent; raise the client's error for any status not in `ok`."""
        url = path if "://" in path else self.url(path)
        same_host = urlsplit(url).netloc.lower() == self.netloc
        try:
            resp = self.session.request(method, url, data=data, headers=dict(headers or {}), timeout=self.timeout,
                                        allow_redirects=False, auth=self.auth if same_host else _StripAuth())
        except AuthRequired as e:  # from the token endpoint, via the auth object
            raise AuthRequired(f"{what}: {e} ({self.name})", method=method, url=redact_url(url), status=e.status,
                               codes=e.codes, body=e.body) from None
        except requests.RequestException as e:
            raise RegistryError(f"{what}: cannot reach {self.name} ({_short_reason(e)})", method=method,
                                url=redact_url(url)) from None
        self._record(resp)
        if resp.status_code not in ok:
            raise self.error(resp, what)
        return resp

    def error(self, resp, what: str, tries: int = 1) -> RegistryError:
        """Return the labkit error for a failed response: AuthRequired, RegistryNotFound, RateLimited, RegistryError."""
        status = resp.status_code
        codes, message = _error_codes(resp) if resp.request.method != "HEAD" else ((), "")
        try:
            body = resp.text[:4000] if resp.request.method != "HEAD" else ""
        except RuntimeError:
            body = ""
        resp.close()
        method = resp.request.method
        url = redact_url(resp.request.url)
        default = {401: "authentication required", 403: "access denied", 404: "not found",
                   429: "too many requests"}.get(status, (resp.reason or "error").lower())
        where = f"({self.name}, {status}{' ' + ' '.join(codes) if codes else ''})"
        text = f"{what}: {message or default} {where}"
        kw = dict(method=method, url=url, status=status, codes=codes, body=body)
        if status == 429:
            keep = {h: resp.headers[h] for h in ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                                                 "RateLimit-Reset") if h in resp.headers}
            ra = resp.headers.get("Retry-After")
            hint = f"; retry after {ra} s" if ra else ""
            limits = ""
            if "RateLimit-Limit" in keep:
                limits = f"; limit {keep['RateLimit-Limit']}, remaining {keep.get('RateLimit-Remaining', '?')}"
            return RateLimited(f"{text}{hint}{limits}; a registry mirror (registry-mirrors in daemon.json) "
                               f"avoids this limit", retry_after=ra, headers=keep, **kw)
        if status in (401, 403):
            has_creds = isinstance(self.auth, RegistryAuth) and self.auth.credentials is not None
            hint = ("; the credentials were refused" if has_creds and status == 401
                    else f"; log in with `labkit login {self.host}`" if not has_creds else "")
            return AuthRequired(text + hint, **kw)
        if status == 404:
            return RegistryNotFound(text, **kw)
        if status >= 500 and tries > 1:
            text += f" after {tries} tries"
        return RegistryError(text, **kw)

    # -- API ---------------------------------------------------------------------------------------------
    def ping(self, what: str | None = None, *, strict: bool = True) -> dict:
        """GET /v2/ as Docker's PingV2Registry does it, and return {"url", "status", "api_version"}.

        The ping goes without credentials; a 401 only records the registry's challenge (Docker's challenge
        manager), so every later request carries the credentials it asks for at once: no second ping.
        strict=False (pull, push) accepts any answer and leaves auth failures for the real requests to
        report. strict=True (login) then checks the credentials the way `docker login` does: GET /v2/ again
        with them (a Bearer challenge: a token without a repository scope).
        """
        what = what or f"ping {self.name}"
        url = redact_url(self.url("/v2/"))
        resp = self.request("GET", "/v2/", what=what, ok=range(200, 500), authorize=False)
        resp.close()
        if resp.status_code == 401 and isinstance(self.auth, RegistryAuth):
            self.auth.add_response(resp)
        if resp.status_code == 401 and strict:
            resp = self.request("GET", "/v2/", what=what)
            resp.close()
        elif resp.status_code != 200 and strict:
            raise self.error(resp, what)
        return {"url": url, "status": resp.status_code,
                "api_version": resp.headers.get("Docker-Distribution-Api-Version", "")}

    def _accept(self) -> dict:
        return {"Accept": ", ".join(MANIFEST_ACCEPT)}

    def head_manifest(self, repo: str, ref: "str | Digest", *, what: str | None = None) -> ManifestHead:
        """Return the media type, digest and size a HEAD on the manifest reports."""
        what = what or f"head manifest {repo}:{ref}"
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{ref}", what=what, headers=self._accept())
        resp.close()
        return _manifest_head(resp)

    def resolve_tag(self, repo: str, tag: str, *, what: str | None = None) -> "ManifestHead | FetchedManifest":
        """Return what `tag` points to, asked as Docker asks: `HEAD manifests/TAG` (a version check, which Docker
        Hub does not count as a pull) and its Docker-Content-Digest. A registry that answers the HEAD with an
        error (404, 405, ...) or without a digest gets `GET manifests/TAG` instead, as distribution's client
        (tags.Get) does: then the manifest itself comes back (or the error with its details).
        """
        what = what or f"resolve {repo}:{tag}"
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{tag}", what=what, headers=self._accept(),
                            ok=range(200, 600))
        resp.close()
        if 200 <= resp.status_code < 300:
            head = _manifest_head(resp)
            if head.digest is not None:
                return head
        return self.get_manifest(repo, tag, what=what)

    def get_manifest(self, repo: str, ref: "str | Digest", *, what: str | None = None) -> FetchedManifest:
        """Return the manifest or index for a tag or digest, verified against the digest it was fetched by."""
        what = what or f"get manifest {repo}:{ref}"
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", what=what, headers=self._accept(), stream=True)
        raw = self._read_capped(resp, MAX_MANIFEST_SIZE, what, "manifest")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            doc = json.loads(raw)
        except ValueError:
            raise RegistryError(f"{what}: the manifest is not JSON ({self.name})", method="GET",
                                url=redact_url(resp.request.url), status=resp.status_code,
                                body=raw[:2000].decode("utf-8", "replace")) from None
        if isinstance(doc, dict) and (media_type in ("", "application/json", "text/plain") and doc.get("mediaType")):
            media_type = str(doc["mediaType"])
        if media_type in SCHEMA1_TYPES or (isinstance(doc, dict) and doc.get("schemaVersion") == 1):
            raise LabkitError(f"{what}: deprecated manifest format (Docker image manifest v2 schema 1) on "
                              f"{self.name}; push the image again with a current tool to upgrade it")
        actual = Digest.of(raw)
        if isinstance(ref, Digest) or ":" in str(ref):  # tags never hold ":"
            expected = as_digest(ref)
            actual = Digest.of(raw, expected.algorithm)
            if actual != expected:
                raise DigestMismatch(f"{what}: the manifest from {self.name} does not match its digest "
                                     f"(expected {expected}, got {actual})", expected=str(expected),
                                     actual=str(actual))
        else:
            dcd = resp.headers.get("Docker-Content-Digest")
            if dcd:
                claimed = as_digest(dcd)
                got = Digest.of(raw, claimed.algorithm)
                if got != claimed:
                    raise DigestMismatch(f"{what}: the manifest from {self.name} does not match its "
                                         f"Docker-Content-Digest (header {claimed}, content {got})",
                                         expected=str(claimed), actual=str(got))
        return FetchedManifest(raw, media_type, actual)

    def _read_capped(self, resp, cap: int, what: str, kind: str) -> bytes:
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            resp.close()
            raise RegistryError(f"{what}: the {kind} is {length} bytes, over the {cap >> 20} MiB limit "
                                f"({self.name})", method=resp.request.method, url=redact_url(resp.request.url),
                                status=resp.status_code)
        out = bytearray()
        try:
            for chunk in resp.iter_content(64 << 10):
                out += chunk
                if len(out) > cap:
                    raise RegistryError(f"{what}: the {kind} is over the {cap >> 20} MiB limit ({self.name})",
                                        method=resp.request.method, url=redact_url(resp.request.url),
                                        status=resp.status_code)
        except requests.RequestException as e:
            raise RegistryError(f"{what}: connection to {self.name} lost while reading the {kind} "
                                f"({_short_reason(e)})", method=resp.request.method,
                                url=redact_url(resp.request.url)) from None
        finally:
            resp.close()
        return bytes(out)

    def get_blob_bytes(self, repo: str, digest: "Digest | str", size: int | None = None, *,
                       what: str | None = None, cap: int = MAX_CONFIG_SIZE) -> bytes:
        """Return a small blob (a config) in memory, verified against its digest and size."""
        d = as_digest(digest)
        what = what or f"get blob {repo}@{d}"
        resp = self.request("GET", f"/v2/{repo}/blobs/{d}", what=what, stream=True)
        data = self._read_capped(resp, cap, what, "blob")
        v = Verifier(d, size)
        try:
            v.update(data)
            v.check()
        except DigestMismatch as e:
            raise DigestMismatch(f"{what}: blob from {self.name} rejected: {e}", expected=e.expected,
                                 actual=e.actual) from None
        return data

    def fetch_blob(self, repo: str, digest: "Digest | str", size: int | None, layout, *,
                   what: str | None = None, on_progress: Callable[[int, int | None], None] | None = None) -> bool:
        """Stream a blob into `layout.blob_writer` (verified there); return False when it was already stored.

        A connection that drops mid-blob is resumed with `Range: bytes=N-M` (up to `retries` times), and so is a
        download an earlier pull left unfinished (the writer adopts its bytes, as containerd's content store
        does); a registry that ignores Range sends the whole blob and the bytes we have are skipped. The writer
        hashes every byte, so the whole blob is verified before it becomes visible.
        """
        d = as_digest(digest)
        what = what or f"get blob {repo}@{d}"
        if layout.has_blob(d):
            return False
        path = f"/v2/{repo}/blobs/{d}"
        drops = 0
        try:
            with layout.blob_writer(d, size, resume=True) as w:
                offset = w.offset
                if on_progress and offset:
                    on_progress(offset, size)
                while True:
                    if size is not None and offset >= size:
                        break  # an adopted download that had every byte: the writer verifies and commits it
                    headers = {}
                    if offset:
                        end = f"{size - 1}" if size is not None else ""
                        headers["Range"] = f"bytes={offset}-{end}"
                    resp = self.request("GET", path, what=what, headers=headers, stream=True,
                                        ok=(200, 206) if offset else (200,))
                    skip = 0
                    if offset:
                        skip = self._check_range(resp, offset, what)
                    try:
                        for chunk in _arrived(resp):
                            if skip:
                                cut = min(skip, len(chunk))
                                chunk, skip = chunk[cut:], skip - cut
                                if not chunk:
                                    continue
                            w.write(chunk)
                            offset += len(chunk)
                            if on_progress:
                                on_progress(offset, size)
                    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                            requests.Timeout) as e:
                        drops += 1
                        if drops >= self.retries:
                            raise RegistryError(f"{what}: connection to {self.name} lost at byte {offset} "
                                                f"({_short_reason(e)}, {drops} tries)", method="GET",
                                                url=redact_url(resp.request.url)) from None
                        self.sleep(self.backoff * (2 ** (drops - 1)))
                        continue
                    finally:
                        resp.close()
                    if size is not None and offset < size:
                        drops += 1  # the server closed early without an error: resume the rest
                        if drops >= self.retries:
                            raise RegistryError(f"{what}: {self.name} sent {offset} of {size} bytes "
                                                f"({drops} tries)", method="GET", url=redact_url(resp.request.url))
                        continue
                    break
        except DigestMismatch as e:
            raise DigestMismatch(f"{what}: blob from {self.name} rejected: {e}", expected=e.expected,
                                 actual=e.actual) from None
        return True

    def _check_range(self, resp, offset: int, what: str) -> int:
        """Return how many leading bytes of a resumed response to skip (0 for a proper 206)."""
        if resp.status_code == 206:
            cr = resp.headers.get("Content-Range", "")
            if not cr.startswith(f"bytes {offset}-"):
                resp.close()
                raise RegistryError(f"{what}: {self.name} answered a range request for byte {offset} with "
                                    f"Content-Range {cr!r}", method="GET", url=redact_url(resp.request.url),
                                    status=206)
            return 0
        return offset  # 200: the server ignored Range (allowed by RFC 9110); skip what we already have

    def close(self) -> None:
        """Close the underlying session."""
        self.session.close()


def client_for(host: str, *, settings: dict | None = None, home=None, operation: str = "push",
               **kw) -> RegistryClient:
    """Return a RegistryClient for `host`, honouring `insecure-registries` from daemon.json settings and, with
    `home`, the registry host configuration `<home>/certs.d/<host>/hosts.toml` (registry.hosts): the first host
    there that may serve `operation` ("push", "login", "search", "pull")."""
    from .hosts import base_urls

    insecure = (settings or {}).get("insecure-registries") or ()
    base = base_urls(host, home, operation, endpoint_for(host, insecure))[0]
    return RegistryClient(host, base_url=base, insecure_registries=insecure, **kw)


__all__ = ["RegistryClient", "RegistryNotFound", "FetchedManifest", "ManifestHead", "Credentials", "client_for",
           "endpoint_for", "is_loopback", "is_insecure", "split_host_port"]
