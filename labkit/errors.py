"""The one exception tree of labkit, named for what a caller can do about each error."""

from __future__ import annotations


class LabkitError(Exception):
    """Root of every error labkit raises on purpose; the faces print its message in one line."""


class UsageError(LabkitError):
    """The command was called wrongly (the command line exits 2 for these)."""


class CliError(LabkitError):
    """An error Docker's client reports itself, printed as it is with no "Error: " before it: a --format
    template that does not parse or execute ("template parsing error: template: :1:2: executing ..."), flags
    that do not go together ("--format is not yet supported with --tree"). `status` is the exit status (1;
    64 for an `inspect` template that does not parse, as docker/cli's inspect does)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


class InvalidReference(LabkitError, ValueError):
    """An image reference that breaks a rule of the distribution/reference grammar."""


class DigestMismatch(LabkitError):
    """Content whose hash or size differs from the digest it was asked for."""

    def __init__(self, message: str, expected: str = "", actual: str = ""):
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class UnsafeLayer(LabkitError):
    """A layer tar entry that breaks a safety rule; nothing of the layer is kept."""

    def __init__(self, entry: str, rule: str):
        super().__init__(f"unsafe layer entry {entry!r}: {rule}")
        self.entry = entry
        self.rule = rule


class TruncatedLayer(LabkitError):
    """A layer stream that ends early or is corrupt (bad gzip/zstd data, bad tar header)."""


class NotFound(LabkitError):
    """An image, blob, container or tag that does not exist where it was looked for."""


class Conflict(LabkitError):
    """An operation refused because of the current state (e.g. rmi of an image a container uses)."""


class RegistryError(LabkitError):
    """A registry answered with an error; keeps the method, redacted URL, status, codes and raw body."""

    def __init__(self, message: str, *, method: str = "", url: str = "", status: int = 0,
                 codes: tuple[str, ...] = (), body: str = ""):
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        self.codes = tuple(codes)
        self.body = body


class AuthRequired(RegistryError):
    """The registry wants credentials we do not have, or refused the ones we sent (401/403)."""


class RateLimited(RegistryError):
    """The registry answered 429; keeps Retry-After and the RateLimit-* headers."""

    def __init__(self, message: str, *, retry_after: str | None = None,
                 headers: dict[str, str] | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.headers = dict(headers or {})
