"""daemon.json, parsed once: labkit's settings file, with Docker's own keys and meanings.

    config = parse_daemon_json(text, "/home/me/.local/share/labkit/daemon.json")
    config.image_store                 # "containerd" (Docker 29's default) or "graphdriver"
    config.registry_mirrors            # ("http://127.0.0.1:5000",)
    config.max_concurrent_downloads    # 3 unless set (dockerd's default)
    config.get("insecure-registries")  # the Mapping view: the file's validated keys, Docker's names

The keys labkit reads (moby daemon/config/config.go names and defaults):
- `registry-mirrors`, `insecure-registries`: lists of strings;
- `features`: an object of booleans; `containerd-snapshotter` chooses the image store: true (the default
  since Docker Engine 29) for the containerd image store, false for the graphdriver one (overlay2, the
  store of the lab text's Docker). Docker ignores features it does not know; labkit ignores them too and
  says so in a warning, so a typo ("containerd-snapshoter") does not go unnoticed;
- `max-concurrent-downloads` (default 3), `max-concurrent-uploads` (default 5): integers >= 0.

A key labkit does not read is kept and warned about (dockerd refuses to start on a key it does not know;
labkit implements only a few of Docker's, so a daemon.json copied from a real Docker still loads).
A file that is not valid JSON, or a known key of the wrong type, is a DaemonConfigError naming the file and
the line. Pure: the caller reads the file (labkit.home.load_daemon_config).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator, Mapping

from .errors import LabkitError

CONTAINERD = "containerd"      # the containerd image store (Docker Engine 29's default)
GRAPHDRIVER = "graphdriver"    # the graphdriver image store (overlay2; the lab text's Docker)
IMAGE_STORES = (CONTAINERD, GRAPHDRIVER)

SNAPSHOTTER_FEATURE = "containerd-snapshotter"
KNOWN_FEATURES = (SNAPSHOTTER_FEATURE,)
DEFAULT_MAX_CONCURRENT_DOWNLOADS = 3   # moby daemon/config DefaultMaxConcurrentDownloads
DEFAULT_MAX_CONCURRENT_UPLOADS = 5     # moby daemon/config DefaultMaxConcurrentUploads

_STRING_LISTS = ("registry-mirrors", "insecure-registries")
_COUNTS = {"max-concurrent-downloads": "downloads", "max-concurrent-uploads": "uploads"}
KNOWN_KEYS = (*_STRING_LISTS, "features", *_COUNTS)


class DaemonConfigError(LabkitError):
    """daemon.json cannot be used: not JSON, or a key with a value of the wrong type."""


@dataclass(frozen=True)
class DaemonConfig(Mapping):
    """The settings of one labkit home. As a Mapping it is the file's validated object (Docker's key names),
    so code that reads `settings.get("registry-mirrors")` takes it as it took the plain dict."""

    data: Mapping = field(default_factory=dict)
    path: str = "daemon.json"
    warnings: tuple[str, ...] = ()

    # -- the Mapping view
    def __getitem__(self, key: str):
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    # -- typed fields
    @property
    def registry_mirrors(self) -> tuple[str, ...]:
        return tuple(self.data.get("registry-mirrors") or ())

    @property
    def insecure_registries(self) -> tuple[str, ...]:
        return tuple(self.data.get("insecure-registries") or ())

    @property
    def features(self) -> dict[str, bool]:
        return dict(self.data.get("features") or {})

    @property
    def max_concurrent_downloads(self) -> int:
        return int(self.data.get("max-concurrent-downloads", DEFAULT_MAX_CONCURRENT_DOWNLOADS))

    @property
    def max_concurrent_uploads(self) -> int:
        return int(self.data.get("max-concurrent-uploads", DEFAULT_MAX_CONCURRENT_UPLOADS))

    @property
    def image_store(self) -> str:
        """Return "containerd" unless `features.containerd-snapshotter` is false (then "graphdriver")."""
        return CONTAINERD if self.features.get(SNAPSHOTTER_FEATURE, True) else GRAPHDRIVER


def image_store_name(value: str) -> str:
    """Return `value` if it names an image store ("containerd", "graphdriver"); LabkitError otherwise."""
    if value not in IMAGE_STORES:
        raise LabkitError(f'unknown image store "{value}": use "{CONTAINERD}" (Docker 29\'s default) or '
                          f'"{GRAPHDRIVER}" (the lab text\'s Docker)')
    return value


def parse_daemon_json(text: str, path: str = "daemon.json") -> DaemonConfig:
    """Return the DaemonConfig in `text` (the content of the file at `path`; empty means {})."""
    if not text.strip():
        return DaemonConfig({}, path)
    where = _Positions(text, path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DaemonConfigError(f"unable to configure labkit with file {path}: line {e.lineno}, column {e.colno}: "
                                f"invalid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise where.error(0, "the file must hold a JSON object ({...})")
    lines = where.top_level_lines()
    warnings = []
    for key, value in data.items():
        line = lines.get(key, 1)
        if key in _STRING_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise where.error(line, f'"{key}" must be a list of strings')
        elif key in _COUNTS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise where.error(line, f'"{key}" must be an integer')
            if value < 0:  # dockerd's own message
                raise where.error(line, f"invalid max concurrent {_COUNTS[key]}: {value}")
        elif key == "features":
            if not isinstance(value, dict):
                raise where.error(line, '"features" must be an object of booleans')
            feature_lines = where.object_lines(key)
            for name, enabled in value.items():
                fline = feature_lines.get(name, line)
                if not isinstance(enabled, bool):
                    raise where.error(fline, f'feature "{name}" must be true or false')
                if name not in KNOWN_FEATURES:
                    warnings.append(f'{path}:{fline}: unknown feature "{name}" ignored (labkit knows: '
                                    f'{", ".join(KNOWN_FEATURES)})')
        else:
            warnings.append(f'{path}:{line}: "{key}" is not a setting labkit uses; ignored')
    return DaemonConfig(data, path, tuple(warnings))


class _Positions:
    """Line numbers of the keys of a JSON object text (json.loads gives none), found by decoding it again
    member by member with the standard library's own scanner."""

    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path

    def error(self, line: int, message: str) -> DaemonConfigError:
        at = f"line {line}: " if line else ""
        return DaemonConfigError(f"unable to configure labkit with file {self.path}: {at}{message}")

    def _line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def _members(self, start: int) -> Iterator[tuple[str, int, int]]:
        """Yield (key, position of the key, position of its value) for the object starting at `start`."""
        from json.decoder import WHITESPACE, scanstring

        decoder = json.JSONDecoder()
        s = self.text
        i = WHITESPACE.match(s, start + 1).end()
        while i < len(s) and s[i] == '"':
            key, end = scanstring(s, i + 1)
            colon = WHITESPACE.match(s, end).end()
            value_at = WHITESPACE.match(s, colon + 1).end()
            yield key, i, value_at
            _, after = decoder.raw_decode(s, value_at)
            i = WHITESPACE.match(s, after).end()
            if i < len(s) and s[i] == ",":
                i = WHITESPACE.match(s, i + 1).end()

    def _top(self) -> int:
        from json.decoder import WHITESPACE

        return WHITESPACE.match(self.text, 0).end()

    def top_level_lines(self) -> dict[str, int]:
        """Return {key: line} for the top-level object (the last occurrence wins, as in json.loads)."""
        return {k: self._line(at) for k, at, _ in self._members(self._top())}

    def object_lines(self, key: str) -> dict[str, int]:
        """Return {key: line} for the object that is the value of the top-level `key`."""
        found: dict[str, int] = {}
        for k, _, value_at in self._members(self._top()):
            if k == key:  # the last occurrence wins, as in json.loads
                found = {kk: self._line(at) for kk, at, _ in self._members(value_at)}
        return found
