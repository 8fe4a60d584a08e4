"""skopeo as the peer that writes into and reads from registries over plain HTTP on 127.0.0.1.

What labkit pushes, skopeo must read byte for byte; what skopeo pushed, labkit must pull.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from labkit.digest import Digest

from helpers import imagefactory, peers


def run(*args: str) -> str:
    """Run `skopeo ARGS...` and return its stdout; fail the test with skopeo's output when it fails."""
    return peers.run("skopeo", *args)


def attempt(*args: str) -> subprocess.CompletedProcess:
    """Run `skopeo ARGS...` and return the finished process, for a test that expects a refusal."""
    return peers.attempt("skopeo", *args)


def _skopeo(args: list, what: str, text: bool = True):
    """Run skopeo with `args`; return its stdout, or raise RuntimeError naming `what` with skopeo's stderr."""
    peers.require("skopeo")
    r = subprocess.run([peers.executable("skopeo"), *args], capture_output=True, text=text, timeout=120)
    if r.returncode != 0:
        err = r.stderr if text else r.stderr.decode(errors="replace")
        raise RuntimeError(f"{what} failed: {err.strip()[-1000:]}")
    return r.stdout


def copy_to_registry(src: str, dest: str, creds: "str | None" = None, all_platforms: bool = False) -> None:
    """Copy `src` (e.g. "oci:DIR:ref") to docker://`dest` ("127.0.0.1:PORT/x:tag")."""
    cmd = ["copy", "--dest-tls-verify=false"]
    if creds:
        cmd += ["--dest-creds", creds]
    if all_platforms:
        cmd.append("--all")
    _skopeo(cmd + [src, f"docker://{dest}"], f"skopeo copy {src} -> {dest}")


def push_built(workdir: "str | os.PathLike", built, dest: str, creds: "str | None" = None) -> None:
    """Push `built` (an imagefactory image, or index with all its platforms) to docker://`dest` through an OCI
    layout written under `workdir`."""
    oci = imagefactory.write_oci_dir(Path(workdir) / f"oci-{Digest.of(dest.encode()).short}", built, "src")
    copy_to_registry(f"oci:{oci}:src", dest, creds=creds, all_platforms=isinstance(built, imagefactory.BuiltIndex))


def inspect_raw(ref: str, creds: "str | None" = None) -> bytes:
    """Return the manifest bytes skopeo reads for docker://`ref`."""
    cmd = ["inspect", "--raw", "--tls-verify=false"]
    if creds:
        cmd += ["--creds", creds]
    return _skopeo(cmd + [f"docker://{ref}"], f"skopeo inspect {ref}", text=False)


def copy_to_oci(ref: str, dest: "str | os.PathLike", name: str = "latest", creds: "str | None" = None) -> Path:
    """Copy docker://`ref` into the OCI layout `dest` as `name`; return the layout path."""
    cmd = ["copy", "--src-tls-verify=false"]
    if creds:
        cmd += ["--src-creds", creds]
    _skopeo(cmd + [f"docker://{ref}", f"oci:{dest}:{name}"], f"skopeo copy {ref} -> oci:{dest}")
    return Path(dest)
