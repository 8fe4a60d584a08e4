"""Image platforms (image-index.md#platform) with containerd's parsing and normalization
(containerd/platforms database.go), so "same platform" means what it means to docker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from .. import platform
from ..errors import LabkitError

_KNOWN_OS = frozenset({"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
                       "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos"})
_KNOWN_ARCH = frozenset({"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
                         "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
                         "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm"})
_COMPONENT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")  # containerd's specifierRe


def _normalize_os(os_name: str) -> str:
    os_name = os_name.lower()
    return "darwin" if os_name == "macos" else os_name


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    # Mirrors containerd/platforms normalizeArch, so "same platform" means what it means to docker.
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant


@dataclass(frozen=True)
class Platform:
    """An image platform: os, architecture, optional variant, os.version and os.features."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    def __post_init__(self):
        if not isinstance(self.os_features, tuple):
            object.__setattr__(self, "os_features", tuple(self.os_features))

    @classmethod
    def parse(cls, text: "str | Platform") -> "Platform":
        """Return the Platform for "os/arch[/variant]" (or a lone known os or arch); LabkitError if malformed."""
        if isinstance(text, Platform):
            return text
        if not isinstance(text, str):
            raise LabkitError(f"invalid platform {text!r}: expected a string like linux/amd64")
        parts = text.strip().lower().split("/")
        if not 1 <= len(parts) <= 3 or not all(_COMPONENT_RE.match(p) for p in parts):
            raise LabkitError(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64/v8")
        if len(parts) == 1:
            # containerd's specifier rules: a lone OS gets the host's architecture, a lone arch gets linux.
            word = parts[0]
            if _normalize_os(word) in _KNOWN_OS:
                host = cls.host()
                return cls(word, host.architecture, host.variant)
            arch, _ = _normalize_arch(word, "")
            if arch in _KNOWN_ARCH:
                return cls("linux", word)
            raise LabkitError(f"invalid platform {text!r}: {word!r} is neither a known os nor a known "
                              f"architecture; expected os/arch[/variant], e.g. linux/amd64")
        return cls(*parts)

    @classmethod
    def host(cls) -> "Platform":
        """Return the platform of this machine as a linux image platform (normalized); linux/amd64 in the
        browser, whose wasm32 no image is built for."""
        return cls("linux", *_machine_arch(platform.machine())).normalized()

    def normalized(self) -> "Platform":
        """Return this platform with containerd's normalization (x86_64 -> amd64, arm64/v8 -> arm64, ...)."""
        arch, variant = _normalize_arch(self.architecture, self.variant)
        return Platform(_normalize_os(self.os), arch, variant, self.os_version, self.os_features)

    @classmethod
    def from_json(cls, data: Any) -> "Platform":
        """Return the Platform of an OCI platform object; LabkitError if it is malformed."""
        if not isinstance(data, Mapping):
            raise LabkitError(f"invalid platform {data!r:.80}: expected a JSON object")
        os_name, arch = data.get("os"), data.get("architecture")
        if not isinstance(os_name, str) or not isinstance(arch, str):
            raise LabkitError(f"invalid platform {dict(data)!r:.120}: 'os' and 'architecture' must be strings")
        variant = data.get("variant") or ""
        os_version = data.get("os.version") or ""
        features = data.get("os.features") or ()
        if not isinstance(variant, str) or not isinstance(os_version, str):
            raise LabkitError(f"invalid platform {dict(data)!r:.120}: 'variant' and 'os.version' must be strings")
        if not isinstance(features, (list, tuple)) or not all(isinstance(f, str) for f in features):
            raise LabkitError(f"invalid platform {dict(data)!r:.120}: 'os.features' must be a list of strings")
        return cls(os_name, arch, variant, os_version, tuple(features))

    def to_json(self) -> dict:
        """Return the OCI platform object (keys in Go's struct order; empty fields left out)."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    @property
    def is_unknown(self) -> bool:
        """Return True for the unknown/unknown platform that marks attestation manifests."""
        return self.os == "unknown" or self.architecture == "unknown"

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def _machine_arch(machine: str) -> tuple[str, str]:
    m = machine.lower()
    if m in ("x86_64", "amd64", "x64"):
        return "amd64", ""
    if m in ("i386", "i486", "i586", "i686", "x86"):
        return "386", ""
    if m in ("aarch64", "arm64", "armv8b"):
        return "arm64", ""
    found = re.match(r"^armv(\d+)", m)
    if found:
        return "arm", "v" + found.group(1)
    return m or "unknown", ""


def platform_matches(wanted: "Platform | str", candidate: "Platform | None") -> bool:
    """Return True if an index entry with `candidate` platform serves `wanted` (None matches anything)."""
    if candidate is None:
        return True
    if candidate.is_unknown:
        return False
    w = Platform.parse(wanted).normalized()
    c = candidate.normalized()
    # Strict match after normalization, like containerd's OnlyStrict: no fallback from arm/v7 to v6 or
    # from amd64 to 386. os.version and os.features are not compared (linux images leave them empty).
    return (w.os, w.architecture, w.variant) == (c.os, c.architecture, c.variant)
