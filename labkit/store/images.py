"""labkit's image store at <home>/store: docker's view (tags, image IDs, `images`, `tag`, `rmi`) of a layout.

Each image is a manifest descriptor in the layout's index.json whose "org.opencontainers.image.ref.name"
annotation is the full reference, so skopeo (`oci:DIR:REF`) and umoci (`--image DIR:REF`) address it by the
same string. Sizes and `system df` come from labkit.store.sizes.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from ..digest import Digest, as_digest
from ..errors import Conflict, InvalidReference, LabkitError, NotFound, UsageError
from ..oci.keys import IMAGE_PARENT, INDEX_DIGEST, REF_NAME
from .layout import Claim, OciLayout
from .sizes import ImageSizes

if TYPE_CHECKING:  # the models load lazily at run time (CLI start-up time)
    from ..oci import Descriptor, ImageConfig, Manifest
    from ..reference import Reference

NONE = "<none>"
CONFIG_ID = "config"   # image IDs are config digests (the graphdriver image store)
TARGET_ID = "target"   # image IDs are the digest a name points at, index or manifest (the containerd store)
ANY_ID = "any"

_HEX_PREFIX_RE = re.compile(r"^(?:sha256:)?([a-f0-9]{1,64})$")


# --- image records ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageRecord:
    """One line of `images`: a repository:tag (or <none>) of one stored image."""

    name: "Reference | None"
    repository: str
    tag: str
    manifest: "Descriptor"
    index_digest: "Digest | None"
    image_id: Digest
    created: "datetime | None"
    digests: tuple[Digest, ...] = ()  # repo digests of this repository (docker's RepoDigests)
    ref_names: tuple[str, ...] = field(default=(), compare=False)  # every full reference of the image
    # the size, or a function computing it: measuring a layer never applied means decompressing it, which
    # `pull --no-extract` must not pay for (it only records the image); `images` asks for it
    _size: "int | Callable[[], int]" = field(default=-1, compare=False, repr=False)
    # the image it was committed from, as containerd's image label names it (its target digest), if any
    parent: "Digest | None" = field(default=None, compare=False)

    @property
    def size(self) -> int:
        """Return the uncompressed bytes of all layers (measured on first use); -1 when a layer is missing
        or corrupt."""
        value = self._size
        if callable(value):
            value = value()
            object.__setattr__(self, "_size", value)
        return value

    @property
    def digest(self) -> "Digest | None":
        """Return the repo digest shown in the DIGEST column (the index's for multi-platform pulls), if any."""
        return self.digests[0] if self.digests else None

    @property
    def short_id(self) -> str:
        """Return the 12-hex image ID docker shows."""
        return self.image_id.short

    @property
    def target(self) -> Digest:
        """Return the digest of what the name points at: the index it was pulled through, else its manifest
        (the containerd image store's image ID; `image_id`, the config digest, is the graphdriver one's)."""
        return self.index_digest or self.manifest.digest


@dataclass
class Entry:
    """An index.json entry resolved to the image it stands for."""

    position: int
    descriptor: "Descriptor"  # as in index.json (may be an index)
    ref: "Reference | None"  # the full reference in ref.name, None when absent or not full
    manifest_desc: "Descriptor"  # the image manifest (the platform's one for an index entry)
    index_digest: "Digest | None"
    image_id: Digest
    created: "datetime | None"

    @property
    def target(self) -> Digest:
        """Return the digest of what this entry's name points at (ImageRecord.target)."""
        return self.index_digest or self.manifest_desc.digest


def full_reference(text: "str | None") -> "Reference | None":
    """Return the Reference in a ref.name annotation when it is a full, normalized reference with a tag or a
    digest ("docker.io/library/debian:jessie"); None for anything else ("foo", "latest", "debian:jessie")."""
    if not text:
        return None
    from ..reference import Reference

    try:
        ref = Reference.parse(text)
    except InvalidReference:
        return None
    if str(ref) != text or (ref.tag is None) == (ref.digest is None):
        return None  # docker's reference store holds name:tag or name@digest, never both or neither
    return ref


def _is_digest_ref(ref: "Reference") -> bool:
    return ref.digest is not None


def _is_single_reference(refs: Sequence["Reference"]) -> bool:
    """Docker's isSingleReference: at most one tag, and any digest references in that tag's repository."""
    if len(refs) <= 1:
        return len(refs) == 1
    single = None
    canonical_repos = set()
    for r in refs:
        if _is_digest_ref(r):
            canonical_repos.add(r.name)
        elif single is None:
            single = r
        else:
            return False
    if single is None:
        single = refs[0]
    return len(canonical_repos) == 1 and single.name in canonical_repos


class Store(ImageSizes):
    """labkit's image store at <home>/store (an OCI image layout) with docker's view of it."""

    def __init__(self, home: "str | os.PathLike | None" = None):
        from ..home import resolve_home

        self.home = Path(home).absolute() if home is not None else resolve_home()
        self.layout = OciLayout(self.home / "store", tmp_dir=self.home / "tmp" / "store", pins_dir=self.home / "gcroots")
        self.layerdb = self.home / "layerdb"

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    def lock(self, shared: bool = False):
        """Return a context manager holding the store's inter-process lock."""
        return self.layout.lock(shared=shared)

    def claim(self, digests: Iterable["Digest | str"]) -> Claim:
        """Return a Claim keeping `digests` from GC until released (hold it across a whole pull)."""
        return self.layout.claim(digests)

    # -- reading images

    def manifest(self, rec: "ImageRecord | Descriptor") -> "Manifest":
        """Return the image manifest of a record (or of a manifest descriptor)."""
        from ..oci import Manifest

        desc = rec.manifest if isinstance(rec, ImageRecord) else rec
        return Manifest.from_bytes(self.layout.read_blob(desc.digest), desc.media_type)

    def config(self, rec: "ImageRecord | Descriptor") -> "ImageConfig":
        """Return the image configuration of a record (its digest is the image ID)."""
        from ..oci import ImageConfig

        return ImageConfig.from_bytes(self.layout.read_blob(self.manifest(rec).config.digest))

    def _resolve_entry(self, position: int, desc: "Descriptor") -> "Entry | None":
        """Return the image an index.json entry stands for, or None when its blobs are not all here."""
        from ..oci import INDEX_TYPES, Index, Manifest, Platform, platform_matches

        ann = desc.annotations
        ref = full_reference(ann.get(REF_NAME))
        try:
            if desc.media_type in INDEX_TYPES:
                # skopeo copy --all stores the index itself: use the host's platform if stored, else the
                # first platform whose blobs are all here.
                index = Index.from_bytes(self.layout.read_blob(desc.digest), desc.media_type)
                host = Platform.host()
                candidates = index.images()
                candidates.sort(key=lambda c: not platform_matches(host, c.platform))
                for cand in candidates:
                    if cand.media_type in INDEX_TYPES or not self.layout.has_blob(cand.digest):
                        continue
                    m = Manifest.from_bytes(self.layout.read_blob(cand.digest), cand.media_type)
                    if self.layout.has_blob(m.config.digest):
                        return self._entry(position, desc, ref, cand, desc.digest, m)
                return None
            index_digest = None
            if ann.get(INDEX_DIGEST):
                with contextlib.suppress(InvalidReference):
                    index_digest = Digest.parse(ann[INDEX_DIGEST])
            m = Manifest.from_bytes(self.layout.read_blob(desc.digest), desc.media_type)
            return self._entry(position, desc, ref, desc, index_digest, m)
        except (NotFound, LabkitError):
            return None

    def _entry(self, position, desc, ref, manifest_desc, index_digest, m) -> "Entry":
        from ..oci import ImageConfig

        cfg = ImageConfig.from_bytes(self.layout.read_blob(m.config.digest))
        plain = _plain_descriptor(manifest_desc)
        return Entry(position, desc, ref, plain, index_digest, m.config.digest, cfg.created)

    def entries(self) -> list[Entry]:
        """Return the index.json entries whose images are here, resolved (a name or none, the platform
        manifest, the index it came through, the config digest)."""
        return self._entries()

    def _entries(self) -> list[Entry]:
        out = []
        for i, desc in enumerate(self.layout.index()):
            e = self._resolve_entry(i, desc)
            if e is not None:
                out.append(e)
        return out

    def images(self) -> list[ImageRecord]:
        """Return one record per repository:tag (and <none> rows), newest first like `docker images`."""
        return self._records(self._entries())

    def _records(self, entries: list[Entry]) -> list[ImageRecord]:
        by_image: dict[Digest, list[Entry]] = {}
        for e in entries:
            by_image.setdefault(e.image_id, []).append(e)
        records: list[ImageRecord] = []
        for image_id, group in by_image.items():
            size = self._size_once(group[0].manifest_desc)
            named = [e for e in group if e.ref is not None]
            ref_names = tuple(sorted({str(e.ref) for e in named}))
            repo_digests: dict[str, list[Digest]] = {}
            for e in named:
                if _is_digest_ref(e.ref):
                    ds = repo_digests.setdefault(e.ref.name, [])
                    if e.ref.digest not in ds:
                        ds.append(e.ref.digest)
            tagged_repos = set()
            seen_tags = set()
            for e in sorted(named, key=lambda e: str(e.ref)):
                if _is_digest_ref(e.ref) or str(e.ref) in seen_tags:
                    continue
                seen_tags.add(str(e.ref))
                tagged_repos.add(e.ref.name)
                records.append(self._record(e, e.ref, e.ref.familiar_name, e.ref.tag, size,
                                            tuple(repo_digests.get(e.ref.name, ())), ref_names))
            for repo, ds in sorted(repo_digests.items()):
                if repo in tagged_repos:
                    continue
                e = next(x for x in named if x.ref.name == repo and _is_digest_ref(x.ref))
                records.append(self._record(e, e.ref, e.ref.familiar_name, NONE, size, tuple(ds), ref_names))
            if not named:
                records.append(self._record(group[0], None, NONE, NONE, size, (), ()))
        return _sorted_records(records)

    def _size_once(self, manifest_desc: "Descriptor") -> "Callable[[], int]":
        """Return a function giving the image's size, measured once and shared by the image's records."""
        measured: list[int] = []

        def size() -> int:
            if not measured:
                try:
                    measured.append(self._size_of(manifest_desc))
                except LabkitError:  # a missing or corrupt layer: list the image anyway, size unknown (-1)
                    measured.append(-1)
            return measured[0]
        return size

    def _record(self, e: Entry, name, repository, tag, size, digests, ref_names) -> ImageRecord:
        return ImageRecord(name=name, repository=repository, tag=tag, manifest=e.manifest_desc,
                           index_digest=e.index_digest, image_id=e.image_id, created=e.created,
                           digests=digests, ref_names=ref_names, _size=size, parent=_parent(e.descriptor))

    # -- resolving names

    def resolve(self, ref: "str | Reference", ids: str = ANY_ID) -> ImageRecord:
        """Return the record named by a reference ("debian:jessie", "debian@sha256:..."), an image ID or a
        unique image ID prefix ("5df5972ae7b5", "sha256:5df5..."); NotFound otherwise.

        `ids` says which digests count as image IDs: CONFIG_ID (the config digest: the graphdriver image
        store's IDs), TARGET_ID (the digest of the index or manifest a name points at: the containerd image
        store's) or ANY_ID (either)."""
        return self._resolve(self._entries(), ref, ids)[0]

    def _resolve(self, entries: list[Entry], query: "str | Reference",
                 ids: str = ANY_ID) -> "tuple[ImageRecord, Reference | None]":
        """Return (record, the reference matched, or None when matched by image ID)."""
        from ..reference import Reference

        records = self._records(entries)
        text = str(query).strip() if not isinstance(query, Reference) else None
        if text is not None:
            m = re.fullmatch(r"(?:sha256:)?([a-f0-9]{64})", text)
            if m:  # a full image ID is never a name (distribution/reference anchoredIdentifier)
                return self._by_id(records, m.group(1), text, ids), None
        ref = query if isinstance(query, Reference) else None
        if ref is None:
            with contextlib.suppress(InvalidReference):
                ref = Reference.parse(text)
        if ref is not None:
            rec = self._by_reference(records, ref)
            if rec is not None:
                if ref.digest is not None:  # "name:tag@digest" names the digest reference
                    return rec, Reference.parse(f"{ref.name}@{ref.digest}")
                return rec, ref.with_default_tag()
        if text is not None:
            m = _HEX_PREFIX_RE.fullmatch(text)
            if m:
                return self._by_id(records, m.group(1), text, ids), None
        raise NotFound(f"No such image: {query}")

    @staticmethod
    def _by_reference(records: list[ImageRecord], ref: "Reference") -> "ImageRecord | None":
        if ref.digest is not None:
            for r in records:
                if r.name is not None and r.name.name == ref.name and ref.digest in r.digests:
                    return r
            return None
        canonical = ref.with_default_tag()
        for r in records:
            if r.name is not None and r.name == canonical:
                return r
        return None

    @staticmethod
    def _by_id(records: list[ImageRecord], prefix: str, text: str, ids: str = ANY_ID) -> ImageRecord:
        # the images the prefix names: config digests, targets (one target stands for every platform record
        # pulled through the same index), or either
        configs = {r.image_id for r in records if ids != TARGET_ID and r.image_id.hex.startswith(prefix)}
        targets = {r.target for r in records if ids != CONFIG_ID and r.target.hex.startswith(prefix)}
        targets -= {r.target for r in records if r.image_id in configs}  # a record matched both ways
        found = len(configs) + len(targets)
        if not found:
            raise NotFound(f"No such image: {text}")
        if found > 1:
            raise NotFound(f"No such image: {text} (the prefix matches {found} image IDs; give more of it)")
        if configs:
            (image_id,) = configs
            matches = [r for r in records if r.image_id == image_id]
            # the record whose own target the ID named, when the prefix is a target digest too
            return next((r for r in matches if r.target.hex.startswith(prefix)), matches[0])
        (target,) = targets
        matches = [r for r in records if r.target == target]
        return next((r for r in matches if r.name is not None), matches[0])

    # -- writing records

    def add_image(self, ref: "str | Reference", manifest: "Manifest", index_digest: "Digest | str | None" = None,
                  repo_digest: bool = True, parent: "Digest | None" = None) -> ImageRecord:
        """Record `manifest` (whose config and layer blobs are stored) under `ref`; return its record.

        A tag is moved from any image it named before (that image stays as <none> if nothing else names
        it, like docker). With `repo_digest`, a tag pull also records name@digest (the index's digest when
        pulled through an index), which is docker's RepoDigests. `parent`: the target digest of the image
        this one was committed from (ImageRecord.parent).
        """
        from ..oci import Descriptor
        from ..reference import Reference

        ref = Reference.parse(ref) if isinstance(ref, str) else ref
        index_digest = as_digest(index_digest) if index_digest is not None else None
        ann = {INDEX_DIGEST: str(index_digest)} if index_digest is not None else {}
        if parent is not None:
            ann[IMAGE_PARENT] = str(parent)
        with self.layout.claim([manifest.digest]):
            self.layout.put_bytes(manifest.raw, manifest.digest)
            with self.lock():
                missing = [str(d.digest) for d in (manifest.config, *manifest.layers)
                           if not self.layout.has_blob(d.digest)]
                if missing:
                    raise NotFound(f"add image {ref}: blobs missing from the store: {', '.join(missing)}")
                names = [_entry_name(ref)]
                if repo_digest and ref.digest is None:
                    names.append(f"{ref.name}@{index_digest or manifest.digest}")
                base = Descriptor(manifest.media_type, manifest.digest, len(manifest.raw))
                for name in names:
                    self._set_name(name, _with_annotations(base, {**ann, REF_NAME: name}))
                return self.resolve(ref)

    def unnamed(self, manifest: "Manifest", index_digest: "Digest | str | None" = None) -> ImageRecord:
        """Return a record for an image whose blobs are stored but that no name lists (a build's base image,
        held by the build cache): `<none>`, never in `images`."""
        from ..oci import Descriptor

        return ImageRecord(name=None, repository=NONE, tag=NONE,
                           manifest=Descriptor(manifest.media_type, manifest.digest, len(manifest.raw)),
                           index_digest=as_digest(index_digest) if index_digest is not None else None,
                           image_id=manifest.config.digest, created=None)

    def _set_name(self, name: str, desc: "Descriptor") -> None:
        """Point the full reference `name` at `desc` in index.json; a displaced image stays as <none>."""

        def change(old: "list[Descriptor]") -> "list[Descriptor]":
            displaced = [d for d in old if d.annotations.get(REF_NAME) == name]
            new = [d for d in old if d.annotations.get(REF_NAME) != name]
            for d in displaced:
                if d.digest == desc.digest:
                    continue
                if not any(x.digest == d.digest for x in new):
                    new.append(_with_annotations(d, {k: v for k, v in d.annotations.items() if k != REF_NAME}))
            new.append(desc)
            return new

        self.layout.update_index(change)

    def tag(self, src: "str | Reference", dst: "str | Reference", ids: str = ANY_ID) -> ImageRecord:
        """Create the tag `dst` for the image `src` names (docker tag); return the new record."""
        from ..reference import Reference

        dst_ref = Reference.parse(dst) if isinstance(dst, str) else dst
        if dst_ref.digest is not None:
            raise UsageError(f"tag {src} {dst}: refusing to create a tag with a digest reference")
        dst_ref = dst_ref.with_default_tag()
        with self.lock():
            rec = self.resolve(src, ids)
            ann = {REF_NAME: str(dst_ref)}
            if rec.index_digest is not None:
                ann[INDEX_DIGEST] = str(rec.index_digest)
            if rec.parent is not None:  # containerd's TagImage copies the image's labels to the new name
                ann[IMAGE_PARENT] = str(rec.parent)
            self._set_name(str(dst_ref), _with_annotations(rec.manifest, ann))
            return self.resolve(dst_ref)

    def rmi(self, ref: "str | Reference", force: bool = False,
            containers: "Mapping[Digest, Sequence[Mapping]] | None" = None, ids: str = ANY_ID) -> list[str]:
        """Remove a name, or an image, like `docker rmi`; return docker's lines ("Untagged: debian:jessie",
        "Deleted: sha256:..."). Blobs nothing references any more are removed by gc().

        `containers` maps image IDs to the containers using them (dicts with at least "id"); an image a
        container uses is only untagged, and only with `force`.
        """
        containers = containers or {}
        lines: list[str] = []
        with self.lock():
            entries = self._entries()
            rec, matched = self._resolve(entries, ref, ids)
            # the image: one config (graphdriver), or with TARGET_ID what a name points at, every platform
            # pulled through that index (containerd)
            image_id = rec.target if ids == TARGET_ID else rec.image_id
            mine = [e for e in entries if (e.target if ids == TARGET_ID else e.image_id) == image_id]
            configs = list(dict.fromkeys(e.image_id for e in mine))
            users = [c for config in configs for c in containers.get(config, ())]
            refs = _unique_refs(e.ref for e in mine)
            if matched is not None:
                if not force and _is_single_reference(refs) and users:
                    raise Conflict(f'conflict: unable to remove repository reference "{_familiar(matched)}" '
                                   f"(must force) - container {_cid(users[0])} is using its referenced image "
                                   f"{image_id.short}")
                remove = {str(matched)}
                lines.append(f"Untagged: {_familiar(matched)}")
                remaining = [r for r in refs if str(r) != str(matched)]
                if not _is_digest_ref(matched) and not any(
                        r.name == matched.name and not _is_digest_ref(r) for r in remaining):
                    # docker: a removed tag takes the digest references of its repository along when no
                    # other tag of that repository is left
                    for r in remaining:
                        if r.name == matched.name and _is_digest_ref(r):
                            remove.add(str(r))
                            lines.append(f"Untagged: {_familiar(r)}")
                    remaining = [r for r in remaining if str(r) not in remove]
                self._drop_names(remove)
                if remaining:
                    return lines
            else:
                if not _is_single_reference(refs) and refs and not force:
                    raise Conflict(f"conflict: unable to delete {image_id.short} (must be forced) - image is "
                                   f"referenced in multiple repositories")
                if users and not force:
                    raise Conflict(f"conflict: unable to delete {image_id.short} (must be forced) - image is "
                                   f"being used by stopped container {_cid(users[0])}")
                for r in sorted(refs, key=_familiar):
                    lines.append(f"Untagged: {_familiar(r)}")
                self._drop_names({str(r) for r in refs})
            if users:  # forced while a container uses it: keep the image, untagged (docker leaves <none>)
                for config in configs:
                    self._keep_dangling(config, [e for e in mine if e.image_id == config])
                return lines
            self._drop_image(image_id, by_target=ids == TARGET_ID)
            lines.append(f"Deleted: {image_id}")
            self.layout.gc()
        return lines

    def _drop_names(self, names: set[str]) -> None:
        def change(old):
            keep = [d for d in old if d.annotations.get(REF_NAME) not in names]
            # An image losing its last name stays as a <none> entry until the image itself is deleted.
            for d in old:
                if d.annotations.get(REF_NAME) in names and not any(x.digest == d.digest for x in keep):
                    keep.append(_with_annotations(d, {k: v for k, v in d.annotations.items() if k != REF_NAME}))
            return keep

        self.layout.update_index(change)

    def _drop_image(self, image_id: Digest, by_target: bool = False) -> None:
        """Remove the index entries of an image: its config digest, or with `by_target` its target."""
        positions = {e.position for e in self._entries() if (e.target if by_target else e.image_id) == image_id}
        self.layout.update_index(lambda old: [d for i, d in enumerate(old) if i not in positions])

    def _keep_dangling(self, image_id: Digest, mine: list[Entry]) -> None:
        if any(e.ref is None for e in self._entries() if e.image_id == image_id):
            return
        desc = mine[0].manifest_desc
        ann = {INDEX_DIGEST: str(mine[0].index_digest)} if mine[0].index_digest else {}
        parent = _parent(mine[0].descriptor)
        if parent is not None:
            ann[IMAGE_PARENT] = str(parent)
        self.layout.update_index(lambda old: [*old, _with_annotations(desc, ann)])

    def gc(self, keep: Iterable["Digest | str"] = ()) -> list[Digest]:
        """Remove unreferenced, unclaimed blobs from the store; return their digests."""
        return self.layout.gc(keep)


# --- helpers -------------------------------------------------------------------------------------------------

def _sorted_records(records: list[ImageRecord]) -> list[ImageRecord]:
    """Return records newest first (docker sorts by Created), then by repository and tag."""
    def key(r: ImageRecord):
        ts = r.created.timestamp() if r.created is not None else float("-inf")
        return (-ts, r.repository == NONE, r.repository, r.tag == NONE, r.tag, str(r.image_id))

    return sorted(records, key=key)


def _entry_name(ref: "Reference") -> str:
    """Return the ref.name annotation for `ref`: the full reference, with the default tag, digest wins."""
    if ref.digest is not None:
        return f"{ref.name}@{ref.digest}"
    return str(ref.with_default_tag())


def _familiar(ref: "Reference") -> str:
    return ref.familiar


def _cid(container: Mapping) -> str:
    return str(container.get("id", "?"))[:12]


def _unique_refs(refs: Iterable["Reference | None"]) -> list["Reference"]:
    out: dict[str, Reference] = {}
    for r in refs:
        if r is not None:
            out.setdefault(str(r), r)
    return list(out.values())


def _parent(desc: "Descriptor") -> "Digest | None":
    """Return the parent an index.json entry names (IMAGE_PARENT), None when absent or not a digest."""
    text = desc.annotations.get(IMAGE_PARENT)
    if not text:
        return None
    try:
        return Digest.parse(text)
    except LabkitError:  # moby logs "invalid ... label value" and treats the image as having no parent
        return None


def _plain_descriptor(desc: "Descriptor") -> "Descriptor":
    """Return `desc` without annotations (the manifest as a blob, not as an index.json entry)."""
    from ..oci import Descriptor

    return Descriptor(desc.media_type, desc.digest, desc.size, desc.platform)


def _with_annotations(desc: "Descriptor", annotations: Mapping[str, str]) -> "Descriptor":
    from ..oci import Descriptor

    return Descriptor(desc.media_type, desc.digest, desc.size, desc.platform, dict(annotations), desc.urls,
                      desc.artifact_type)
