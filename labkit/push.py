"""The push workflow: upload a stored image's blobs (skipping what the registry has, mounting what another
repository of the same registry holds), then PUT its manifest bytes unchanged, reporting docker's lines.

    from labkit.push import push, PushRenderer
    result = push(store, "localhost:5000/wordpress", progress=PushRenderer())

Decisions (each follows docker unless said otherwise):
- Layers are named by their diff ID (12 hex), as docker's classic push does; a pull names the same layer by
  its compressed blob digest, so the two outputs show different IDs for one layer.
- Only the platform manifest of a stored image is pushed, never the index it was pulled through (docker
  pushes the image it has, and the digest line names that manifest).
- Per blob: HEAD in the target repository ("Layer already exists"); else a cross-repository mount from each
  repository of the same registry the store holds an image with that blob in, at most MAX_MOUNT_ATTEMPTS
  ("Mounted from <repo>"); a 202 to a mount means the registry started a normal upload session instead,
  which we use; else a monolithic upload (POST, PUT ?digest= with the body) up to the chunk size, or a
  chunked one (POST, PATCH with Content-Range per chunk, PUT ?digest=) above it. The config blob is pushed
  the same way, with no line of its own.
- Up to max-concurrent-uploads layers (daemon.json, default 5) go up at once, top layer first; each layer past
  that limit says "Waiting" until a slot frees, as docker's transfer manager does (moby:
  daemon/internal/distribution/xfer, makeUploadFunc: the transfers past the limit print "Waiting" before
  they start). In the browser layers go up one at a time, and the lines are still those of the configured
  limit.
- The plain renderer prints "Preparing" for every layer, then "Waiting" for those past the limit, then each
  layer's final line, top layer first, so a push prints the same text on every run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, TextIO
from urllib.parse import quote, urljoin, urlsplit

from .digest import Digest, as_digest
from .errors import AuthRequired, DigestMismatch, LabkitError, NotFound, RegistryError, UsageError
from .progress import WAITING, LayerEvent, LayersEvent, MessageEvent, TerminalRenderer, serialized

PREPARING = "Preparing"
PUSHING = "Pushing"
PUSHED = "Pushed"
LAYER_EXISTS = "Layer already exists"
MOUNTED_FROM = "Mounted from"
SKIPPED_FOREIGN = "Skipped foreign layer"

MAX_MOUNT_ATTEMPTS = 3  # docker's maxMountAttempts
MONOLITHIC_MAX = 32 << 20  # blobs up to this size go in one PUT (read into memory) unless chunk_size says less
DEFAULT_CHUNK = 16 << 20
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class BlobPush:
    """What happened to one blob: "exists", "mounted" (from `source`), "pushed" or "skipped"."""

    digest: Digest
    size: int
    outcome: str
    source: str | None = None
    method: str | None = None  # "monolithic" | "chunked" for pushed blobs


@dataclass(frozen=True)
class PushResult:
    """What a push did: the reference pushed, the manifest digest and size the registry stored, per blob."""

    reference: object  # labkit.reference.Reference (with the default tag when none was given)
    digest: Digest
    size: int
    media_type: str
    host: str
    blobs: tuple[BlobPush, ...]

    @property
    def digest_line(self) -> str:
        """Return docker's last line: `<tag>: digest: sha256:... size: N`."""
        return f"{self.reference.tag}: digest: {self.digest} size: {self.size}"


# --- rendering ------------------------------------------------------------------------------------------

class PushRenderer:
    """Prints docker's push lines, deterministic: every layer's "Preparing", then final lines in layer order."""

    def __init__(self, write: "Callable[[str], object] | TextIO | None" = None):
        import sys

        write = sys.stdout if write is None else write
        self._write = write.write if hasattr(write, "write") else write
        self._newline = hasattr(write, "write")
        self._order: list[str] = []
        self._final: dict[str, str] = {}
        self._lock = threading.Lock()

    def _emit(self, line: str) -> None:
        self._write(line + "\n" if self._newline else line)

    def __call__(self, event) -> None:
        with self._lock:
            if isinstance(event, LayersEvent):
                self._flush()
                self._order = list(event.layer_ids)
                for lid in self._order:
                    self._emit(f"{lid}: {PREPARING}")
            elif isinstance(event, LayerEvent):
                if event.final:
                    self._final[event.layer_id] = f"{event.layer_id}: {event.status}"
                    if event.layer_id not in self._order:
                        self._order.append(event.layer_id)
                elif event.status == WAITING:  # sent before any layer starts: the same place on every run
                    self._emit(f"{event.layer_id}: {WAITING}")
            elif isinstance(event, MessageEvent):
                self._flush()
                self._emit(event.text)

    def _flush(self) -> None:
        for lid in self._order:
            if lid in self._final:
                self._emit(self._final.pop(lid))
        self._order = []

    def close(self) -> None:
        """Print any final layer lines still held back."""
        with self._lock:
            self._flush()


class TerminalPushRenderer(TerminalRenderer):
    """Docker's live push view for a TTY: one line per layer, rewritten in place (a bar while pushing)."""

    def __init__(self, stream: TextIO | None = None):
        super().__init__(stream, first=PREPARING, bars=(PUSHING,))


def push_renderer_for(stream: TextIO | None = None):
    """Return a TerminalPushRenderer when `stream` (default stdout) is a TTY, else a PushRenderer."""
    import sys

    from .progress import is_terminal

    stream = stream or sys.stdout
    if is_terminal(stream):
        return TerminalPushRenderer(stream)
    return PushRenderer(stream)


def render_push_lines(events) -> list[str]:
    """Return the lines PushRenderer prints for `events`."""
    out: list[str] = []
    r = PushRenderer(out.append)
    for e in events:
        r(e)
    r.close()
    return out


def _with_digest(location: str, digest: Digest) -> str:
    sep = "&" if urlsplit(location).query else "?"
    return f"{location}{sep}digest={digest}"


def _location(client, resp, base: str, what: str) -> str:
    loc = resp.headers.get("Location")
    resp.close()
    if not loc:
        raise RegistryError(f"{what}: {client.name} answered {resp.status_code} without a Location header",
                            method=resp.request.method, status=resp.status_code)
    return urljoin(base, loc)


# --- mount candidates ---------------------------------------------------------------------------------

def mount_candidates(store, ref) -> dict[Digest, list[str]]:
    """Return {blob digest: [repository paths]} of the other repositories on `ref`'s registry that the store
    holds images of (the full references in index.json), in name order: where a mount may succeed."""
    from .oci.keys import REF_NAME
    from .store import full_reference

    layout = store.layout
    named = []
    for desc in layout.index():
        name = full_reference(desc.annotations.get(REF_NAME))
        if name is not None and name.domain == ref.domain and name.path != ref.path:
            named.append((name.path, desc))
    out: dict[Digest, list[str]] = {}
    for path, desc in sorted(named, key=lambda x: x[0]):
        for d in _blobs_under(layout, desc.digest, desc.media_type):
            repos = out.setdefault(d, [])
            if path not in repos:
                repos.append(path)
    return out


def _blobs_under(layout, digest: Digest, media_type: str, depth: int = 0) -> list[Digest]:
    """Return the config and layer digests of a stored manifest, or of every stored manifest of an index."""
    from .oci import Index, parse_manifest

    if depth > 3 or not layout.has_blob(digest):
        return []
    try:
        doc = parse_manifest(layout.read_blob(digest), media_type or None)
    except LabkitError:
        return []
    if isinstance(doc, Index):
        return [d for child in doc.manifests for d in _blobs_under(layout, child.digest, child.media_type, depth + 1)]
    return [b.digest for b in doc.blobs()]


# --- the workflow ----------------------------------------------------------------------------------------

class _Pusher:
    def __init__(self, client, ref, layout, candidates, chunk_size, what):
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.layout = layout
        self.candidates = candidates
        self.chunk_size = chunk_size
        self.what = what

    def exists(self, desc) -> bool:
        """Return True when the target repository already has the blob (HEAD 200 with the right size)."""
        resp = self.client.request("HEAD", f"/v2/{self.repo}/blobs/{desc.digest}", what=self.what, ok=(200, 404))
        resp.close()
        if resp.status_code != 200:
            return False
        length = resp.headers.get("Content-Length")
        return not (length and length.isdigit() and desc.size is not None and int(length) != desc.size)

    def push_blob(self, desc, on_progress=None) -> BlobPush:
        """Make the blob `desc` exist in the target repository; return what it took."""
        d = desc.digest
        if self.exists(desc):
            return BlobPush(d, desc.size, "exists")
        if not self.layout.has_blob(d):
            raise NotFound(f"{self.what}: blob {d} is not in the store (pull the image again)")
        size = self.layout.blob_size(d)
        session = None
        for source in self.candidates.get(d, [])[:MAX_MOUNT_ATTEMPTS]:
            path = f"/v2/{self.repo}/blobs/uploads/?mount={d}&from={quote(source, safe='/')}"
            try:
                resp = self.client.request("POST", path, what=self.what, ok=(201, 202))
            except (AuthRequired, RegistryError):
                continue  # docker: this source mapping is no longer valid; try the next or upload
            if resp.status_code == 201:
                resp.close()
                return BlobPush(d, size, "mounted", source=source)
            session = _location(self.client, resp, self.client.url(path), self.what)  # 202: upload here
            break
        if session is None:
            path = f"/v2/{self.repo}/blobs/uploads/"
            resp = self.client.request("POST", path, what=self.what, ok=(202,))
            session = _location(self.client, resp, self.client.url(path), self.what)
        limit = self.chunk_size if self.chunk_size else MONOLITHIC_MAX
        if size <= limit:
            self._monolithic(session, d, size, on_progress)
            method = "monolithic"
        else:
            self._chunked(session, d, size, self.chunk_size or DEFAULT_CHUNK, on_progress)
            method = "chunked"
        return BlobPush(d, size, "pushed", method=method)

    def _finish(self, location: str, d: Digest, data: bytes) -> None:
        resp = self.client.send("PUT", _with_digest(location, d), what=self.what, data=data,
                    headers={"Content-Type": OCTET_STREAM}, ok=(201,))
        resp.close()
        got = resp.headers.get("Docker-Content-Digest")
        if got and as_digest(got) != d:
            raise DigestMismatch(f"{self.what}: {self.client.name} stored blob {d} as {got}", expected=str(d),
                                 actual=got)

    def _monolithic(self, location: str, d: Digest, size: int, on_progress) -> None:
        data = self.layout.read_blob(d)
        self._finish(location, d, data)
        if on_progress:
            on_progress(size, size)

    def _chunked(self, location: str, d: Digest, size: int, chunk: int, on_progress) -> None:
        offset = 0
        with self.layout.open_blob(d) as f:
            while offset < size:
                data = f.read(chunk)
                if not data:
                    raise LabkitError(f"{self.what}: blob {d} ended at byte {offset} of {size} in the store")
                end = offset + len(data) - 1
                resp = self.client.send("PATCH", location, what=self.what, data=data, ok=(202,),
                            headers={"Content-Type": OCTET_STREAM, "Content-Range": f"{offset}-{end}"})
                rng = resp.headers.get("Range", "")
                if rng and not rng.endswith(f"-{end}"):
                    resp.close()
                    raise RegistryError(f"{self.what}: {self.client.name} acknowledged {rng!r} after the chunk "
                                        f"{offset}-{end} of blob {d}", method="PATCH", status=resp.status_code)
                location = _location(self.client, resp, location, self.what)
                offset = end + 1
                if on_progress:
                    on_progress(offset, size)
        self._finish(location, d, b"")

    def put_manifest(self, raw: bytes, media_type: str, expected: Digest) -> Digest:
        """PUT the manifest bytes under the tag; return the digest the registry reports (checked)."""
        resp = self.client.send("PUT", f"/v2/{self.repo}/manifests/{self.ref.tag}", what=self.what, data=raw,
                    headers={"Content-Type": media_type}, ok=(200, 201))
        resp.close()
        got = resp.headers.get("Docker-Content-Digest")
        if got and as_digest(got) != expected:
            raise DigestMismatch(f"{self.what}: {self.client.name} stored the manifest as {got}, not {expected}",
                                 expected=str(expected), actual=got)
        return expected


def push(store, reference, *, progress: Callable | None = None, credentials=None, settings: dict | None = None,
         trace=None, chunk_size: int | None = None, client_options: dict | None = None) -> PushResult:
    """Push the stored image `reference` to its registry; return a PushResult. Emits progress events.

    credentials: a registry.auth.Credentials (default: docker's config.json for the registry host).
    chunk_size: blobs larger than this go up in chunks of this size (default: monolithic up to 32 MiB,
    then 16 MiB chunks). settings: daemon.json (default: the store's home), for insecure-registries.
    """
    from .reference import Reference
    from .registry.client import client_for
    from .transfers import UPLOADS_KEY, concurrency, configured, executor

    emit = serialized(progress)
    ref = reference if isinstance(reference, Reference) else Reference.parse(str(reference))
    if ref.digest is not None:
        raise UsageError(f"push {ref}: cannot push a digest reference")
    if ref.tag is None:
        emit(MessageEvent("Using default tag: latest", "default-tag"))
        ref = ref.with_default_tag()
    what = f"push {ref.familiar}"
    if chunk_size is not None and chunk_size < 1:
        raise UsageError(f"{what}: chunk_size must be at least 1 byte, not {chunk_size}")
    try:
        rec = store.resolve(ref)
    except NotFound:
        raise NotFound(f"{what}: An image does not exist locally with the tag: {ref.familiar_name}") from None
    manifest = store.manifest(rec)
    if settings is None:
        from .home import load_settings
        settings = load_settings(store.home)
    workers = concurrency(settings, UPLOADS_KEY)
    limit = configured(settings, UPLOADS_KEY)  # docker's output: the layers past it say "Waiting"

    layers = _layer_ids(store, rec, manifest)  # [(id, descriptor)], top layer first, each blob once
    options = dict(client_options or {})
    if credentials is not None:
        options["credentials"] = credentials
    if trace is not None:
        options["trace"] = trace
    client = client_for(ref.domain, settings=settings, home=store.home, operation="push", push=True, **options)
    candidates = mount_candidates(store, ref)
    pusher = _Pusher(client, ref, store.layout, candidates, chunk_size, what)
    results: list[BlobPush] = []
    try:
        with store.layout.claim([manifest.digest] + [d.digest for d in manifest.blobs()]):
            emit(MessageEvent(f"The push refers to repository [{ref.name}]", "push-refers"))
            client.ping(what, strict=False)  # learn the auth scheme first, as docker does
            emit(LayersEvent(tuple(lid for lid, _ in layers)))
            for lid, _ in layers[limit:]:
                emit(LayerEvent(lid, WAITING))

            def push_layer(lid, desc) -> BlobPush:
                if _is_foreign(desc, store.layout):
                    emit(LayerEvent(lid, SKIPPED_FOREIGN, final=True))
                    return BlobPush(desc.digest, desc.size, "skipped")

                def on_progress(current, total):
                    emit(LayerEvent(lid, PUSHING, current, total))

                r = pusher.push_blob(desc, on_progress)
                status = {"exists": LAYER_EXISTS, "pushed": PUSHED}.get(r.outcome) or f"{MOUNTED_FROM} {r.source}"
                emit(LayerEvent(lid, status, r.size, r.size, final=True))
                return r

            # Up to max-concurrent-uploads layers at once (docker's default: 5), top layer first.
            with executor(workers, "labkit-push") as pool:
                futures = [pool.submit(push_layer, lid, desc) for lid, desc in layers]
                try:
                    results.extend(f.result() for f in futures)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
            results.append(pusher.push_blob(manifest.config))
            digest = pusher.put_manifest(manifest.raw, manifest.media_type, manifest.digest)
    finally:
        client.close()
    result = PushResult(ref, digest, len(manifest.raw), manifest.media_type, ref.domain, tuple(results))
    emit(MessageEvent(result.digest_line, "digest"))
    return result


def _is_foreign(desc, layout) -> bool:
    """Return True for a layer docker never pushes: one with `urls`, or a foreign layer we don't hold."""
    from .oci import is_foreign_layer

    return bool(desc.urls) or (is_foreign_layer(desc.media_type) and not layout.has_blob(desc.digest))


def _layer_ids(store, rec, manifest) -> list[tuple[str, object]]:
    """Return [(12-hex diff ID, layer descriptor)] top layer first, each blob once (docker's push order)."""
    try:
        diff_ids = list(store.config(rec).diff_ids)
    except LabkitError:
        diff_ids = []
    if len(diff_ids) != len(manifest.layers):
        diff_ids = [d.digest for d in manifest.layers]  # a config we can't match: name layers by blob
    out, seen = [], set()
    for diff_id, desc in reversed(list(zip(diff_ids, manifest.layers))):
        if desc.digest in seen:
            continue
        seen.add(desc.digest)
        out.append((as_digest(diff_id).short, desc))
    return out


__all__ = ["push", "PushResult", "BlobPush", "PushRenderer", "TerminalPushRenderer", "push_renderer_for",
           "render_push_lines", "mount_candidates", "PREPARING", "WAITING", "PUSHED", "LAYER_EXISTS", "MOUNTED_FROM",
           "SKIPPED_FOREIGN"]
