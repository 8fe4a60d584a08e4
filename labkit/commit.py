"""New images from containers and tarballs: commit and import (`docker history` is in labkit.tables).

- commit: the container's read-write layer goes through the reproducible layer writer (whiteouts and opaque
  markers before their siblings, gzip) and becomes one new layer on top of the image's own layers, which are
  shared, not copied (the new image's chain IDs start with the parent's). The config comes from
  ImageConfig.derive: diff ID appended, one history entry (created_by = the container's command, as
  `docker commit` records it; comment; author), `-c` changes applied like Dockerfile instructions. A container
  that changed nothing gives an empty_layer history entry and no new layer.
- import: a tarball (plain or gzip) becomes a single-layer image (`docker import`); "scratch" is the empty
  image everything starts from, and a reserved name, like docker's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shlex
import stat as stat_mod
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable

from .digest import Digest
from .errors import UsageError
from .reference import SCRATCH



def _check_ref(ref) -> "object | None":
    from .reference import Reference

    if ref is None:
        return None
    r = ref if isinstance(ref, Reference) else Reference.parse(str(ref))
    if r.familiar_name == SCRATCH:
        raise UsageError(f"'{SCRATCH}' is a reserved name")
    return r.with_default_tag()


def scratch_config(platform=None):
    """Return the ImageConfig of the empty image ("scratch": no layers, no history)."""
    from .oci import ImageConfig, Platform

    return ImageConfig.create(platform=platform or Platform.host(), created="1970-01-01T00:00:00Z")


# --- `-c` changes (Dockerfile instructions) ---------------------------------------------------------------

_CHANGE_KEYS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "WORKDIR", "VOLUME", "STOPSIGNAL")


def _json_or_shell(arg: str) -> list:
    """Return a CMD/ENTRYPOINT value: exec form (a JSON array of strings) or shell form (sh -c)."""
    text = arg.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", text]


def _pairs(arg: str, what: str) -> list[tuple[str, str]]:
    """Return KEY=value pairs of ENV/LABEL (shlex quoting); the legacy "KEY value" form for one pair."""
    try:
        words = shlex.split(arg)
    except ValueError as e:
        raise UsageError(f"{what} {arg}: {e}") from None
    if not words:
        raise UsageError(f"{what} requires at least one argument")
    if "=" not in words[0]:
        if len(words) < 2:
            raise UsageError(f"{what} names can not be blank" if not words[0] else f"{what} must have two arguments")
        return [(words[0], arg.strip()[len(words[0]):].strip())]
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise UsageError(f"{what} {arg}: expected KEY=value, got {w!r}")
        out.append((key, value))
    return out


def apply_changes(config: dict, changes: Iterable[str]) -> dict:
    """Return docker's container config keys (Cmd, Env, ...) with `docker commit -c` instructions applied."""
    out = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for change in changes:
        text = change.strip()
        word, _, arg = text.partition(" ")
        if "\t" in word:
            word, _, rest = word.partition("\t")
            arg = rest + " " + arg
        key = word.upper()
        if key not in _CHANGE_KEYS:
            raise UsageError(f"{word} is not a valid change command")
        if key in ("CMD", "ENTRYPOINT"):
            out["Cmd" if key == "CMD" else "Entrypoint"] = _json_or_shell(arg)
        elif key == "ENV":
            env = list(out.get("Env") or [])
            for k, v in _pairs(arg, "ENV"):
                env = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
            out["Env"] = env
        elif key == "LABEL":
            labels = dict(out.get("Labels") or {})
            labels.update(_pairs(arg, "LABEL"))
            out["Labels"] = labels
        elif key == "EXPOSE":
            ports = dict(out.get("ExposedPorts") or {})
            for p in arg.split():
                ports[p if "/" in p else f"{p}/tcp"] = {}
            out["ExposedPorts"] = ports
        elif key == "WORKDIR":
            d = arg.strip()
            out["WorkingDir"] = posixpath.normpath(posixpath.join(out.get("WorkingDir") or "/", d))
        elif key == "USER":
            out["User"] = arg.strip()
        elif key == "VOLUME":
            vols = dict(out.get("Volumes") or {})
            listed = _json_or_shell(arg)
            for v in (listed if listed[:2] != ["/bin/sh", "-c"] else arg.split()):
                vols[v] = {}
            out["Volumes"] = vols
        elif key == "STOPSIGNAL":
            out["StopSignal"] = arg.strip()
    return out


# --- the container's layer ----------------------------------------------------------------------------

def layer_entries(container) -> list:
    """Return the layers.writer Entries of a container's read-write layer: whiteouts, opaque markers,
    and every upper path with its recorded metadata (hard links kept as hard links)."""
    from .layers.writer import Entry, sort_key

    changes = container.changes
    meta = changes["meta"]
    out = [Entry(p.lstrip("/"), "whiteout") for p in sorted(changes["whiteouts"])]
    out += [Entry(p.lstrip("/"), "opaque") for p in sorted(changes["opaque"])]
    inodes: dict = {}
    upper = str(container.upper)
    cut = len(upper) + 1
    for dirpath, dirnames, filenames in os.walk(upper):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            disk = os.path.join(dirpath, name)        # strings, not pathlib: a layer can hold many thousand paths
            rel = disk[cut:]
            m = meta.get("/" + rel, {})
            st = os.lstat(disk)
            common = dict(mtime=int(m.get("mtime", int(st.st_mtime))), uid=int(m.get("uid", 0)),
                          gid=int(m.get("gid", 0)))
            if stat_mod.S_ISLNK(st.st_mode):
                out.append(Entry(rel, "symlink", linkname=os.readlink(disk), **common))
            elif stat_mod.S_ISDIR(st.st_mode):
                out.append(Entry(rel, "dir", mode=int(m.get("mode", 0o755)), **common))
            else:
                inodes.setdefault((st.st_dev, st.st_ino), []).append((rel, disk, m, common))
    for group in inodes.values():
        group.sort(key=lambda g: sort_key(g[0]))
        first, disk, m, common = group[0]
        out.append(Entry(first, "file", source=disk, mode=int(m.get("mode", 0o644)), **common))
        for rel, _disk, m2, common2 in group[1:]:
            out.append(Entry(rel, "hardlink", linkname=first, mode=int(m2.get("mode", 0o644)), **common2))
    return out


def _clamp() -> "int | None":
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    return int(sde) if sde and sde.isdigit() else None


def store_layer(store, layer_store, write, media_type: str) -> tuple:
    """Write a gzip layer with `write(fileobj) -> (diff_id, size)` into the store and the layer store;
    return (Descriptor, diff_id, uncompressed size, Claim): the blob stays claimed until the image names it."""
    from .oci import Descriptor

    tmp_dir = store.home / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="commit-", suffix=".tar.gz", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            diff_id, usize = write(f)
        h = hashlib.sha256()
        size = 0
        with open(tmp, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
        digest = Digest("sha256", h.hexdigest())

        def chunks():
            with open(tmp, "rb") as f:
                yield from iter(lambda: f.read(1 << 20), b"")

        claim = store.claim([digest])
        try:
            store.layout.ingest(chunks(), digest, size)
            # register the layer so the new image's view works without another apply later
            layer_store.ensure(diff_id, store.layout.blob_path(digest), media_type)
        except BaseException:
            claim.release()
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return Descriptor(media_type, digest, size), diff_id, usize, claim


def record_image(store, ref, manifest, claims, parent=None):
    """Store `manifest` as an image named `ref` (None: an untagged <none> image); release the claims.
    `parent`: the target digest of the image it was committed from (ImageRecord.parent)."""
    from .reference import Reference

    try:
        with store.claim([manifest.config.digest]):
            if ref is not None:
                return store.add_image(ref, manifest, repo_digest=False, parent=parent)
            # `docker commit` without a name makes a <none>:<none> image: record it under a throwaway name
            # and drop the name (Store keeps an image that loses its last name as a <none> entry)
            temp = Reference.parse(f"labkit.invalid/uncommitted/{manifest.digest.hex[:32]}:latest")
            rec = store.add_image(temp, manifest, repo_digest=False, parent=parent)
            store._drop_names({str(temp)})
            return store.resolve(str(rec.image_id))
    finally:
        for c in claims:
            c.release()


# --- commit -------------------------------------------------------------------------------------------

def _container_image(store, container):
    """Return the ImageRecord of a container's image: the one its image name still points at when that is
    the same image (its target is the containerd store's image ID, which the commit names as the parent),
    else any record of its config digest."""
    from .errors import LabkitError

    with contextlib.suppress(LabkitError):
        rec = store.resolve(container.image) if container.image else None
        if rec is not None and str(rec.image_id) == str(container.image_id):
            return rec
    return store.resolve(container.image_id)


def commit(store, layer_store, container, ref=None, message: str = "", author: str = "",
           changes: Iterable[str] = ()):
    """Commit a Container's read-write layer as a new image in the Store `store` (docker commit); return its
    ImageRecord. The new layer is applied into the LayerStore `layer_store` too; `changes` are `-c`
    instructions ("CMD [\"sh\"]", "ENV A=b", "EXPOSE 80", ...).
    """
    from .layers.writer import write_layer
    from .oci import DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, \
        ImageConfig, Manifest

    ref = _check_ref(ref)
    parent = None
    if container.image_id is None:
        parent_cfg, parent_layers, media_type, config_type = scratch_config(), (), OCI_MANIFEST, OCI_CONFIG
    else:
        rec = _container_image(store, container)
        parent = rec.target
        parent_manifest = store.manifest(rec)
        parent_cfg = store.config(rec)
        parent_layers = parent_manifest.layers
        media_type = parent_manifest.media_type
        config_type = parent_manifest.config.media_type
    docker = media_type == DOCKER_MANIFEST
    layer_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP

    claims = []
    new_layers, new_ids = [], []
    with container.frozen():                     # docker pauses the container; we hold its file ops off
        entries = layer_entries(container)
        if entries:
            clamp = _clamp()
            desc, diff_id, _usize, claim = store_layer(
                store, layer_store, lambda f: write_layer(entries, f, "gzip", clamp), layer_type)
            claims.append(claim)
            new_layers, new_ids = [desc], [diff_id]
    config = dict(parent_cfg.config)
    if container.config.get("cmd_given"):
        config["Cmd"] = container.cmd         # docker commit keeps the container's command as the image's Cmd
    config = apply_changes(config, changes)
    try:
        raw = parent_cfg.derive(diff_ids=new_ids, created_by=" ".join(container.cmd), comment=message,
                                author=author, config=config, empty_layer=not new_ids)
        cfg = ImageConfig.from_bytes(raw)
        store.layout.put_bytes(raw, cfg.digest)
        cdesc = cfg.descriptor(DOCKER_CONFIG if docker else (config_type or OCI_CONFIG))
        manifest = Manifest.build(cdesc, [*parent_layers, *new_layers], media_type=media_type)
        return record_image(store, ref, manifest, claims, parent=parent)
    except BaseException:
        for c in claims:
            c.release()
        raise


# --- import -------------------------------------------------------------------------------------------

def import_tarball(store, layer_store, fileobj: BinaryIO, ref=None, message: str = "", changes: Iterable[str] = (),
                   source: str = "-", platform=None):
    """Make a single-layer image in the Store `store` from a tarball (plain or gzip), like `docker import`;
    return its ImageRecord. The layer is applied into the LayerStore `layer_store`.

    The tar is checked by applying it (an unsafe member raises UnsafeLayer and no image is made); the history
    comment is `message`, or "Imported from <source>" as docker writes it.
    """
    from .clock import build_time
    from .layers.writer import GzipWriter
    from .platform import can_use_threads        # by name: `platform` is this function's parameter
    from .oci import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, ImageConfig, Manifest, Platform
    from .compression import open_layer_stream

    ref = _check_ref(ref)
    stream = open_layer_stream(fileobj)            # gzip/zstd sniffed by magic; works on a pipe

    def write(f):
        gz = GzipWriter(f, background=can_use_threads())      # compressing beside the reading and hashing
        h = hashlib.sha256()
        n = 0
        try:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                h.update(chunk)
                n += len(chunk)
                gz.write(chunk)
        except BaseException:
            gz.abort()
            raise
        gz.close()
        if n == 0:
            raise UsageError("import: the tarball is empty")
        return Digest("sha256", h.hexdigest()), n

    desc, diff_id, _usize, claim = store_layer(store, layer_store, write, OCI_LAYER_GZIP)
    try:
        when = build_time()
        config = apply_changes({}, changes)
        raw = ImageConfig.build(diff_ids=[diff_id], platform=Platform.parse(platform) if platform else Platform.host(),
                                created=when, config=config,
                                history=[{"created": when, "comment": message or f"Imported from {source}"}])
        cfg = ImageConfig.from_bytes(raw)
        store.layout.put_bytes(raw, cfg.digest)
        manifest = Manifest.build(cfg.descriptor(OCI_CONFIG), [desc], media_type=OCI_MANIFEST)
        return record_image(store, ref, manifest, [claim])
    except BaseException:
        claim.release()
        raise
