"""A class of students pulling at once through the instructors' pull-through cache, set up exactly as the
README's instructors' guide says ("A class on one network"), with a plain local registry standing in for
Docker Hub.

The cache's config.yml and each student's daemon.json are read from README.md and used verbatim, except the
values a test machine must choose: the cache's storage folder and listening address (127.0.0.1 on a free
port, not 0.0.0.0:5000), and its upstream (a recording proxy in front of the stand-in, so every request the
cache sends upstream is counted). Each student is a `labkit pull` process with its own labkit home.
tests/test_classroom.py and bench/classroom.py use it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import peers
from helpers.recorder import RecordingProxy
from helpers.registries import serve_config

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LAB_LAYOUT = ROOT / "labkit" / "labimages" / "layout"
# What the README's recipe says, and what a test machine puts in its place
RECIPE_STORAGE = "/var/lib/docker-registry"
RECIPE_ADDR = "0.0.0.0:5000"
RECIPE_UPSTREAM = "https://registry-1.docker.io"
RECIPE_CACHE_HOST = "CACHE-HOST:5000"
_BLOB = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")


def readme_recipe() -> "tuple[str, str]":
    """Return (the cache's config.yml, a student's daemon.json) as README.md's instructors' guide gives them."""
    text = README.read_text()
    start = text.index("**A class on one network.**")
    section = text[start:text.index("\n- **", start + 1)]
    config = textwrap.dedent(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    daemon = re.search(r"`(\{\"registry-mirrors\".*?\})`", section, re.S).group(1)
    return config, daemon


def cache_config(recipe: str, storage: Path, addr: str, upstream: str) -> str:
    """Return the recipe's config.yml with this machine's storage folder, address and upstream."""
    for needle in (RECIPE_STORAGE, RECIPE_ADDR, RECIPE_UPSTREAM):
        if recipe.count(needle) != 1:
            raise AssertionError(f"README.md's cache recipe no longer says {needle!r} once: update helpers.classroom")
    return recipe.replace(RECIPE_STORAGE, str(storage)).replace(RECIPE_ADDR, addr).replace(RECIPE_UPSTREAM, upstream)


def seed_upstream(host: str, names: "list[str]") -> None:
    """Copy lab images (e.g. "library/httpd:latest", every platform of an index) from labkit's shipped layout
    into the registry at `host` with skopeo."""
    for name in names:
        peers.run("skopeo", "copy", "-q", "--all", "--dest-tls-verify=false", f"oci:{LAB_LAYOUT}:{name}",
                  f"docker://{host}/{name}")


@dataclass(frozen=True)
class Student:
    """One `labkit pull`: its home, exit status, output and how long it took."""

    home: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass(frozen=True)
class Lesson:
    """A class pulling at once: every student, and the wall time from the first start to the last finish."""

    students: "tuple[Student, ...]"
    wall: float


class Classroom:
    """The stand-in for Docker Hub (`upstream_url`) behind a recording proxy, and the README's cache in front."""

    def __init__(self, workdir: "str | os.PathLike", upstream_url: str):
        self.workdir = Path(workdir)
        self.upstream = RecordingProxy(upstream_url, name="upstream")
        recipe, daemon = readme_recipe()
        try:
            self.cache = serve_config(self.workdir / "cache", lambda port, base: cache_config(
                recipe, base / "data", f"127.0.0.1:{port}", self.upstream.url))
        except BaseException:
            self.upstream.stop()
            raise
        self.daemon_json = json.loads(daemon.replace(RECIPE_CACHE_HOST, self.cache.host))
        self._students = 0

    def __enter__(self) -> "Classroom":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.cache.stop()
        self.upstream.stop()

    def new_home(self) -> Path:
        """Return a fresh student home whose daemon.json is the README's."""
        self._students += 1
        home = self.workdir / f"student-{self._students:02d}"
        home.mkdir(parents=True)
        (home / "daemon.json").write_text(json.dumps(self.daemon_json))
        return home

    def pull(self, ref: str, students: int = 30, homes: "list[Path] | None" = None) -> Lesson:
        """Start `labkit pull REF` for every student at once (new homes unless `homes`); wait for all."""
        homes = homes or [self.new_home() for _ in range(students)]
        procs = []
        start = time.perf_counter()
        for home in homes:
            env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
            env.update(LABKIT_HOME=str(home), DOCKER_CONFIG=str(home / "docker-config"))
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
            procs.append((home, time.perf_counter(), subprocess.Popen(
                [sys.executable, "-m", "labkit", "pull", ref], env=env, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)))
        done = []
        for home, began, proc in procs:
            out, err = proc.communicate(timeout=600)
            done.append(Student(home, proc.returncode, out, err, time.perf_counter() - began))
        return Lesson(tuple(done), time.perf_counter() - start)

    def upstream_blob_requests(self) -> "dict[str, int]":
        """Return {blob digest: how many times the cache fetched it upstream (successful GETs)}."""
        counts: dict[str, int] = {}
        for r in self.upstream.conversation:
            m = _BLOB.match(r.path)
            if m and r.method == "GET" and r.status == 200:
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts

    def upstream_manifest_requests(self) -> "dict[str, int]":
        """Return {"HEAD": n, "GET": n}: the manifest requests the cache sent upstream."""
        counts: dict[str, int] = {}
        for r in self.upstream.conversation:
            if "/manifests/" in r.path:
                counts[r.method] = counts.get(r.method, 0) + 1
        return counts

    def upstream_manifest_lines(self) -> "list[str]":
        """Return the manifest requests the cache sent upstream as `METHOD path -> status` lines (for messages)."""
        return [r.line() for r in self.upstream.conversation if "/manifests/" in r.path]


__all__ = ["Classroom", "Lesson", "Student", "readme_recipe", "cache_config", "seed_upstream"]
