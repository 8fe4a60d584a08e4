"""Real registries for tests on free loopback ports: the distribution registry (Debian `docker-registry`) in
plain, htpasswd, token and pull-through-cache modes, and labkit's own lab registry, with ways to seed them.

    with start_distribution_registry(tmp_path) as registry:     # or the conftest fixtures
        pull(store, f"{registry.host}/x:v1")
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from helpers import peers
from helpers.net import free_port

READY_TIMEOUT = 30.0

# The accounts the htpasswd and token fixtures (tests/conftest.py) accept.
HTPASSWD_USERS = {"alice": "wonder-land"}
TOKEN_USERS = {"alice": "s3cret"}


def _merge(base: dict, extra: dict) -> dict:
    """Return `base` deep-updated with `extra` (nested dicts merged, anything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _answers(url: str) -> bool:
    """Return True once GET <url>/v2/ gets any HTTP answer (401 counts: auth is configured)."""
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class DistributionRegistry:
    """A running `docker-registry serve`: its base URL (http://127.0.0.1:PORT), host (127.0.0.1:PORT) and log.

    A context manager: leaving the block stops it."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: Path):
        self.process = process
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"
        self.log_path = log_path

    def stop(self) -> None:
        """Stop the registry (terminate, then kill after 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> "DistributionRegistry":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_distribution_registry(tmp_path: "str | os.PathLike", config_extra: "dict | None" = None,
                                ) -> DistributionRegistry:
    """Start `docker-registry serve` on a free 127.0.0.1 port and wait until it answers GET /v2/.

    The config (filesystem storage, deletes enabled) is deep-merged with `config_extra`, e.g.
    {"auth": {"htpasswd": {...}}} or {"proxy": {"remoteurl": ...}}. Raises RuntimeError with the log's tail
    when the registry does not come up.
    """
    def config(port: int, base: Path) -> str:
        return json.dumps(_merge({
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(base / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}", "secret": "labkit-tests"},
        }, config_extra or {}), indent=2)  # JSON is YAML
    return serve_config(tmp_path, config)


def serve_config(tmp_path: "str | os.PathLike", config: "Callable[[int, Path], str]") -> DistributionRegistry:
    """Start `docker-registry serve` with the config.yml text `config(port, folder)` returns for a free
    127.0.0.1 port and a fresh folder, and wait until it answers GET /v2/ (RuntimeError with the log's tail
    when it does not)."""
    peers.require("docker-registry")
    last_error = ""
    for _attempt in range(3):  # another process may take the port between free_port() and the bind
        port = free_port()
        base = Path(tmp_path) / f"distribution-{port}"
        base.mkdir(parents=True)
        config_path = base / "config.yml"
        config_path.write_text(config(port, base))
        log_path = base / "registry.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([peers.executable("docker-registry"), "serve", str(config_path)], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        registry = DistributionRegistry(proc, port, log_path)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(registry.url):
                return registry
            time.sleep(0.05)
        registry.stop()
        last_error = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"start docker-registry: it did not answer GET /v2/ within {READY_TIMEOUT:.0f} s; "
                       f"log:\n{last_error}")


def start_htpasswd_registry(tmp_path: "str | os.PathLike", users: "dict[str, str]",
                            realm: str = "labkit test realm") -> DistributionRegistry:
    """Start a registry with htpasswd Basic auth for `users` (bcrypt entries from `htpasswd -Bbn`)."""
    peers.require("htpasswd")
    path = Path(tmp_path) / f"htpasswd-{free_port()}"
    lines = [peers.run("htpasswd", "-Bbn", user, password).strip() for user, password in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return start_distribution_registry(tmp_path, {"auth": {"htpasswd": {"realm": realm, "path": str(path)}}})


def start_token_registry(tmp_path: "str | os.PathLike", token_server) -> DistributionRegistry:
    """Start a registry whose Bearer tokens come from `token_server` (helpers.tokenserver, already started)."""
    return start_distribution_registry(tmp_path, {"auth": token_server.registry_auth_config()})


def start_proxy_registry(tmp_path: "str | os.PathLike", upstream_url: str) -> DistributionRegistry:
    """Start a pull-through cache of `upstream_url` (start the upstream first: the cache checks it)."""
    return start_distribution_registry(tmp_path, {"proxy": {"remoteurl": upstream_url}})


# --- the lab registry ----------------------------------------------------------------------------------

def start_lab_registry(tmp_path: "str | os.PathLike", auth: str = "none", users: "dict[str, str] | None" = None,
                       name: str = "lab-registry", seeded: bool = False):
    """Start labkit's lab registry on a free 127.0.0.1 port (stop it with .stop()); return the LabRegistry.

    seeded=True fills it first with the lab images, as `labkit lab up` does."""
    from labkit.labctl import seed
    from labkit.registry.server import LabRegistry

    root = Path(tmp_path) / f"{name}-{os.urandom(3).hex()}"
    if seeded:
        seed(root)
    return LabRegistry(root, addr="127.0.0.1:0", auth=auth, users=users).start()


def seed_lab_registry(registry, repo_tag: str, built) -> None:
    """Store `built` (an imagefactory BuiltImage or BuiltIndex) in the lab registry as `repo:tag`, no HTTP."""
    repo, _, tag = repo_tag.rpartition(":")
    for d, data in built.blobs.items():
        registry.layout.put_bytes(data, d)
    raw = getattr(built, "raw", None) or built.manifest
    registry.put_manifest(repo, tag, raw, built.media_type)
