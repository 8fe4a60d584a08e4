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


def files_size(lb: LayerBlob) -> int:
    """Return the SIZE Docker shows for a layer (moby's directory.Size over its diff dir): its regular files'
    bytes, once per hard-linked file, plus its symlinks' target lengths. Read with tarfile, apart from
    labkit's own layer reader, so tests have an oracle."""
    import gzip
    import io
    import tarfile

    import zstandard

    data = lb.data
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    sizes = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            name = m.name.lstrip("./")
            if m.isreg():
                sizes[name] = m.size
            elif m.issym():
                sizes[name] = len(m.linkname.encode())
            else:
                sizes.pop(name, None)
    return sum(sizes.values())


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
        """Return the uncompressed size of all layers (their tar streams)."""
        return sum(lb.uncompressed_size for lb in self.layers)

    @property
    def files_size(self) -> int:
        """Return the image's SIZE as the graphdriver store shows it: its layers' files (files_size)."""
        return sum(files_size(lb) for lb in self.layers)

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


# --- image view / unpack images (raw tar members for what layers.writer.Entry cannot express) -------------

def tar_layer(members: Sequence[Mapping], compression: "str | None" = "gzip") -> LayerBlob:
    """Return a layer written member by member with tarfile (USTAR/GNU, no PAX global header, so umoci reads
    it): each member is a dict with name, type ("file", "dir", "symlink", "hardlink", "char", "block",
    "fifo"), and optional data, mode, linkname, uid, gid, mtime, major, minor. Order is kept as given."""
    import gzip
    import hashlib
    import io
    import tarfile

    types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
             "fifo": tarfile.FIFOTYPE}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for m in members:
            kind = m.get("type", "file")
            ti = tarfile.TarInfo(m["name"])
            ti.type = types[kind]
            ti.mode = m.get("mode", 0o755 if kind == "dir" else 0o777 if kind == "symlink" else 0o644)
            ti.uid, ti.gid = m.get("uid", 0), m.get("gid", 0)
            ti.uname = ti.gname = ""
            ti.mtime = m.get("mtime", 1500000000)
            ti.linkname = m.get("linkname", "")
            ti.devmajor, ti.devminor = m.get("major", 0), m.get("minor", 0)
            data = m.get("data", b"") if kind == "file" else b""
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data else None)
    tar = buf.getvalue()
    diff_id = Digest("sha256", hashlib.sha256(tar).hexdigest())
    if compression == "gzip":
        data, media_type = gzip.compress(tar, compresslevel=6, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    else:
        data, media_type = tar, "application/vnd.oci.image.layer.v1.tar"
    return LayerBlob(data=data, digest=Digest.of(data), diff_id=diff_id, size=len(data), media_type=media_type,
                     uncompressed_size=len(tar))


def m_dir(name, **kw):
    """Return a tar_layer member for a directory."""
    return {"name": name, "type": "dir", **kw}


def m_file(name, data=b"", **kw):
    """Return a tar_layer member for a regular file."""
    return {"name": name, "type": "file", "data": data, **kw}


def m_symlink(name, target, **kw):
    """Return a tar_layer member for a symlink."""
    return {"name": name, "type": "symlink", "linkname": target, **kw}


def m_hardlink(name, target, **kw):
    """Return a tar_layer member for a hard link to an earlier member."""
    return {"name": name, "type": "hardlink", "linkname": target, **kw}


def distro_layers() -> list[LayerBlob]:
    """Return three layers shaped like a real distribution image and two Dockerfile steps: usr-merged
    symlinks (/lib -> usr/lib, /bin -> usr/bin), absolute and relative symlinks, busybox-style hard links,
    setuid/setgid files, a sticky /tmp, device nodes and a fifo, then an "apt-get install" layer (opaque
    cache dir, whiteouts, modified files) and a "cleanup" layer (whiteout of a directory, a file replacing
    a directory and a directory replacing a file, new hard links). No layer writes through a symlink."""
    busybox = b"\x7fELF busybox " * 300
    base = [
        m_symlink("bin", "usr/bin"),
        m_dir("dev/"), {"name": "dev/null", "type": "char", "major": 1, "minor": 3, "mode": 0o666},
        {"name": "dev/sda", "type": "block", "major": 8, "minor": 0, "mode": 0o660, "gid": 6},
        {"name": "dev/initctl", "type": "fifo", "mode": 0o600},
        m_dir("etc/"), m_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        m_file("etc/shadow", b"root:*:19000:0:99999:7:::\n", mode=0o640, gid=42),
        m_file("etc/motd", b"welcome\n"), m_dir("etc/alternatives/"),
        m_symlink("etc/alternatives/editor", "/usr/bin/vi"),
        m_dir("etc/ssl/"), m_dir("etc/ssl/certs/"), m_symlink("etc/ssl/certs/ca.pem", "../../../usr/share/ca/ca.pem"),
        m_symlink("lib", "usr/lib"),
        m_dir("opt/"), m_dir("opt/app/"), m_file("opt/app/main.py", b"print('hi')\n"), m_file("opt/app/data.bin", b"\1" * 5000),
        m_dir("root/", mode=0o700), m_file("srv", b"a plain file for now\n"),
        m_dir("tmp/", mode=0o1777),
        m_dir("usr/"), m_dir("usr/bin/"), m_file("usr/bin/busybox", busybox, mode=0o755),
        m_hardlink("usr/bin/ls", "usr/bin/busybox"), m_hardlink("usr/bin/cat", "usr/bin/busybox"),
        m_symlink("usr/bin/sh", "busybox"),
        m_file("usr/bin/passwd", b"\x7fELF passwd", mode=0o4755),
        m_file("usr/bin/wall", b"\x7fELF wall", mode=0o2755, gid=5),
        m_dir("usr/lib/"), m_file("usr/lib/libc.so.6", b"\x7fELF libc " * 200, mode=0o755),
        m_symlink("usr/lib/ld-linux.so.2", "/usr/lib/libc.so.6"),
        m_dir("usr/share/"), m_dir("usr/share/ca/"), m_file("usr/share/ca/ca.pem", b"-----BEGIN CERTIFICATE-----\n"),
        m_dir("usr/share/doc/"), m_dir("usr/share/doc/base/"), m_file("usr/share/doc/base/README", b"base docs\n"),
        m_dir("var/"), m_dir("var/cache/"), m_dir("var/cache/apt/"), m_file("var/cache/apt/pkgcache.bin", b"\2" * 20000),
        m_file("var/cache/apt/srcpkgcache.bin", b"\3" * 10000),
    ]
    install = [
        m_dir("etc/"), m_file("etc/.wh.motd"), m_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:\n"),
        m_dir("usr/"), m_dir("usr/bin/"), m_file("usr/bin/vi", b"\x7fELF vi " * 100, mode=0o755),
        m_dir("usr/lib/"), m_file("usr/lib/libvi.so", b"\x7fELF libvi", mode=0o755),
        m_dir("usr/share/"), m_dir("usr/share/doc/"), m_dir("usr/share/doc/vi/"), m_file("usr/share/doc/vi/README", b"vi docs\n"),
        m_dir("var/"), m_dir("var/cache/"), m_dir("var/cache/apt/"), m_file("var/cache/apt/.wh..wh..opq"),
        m_file("var/cache/apt/pkgcache.bin", b"\4" * 30000),
        m_dir("home/"), m_dir("home/app/", uid=1000, gid=1000, mode=0o750), m_file("home/app/.profile", b"PS1=$ \n", uid=1000, gid=1000),
    ]
    cleanup = [
        m_dir("usr/"), m_dir("usr/share/"), m_file("usr/share/.wh.doc"),
        m_dir("var/"), m_dir("var/cache/"), m_dir("var/cache/apt/"), m_file("var/cache/apt/.wh.pkgcache.bin"),
        m_dir("opt/"), m_file("opt/app", b"#!/bin/sh\necho packed app\n", mode=0o755),
        m_dir("srv/"), m_file("srv/index.html", b"<h1>hi</h1>\n"),
        m_dir("etc/"), m_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        m_dir("usr/local/"), m_dir("usr/local/bin/"), m_file("usr/local/bin/tool", b"tool " * 50, mode=0o755),
        m_hardlink("usr/local/bin/tool2", "usr/local/bin/tool"),
        m_file("usr/local/bin/sudo", b"\x7fELF sudo", mode=0o4711),
    ]
    return [tar_layer(base), tar_layer(install), tar_layer(cleanup)]


def distro_image() -> BuiltImage:
    """Return the real-world shaped image of distro_layers()."""
    return make_image(distro_layers(), created="2020-01-01T00:00:00Z")


def symlinked_dir_write_layers(explicit_dir: bool = False) -> list[LayerBlob]:
    """Return two layers where the first makes lib a symlink to usr/lib and the second adds lib/extra.so,
    listing lib/ as a directory of its own only when `explicit_dir`. Without that entry overlay2 and umoci
    disagree: overlay2's upper layer has an implied lib/ directory that replaces the symlink, umoci writes
    through the symlink into usr/lib/."""
    base = [m_dir("usr/"), m_dir("usr/lib/"), m_file("usr/lib/libc.so", b"libc"), m_symlink("lib", "usr/lib")]
    upper = ([m_dir("lib/")] if explicit_dir else []) + [m_file("lib/extra.so", b"extra")]
    return [tar_layer(base), tar_layer(upper)]


def entry_image(layers: "Sequence[Sequence[Entry]]", **kw) -> BuiltImage:
    """Return an image whose layers are built from lists of layers.writer Entry values (dirs, modes,
    symlinks, whiteouts), e.g. [[Entry("etc", "dir"), Entry("etc/hosts", data=b"...")]]."""
    return make_image([build_layer(list(entries)) for entries in layers], **kw)


def stored_entry_image(home, layers: "Sequence[Sequence[Entry]]", ref: str = "base:1", **kw):
    """Store an entry_image() in the labkit Store at `home` under `ref`; return its ImageRecord."""
    from labkit.store import Store

    return store_image(Store(home), entry_image(layers, **kw), ref)


COREUTILS = ("cat", "chmod", "cp", "date", "echo", "false", "ln", "ls", "mkdir", "mv", "pwd", "rm", "rmdir", "sleep",
             "touch", "true", "uname", "head", "tail", "env", "id", "wc", "basename", "dirname", "printf", "test")


def program_entries(shell: str = "bash", names=COREUTILS, bindir: str = "bin") -> list[Entry]:
    """Return entries of small stand-in programs as the lab images ship them: ELF files known by their names
    (labkit.shell.lookup), `bindir`/sh a symlink to `shell` (bash or dash), mode 0755."""
    entries = [Entry(bindir, "dir")]
    for name in sorted({shell, "bash", *names}):
        entries.append(Entry(f"{bindir}/{name}", data=b"\x7fELF stand-in " + name.encode(), mode=0o755))
    entries.append(Entry(f"{bindir}/sh", "symlink", linkname=shell))
    return entries
