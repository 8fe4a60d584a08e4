"""Image configurations (image-spec config.md): parsed strictly, built and derived as canonical JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from ..clock import build_time, parse_time, rfc3339
from ..digest import Digest
from ..errors import LabkitError
from .chainids import chain_ids
from .descriptors import Descriptor
from .jsondoc import RawDocument, canonical_json, load_object, optional_str, string_map, short_digest
from .mediatypes import OCI_CONFIG
from .platforms import Platform

# image-spec v1.ImageConfig field order, so built configs read like those docker and buildkit write.
_CONFIG_KEY_ORDER = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
                     "StopSignal", "ArgsEscaped")
_HISTORY_KEY_ORDER = ("created", "author", "created_by", "comment", "empty_layer")


@dataclass(frozen=True)
class HistoryItem:
    """One history entry matched with the layer it made (diff_id None for an empty_layer entry)."""

    entry: Mapping[str, Any]
    diff_id: "Digest | None"
    index: int  # position of the layer in rootfs.diff_ids, -1 for empty_layer entries

    @property
    def empty_layer(self) -> bool:
        """Return True if this history step changed no files."""
        return self.diff_id is None

    @property
    def created_by(self) -> str:
        """Return the command that made this step ("" when not recorded)."""
        return self.entry.get("created_by") or ""


@dataclass(frozen=True)
class ImageConfig(RawDocument):
    """An image configuration with the exact bytes it was read from; its digest is the image ID."""

    raw: bytes = field(repr=False)
    architecture: str = field(compare=False)
    os: str = field(compare=False)
    variant: str = field(default="", compare=False)
    os_version: str = field(default="", compare=False)
    os_features: tuple[str, ...] = field(default=(), compare=False)
    created: "datetime | None" = field(default=None, compare=False)
    author: str = field(default="", compare=False)
    config: dict = field(default_factory=dict, compare=False, repr=False)
    diff_ids: tuple[Digest, ...] = field(default=(), compare=False)
    history: tuple[dict, ...] = field(default=(), compare=False, repr=False)
    data: dict = field(default_factory=dict, compare=False, repr=False)  # the whole parsed document

    @classmethod
    def from_bytes(cls, raw: bytes) -> "ImageConfig":
        """Return the ImageConfig in `raw`; LabkitError naming the field that breaks config.md."""
        doc = load_object(raw, "image config")
        raw = bytes(raw)
        subject = short_digest(raw)

        def fail(why: str) -> LabkitError:
            return LabkitError(f"parse image config {subject}: {why}")

        arch, os_name = doc.get("architecture"), doc.get("os")
        if not isinstance(arch, str) or not isinstance(os_name, str):
            raise fail("'architecture' and 'os' must be strings")
        variant = optional_str(doc, "variant", subject, "image config") or ""
        os_version = optional_str(doc, "os.version", subject, "image config") or ""
        features = [] if doc.get("os.features") is None else doc["os.features"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise fail("'os.features' must be a list of strings")
        author = optional_str(doc, "author", subject, "image config") or ""
        created = None
        if doc.get("created") is not None:
            if not isinstance(doc["created"], str):
                raise fail("'created' must be an RFC 3339 string")
            try:
                created = parse_time(doc["created"])
            except (ValueError, OverflowError) as e:
                raise fail(f"'created' is not an RFC 3339 time: {doc['created']!r} ({e})") from None
        config = {} if doc.get("config") is None else doc["config"]
        if not isinstance(config, dict):
            raise fail("'config' must be an object or null")
        rootfs = doc.get("rootfs")
        if not isinstance(rootfs, dict):
            raise fail("'rootfs' is required and must be an object")
        if rootfs.get("type") != "layers":
            # config.md: implementations MUST generate an error for an unknown rootfs.type.
            raise fail(f"rootfs.type must be 'layers', got {rootfs.get('type')!r}")
        raw_ids = rootfs.get("diff_ids")
        if raw_ids is None:
            raw_ids = []
        if not isinstance(raw_ids, list):
            raise fail("rootfs.diff_ids must be a list of digests")
        try:
            diff_ids = tuple(Digest.parse(d) for d in raw_ids)
        except LabkitError as e:
            raise fail(f"rootfs.diff_ids: {e}") from None
        history = [] if doc.get("history") is None else doc["history"]
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise fail("'history' must be a list of objects")
        return cls(raw, arch, os_name, variant, os_version, tuple(features), created, author, config,
                   diff_ids, tuple(history), doc)

    @property
    def image_id(self) -> Digest:
        """Return the image ID, which is the config digest (config.md#imageid)."""
        return self.digest

    @property
    def platform(self) -> Platform:
        """Return the platform this image is built for."""
        return Platform(self.os, self.architecture, self.variant, self.os_version, self.os_features)

    def descriptor(self, media_type: str = OCI_CONFIG) -> Descriptor:
        """Return the Descriptor a manifest uses to point at this config."""
        return Descriptor(media_type, self.digest, len(self.raw))

    @property
    def cmd(self) -> "list[str] | None":
        """Return config.Cmd (None when unset)."""
        return self.config.get("Cmd")

    @property
    def entrypoint(self) -> "list[str] | None":
        """Return config.Entrypoint (None when unset)."""
        return self.config.get("Entrypoint")

    @property
    def env(self) -> list[str]:
        """Return config.Env as a list of "KEY=value" strings."""
        return list(self.config.get("Env") or [])

    @property
    def working_dir(self) -> str:
        """Return config.WorkingDir ("" when unset)."""
        return self.config.get("WorkingDir") or ""

    @property
    def user(self) -> str:
        """Return config.User ("" when unset)."""
        return self.config.get("User") or ""

    @property
    def labels(self) -> dict:
        """Return config.Labels ({} when unset)."""
        return dict(self.config.get("Labels") or {})

    @property
    def exposed_ports(self) -> list[str]:
        """Return the keys of config.ExposedPorts, e.g. ["80/tcp"]."""
        return list((self.config.get("ExposedPorts") or {}).keys())

    @property
    def chain_ids(self) -> list[Digest]:
        """Return the chain ID of each layer prefix (config.md#layer-chainid)."""
        return chain_ids(self.diff_ids)

    def layer_history(self) -> list[HistoryItem]:
        """Return history entries matched to layers, oldest first (as `docker history` lists them, reversed).

        Entries with empty_layer true get no layer. Layers that no history entry accounts for get an
        empty entry (docker shows them as <missing>); more non-empty entries than layers is an error.
        """
        items: list[HistoryItem] = []
        n = 0
        for entry in self.history:
            if entry.get("empty_layer") is True:
                items.append(HistoryItem(entry, None, -1))
                continue
            if n >= len(self.diff_ids):
                raise LabkitError(f"image config {self.digest.algorithm}:{self.digest.short}: history has more "
                                  f"non-empty entries than the {len(self.diff_ids)} layers in rootfs.diff_ids")
            items.append(HistoryItem(entry, self.diff_ids[n], n))
            n += 1
        for i in range(n, len(self.diff_ids)):
            items.append(HistoryItem({}, self.diff_ids[i], i))
        return items

    @staticmethod
    def build(*, diff_ids: Iterable["Digest | str"] = (), architecture: "str | None" = None,
              os: "str | None" = None, variant: "str | None" = None, platform: "Platform | str | None" = None,
              created: "datetime | str | None" = None, author: str = "",
              config: "Mapping[str, Any] | None" = None, history: Iterable[Mapping[str, Any]] = (),
              os_version: str = "", os_features: Sequence[str] = (), **config_fields: Any) -> bytes:
        """Return canonical config JSON bytes for a new image.

        `platform` (or architecture/os/variant; default: the host's) says what it runs on; `created`
        defaults to clock.build_time(); `config` holds docker's keys (Cmd, Env, ...) and keyword
        arguments named like them (cmd=, entrypoint=, env=, working_dir=, labels=, exposed_ports=,
        user=, volumes=, stop_signal=) override single keys.
        """
        if platform is not None:
            plat = Platform.parse(platform)
        elif architecture is None:
            plat = Platform.host()
        else:
            plat = Platform(os or "linux", architecture)  # an explicit arch never borrows the host's variant
        arch = architecture or plat.architecture
        os_name = os or plat.os
        var = plat.variant if variant is None else variant
        created_text = _time_text(created if created is not None else build_time())
        ids = [str(Digest.parse(d) if isinstance(d, str) else d) for d in diff_ids]

        merged = dict(config or {})
        for key, value in config_fields.items():
            docker_key = _CONFIG_KWARGS.get(key)
            if docker_key is None:
                raise LabkitError(f"build image config: unknown field {key!r} "
                                  f"(known: {', '.join(sorted(_CONFIG_KWARGS))})")
            merged[docker_key] = value

        hist = [_history_entry(h) for h in history]
        non_empty = sum(1 for h in hist if not h.get("empty_layer"))
        if non_empty > len(ids):
            raise LabkitError(f"build image config: {non_empty} non-empty history entries but only "
                              f"{len(ids)} layers")

        doc: dict[str, Any] = {"created": created_text}
        if author:
            doc["author"] = author
        doc["architecture"] = arch
        doc["os"] = os_name
        if os_version:
            doc["os.version"] = os_version
        if os_features:
            doc["os.features"] = list(os_features)
        if var:
            doc["variant"] = var
        doc["config"] = _canonical_config(merged)
        doc["rootfs"] = {"type": "layers", "diff_ids": ids}
        if hist:
            doc["history"] = hist
        return canonical_json(doc)

    @classmethod
    def create(cls, **fields: Any) -> "ImageConfig":
        """Return the ImageConfig that build(**fields) serialises."""
        return cls.from_bytes(cls.build(**fields))

    def derive(self, *, diff_ids: Iterable["Digest | str"] = (), created_by: str = "", comment: str = "",
               created: "datetime | str | None" = None, author: str = "", empty_layer: bool = False,
               config: "Mapping[str, Any] | None" = None) -> bytes:
        """Return canonical config bytes for a child image: these layers and one history entry added.

        What `commit` needs: parent config kept, `config` keys replace the parent's, one history step.
        """
        when = created if created is not None else build_time()
        new_ids = list(diff_ids)
        if not new_ids and not empty_layer:
            empty_layer = True
        if new_ids and empty_layer:
            raise LabkitError("derive image config: empty_layer=True but layers were added")
        step: dict[str, Any] = {"created": when}
        if author:
            step["author"] = author
        if created_by:
            step["created_by"] = created_by
        if comment:
            step["comment"] = comment
        if empty_layer:
            step["empty_layer"] = True
        merged = dict(self.config)
        merged.update(config or {})
        # Layers that the parent's history never described get placeholder entries so the mapping
        # of history to layers stays right for the new layers.
        history = [dict(h) for h in self.history]
        described = sum(1 for h in history if h.get("empty_layer") is not True)
        history += [{} for _ in range(max(0, len(self.diff_ids) - described))]
        for _ in new_ids[1:]:
            history.append({"created": when, "created_by": created_by, **({"comment": comment} if comment else {})})
        history.append(step)
        return ImageConfig.build(
            diff_ids=[*self.diff_ids, *new_ids], platform=self.platform, created=when,
            author=author or self.author, config=merged, history=history,
            os_version=self.os_version, os_features=self.os_features)


_CONFIG_KWARGS = {"user": "User", "exposed_ports": "ExposedPorts", "env": "Env", "entrypoint": "Entrypoint",
                  "cmd": "Cmd", "volumes": "Volumes", "working_dir": "WorkingDir", "labels": "Labels",
                  "stop_signal": "StopSignal", "args_escaped": "ArgsEscaped"}


def _time_text(value: "datetime | str") -> str:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, str):
        return value
    raise LabkitError(f"build image config: a time must be a datetime or RFC 3339 string, got {value!r}")


def _history_entry(entry: Mapping[str, Any]) -> dict:
    if not isinstance(entry, Mapping):
        raise LabkitError(f"build image config: history entry {entry!r:.80} is not an object")
    out: dict[str, Any] = {}
    for key in _HISTORY_KEY_ORDER:
        value = entry.get(key)
        if value is None or value == "" or (key == "empty_layer" and value is not True):
            continue
        out[key] = _time_text(value) if key == "created" else value
    for key in sorted(set(entry) - set(_HISTORY_KEY_ORDER)):
        if entry[key] is not None:
            out[key] = entry[key]
    return out


def _canonical_config(config: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    for key in list(_CONFIG_KEY_ORDER) + sorted(set(config) - set(_CONFIG_KEY_ORDER)):
        value = config.get(key)
        if value is None:
            continue
        if key in ("ExposedPorts", "Volumes"):
            # A Go map[string]struct{}: keys mapped to {} (config.md); a list of keys is accepted.
            keys = value.keys() if isinstance(value, Mapping) else value
            value = {k: {} for k in sorted(keys)}
        elif key == "Env" and isinstance(value, Mapping):
            value = [f"{k}={v}" for k, v in value.items()]
        elif key == "Labels":
            value = dict(sorted(string_map(value, "config Labels").items()))
        elif key in ("Cmd", "Entrypoint") and isinstance(value, str):
            raise LabkitError(f"build image config: {key} must be a list of strings (exec form), got {value!r}")
        elif isinstance(value, (list, tuple)):
            value = list(value)
        out[key] = value
    return out
