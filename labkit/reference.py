"""Image references, parsed and normalized exactly like distribution/reference's ParseNormalizedNamed.

The grammar (distribution/reference regexp.go, v0.6):

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [domain "/"] path
    domain      := host [":" port]              host: DNS-like name, IPv4, or [IPv6] in brackets
    path        := component ["/" component]*   component: [a-z0-9]+ joined by ".", "_", "__" or "-"+
    tag         := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}

Normalization (normalize.go): the first "/"-separated part is a registry host when it is `localhost`,
contains "." or ":", or has an uppercase letter; otherwise the host is docker.io.  `index.docker.io`
becomes `docker.io`, and a one-component path on docker.io gets the `library/` prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .digest import Digest, as_digest
from .errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
SCRATCH = "scratch"     # docker's reserved name for the empty image (no layers): no image may take it
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
# RepositoryNameTotalLengthMax: since distribution/reference v0.6 (PR #9) it limits the path only,
# not the domain.
NAME_TOTAL_LENGTH_MAX = 255

# The regular expressions are built from the same pieces, in the same order, as regexp.go, so that
# Python's leftmost-first matching picks the same submatches as Go's.  No \w or \d: in Python
# they would match non-ASCII characters.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_IDENTIFIER = r"[a-f0-9]{64}"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6 + r")"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME

# Used only with fullmatch (Python's `$` would also match before a trailing newline).
_REFERENCE_RE = re.compile(r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?")
_ANCHORED_NAME_RE = re.compile(r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")")
_ANCHORED_DOMAIN_RE = re.compile(_DOMAIN_AND_PORT)
_ANCHORED_PATH_RE = re.compile(_REMOTE_NAME)
_ANCHORED_TAG_RE = re.compile(_TAG)
_ANCHORED_DIGEST_RE = re.compile(_DIGEST)
_ANCHORED_IDENTIFIER_RE = re.compile(_IDENTIFIER)

_LOCALHOST = "localhost"


def _fail(text: object, rule: str, docker: "str | None" = None) -> InvalidReference:
    """Return the InvalidReference for `text` breaking `rule`; `docker`: the error text Go's
    distribution/reference gives for it (what Docker's CLI prints), when it differs from `rule`."""
    shown = f'"{text}"' if isinstance(text, str) else repr(text)
    e = InvalidReference(f"invalid reference {shown}: {rule}")
    e.docker = docker or rule
    return e


def _go_digest_error(text: str) -> str:
    """Return go-digest's Digest.Validate error text for a digest labkit refuses (digest.go, v1.0.0)."""
    algorithm, sep, encoded = text.partition(":")
    if not algorithm or not sep or not encoded:
        return "invalid checksum digest format"
    want = {"sha256": 64, "sha384": 96, "sha512": 128}.get(algorithm)
    if want is None:
        return "unsupported digest algorithm"
    if len(encoded) != want:
        return "invalid checksum digest length"
    return "invalid checksum digest format"


def docker_parse_error(text: str, any_reference: bool = False) -> "str | None":
    """Return the error Docker's client gets parsing `text` with distribution/reference's ParseNormalizedNamed
    (ParseAnyReference with `any_reference`: a 64-hex image ID or a digest is accepted too), None when it
    parses: "invalid reference format: repository name (library/Bad) must be lowercase"."""
    if any_reference and (_ANCHORED_IDENTIFIER_RE.fullmatch(text) or _is_digest(text)):
        return None
    try:
        _parse_parts(text)
    except InvalidReference as e:
        return getattr(e, "docker", str(e))
    return None


def _is_digest(text: str) -> bool:
    try:
        Digest.parse(text)
    except InvalidReference:
        return False
    return True


def _split_docker_domain(name: str) -> tuple[str, str]:
    """Return (domain, remainder) for a familiar name, as normalize.go's splitDockerDomain."""
    maybe_domain, sep, maybe_remote = name.partition("/")
    if not sep:
        # One element ("ubuntu", "ubuntu:latest", even "localhost:5000"): never a host.
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == _LOCALHOST:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        # Namespaces are lowercase, so an uppercase first element can only be a host.
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _why_invalid_format(text: str) -> str:
    """Return which part of `text` breaks the grammar, for the 'invalid reference format' message."""
    if text == "":
        return "invalid reference format: empty string"
    rest, at, digest = text.partition("@")
    if at and not _ANCHORED_DIGEST_RE.fullmatch(digest):
        return f"invalid reference format: digest ({digest}) must be algorithm:hex with at least 32 hex digits"
    name, tag = rest, None
    colon = rest.rfind(":")
    if colon > rest.rfind("/") and colon >= 0:
        name, tag = rest[:colon], rest[colon + 1:]
    if name == "":
        return "invalid reference format: no repository name"
    domain, remainder = _split_docker_domain(name)
    name_ok = _ANCHORED_NAME_RE.fullmatch(domain + "/" + remainder) is not None
    if tag is not None and name_ok and not _ANCHORED_TAG_RE.fullmatch(tag):
        return (f"invalid tag ({tag}): up to 128 letters, digits, '_', '.' or '-', "
                "not starting with '.' or '-'")
    return (f"invalid reference format: repository name ({rest}) must be [host[:port]/]component[/component...]"
            " with components of lowercase letters and digits joined by '.', '_', '__' or '-'")


def _parse_parts(text: str) -> tuple[str, str, Optional[str], Optional[Digest]]:
    """Return (domain, path, tag, digest) for `text`, following ParseNormalizedNamed step by step."""
    if not isinstance(text, str):
        raise _fail(text, "not a string")
    if _ANCHORED_IDENTIFIER_RE.fullmatch(text):
        raise _fail(text, f"repository name ({text}) cannot be a 64-character hexadecimal string "
                          "(that is an image ID)",
                    f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise _fail(text, f"repository name ({remote}) must be lowercase",
                    f"invalid reference format: repository name ({remote}) must be lowercase")

    # reference.go Parse, on the domain-qualified string.
    full = domain + "/" + remainder
    m = _REFERENCE_RE.fullmatch(full)
    if m is None:
        lowered = full.lower()
        if lowered != full and _REFERENCE_RE.fullmatch(lowered):
            raise _fail(text, "repository name must be lowercase")
        raise _fail(text, _why_invalid_format(text), "invalid reference format")
    name, tag, digest_text = m.groups()
    nm = _ANCHORED_NAME_RE.fullmatch(name)
    # Parse re-splits the name: a first element that is not a valid host (e.g. "foo_bar.com")
    # then becomes part of the path with an empty domain, exactly as in Go.
    domain, path = (nm.group(1) or ""), nm.group(2)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise _fail(text, f"name too long (max {NAME_TOTAL_LENGTH_MAX}): the repository path has "
                          f"{len(path)} characters",
                    f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    digest = None
    if digest_text:
        try:
            digest = Digest.parse(digest_text)
        except InvalidReference as e:
            raise _fail(text, str(e), _go_digest_error(digest_text)) from None
    return domain, path, tag, digest


@dataclass(frozen=True)
class Reference:
    """A normalized image reference; `str()` round-trips through `Reference.parse`."""

    domain: str
    path: str
    tag: Optional[str] = None
    digest: Optional[Digest] = None

    def __post_init__(self) -> None:
        if self.digest is not None and not isinstance(self.digest, Digest):
            object.__setattr__(self, "digest", as_digest(self.digest))
        if self.tag is not None and not (isinstance(self.tag, str) and _ANCHORED_TAG_RE.fullmatch(self.tag)):
            raise _fail(f"{self.domain}/{self.path}:{self.tag}",
                        f"invalid tag ({self.tag}): up to 128 letters, digits, '_', '.' or '-', "
                        "not starting with '.' or '-'")
        if not isinstance(self.domain, str) or not isinstance(self.path, str):
            raise _fail(f"{self.domain}/{self.path}", "domain and path must be strings")
        if self.domain and not _ANCHORED_DOMAIN_RE.fullmatch(self.domain):
            raise _fail(self.domain, "invalid registry host (host[:port] or [IPv6][:port])")
        # Built directly (not by parse): insist on the normalized form, so str() round-trips.
        parts = _parse_parts(str(self))
        if parts != (self.domain, self.path, self.tag, self.digest):
            want = Reference._from_parts(parts)
            raise _fail(str(self), f"not in normalized form (domain {self.domain!r}, path {self.path!r}); "
                                   f"parse gives domain {want.domain!r}, path {want.path!r}")

    @classmethod
    def _from_parts(cls, parts) -> "Reference":
        """Return a Reference from already-validated parts, skipping the re-check."""
        ref = object.__new__(cls)
        for field, value in zip(("domain", "path", "tag", "digest"), parts):
            object.__setattr__(ref, field, value)
        return ref

    @classmethod
    def parse(cls, text: str) -> "Reference":
        """Return the normalized Reference for `text` (no default tag added), or raise InvalidReference."""
        return cls._from_parts(_parse_parts(text))

    def with_default_tag(self) -> "Reference":
        """Return this reference with tag "latest" when it has neither tag nor digest (TagNameOnly)."""
        if self.tag is None and self.digest is None:
            return self.with_tag(DEFAULT_TAG)
        return self

    def with_tag(self, tag: str) -> "Reference":
        """Return a copy with `tag` (a digest, if any, is kept, as in Go's WithTag)."""
        if not isinstance(tag, str) or not _ANCHORED_TAG_RE.fullmatch(tag):
            raise _fail(f"{self.name}:{tag}", f"invalid tag ({tag}): up to 128 letters, digits, '_', '.' or '-', "
                                              "not starting with '.' or '-'")
        return Reference._from_parts((self.domain, self.path, tag, self.digest))

    def with_digest(self, digest: "Digest | str") -> "Reference":
        """Return a copy with `digest` (a tag, if any, is kept, as in Go's WithDigest)."""
        try:
            d = as_digest(digest)
        except InvalidReference as e:
            raise _fail(f"{self.name}@{digest}", str(e)) from None
        return Reference._from_parts((self.domain, self.path, self.tag, d))

    @property
    def name(self) -> str:
        """Return the full repository name, e.g. "docker.io/library/ubuntu"."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """Return the name as docker shows it: "ubuntu", "user/app", "localhost:5000/app"."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX):
            rest = self.path[len(OFFICIAL_REPO_PREFIX):]
            if "/" not in rest:
                return rest
        return self.path

    @property
    def canonical(self) -> str:
        """Return the full string with the default tag: "docker.io/library/ubuntu:latest"."""
        return str(self.with_default_tag())

    @property
    def familiar(self) -> str:
        """Return the familiar string with the default tag: "ubuntu:latest"."""
        return self.with_default_tag()._suffixed(self.familiar_name)

    def _suffixed(self, name: str) -> str:
        """Return `name` followed by this reference's ":tag" and "@digest"."""
        out = name
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + str(self.digest)
        return out

    def __str__(self) -> str:
        return self._suffixed(self.name)

    @property
    def namespace_kind(self) -> str:
        """Return "official" (docker.io/library/x), "user" (other docker.io) or "self-hosted" (any other host)."""
        if self.domain != DEFAULT_DOMAIN:
            return "self-hosted"
        return "official" if "/" not in self.familiar_name else "user"

    @property
    def api_host(self) -> str:
        """Return the host that serves the registry API: registry-1.docker.io for docker.io, else the domain."""
        return DOCKER_HUB_API_HOST if self.domain == DEFAULT_DOMAIN else self.domain

    @property
    def ref_or_digest(self) -> str:
        """Return the <reference> for /v2/<path>/manifests/<reference>: the digest if any, else the tag or "latest"."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag if self.tag is not None else DEFAULT_TAG


def parse(text: str) -> Reference:
    """Return the normalized Reference for `text` (alias of Reference.parse)."""
    return Reference.parse(text)
