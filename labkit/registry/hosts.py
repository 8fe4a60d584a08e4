"""Registry host configuration as containerd reads it: `<config_path>/<host>/hosts.toml` (containerd
docs/hosts.md), with `$LABKIT_HOME/certs.d` as labkit's config_path.

A directory per registry host namespace (the host[:port] an image reference names) holds a hosts.toml:

    server = "http://127.0.0.1:61234"          # the registry itself (default: the namespace's own address)

    [host."http://127.0.0.1:61234"]            # hosts tried first, in order, for what their capabilities allow
      capabilities = ["pull", "resolve", "push"]

For a namespace with a port, containerd looks in `host_port_/`, then `host:port/`, then `_default/`.
`server` also gets the top-level `capabilities` (default: all three). A host's capabilities say what it is
trusted with: "resolve" (a tag to a digest), "pull" (content by digest), "push".

labkit reads `server`, `[host."URL"]` and `capabilities`; a host whose capabilities include what an operation
needs is tried for it (pull: pull and resolve; push: push; login and search go where pushes go), then the
server. The other fields (`ca`, `client`, `skip_verify`, `header`, `override_path`, `proxy`, `dial_timeout`)
are not acted on, and containerd's `ns` query parameter on requests to a host other than the namespace is not
sent (the registries here ignore it). Credentials stay those of the namespace (what `login` named).

`labkit lab up` writes such files when this home's lab registry had to take a free port because
127.0.0.1:5000 is another home's (labctl): `localhost:5000/...` and `127.0.0.1:5000/...` then reach this
home's registry, on a shared host too.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import LabkitError

CONFIG_DIR = "certs.d"
FILE = "hosts.toml"
DEFAULT_NAMESPACE = "_default"
ALL = ("pull", "resolve", "push")
NEEDS = {"pull": ("pull", "resolve"), "push": ("push",), "login": ("push",), "search": ("pull", "resolve")}


@dataclass(frozen=True)
class RegistryHost:
    """One place a namespace's requests may go: its base URL (scheme://host[:port]) and what it may do."""

    url: str
    capabilities: tuple[str, ...] = ALL

    @property
    def netloc(self) -> str:
        """Return host[:port] of the URL."""
        return urlsplit(self.url).netloc

    def can(self, operation: str) -> bool:
        """Return True when this host may serve `operation` ("pull", "push", "login", "search")."""
        return all(c in self.capabilities for c in NEEDS[operation])


def config_dir(home: "str | os.PathLike") -> Path:
    """Return labkit's containerd-style config_path: `<home>/certs.d`."""
    return Path(home) / CONFIG_DIR


def namespace_dirs(namespace: str) -> list[str]:
    """Return the directory names containerd looks in for `namespace`, in order (docs/hosts.md, "Port Handling")."""
    host, sep, port = namespace.rpartition(":") if not namespace.endswith("]") else (namespace, "", "")
    names = [f"{host}_{port}_", namespace] if sep and port.isdigit() else [namespace]
    return names + [DEFAULT_NAMESPACE]


def read_hosts(path: Path) -> list[RegistryHost]:
    """Return the hosts a hosts.toml lists: its [host."URL"] entries in order, then the server."""
    # imported here: most homes have no hosts.toml, and every pull would pay for the TOML parser's import
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise LabkitError(f"read {path}: {type(e).__name__}") from None
    except tomllib.TOMLDecodeError as e:
        raise LabkitError(f"read {path}: not valid TOML ({e})") from None
    hosts = []
    table = doc.get("host", {})
    if not isinstance(table, dict):
        raise LabkitError(f"read {path}: `host` must be a table of [host.\"URL\"] entries")
    for url, entry in table.items():
        if not isinstance(entry, dict):
            raise LabkitError(f"read {path}: [host.{url!r}] must be a table")
        hosts.append(RegistryHost(_base_url(path, url), _capabilities(path, entry.get("capabilities", list(ALL)))))
    server = doc.get("server")
    if server is not None and not isinstance(server, str):
        raise LabkitError(f"read {path}: `server` must be a URL")
    # The server comes last, once every host was tried (containerd's fallback); without `server`, the
    # namespace's own address.
    hosts.append(RegistryHost(_base_url(path, server) if server else "",
                              _capabilities(path, doc.get("capabilities", list(ALL)))))
    return hosts


def hosts_for(namespace: str, home: "str | os.PathLike") -> "list[RegistryHost] | None":
    """Return the hosts configured for `namespace` under `<home>/certs.d`, or None when no hosts.toml applies.

    The last host is the server; its url is "" when the file names none (then the namespace's own address,
    chosen as without a file: https, or http for loopback and insecure registries)."""
    base = config_dir(home)
    if not base.is_dir():
        return None
    for name in namespace_dirs(namespace):
        path = base / name / FILE
        if path.is_file():
            return read_hosts(path)
    return None


def endpoints(namespace: str, home: "str | os.PathLike", operation: str) -> "list[str] | None":
    """Return the base URLs to try for `operation` on `namespace`, in order ("" stands for the namespace's own
    address), or None when no hosts.toml applies. LabkitError when none may serve it."""
    hosts = hosts_for(namespace, home)
    if hosts is None:
        return None
    urls = [h.url for h in hosts if h.can(operation)]
    if not urls:
        raise LabkitError(f"{operation} {namespace}: no host in {config_dir(home)} for {namespace} may {operation} "
                          f"(capabilities)")
    return list(dict.fromkeys(urls))


def base_urls(namespace: str, home: "str | os.PathLike | None", operation: str, default: str) -> list[str]:
    """Return the base URLs to try for `operation` on `namespace`: what `<home>/certs.d` configures (the server
    without a URL standing for `default`), or just `default` (the namespace's own address) without a file."""
    urls = endpoints(namespace, home, operation) if home is not None else None
    return list(dict.fromkeys(u or default for u in urls)) if urls else [default]


def _base_url(path: Path, url: str) -> str:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LabkitError(f"read {path}: {url!r} is not an http(s) URL of a registry")
    return f"{parts.scheme}://{parts.netloc}"


def _capabilities(path: Path, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise LabkitError(f"read {path}: capabilities must be a list such as [\"pull\", \"resolve\", \"push\"]")
    unknown = [c for c in value if c not in ALL]
    if unknown:
        raise LabkitError(f"read {path}: unknown capabilities {unknown} (containerd knows pull, resolve, push)")
    return tuple(value)


def write_redirect(home: "str | os.PathLike", namespace: str, url: str, note: str) -> Path:
    """Write `<home>/certs.d/<namespace>/hosts.toml` sending everything for `namespace` to `url` (as its server
    and its one host), with `note` as a comment; return the file."""
    from ..fsutil import atomic_write_bytes

    path = config_dir(home) / namespace / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    comment = "".join(f"# {line}\n" for line in note.splitlines())
    text = (f"{comment}server = \"{url}\"\n\n[host.\"{url}\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n")
    atomic_write_bytes(path, text.encode())
    return path


def remove_redirect(home: "str | os.PathLike", namespace: str) -> bool:
    """Remove `<home>/certs.d/<namespace>/hosts.toml` (and its folder when empty); return True if it existed."""
    path = config_dir(home) / namespace / FILE
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    try:
        path.parent.rmdir()
    except OSError:
        pass
    return True


__all__ = ["RegistryHost", "config_dir", "namespace_dirs", "read_hosts", "hosts_for", "endpoints", "base_urls",
           "write_redirect", "remove_redirect", "CONFIG_DIR"]
