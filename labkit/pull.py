"""The pull workflow: resolve a reference on a registry (or its mirrors), fetch and verify every blob into the
store, hand each verified layer to the layer store, record the image, and report progress as events.

    from labkit.pull import pull
    result = pull(store, "debian:jessie", progress=PlainRenderer())
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from .digest import Digest
from .errors import DigestMismatch, LabkitError
from .progress import (ALREADY_EXISTS, DOWNLOAD_COMPLETE, DOWNLOADING, EXTRACTING, PULL_COMPLETE,
                       PULLING_FS_LAYER, VERIFYING, WAITING, LayerEvent, LayersEvent, MessageEvent, serialized)

MAX_INDEX_DEPTH = 4  # nested indexes followed at most this deep
UP_TO_DATE = "Image is up to date"
DOWNLOADED = "Downloaded newer image"


@dataclass(frozen=True)
class PullResult:
    """What a pull did: the reference, the record stored, the digests and which host served it."""

    reference: object  # labkit.reference.Reference, with the default tag when none was given
    record: object  # labkit.store.ImageRecord
    digest: Digest  # what the tag points to: the index digest when there is one, else the manifest's
    manifest_digest: Digest
    index_digest: Digest | None
    host: str  # the registry or mirror that served the manifest and blobs
    status: str  # DOWNLOADED or UP_TO_DATE
    downloaded: tuple[Digest, ...]  # blobs fetched over the network in this pull (config and layers)

    @property
    def status_line(self) -> str:
        """Return docker's "Status: ..." line."""
        return f"Status: {self.status} for {self.reference.familiar}"


@dataclass(frozen=True)
class Endpoint:
    """One place to pull from: a base URL, the host shown in messages, and whether it is a mirror."""

    base_url: str
    name: str
    mirror: bool = False


def endpoints_for(ref, settings: dict | None = None, mirrors=None, home=None) -> list[Endpoint]:
    """Return where to pull `ref` from: for docker.io refs each registry mirror first, then the registry, or
    the hosts `<home>/certs.d/<registry>/hosts.toml` lists for it (registry.hosts), named as the registry."""
    from .registry.client import endpoint_for
    from .registry.hosts import base_urls

    settings = settings or {}
    insecure = settings.get("insecure-registries") or ()
    out: list[Endpoint] = []
    if ref.domain == "docker.io":
        for m in (settings.get("registry-mirrors") or ()) if mirrors is None else mirrors:
            m = str(m).strip().rstrip("/")
            if not m:
                continue
            base = m if "://" in m else endpoint_for(m, insecure)
            out.append(Endpoint(base, urlsplit(base).netloc, True))
    for base in base_urls(ref.domain, home, "pull", endpoint_for(ref.domain, insecure)):
        out.append(Endpoint(base, ref.domain))
    return out


def _existing_manifest(store, ref) -> Digest | None:
    """Return the manifest digest the store already records for `ref`, or None."""
    from .errors import NotFound
    try:
        rec = store.resolve(ref)
    except (NotFound, LabkitError, ValueError):
        return None
    return rec.manifest.digest


def cached_manifest(layout, digest: Digest, media_type: str = ""):
    """Return the manifest (or index) `digest` as a FetchedManifest when the store already holds its bytes, else
    None. Docker keeps the manifests it fetched in its content store and reads them from there, so a pull
    GETs by digest only what it does not have (the layout's blobs were verified when written)."""
    from .errors import NotFound
    from .oci.limits import MAX_MANIFEST_SIZE
    from .registry.client import FetchedManifest

    if layout is None or not layout.has_blob(digest):
        return None
    try:
        if layout.blob_size(digest) > MAX_MANIFEST_SIZE:
            return None
        raw = layout.read_blob(digest)
    except (NotFound, OSError):
        return None
    return FetchedManifest(raw, media_type, digest)


def resolve(client, ref, platform=None, *, what: str, layout=None):
    """Return (digest the reference points to, [FetchedManifest of each index], Manifest), as Docker resolves:
    a tag with `HEAD manifests/TAG` (registry.client.resolve_tag), then each manifest by digest, from the
    store (`layout`) when it has it, else `GET manifests/DIGEST`; nested indexes are followed."""
    from .oci import Index, Manifest, parse_manifest
    from .registry.client import FetchedManifest

    if ref.digest is not None:
        top = ref.digest
        fetched = cached_manifest(layout, top) or client.get_manifest(ref.path, top, what=what)
    else:
        got = client.resolve_tag(ref.path, ref.tag, what=what)
        if isinstance(got, FetchedManifest):  # the registry would not say by HEAD: it came by GET
            fetched = got
        else:
            fetched = cached_manifest(layout, got.digest, got.media_type) or \
                client.get_manifest(ref.path, got.digest, what=what)
        top = fetched.digest
    indexes = []
    doc = parse_manifest(fetched.raw, fetched.media_type or None)
    depth = 0
    while isinstance(doc, Index):
        depth += 1
        if depth > MAX_INDEX_DEPTH:
            raise LabkitError(f"{what}: indexes nested more than {MAX_INDEX_DEPTH} deep")
        indexes.append(fetched)
        desc = doc.select(platform)
        fetched = cached_manifest(layout, desc.digest, desc.media_type) or \
            client.get_manifest(ref.path, desc.digest, what=what)
        if len(fetched.raw) != desc.size:  # the digest was checked by get_manifest; the size is ours to check
            raise DigestMismatch(f"{what}: manifest {desc.digest} is {len(fetched.raw)} bytes, the index says "
                                 f"{desc.size}", expected=str(desc.digest), actual=str(fetched.digest))
        doc = parse_manifest(fetched.raw, desc.media_type or fetched.media_type or None)
    if not isinstance(doc, Manifest):  # pragma: no cover - parse_manifest returns one or the other
        raise LabkitError(f"{what}: not an image manifest")
    return top, indexes, doc


def _most_telling(errors: "list[LabkitError]") -> LabkitError:
    """Return the error to report when every endpoint failed: a registry's own answer (a mirror's
    "manifest unknown") tells a student more than a later "cannot reach docker.io" (offline), so an answer
    with an HTTP status wins over a connection failure; otherwise the last error."""
    answered = [e for e in errors if getattr(e, "status", 0)]
    if answered and not getattr(errors[-1], "status", 0):
        return answered[-1]
    return errors[-1]


def pull(store, reference, platform=None, *, extract=None, progress: Callable | None = None,
         mirrors=None, settings: dict | None = None, credentials=None, trace=None,
         client_options: dict | None = None, max_workers: int | None = None,
         keep: Callable | None = None) -> PullResult:
    """Pull `reference` into `store`; return a PullResult. Emits progress events (labkit.progress).

    platform: "linux/arm64" or a Platform (default: the host's). extract: the LayerStore each layer is applied
    into as it arrives (its ensure(diff_id, blob_path, media_type) and check_image(diff_ids)),
    or None to stop after fetch + verify + store, like --no-extract.
    mirrors: registry mirrors for docker.io references (default: daemon.json `registry-mirrors`).
    credentials: a registry.auth.Credentials (default: docker's config.json for the registry host).
    max_workers: blobs downloaded at once (default: daemon.json `max-concurrent-downloads`, else 3).
    keep: for a pull that names nothing (the base image of a build, which BuildKit pulls into its cache and
    `docker images` never lists): called as keep(manifest, digests of its blobs) while they are still claimed,
    so the caller holds them; the result's record then stands for the unnamed image.

    The conversation is Docker's: one ping (its 401 only tells how to authenticate), `HEAD manifests/TAG`,
    then only what the store lacks: an image the store already has costs no GET at all.
    """
    from .oci import Platform
    from .reference import SCRATCH, Reference
    from .registry.client import RegistryClient
    from .transfers import DOWNLOADS_KEY, concurrency, configured

    emit = serialized(progress)
    ref = reference if isinstance(reference, Reference) else Reference.parse(str(reference))
    if ref.tag is None and ref.digest is None:
        emit(MessageEvent("Using default tag: latest", "default-tag"))
        ref = ref.with_default_tag()
    if ref.familiar_name == SCRATCH:
        # the daemon refuses the empty image's name (moby daemon/server/router/image validateRepoName)
        raise LabkitError("'scratch' is a reserved name")
    what = f"pull {ref.familiar}"
    if platform is not None:
        platform = Platform.parse(platform)
    if settings is None:
        from .home import load_settings
        settings = load_settings(store.home)
    workers = concurrency(settings, DOWNLOADS_KEY) if max_workers is None else max(1, max_workers)
    limit = configured(settings, DOWNLOADS_KEY) if max_workers is None else workers  # past it: "Waiting"

    options = dict(client_options or {})
    if trace is not None:
        options["trace"] = trace
    endpoints = endpoints_for(ref, settings, mirrors, store.home)
    errors: list[LabkitError] = []
    for i, ep in enumerate(endpoints):
        kw = dict(options)
        if not ep.mirror and credentials is not None:
            kw["credentials"] = credentials
        client = RegistryClient(urlsplit(ep.base_url).netloc if ep.mirror else ref.domain,
                                base_url=ep.base_url, name=ep.name, **kw)
        try:
            client.ping(what, strict=False)  # learn the auth scheme first, as docker does
            top, indexes, manifest = resolve(client, ref, platform, what=what, layout=store.layout)
            break
        except LabkitError as e:
            client.close()
            errors.append(e)
            if i == len(endpoints) - 1:
                raise _most_telling(errors) from None
    else:  # pragma: no cover - the loop either breaks or raises
        raise errors[-1]

    try:
        if keep is None and _has_image(store, manifest):
            return _record_existing(store, ep, ref, top, indexes, manifest, extract=extract, emit=emit)
        return _fetch_and_record(store, client, ep, ref, top, indexes, manifest, extract=extract,
                                 emit=emit, what=what, max_workers=workers, limit=limit, keep=keep)
    finally:
        client.close()


def _has_image(store, manifest) -> bool:
    """Return True when the store records an image of `manifest` and holds all its blobs: nothing to download.

    Docker's rule (distribution/pull_v2.go: "If the image already exists locally, no need to pull anything")."""
    layout = store.layout
    if not all(layout.has_blob(d.digest) for d in (manifest.config, *manifest.layers)):
        return False
    return any(d.digest == manifest.digest for d in layout.index())


def _record_existing(store, ep, ref, top, indexes, manifest, *, extract, emit) -> PullResult:
    """Finish a pull of an image the store has: point the tag at it, print docker's three lines, no layer lines."""
    from .oci import ImageConfig

    layout = store.layout
    index_digest = indexes[0].digest if indexes else None
    emit(MessageEvent(f"{ref.tag if ref.digest is None else ref.digest}: Pulling from {ref.path}", "pulling-from"))
    emit(MessageEvent(f"Source: {ep.name}{' (mirror)' if ep.mirror else ''}", "source"))
    with layout.claim({f.digest for f in indexes} | {manifest.digest}):
        if extract is not None:  # an image pulled with --no-extract has blobs but maybe no applied layers yet
            config = ImageConfig.from_bytes(layout.read_blob(manifest.config.digest))
            for diff_id, desc in zip(config.diff_ids, manifest.layers):
                extract.ensure(diff_id, layout.blob_path(desc.digest), desc.media_type)
            extract.check_image(config.diff_ids)
        for f in indexes:
            layout.put_bytes(f.raw, expected=f.digest)
        before = _existing_manifest(store, ref)
        record = store.add_image(ref, manifest, index_digest)
    # Docker: "Downloaded newer image" whenever the tag moved, even when no layer had to travel.
    status = UP_TO_DATE if before == manifest.digest else DOWNLOADED
    emit(MessageEvent(f"Digest: {top}", "digest"))
    emit(MessageEvent(f"Status: {status} for {ref.familiar}", "status"))
    emit(MessageEvent(ref.canonical, "reference"))
    return PullResult(ref, record, top, manifest.digest, index_digest, ep.name, status, ())


def _fetch_and_record(store, client, ep, ref, top, indexes, manifest, *, extract, emit, what,
                      max_workers, limit, keep=None) -> PullResult:
    """Fetch config and layers (in parallel), extract in order, store the manifest chain, record the image.

    The new layers past `limit` (max-concurrent-downloads) say "Waiting" after "Pulling fs layer", as in
    docker's download manager (moby: daemon/internal/distribution/xfer, makeDownloadFunc); the plain
    renderer leaves that word out, the terminal and the pull widget show it."""
    from .oci import ImageConfig
    from .transfers import executor

    layout = store.layout
    index_digest = indexes[0].digest if indexes else None
    layers = list(manifest.layers)
    all_digests = {f.digest for f in indexes} | {manifest.digest, manifest.config.digest} | \
        {d.digest for d in layers}
    emit(MessageEvent(f"{ref.tag if ref.digest is None else ref.digest}: Pulling from {ref.path}", "pulling-from"))
    emit(MessageEvent(f"Source: {ep.name}{' (mirror)' if ep.mirror else ''}", "source"))
    downloaded: list[Digest] = []
    stop = threading.Event()

    with layout.claim(all_digests):  # GC keeps every blob of this image until it is recorded
        # Layer IDs in manifest order, each once (a manifest may repeat a layer).
        order, seen = [], set()
        for d in layers:
            if d.digest not in seen:
                seen.add(d.digest)
                order.append(d)
        emit(LayersEvent(tuple(d.digest.short for d in order)))
        present = {d.digest for d in order if layout.has_blob(d.digest)}
        for d in order:
            if d.digest in present:
                emit(LayerEvent(d.digest.short, ALREADY_EXISTS, final=True))
            else:
                emit(LayerEvent(d.digest.short, PULLING_FS_LAYER, 0, d.size))
        for d in [d for d in order if d.digest not in present][limit:]:
            emit(LayerEvent(d.digest.short, WAITING, 0, d.size))

        def fetch_layer(desc) -> bool:
            lid = desc.digest.short

            def on_progress(current, total):
                if stop.is_set():
                    raise LabkitError(f"{what}: cancelled")
                emit(LayerEvent(lid, DOWNLOADING, current, total))
                if total is not None and current >= total:
                    emit(LayerEvent(lid, VERIFYING, current, total))

            got = client.fetch_blob(ref.path, desc.digest, desc.size, layout, what=what, on_progress=on_progress)
            emit(LayerEvent(lid, DOWNLOAD_COMPLETE, desc.size, desc.size, final=extract is None))
            if extract is not None:
                # applied as soon as it is in, while other blobs download: the decompression, hashing and file
                # writes release the GIL, so layers apply in parallel; the lines below still come in order
                extract.ensure(diff_ids()[positions[desc.digest]], layout.blob_path(desc.digest), desc.media_type)
            return got

        positions = {d.digest: i for i, d in reversed(list(enumerate(layers)))}
        config_lock = threading.Lock()
        parsed: list = []

        def diff_ids() -> list:
            """Return the config's diff IDs (the config is the first download; read and checked once)."""
            with config_lock:
                if not parsed:
                    config_fetch.result()
                    config = ImageConfig.from_bytes(layout.read_blob(manifest.config.digest))
                    if len(config.diff_ids) != len(layers):
                        raise LabkitError(f"{what}: the config lists {len(config.diff_ids)} diff IDs for "
                                          f"{len(layers)} layers")
                    parsed.append(config.diff_ids)
                return parsed[0]

        with executor(max_workers, "labkit-pull") as pool:
            # The config first, then the layers in manifest order: with one worker (or none, in the browser)
            # that is the order on the wire; with more, they overlap (at most max_workers at once).
            config_fetch = pool.submit(client.fetch_blob, ref.path, manifest.config.digest, manifest.config.size,
                                       layout, what=what)
            futures = {d.digest: pool.submit(fetch_layer, d) for d in order if d.digest not in present}
            try:
                if config_fetch.result():
                    downloaded.append(manifest.config.digest)
                extracted = set()
                for i, desc in enumerate(layers):
                    fut = futures.get(desc.digest)
                    if fut is not None and fut.result():
                        if desc.digest not in downloaded:
                            downloaded.append(desc.digest)
                    if extract is None:
                        continue
                    lid = desc.digest.short
                    fresh = desc.digest not in present and desc.digest not in extracted
                    if fresh:
                        emit(LayerEvent(lid, EXTRACTING, 0, desc.size))
                    extract.ensure(diff_ids()[i], layout.blob_path(desc.digest), desc.media_type)
                    if fresh:
                        extracted.add(desc.digest)
                        emit(LayerEvent(lid, PULL_COMPLETE, desc.size, desc.size, final=True))
                if extract is not None:
                    extract.check_image(diff_ids())   # hard links to lower layers' files resolve
            except BaseException:
                stop.set()
                for f in [config_fetch, *futures.values()]:
                    f.cancel()
                raise

        # Keep the exact bytes of the index chain and the manifest (verified when fetched).
        for f in indexes:
            layout.put_bytes(f.raw, expected=f.digest)
        layout.put_bytes(manifest.raw, expected=manifest.digest)
        if keep is None:
            before = _existing_manifest(store, ref)
            record = store.add_image(ref, manifest, index_digest)
        else:
            keep(manifest, sorted(all_digests, key=str))
            before = None
            record = store.unnamed(manifest, index_digest)

    status = UP_TO_DATE if before == manifest.digest and not downloaded else DOWNLOADED
    emit(MessageEvent(f"Digest: {top}", "digest"))
    emit(MessageEvent(f"Status: {status} for {ref.familiar}", "status"))
    emit(MessageEvent(ref.canonical, "reference"))
    return PullResult(ref, record, top, manifest.digest, index_digest, ep.name, status, tuple(downloaded))
