"""Build small, deterministic OCI images for tests: gzip tar layers, config, manifest, optional index.

Configs and manifests are written here with plain `json` (not labkit.oci), so tests compare labkit against
an independent description of the formats. Layers come from labkit.layers.writer.build_layer (reproducible).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, Union

from labkit.digest import Digest
from labkit.layers.writer import Entry, LayerBlob, build_layer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

LayerSpec = Union[Mapping[str, bytes], LayerBlob]


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def layer(files: Mapping[str, bytes], compression: "str | None" = "gzip") -> LayerBlob:
    """Return a reproducible layer holding `files` (path -> content)."""
    return build_layer([Entry(path, "file", data) for path, data in sorted(files.items())], compression)


@dataclass(frozen=True)
class BuiltImage:
    """One image's blobs: layers, config and manifest bytes with their digests."""

    manifest: bytes
    media_type: str
    config: bytes
    layers: tuple[LayerBlob, ...]
    platform: str

    @property
    def manifest_digest(self) -> Digest:
        """Return the manifest's digest."""
        return Digest.of(self.manifest)

    @property
    def config_digest(self) -> Digest:
        """Return the config's digest (the image ID)."""
        return Digest.of(self.config)

    image_id = config_digest

    @property
    def diff_ids(self) -> list[Digest]:
        """Return the layers' diff IDs."""
        return [lb.diff_id for lb in self.layers]

    @property
    def size(self) -> int:
        """Return the uncompressed size of all layers (docker's SIZE)."""
        return sum(lb.uncompressed_size for lb in self.layers)

    @property
    def blobs(self) -> dict[Digest, bytes]:
        """Return every blob of the image (layers, config, manifest) by digest."""
        out = {lb.digest: lb.data for lb in self.layers}
        out[self.config_digest] = self.config
        out[self.manifest_digest] = self.manifest
        return out

    def descriptor(self, with_platform: bool = False) -> dict:
        """Return the manifest's descriptor JSON."""
        d = {"mediaType": self.media_type, "digest": str(self.manifest_digest), "size": len(self.manifest)}
        if with_platform:
            os_name, arch, *variant = self.platform.split("/")
            d["platform"] = {"architecture": arch, "os": os_name, **({"variant": variant[0]} if variant else {})}
        return d

    def manifest_obj(self):
        """Return the labkit.oci.Manifest of this image."""
        from labkit.oci import Manifest

        return Manifest.from_bytes(self.manifest, self.media_type)


@dataclass(frozen=True)
class BuiltIndex:
    """An index over several BuiltImages."""

    raw: bytes
    media_type: str
    images: tuple[BuiltImage, ...]

    @property
    def digest(self) -> Digest:
        """Return the index's digest."""
        return Digest.of(self.raw)

    @property
    def blobs(self) -> dict[Digest, bytes]:
        """Return every blob of every platform plus the index itself."""
        out: dict[Digest, bytes] = {}
        for img in self.images:
            out.update(img.blobs)
        out[self.digest] = self.raw
        return out

    def image_for(self, platform: str) -> BuiltImage:
        """Return the image built for `platform` ("linux/amd64")."""
        return next(i for i in self.images if i.platform == platform)


def make_image(layers: Sequence[LayerSpec] = ({"hello.txt": b"hello\n"},), *, created: str = "2016-09-23T17:20:10Z",
               platform: str = "linux/amd64", docker: bool = False, cmd: Sequence[str] = ("/bin/sh",),
               labels: "Mapping[str, str] | None" = None) -> BuiltImage:
    """Return an image of `layers` (dicts of files, or LayerBlobs to share a base layer between images)."""
    blobs = [spec if isinstance(spec, LayerBlob) else layer(spec) for spec in layers]
    os_name, arch, *variant = platform.split("/")
    config = {
        "architecture": arch,
        "os": os_name,
        "created": created,
        "config": {"Cmd": list(cmd), "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   **({"Labels": dict(labels)} if labels else {})},
        "rootfs": {"type": "layers", "diff_ids": [str(lb.diff_id) for lb in blobs]},
        "history": [{"created": created, "created_by": f"imagefactory layer {i}"} for i in range(len(blobs))],
    }
    if variant:
        config["variant"] = variant[0]
    config_bytes = _json(config)
    if docker:
        media_type, config_type = DOCKER_MANIFEST, DOCKER_CONFIG
        layer_descs = [{"mediaType": DOCKER_LAYER_GZIP, "digest": str(lb.digest), "size": lb.size} for lb in blobs]
    else:
        media_type, config_type = OCI_MANIFEST, OCI_CONFIG
        layer_descs = [{"mediaType": lb.media_type, "digest": str(lb.digest), "size": lb.size} for lb in blobs]
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": str(Digest.of(config_bytes)), "size": len(config_bytes)},
        "layers": layer_descs,
    }
    return BuiltImage(_json(manifest), media_type, config_bytes, tuple(blobs), platform)


def make_index(images: Sequence[BuiltImage] = (), *, docker: bool = False, files: "Mapping[str, bytes] | None" = None,
               created: str = "2016-09-23T17:20:10Z") -> BuiltIndex:
    """Return an index of `images` (default: the same files built for linux/amd64 and linux/arm64/v8)."""
    if not images:
        files = files or {"hello.txt": b"hello\n"}
        images = [make_image([{**files, "arch": p.encode()}], platform=p, docker=docker, created=created)
                  for p in ("linux/amd64", "linux/arm64/v8")]
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    raw = _json({"schemaVersion": 2, "mediaType": media_type,
                 "manifests": [img.descriptor(with_platform=True) for img in images]})
    return BuiltIndex(raw, media_type, tuple(images))


def write_oci_dir(path: "str | os.PathLike", built: "BuiltImage | BuiltIndex", ref_name: str = "latest") -> Path:
    """Write `built` as a plain OCI layout at `path` (no labkit code), named `ref_name`; return the path."""
    path = Path(path)
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for d, data in built.blobs.items():
        (path / "blobs" / "sha256" / d.hex).write_bytes(data)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    if isinstance(built, BuiltIndex):
        desc = {"mediaType": built.media_type, "digest": str(built.digest), "size": len(built.raw)}
    else:
        desc = built.descriptor()
    desc["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    (path / "index.json").write_bytes(_json({"schemaVersion": 2, "manifests": [desc]}))
    return path


def store_image(store, built: "BuiltImage | BuiltIndex", ref: str, platform: str = "linux/amd64"):
    """Put `built`'s blobs into a labkit Store as a pull would (blobs, then the record); return the record.

    For an index, the `platform` image is stored, recorded with the index digest (as pulled through it).
    """
    image = built.image_for(platform) if isinstance(built, BuiltIndex) else built
    index_digest = built.digest if isinstance(built, BuiltIndex) else None
    with store.claim(image.blobs):
        for lb in image.layers:
            store.layout.put_bytes(lb.data, lb.digest)
        store.layout.put_bytes(image.config, image.config_digest)
        return store.add_image(ref, image.manifest_obj(), index_digest=index_digest)
