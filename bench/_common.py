"""Shared by the benchmarks: the deterministic bench image (built once, cached), a real registry, timing helpers.

The image: 5 gzip layers, about 200 MB uncompressed / 65 MB compressed, about 14k files (text-like and
random-ish contents, directories several levels deep, symlinks, hard links), whiteouts and an opaque
directory in the last layer. It is written as an OCI layout with labkit.layers.writer.write_layer streaming
each layer to a file, and cached under <cache>/<IMAGE_VERSION> so reruns skip the build.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labkit.layers.writer import Entry, write_layer  # noqa: E402

IMAGE_VERSION = "bench-image-v4"  # bump when the generator changes: the cache is keyed by it
REF_NAME = "v1"
PYTHON = REPO / ".venv" / "bin" / "python"
LABKIT = REPO / ".venv" / "bin" / "labkit"
TIME = "/usr/bin/time"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
EPOCH = 1700000000

# (files, uncompressed MB target, share of random-ish bytes) per layer: a base OS, libraries, a language
# runtime, the application, and a small last layer that deletes and replaces things.
SMALL_LAYERS = [(60, 0.5, 0.2), (20, 0.3, 0.2), (10, 0.2, 0.1)]  # the "1 MB" image
LAYERS = [(6000, 75, 0.18), (4000, 52, 0.15), (2500, 33, 0.15), (1200, 19, 0.10), (300, 10, 0.08)]

def _text_pool(rng: random.Random, size: int) -> bytes:
    """Return `size` bytes of source-code-like text (Zipf words, indented lines, nearby repeats): gzip ~5x."""
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    words = ["".join(rng.choices(letters, weights, k=rng.randint(2, 9))) for _ in range(800)]
    zipf = [1 / (i + 1) for i in range(len(words))]
    lines: list[str] = []
    n = 0
    while n < size:
        if lines and rng.random() < 0.3:
            line = lines[-rng.randint(1, min(50, len(lines)))]
        else:
            line = " " * 4 * rng.randint(0, 3) + " ".join(rng.choices(words, zipf, k=rng.randint(3, 12)))
        lines.append(line)
        n += len(line) + 1
    return "\n".join(lines).encode()[:size]


def _sizes(rng: random.Random, count: int, total: int) -> list[int]:
    # lognormal sizes (many small files, a few large ones), scaled to the layer's total
    raw = [rng.lognormvariate(8.0, 1.6) for _ in range(count)]
    scale = total / sum(raw)
    return [max(0, int(r * scale)) for r in raw]


def layer_entries(index: int, spec, rng: random.Random, pool: bytes, earlier: list[str],
                  last: bool = False) -> list[Entry]:
    """Return the entries of layer `index`: files, dirs, symlinks, hard links (and whiteouts for the last)."""
    count, mb, random_share = spec
    total = int(mb * 1e6)
    dirs = [_layer_root(index)]
    for _ in range(max(4, count // 25)):
        parent = rng.choice(dirs)
        if parent.count("/") < 7:
            dirs.append(f"{parent}/d{len(dirs)}")
    entries = [Entry(d, "dir", mtime=EPOCH) for d in dirs]
    files: list[str] = []
    for i, size in enumerate(_sizes(rng, count, total)):
        path = f"{rng.choice(dirs)}/f{i}.{rng.choice(['py', 'so', 'txt', 'json', 'h', 'bin', 'mo'])}"
        if rng.random() < random_share:
            # random-ish: incompressible bytes with short runs (like compiled code or compressed assets)
            data = rng.randbytes(size)
            if size > 64:
                data = data[: size // 2] + bytes(size // 8) + data[size // 2 + size // 8:]
        else:
            start = rng.randrange(0, max(1, len(pool) - size))
            data = pool[start:start + size]
        mode = 0o755 if path.endswith(".so") or rng.random() < 0.05 else 0o644
        entries.append(Entry(path, "file", data, mode=mode, mtime=EPOCH))
        files.append(path)
    for i in range(max(1, count // 50)):  # symlinks: relative, absolute and dangling
        target = rng.choice(files)
        link = f"{rng.choice(dirs)}/s{i}"
        kind = i % 3
        linkname = ("/" + target) if kind == 0 else (os.path.relpath(target, os.path.dirname(link)) if kind == 1
                                                     else f"missing-{i}")
        entries.append(Entry(link, "symlink", linkname=linkname, mtime=EPOCH))
    for i in range(max(1, count // 100)):  # hard links to files of this layer
        entries.append(Entry(f"{rng.choice(dirs)}/h{i}", "hardlink", linkname=rng.choice(files), mtime=EPOCH))
    if last and earlier:
        for path in rng.sample(earlier, min(200, len(earlier) // 10)):
            entries.append(Entry(path, "whiteout", mtime=EPOCH))
        entries.append(Entry(f"{_layer_root(index - 2)}/d1", "opaque", mtime=EPOCH))  # made by layer index-2
    earlier.extend(files)
    return entries


def _layer_root(index: int) -> str:
    return f"{['usr', 'lib', 'opt', 'etc', 'var', 'srv'][index % 6]}/l{index}"


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class _Hashing:
    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)


def _put_blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_layout(dest: Path, layers=LAYERS, seed: int = 20261127) -> dict:
    """Write the bench image as an OCI layout at `dest` (tag REF_NAME); return a summary dict."""
    rng = random.Random(seed)
    pool = _text_pool(rng, 8 << 20)
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    descs, diff_ids, earlier = [], [], []
    files = usize = 0
    for i, spec in enumerate(layers):
        entries = layer_entries(i, spec, rng, pool, earlier, last=i == len(layers) - 1)
        files += sum(1 for e in entries if e.kind in ("file", "hardlink", "symlink"))
        tmp = dest / f"layer-{i}.tmp"
        with open(tmp, "wb") as f:
            h = _Hashing(f)
            diff_id, size = write_layer(entries, h, "gzip", clamp_mtime=EPOCH)
        del entries
        os.replace(tmp, blobs / h.h.hexdigest())
        descs.append({"mediaType": OCI_LAYER_GZIP, "digest": f"sha256:{h.h.hexdigest()}", "size": h.n})
        diff_ids.append(str(diff_id))
        usize += size
    config = _json({
        "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"bench layer {i}"} for i in range(len(layers))],
    })
    cdesc = {"mediaType": OCI_CONFIG, **_put_blob(dest, config)}
    manifest = _json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": descs})
    mdesc = {"mediaType": OCI_MANIFEST, **_put_blob(dest, manifest),
             "annotations": {"org.opencontainers.image.ref.name": REF_NAME}}
    (dest / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    (dest / "index.json").write_bytes(_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [mdesc]}))
    summary = {"layers": len(layers), "files": files, "uncompressed": usize,
               "compressed": sum(d["size"] for d in descs), "manifest": mdesc["digest"]}
    (dest.parent / f"{dest.name}.json").write_text(json.dumps(summary))
    return summary


def cache_root() -> Path:
    """Return where built bench images are cached ($LABKIT_BENCH_CACHE, default ~/.cache/labkit-bench)."""
    return Path(os.environ.get("LABKIT_BENCH_CACHE") or Path.home() / ".cache" / "labkit-bench")


def bench_image(name: str = "image", layers=LAYERS) -> tuple[Path, dict]:
    """Return (OCI layout dir, summary) of the bench image, building it into the cache on first use."""
    root = cache_root() / f"{IMAGE_VERSION}-{name}"
    summary_path = root.parent / f"{root.name}.json"
    if (root / "index.json").is_file() and summary_path.is_file():
        return root, json.loads(summary_path.read_text())
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    t0 = time.perf_counter()
    print(f"building the bench image {name!r} (once; cached under {root}) ...", flush=True)
    summary = build_layout(tmp / "layout", layers)
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp / "layout", root)
    os.replace(tmp / "layout.json", summary_path)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
    return root, summary


# --- the registry ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(workdir: Path):
    """Start `docker-registry serve` on a free 127.0.0.1 port under `workdir`; return (host:port, stop)."""
    port = _free_port()
    base = workdir / f"registry-{port}"
    base.mkdir(parents=True)
    config = {"version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": True}},
              "storage": {"filesystem": {"rootdirectory": str(base / "data")}, "delete": {"enabled": True}},
              "http": {"addr": f"127.0.0.1:{port}", "secret": "labkit-bench"}}
    (base / "config.yml").write_text(json.dumps(config))
    log = open(base / "registry.log", "wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(base / "config.yml")], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()

    def stop():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                return f"127.0.0.1:{port}", stop
        except urllib.error.HTTPError:
            return f"127.0.0.1:{port}", stop
        except OSError:
            time.sleep(0.05)
    stop()
    raise RuntimeError(f"docker-registry did not start: {(base / 'registry.log').read_text()[-2000:]}")


def push(layout: Path, dest: str) -> None:
    """Copy the layout's REF_NAME image to docker://dest with skopeo (plain HTTP)."""
    run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:{REF_NAME}", f"docker://{dest}"])


def run(cmd, env=None, cwd=None) -> float:
    """Run `cmd` (output discarded, stderr kept for errors); return its wall time in seconds."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    return dt


def run_rss(cmd, env=None, cwd=None) -> tuple[float, int, float]:
    """Run `cmd`; return (wall seconds, peak RSS in bytes, CPU seconds user+sys) via /usr/bin/time, else wait4."""
    if os.path.exists(TIME):
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
            t0 = time.perf_counter()
            r = subprocess.run([TIME, "-f", "%M %U %S", "-o", out.name, *map(str, cmd)], env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {r.stderr.decode()[-2000:]}")
            rss, user, system = out.read().strip().splitlines()[-1].split()
            return dt, int(rss) * 1024, float(user) + float(system)
    t0 = time.perf_counter()
    p = subprocess.Popen(list(map(str, cmd)), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {err.decode()[-2000:]}")
    return dt, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def run_cpu(cmd, env=None, cwd=None) -> tuple[float, float]:
    """Run `cmd`; return (wall seconds, CPU seconds user+sys of it and its children)."""
    dt, _rss, cpu = run_rss(cmd, env, cwd)
    return dt, cpu


def describe_checkout(path: Path) -> str:
    """Return "<commit> <subject>" of the labkit checkout at `path`, after checking that `python -m labkit` run
    there imports that checkout's labkit (not the installed one): a baseline that silently ran this
    checkout's code would compare it with itself."""
    path = Path(path).resolve()
    where = subprocess.run([str(PYTHON), "-c", "import labkit; print(labkit.__file__)"], cwd=path,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(path):
        raise SystemExit(f"{path}: `python -m labkit` there imports {where}, not that checkout's labkit")
    log = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return (log.stdout.strip() or "not a git checkout")[:100]


def labkit_env(home: Path) -> dict:
    """Return the environment for a labkit subprocess with its own fresh LABKIT_HOME.

    Byte-code caching is switched on (into the bench cache, not the repo): an installed labkit has its .pyc
    files, while PYTHONDONTWRITEBYTECODE=1 (set in this sandbox) would recompile every module on each run
    (about 60 ms per command).
    """
    env = dict(os.environ)
    env["LABKIT_HOME"] = str(home)
    env["DOCKER_CONFIG"] = str(home / "docker-config")
    env.pop("LABKIT_NOW", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache_root() / "pycache")
    return env


def median(xs) -> float:
    """Return the median of `xs`."""
    return statistics.median(xs)


def mb(n: int) -> str:
    """Return `n` bytes as MB (10^6) with one decimal."""
    return f"{n / 1e6:.1f} MB"


def load_note(what: str = "wall times are noisy") -> None:
    """Print a note when other work shared the machine while measuring (load average above 1)."""
    load = os.getloadavg()[0]
    if load > 1.0:
        print(f"note: load average {load:.2f} on {os.cpu_count()} CPUs while measuring: other work shared the "
              f"machine, so {what}")


def remove_workdir(work: Path, keep: bool) -> None:
    """Delete the series' temp dir (read-only layer dirs included), or say where it was kept."""
    if keep:
        print(f"kept {work}")
        return
    subprocess.run(["chmod", "-R", "u+rwX", str(work)], stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)
