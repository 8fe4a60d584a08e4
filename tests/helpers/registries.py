"""Real registries for tests: the distribution registry (Debian `docker-registry`) on a free loopback port."""

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

from helpers.net import free_port

READY_TIMEOUT = 30.0


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


def start_distribution_registry(tmp_path: "str | os.PathLike", config_extra: "dict | None" = None,
                                ) -> "tuple[str, Callable[[], None]]":
    """Start `docker-registry serve` on a free 127.0.0.1 port; return (base URL, stop function).

    The config (FACTS.md: filesystem storage, deletes enabled) is deep-merged with `config_extra`, e.g.
    {"auth": {"htpasswd": {...}}} or {"proxy": {"remoteurl": ...}}. Raises RuntimeError with the log's tail
    when the registry does not come up.
    """
    last_error = ""
    for _attempt in range(3):  # another process may take the port between free_port() and the bind
        port = free_port()
        base = Path(tmp_path) / f"distribution-{port}"
        base.mkdir(parents=True)
        config = _merge({
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(base / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}", "secret": "labkit-tests"},
        }, config_extra or {})
        config_path = base / "config.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        log_path = base / "registry.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(["docker-registry", "serve", str(config_path)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        url = f"http://127.0.0.1:{port}"

        def stop(proc=proc) -> None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)

        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(url):
                return url, stop
            time.sleep(0.05)
        stop()
        last_error = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"start docker-registry: it did not answer GET /v2/ within {READY_TIMEOUT:.0f} s; "
                       f"log:\n{last_error}")


# --- auth modes, proxy mode and seeding (added by the registry-client helper) ---------------------------

def start_htpasswd_registry(tmp_path: "str | os.PathLike", users: "dict[str, str]",
                            realm: str = "labkit test realm") -> "tuple[str, Callable[[], None]]":
    """Start a registry with htpasswd Basic auth for `users` (bcrypt entries from `htpasswd -Bbn`)."""
    path = Path(tmp_path) / f"htpasswd-{free_port()}"
    lines = [subprocess.run(["htpasswd", "-Bbn", user, password], check=True, capture_output=True,
                            text=True).stdout.strip() for user, password in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return start_distribution_registry(tmp_path, {"auth": {"htpasswd": {"realm": realm, "path": str(path)}}})


def start_token_registry(tmp_path: "str | os.PathLike", token_server) -> "tuple[str, Callable[[], None]]":
    """Start a registry whose Bearer tokens come from `token_server` (tests/tokenserver.py, already started)."""
    return start_distribution_registry(tmp_path, {"auth": token_server.registry_auth_config()})


def start_proxy_registry(tmp_path: "str | os.PathLike", upstream_url: str) -> "tuple[str, Callable[[], None]]":
    """Start a pull-through cache of `upstream_url` (start the upstream first: FACTS.md)."""
    return start_distribution_registry(tmp_path, {"proxy": {"remoteurl": upstream_url}})


def skopeo_copy_to_registry(src: str, dest: str, creds: "str | None" = None, all_platforms: bool = False) -> None:
    """Copy `src` (e.g. "oci:DIR:ref") to docker://`dest` ("127.0.0.1:PORT/x:tag") with skopeo over plain HTTP."""
    cmd = ["skopeo", "copy", "--dest-tls-verify=false"]
    if creds:
        cmd += ["--dest-creds", creds]
    if all_platforms:
        cmd.append("--all")
    cmd += [src, f"docker://{dest}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"skopeo copy {src} -> {dest} failed: {r.stderr.strip()[-1000:]}")


# --- the lab registry, seeding it, and skopeo as a reader (added by the push/search/login helper) --------

def start_lab_registry(tmp_path: "str | os.PathLike", auth: str = "none", users: "dict[str, str] | None" = None,
                       name: str = "lab-registry"):
    """Start labkit's lab registry on a free 127.0.0.1 port (stop it with .stop()); return the LabRegistry."""
    from labkit.registry.server import LabRegistry

    root = Path(tmp_path) / f"{name}-{os.urandom(3).hex()}"
    return LabRegistry(root, addr="127.0.0.1:0", auth=auth, users=users).start()


def seed_lab_registry(registry, repo_tag: str, built) -> None:
    """Store `built` (an imagefactory BuiltImage or BuiltIndex) in the lab registry as `repo:tag`, no HTTP."""
    repo, _, tag = repo_tag.rpartition(":")
    for d, data in built.blobs.items():
        registry.layout.put_bytes(data, d)
    raw = getattr(built, "raw", None) or built.manifest
    registry.put_manifest(repo, tag, raw, built.media_type)


def skopeo_inspect_raw(ref: str, creds: "str | None" = None) -> bytes:
    """Return the manifest bytes skopeo reads for docker://`ref` (plain HTTP)."""
    cmd = ["skopeo", "inspect", "--raw", "--tls-verify=false"]
    if creds:
        cmd += ["--creds", creds]
    r = subprocess.run(cmd + [f"docker://{ref}"], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"skopeo inspect {ref} failed: {r.stderr.decode(errors='replace').strip()[-1000:]}")
    return r.stdout


def skopeo_copy_to_oci(ref: str, dest: "str | os.PathLike", name: str = "latest", creds: "str | None" = None) -> Path:
    """Copy docker://`ref` (plain HTTP) into the OCI layout `dest` as `name`; return the layout path."""
    cmd = ["skopeo", "copy", "--src-tls-verify=false"]
    if creds:
        cmd += ["--src-creds", creds]
    r = subprocess.run(cmd + [f"docker://{ref}", f"oci:{dest}:{name}"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"skopeo copy {ref} -> oci:{dest} failed: {r.stderr.strip()[-1000:]}")
    return Path(dest)
