"""Registry credentials where Docker keeps them: `$DOCKER_CONFIG/config.json` (default ~/.docker/config.json).

Which store holds a registry's credentials is Docker's choice (docker/cli, cli/config/configfile/file.go,
GetCredentialsStore): the helper `credHelpers[<server>]` names, else the helper `credsStore` names, else the
file itself (`auths`). A helper is a program (registry.credhelper); with one configured, `auths` keeps only an
empty entry per registry (`{"auths": {"ghcr.io": {}}}`) and the secrets live in the helper, which may answer
"not found": then the pull goes anonymous.

<server> is docker's server address: "https://index.docker.io/v1/" for Docker Hub, the registry's host[:port]
otherwise. In `auths`, an entry holds `auth` (base64 of "user:password") and, after a login that returned one,
`identitytoken` (an OAuth2 refresh token; the password is then not kept).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import LabkitError
from ..reference import DEFAULT_DOMAIN, DOCKER_HUB_API_HOST, LEGACY_DEFAULT_DOMAIN
from .auth import Credentials
from .credhelper import CredentialHelper

HUB_SERVER = "https://index.docker.io/v1/"
_HUB_ALIASES = {DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_API_HOST, "registry.hub.docker.com"}


def config_path() -> Path:
    """Return docker's client config file: $DOCKER_CONFIG/config.json or ~/.docker/config.json."""
    from ..home import docker_config_path

    return docker_config_path()


def config_key_host(key: str) -> str:
    """Return the registry host a docker config key names ("https://index.docker.io/v1/" -> "docker.io")."""
    k = key.strip()
    if "://" in k:
        k = urlsplit(k).netloc
    k = k.split("/", 1)[0].lower()
    return DEFAULT_DOMAIN if k in _HUB_ALIASES else k


def server_address(host: str) -> str:
    """Return docker's server address for registry `host` ("https://index.docker.io/v1/" for Docker Hub)."""
    host = config_key_host(host)
    return HUB_SERVER if host == DEFAULT_DOMAIN else host


def read_config(path: "str | os.PathLike | None" = None) -> dict:
    """Return docker's config.json as a dict ({} when the file does not exist)."""
    from ..fsutil import read_json_object

    return read_json_object(Path(path) if path else config_path(), "docker config")


def write_config(path: "str | os.PathLike", data: dict) -> None:
    """Write docker's config.json atomically, mode 0600 (it may hold credentials), tab-indented like docker."""
    from ..fsutil import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(data, indent="\t").encode(), mode=0o600)


def _auths(data: dict) -> dict:
    auths = data.get("auths")
    return auths if isinstance(auths, dict) else {}


def decode_entry(entry: object) -> "Credentials | None":
    """Return the Credentials an `auths` entry holds (auth, username/password, identitytoken), or None."""
    if not isinstance(entry, dict):
        return None
    user, password = "", ""
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if not sep:
            return None
    elif entry.get("username"):
        user, password = str(entry["username"]), str(entry.get("password") or "")
    token = entry.get("identitytoken") if isinstance(entry.get("identitytoken"), str) else ""
    if token:
        return Credentials(user, "", token)
    if user and password:
        return Credentials(user, password)
    return None


class FileStore:
    """Credentials in config.json's `auths` itself (docker's file store)."""

    def __init__(self, path: Path):
        self.path = path

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"

    def get(self, server: str) -> "Credentials | None":
        """Return the credentials for `server`: its own entry, else one under an older spelling of the host."""
        auths = _auths(read_config(self.path))
        if server in auths:
            return decode_entry(auths[server])
        want = config_key_host(server)
        for key, entry in auths.items():
            if config_key_host(key) == want:
                creds = decode_entry(entry)
                if creds:
                    return creds
        return None

    def store(self, server: str, credentials: "Credentials | None") -> None:
        """Keep `credentials` as `server`'s one entry (older spellings of the host go); None: an empty entry."""
        entry = {}
        if credentials is not None:
            if credentials.username or credentials.password:
                raw = f"{credentials.username}:{'' if credentials.identity_token else credentials.password}"
                entry["auth"] = base64.b64encode(raw.encode()).decode("ascii")
            if credentials.identity_token:
                entry["identitytoken"] = credentials.identity_token
        data = read_config(self.path)
        host = config_key_host(server)
        auths = {k: v for k, v in _auths(data).items() if config_key_host(k) != host}
        auths[server] = entry
        data["auths"] = auths
        write_config(self.path, data)

    def erase(self, server: str) -> bool:
        """Remove `server`'s entries (every spelling of the host); return True when there was one."""
        data = read_config(self.path)
        host = config_key_host(server)
        auths = _auths(data)
        keep = {k: v for k, v in auths.items() if config_key_host(k) != host}
        if len(keep) == len(auths):
            return False
        data["auths"] = keep
        write_config(self.path, data)
        return True


class HelperStore:
    """Credentials in a credential helper; config.json keeps an empty `auths` entry per registry."""

    def __init__(self, helper: CredentialHelper, file: FileStore):
        self.helper = helper
        self.file = file

    def __repr__(self) -> str:
        return f"HelperStore({self.helper.name!r})"

    def get(self, server: str) -> "Credentials | None":
        """Return what the helper keeps for `server` (None: "credentials not found", so anonymous)."""
        return self.helper.get(server)

    def store(self, server: str, credentials: Credentials) -> None:
        """Store through the helper, then write only `{"auths": {server: {}}}` into config.json."""
        self.helper.store(server, credentials)
        self.file.store(server, None)



def helper_name(server: str, data: dict) -> "str | None":
    """Return the helper docker would use for `server`: credHelpers[server], else credsStore, else None."""
    helpers = data.get("credHelpers")
    if isinstance(helpers, dict):
        if isinstance(helpers.get(server), str) and helpers[server]:
            return helpers[server]
        host = config_key_host(server)
        for key, name in helpers.items():  # the same registry written another way ("https://ghcr.io")
            if config_key_host(key) == host and isinstance(name, str) and name:
                return name
    store = data.get("credsStore")
    return store if isinstance(store, str) and store else None


def store_for(server: str, path: "str | os.PathLike | None" = None) -> "FileStore | HelperStore":
    """Return the store docker would keep `server`'s credentials in (see the module's docstring)."""
    path = Path(path) if path else config_path()
    name = helper_name(server, read_config(path))
    file = FileStore(path)
    return HelperStore(CredentialHelper(name), file) if name else file


def load_docker_credentials(host: str, config_path: "str | os.PathLike | None" = None) -> "Credentials | None":
    """Return the credentials docker would send to registry `host` (helper or `auths`), or None (anonymous).

    A helper that cannot be run is an error to report, not a reason to go anonymous: the student's private
    image would otherwise fail later with a puzzling "unauthorized"."""
    try:
        return store_for(server_address(host), config_path).get(server_address(host))
    except LabkitError as e:
        raise LabkitError(f"credentials for {host}: {e}") from None


__all__ = ["HUB_SERVER", "config_key_host", "server_address", "read_config", "write_config", "decode_entry",
           "FileStore", "HelperStore", "helper_name", "store_for", "load_docker_credentials"]
