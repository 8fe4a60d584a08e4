"""Benchmark the whole path a user waits for, and the container operations on top of it.

    .venv/bin/python bench/unpack.py [--runs 5] [--container-runs 5]

1. `labkit pull REF` (with extraction) + `labkit unpack REF DIR` against `skopeo copy` + `umoci unpack
   --rootless`, on the ~200 MB bench image from a real registry on 127.0.0.1, alternating, fresh
   directories each run, whole processes. Prints the medians, the median ratio (target <= 0.4) and labkit's
   peak RSS (target <= 150 MB); exits 1 when a target is missed.
   When the `labkit unpack` command does not exist yet, labkit.Lab().unpack() runs in a `python -c`
   subprocess instead (the script says so).
2. For a ~1 MB image and the ~200 MB one (pulled with extraction): container create, first read of a lower
   file, first 1 KB write (a new file, and an append to a lower file: copy-up), and commit time for 1 KB,
   1 MB and 50 MB of changes. These are library calls (labkit.containers, labkit.commit) timed inside one
   Python process, medians of --container-runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

TARGET_RATIO = 0.4
TARGET_RSS = 150e6

UNPACK_API = "import sys; from labkit.lab import Lab; Lab().unpack(sys.argv[1], sys.argv[2])"

# Timed inside one process per image: prints one JSON object of lists of seconds.
CONTAINER_SCRIPT = r'''
import json, os, random, sys, time
from labkit.containers import Containers
from labkit.commit import commit

ref, runs = sys.argv[1], int(sys.argv[2])
pc = time.perf_counter
cs = Containers()
probe = cs.create(ref)
lower = None
for node in probe.walk("/"):
    if node.type == "file" and 4096 <= (node.size or 0) <= (1 << 20):
        lower = node.path
        break
cs.rm(probe, force=True)
rng = random.Random(7)
text = (" ".join(rng.choice(["def", "return", "self", "import", "value", "item", "name", "data", "x", "=", "(", ")",
                              "\n", "\n    "]) for _ in range(200000))).encode()[: 1 << 19]

def mixed(n):
    """Return n bytes, half random (incompressible), half text-like."""
    out = bytearray()
    while len(out) < n:
        out += rng.randbytes(1 << 19) + text
    return bytes(out[:n])

out = {"lower_file": lower, "create": [], "first_read": [], "first_write_1k_new": [], "first_write_1k_copy_up": [],
       "commit_1k": [], "commit_1m": [], "commit_50m": []}
for i in range(runs):
    t0 = pc(); ct = cs.create(ref); t1 = pc()
    ct.read(lower); t2 = pc()
    ct.write("/bench-1k.txt", b"x" * 1024); t3 = pc()
    ct.append(lower, b"y" * 1024); t4 = pc()
    out["create"].append(t1 - t0); out["first_read"].append(t2 - t1)
    out["first_write_1k_new"].append(t3 - t2); out["first_write_1k_copy_up"].append(t4 - t3)
    cs.rm(ct, force=True)
for key, size, files in (("commit_1k", 1024, 1), ("commit_1m", 1 << 20, 1), ("commit_50m", 50 << 20, 50)):
    for i in range(runs):
        ct = cs.create(ref)
        for j in range(files):
            ct.write(f"/bench-{j}.bin", mixed(size // files))
        t0 = pc(); commit(cs.store, cs.layer_store, ct, f"bench/commit:{key.replace('_', '-')}-{i}"); out[key].append(pc() - t0)
        cs.rm(ct, force=True)
print(json.dumps(out))
'''


def has_unpack_command(env) -> bool:
    """Return True when `labkit unpack` exists (its --help exits 0)."""
    r = subprocess.run([c.LABKIT, "unpack", "--help"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def whole_path(work: Path, ref: str, runs: int) -> bool:
    """Time labkit pull + unpack against skopeo copy + umoci unpack, alternating; print medians, the ratio and
    labkit's peak RSS; return True when both targets are met."""
    cli = has_unpack_command(c.labkit_env(work / "probe-home"))
    how = "`labkit unpack REF DIR`" if cli else "labkit.Lab().unpack() via `python -c` (no `labkit unpack` command yet)"
    print(f"\n1. whole path: labkit pull + {how}  vs  skopeo copy + umoci unpack --rootless")
    lab_t, oci_t, rss = [], [], []
    for i in range(runs + 1):  # run 0 is a warm-up
        env = c.labkit_env(work / f"lk-home-{i}")
        tree = work / f"lk-tree-{i}"
        p, p_rss, _cpu = c.run_rss([c.LABKIT, "pull", ref], env=env)
        u, u_rss, _cpu = c.run_rss([c.LABKIT, "unpack", ref, tree] if cli else [c.PYTHON, "-c", UNPACK_API, ref, tree],
                                   env=env)
        oci, bundle = work / f"oci-{i}", work / f"bundle-{i}"
        s = c.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{oci}:v1"])
        m = c.run(["umoci", "unpack", "--rootless", "--image", f"{oci}:v1", bundle])
        if i == 0:
            continue
        lab_t.append(p + u)
        oci_t.append(s + m)
        rss.append(max(p_rss, u_rss))
        print(f"  run {i}: labkit {p + u:.2f} s (pull {p:.2f} + unpack {u:.2f}, peak RSS {c.mb(rss[-1])}), "
              f"skopeo+umoci {s + m:.2f} s (copy {s:.2f} + unpack {m:.2f})", flush=True)
    lm, om = c.median(lab_t), c.median(oci_t)
    print(f"labkit pull + unpack:        median {lm:.2f} s (min {min(lab_t):.2f}, max {max(lab_t):.2f})")
    print(f"skopeo copy + umoci unpack:  median {om:.2f} s (min {min(oci_t):.2f}, max {max(oci_t):.2f})")
    print(f"median ratio labkit/(skopeo+umoci): {lm / om:.2f} (target <= {TARGET_RATIO}) "
          f"{'OK' if lm / om <= TARGET_RATIO else 'MISSED'}")
    print(f"labkit peak RSS: {c.mb(max(rss))} (pull or unpack, the larger; target <= {c.mb(int(TARGET_RSS))}) "
          f"{'OK' if max(rss) <= TARGET_RSS else 'MISSED'}")
    return lm / om <= TARGET_RATIO and max(rss) <= TARGET_RSS


def containers(work: Path, name: str, ref: str, runs: int) -> None:
    """Pull `ref` (with extraction) into a fresh home, then time the container operations; print medians."""
    env = c.labkit_env(work / f"ct-home-{name}")
    c.run([c.LABKIT, "pull", "-q", ref], env=env)
    r = subprocess.run([c.PYTHON, "-c", CONTAINER_SCRIPT, ref, str(runs)], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"  {name}: FAILED ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode})")
        return
    data = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"  {name} image (lower file read: {data.pop('lower_file')}):")
    for key, values in data.items():
        print(f"    {key:24s} median {c.median(values) * 1000:9.1f} ms  (min {min(values) * 1000:.1f}, "
              f"max {max(values) * 1000:.1f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each whole path (default 5, at least 5)")
    ap.add_argument("--container-runs", type=int, default=5, help="runs of each container operation (default 5)")
    ap.add_argument("--skip-whole-path", action="store_true", help="only the container operations")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (for debugging)")
    a = ap.parse_args()
    runs = max(5, a.runs)

    big, summary = c.bench_image()
    small, small_summary = c.bench_image("small", c.SMALL_LAYERS)
    for label, s in (("image", summary), ("small", small_summary)):
        print(f"{label}: {s['layers']} layers, {s['files']} files, {c.mb(s['uncompressed'])} uncompressed, "
              f"{c.mb(s['compressed'])} gzip")
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-unpack-"))
    stop = None
    try:
        host, stop = c.start_registry(work)
        c.push(big, f"{host}/bench/image:v1")
        c.push(small, f"{host}/bench/small:v1")
        ok = True
        if not a.skip_whole_path:
            ok = whole_path(work, f"{host}/bench/image:v1", runs)
        try:
            import labkit.containers  # noqa: F401
        except ImportError:
            print("\n2. containers: PENDING (labkit.containers does not exist yet)")
        else:
            print(f"\n2. containers (library calls, medians of {a.container_runs} runs)")
            containers(work, "1 MB", f"{host}/bench/small:v1", a.container_runs)
            containers(work, "200 MB", f"{host}/bench/image:v1", a.container_runs)
        c.load_note()
        return 0 if ok else 1
    finally:
        if stop is not None:
            stop()
        c.remove_workdir(work, a.keep)


if __name__ == "__main__":
    sys.exit(main())
