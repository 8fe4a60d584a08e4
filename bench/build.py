"""Benchmark `labkit build`: the cache decision of a cached rebuild, and a cold build against `labkit import`.

    .venv/bin/python bench/build.py [--runs 5] [--files 2000] [--keep]

The Dockerfile has 10 instructions (FROM busybox, WORKDIR, COPY a file, RUN, COPY . ., RUN, ENV, LABEL,
EXPOSE, CMD); the context holds `--files` files (default 2,000; log-normal sizes, 8 directories deep at most,
about 6 MB), generated once per series with a fixed seed. busybox comes from labkit's lab registry (the
shipped stand-in images), started on a free 127.0.0.1 port and pulled into each fresh home before the
timed command, so no run pays for a pull.

1. Cached rebuild: in a home that built the image once, `labkit build` again, timed in one Python process
   from the build's start to the moment the exporter starts (the cache decision: parsing, the base image's
   metadata, .dockerignore, the context's checksums, every step's cache key: BuildKit's content-hash cache
   reuses file metadata, so an unchanged tree is only stat'ed). Target < 0.3 s. The whole `labkit build`
   process (interpreter start-up included) is printed too.
2. Cold build: `labkit build -q` in a fresh home (busybox already pulled) against `labkit import` of a tar of
   the same files into another fresh home, alternating, whole processes. Target: median ratio < 2.

Runs alternate within a series; the first run of each command is an untimed warm-up. Exits 1 when a target
is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

DECISION_TARGET = 0.3
RATIO_TARGET = 2.0

DOCKERFILE = """\
FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN mkdir -p /app/deps && echo installed > /app/deps/ok
COPY . .
RUN echo built > /app/build.txt
ENV MODE=production
LABEL bench=build
EXPOSE 8000
CMD ["sh"]
"""

# One process: build once (cold, untimed), then time the cached rebuild's decision with the build's own clock.
DECISION_SCRIPT = r'''
import json, sys, time
from labkit.lab import Lab
from labkit.build.events import VertexStarted

ctx, runs = sys.argv[1], int(sys.argv[2])
lab = Lab()
lab.build(ctx, tags=["bench/app:1"])
out = []
for _ in range(runs):
    marks = {}
    def progress(e):
        if isinstance(e, VertexStarted) and e.name == "exporting to image" and "export" not in marks:
            marks["export"] = time.perf_counter()
    t0 = time.perf_counter()
    result = lab.build(ctx, tags=["bench/app:1"], progress=progress)
    t1 = time.perf_counter()
    assert all(s.cached for s in result.steps), "the rebuild missed the cache"
    out.append({"decision": marks["export"] - t0, "build": t1 - t0})
print(json.dumps(out))
'''


def make_context(root: Path, files: int, seed: int = 2026) -> int:
    """Write the bench context (Dockerfile, requirements.txt, `files` source files); return its bytes."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "requirements.txt").write_text("flask==3.0\nrequests==2.31\n")
    (root / ".dockerignore").write_text("*.pyc\n.git\n")
    dirs = ["src"]
    for _ in range(max(8, files // 40)):
        parent = rng.choice(dirs)
        if parent.count("/") < 7:
            dirs.append(f"{parent}/d{len(dirs)}")
    total = 0
    words = [f"w{i}" for i in range(500)]
    for i in range(files):
        size = min(200_000, int(rng.lognormvariate(7.2, 1.2)))
        text = (" ".join(rng.choices(words, k=size // 4 + 1)) + "\n").encode()[:size]
        p = root / rng.choice(dirs) / f"f{i}.{rng.choice(['py', 'txt', 'json', 'md'])}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text)
        total += len(text)
    return total


def tar_of(ctx: Path, dest: Path) -> None:
    """Write a tar of the context's files (what `labkit import` is given)."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tf:
        for p in sorted(ctx.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(ctx)), recursive=False)


def fresh_home(work: Path, registry_url: str, pull: bool) -> Path:
    home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
    (home / "daemon.json").write_text(json.dumps({"registry-mirrors": [registry_url]}))
    if pull:
        c.run([str(c.LABKIT), "pull", "busybox"], env=c.labkit_env(home))
    return home


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-build-"))
    registry = None
    try:
        from labkit.labctl import seed
        from labkit.registry.server import LabRegistry

        seed(work / "lab-registry")
        registry = LabRegistry(work / "lab-registry", addr="127.0.0.1:0").start()
        ctx = work / "ctx"
        size = make_context(ctx, args.files)
        tarball = work / "ctx.tar"
        tar_of(ctx, tarball)
        print(f"context: {args.files} files + Dockerfile, {c.mb(size)}; registry {registry.url}")

        # 1. the cached rebuild: the cache decision, in one process
        home = fresh_home(work, registry.url, pull=True)
        env = c.labkit_env(home)
        r = subprocess.run([str(c.PYTHON), "-c", DECISION_SCRIPT, str(ctx), str(args.runs)], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-3000:])
        runs = json.loads(r.stdout)
        decisions = [x["decision"] for x in runs]
        print("\ncached rebuild (all 10 steps CACHED), in one process:")
        print(f"  cache decision: median {c.median(decisions):.3f} s (min {min(decisions):.3f}, "
              f"max {max(decisions):.3f}); target < {DECISION_TARGET} s")
        print(f"  whole build call (with export): median {c.median([x['build'] for x in runs]):.3f} s")
        whole = [c.run([str(c.LABKIT), "build", "-q", "-t", "bench/app:1", str(ctx)], env=env) for _ in range(args.runs)]
        print(f"  `labkit build` process (start-up included): median {c.median(whole):.3f} s")

        # 2. cold build vs import, alternating, fresh homes
        builds, imports = [], []
        for i in range(args.runs + 1):
            bhome = fresh_home(work, registry.url, pull=True)
            ihome = fresh_home(work, registry.url, pull=False)
            tb = c.run([str(c.LABKIT), "build", "-q", "-t", "bench/app:1", str(ctx)], env=c.labkit_env(bhome))
            ti = c.run([str(c.LABKIT), "import", str(tarball), "bench/import:1"], env=c.labkit_env(ihome))
            if i:                                           # the first pair is a warm-up
                builds.append(tb)
                imports.append(ti)
            print(f"  run {i}{' (warm-up)' if not i else ''}: build {tb:.3f} s, import {ti:.3f} s", flush=True)
        ratio = c.median([b / i for b, i in zip(builds, imports)])
        print("\ncold build vs import of the same files:")
        print(f"  labkit build (cold):  median {c.median(builds):.3f} s (min {min(builds):.3f}, max {max(builds):.3f})")
        print(f"  labkit import:        median {c.median(imports):.3f} s (min {min(imports):.3f}, max {max(imports):.3f})")
        print(f"  median ratio build/import: {ratio:.2f} (target < {RATIO_TARGET})")
        load = os.getloadavg()[0]
        if load > 1.5:
            print(f"  (load average {load:.1f}: other work shared the machine)")
        ok = c.median(decisions) < DECISION_TARGET and ratio < RATIO_TARGET
        print("OK" if ok else "MISSED")
        return 0 if ok else 1
    finally:
        if registry is not None:
            registry.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
