"""Benchmark `labkit pull --no-extract` against `skopeo copy` from a real registry on 127.0.0.1.

    .venv/bin/python bench/pull.py [--runs 5] [--baseline DIR]

Both tools fetch the same 5-layer, ~65 MB (gzip) image into fresh directories, alternating, as whole
processes (start-up included). labkit runs with every check in place: digest and size verification, an
fsync per blob, the store's index.json. Prints each tool's median, the median ratio labkit/skopeo (target
<= 1.5) and labkit's peak RSS (target <= 150 MB).

--baseline DIR adds a third contender in the same alternation: the labkit of another checkout (say
`git worktree add /tmp/old <commit>`), run as `python -m labkit` from DIR with this venv's interpreter and
libraries. skopeo's own time moves by a third between days on this VM, so "no regression" is judged against
the earlier code measured in the same run: the bench prints baseline/skopeo and labkit/baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

TARGET_RATIO = 1.5
TARGET_RSS = 150e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each tool (default 5, at least 5)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (for debugging)")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="also time the labkit of the checkout DIR (python -m labkit run there), alternating")
    a = ap.parse_args()
    runs = max(5, a.runs)
    if a.baseline:
        print(f"baseline: {a.baseline} ({c.describe_checkout(a.baseline)})")

    layout, summary = c.bench_image()
    print(f"image: {summary['layers']} layers, {summary['files']} files, {c.mb(summary['uncompressed'])} "
          f"uncompressed, {c.mb(summary['compressed'])} gzip")
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-pull-"))
    stop = None
    try:
        host, stop = c.start_registry(work)
        ref = f"{host}/bench/image:v1"
        c.push(layout, ref)
        labkit_t, skopeo_t, rss, labkit_cpu, skopeo_cpu, base_t, base_cpu = [], [], [], [], [], [], []
        # one untimed warm-up of each (page cache, byte-code cache, the registry's own caches), then alternate
        for i in range(runs + 1):
            home = work / f"labkit-{i}"
            dt, peak, cpu = c.run_rss([c.LABKIT, "pull", "--no-extract", ref], env=c.labkit_env(home))
            oci = work / f"skopeo-{i}"
            ds, scpu = c.run_cpu(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{oci}:v1"])
            if a.baseline:
                db, bcpu = c.run_cpu([c.PYTHON, "-m", "labkit", "pull", "--no-extract", ref],
                                     env=c.labkit_env(work / f"baseline-{i}"), cwd=a.baseline)
            if i == 0:
                continue
            if a.baseline:
                base_t.append(db)
                base_cpu.append(bcpu)
            labkit_t.append(dt)
            labkit_cpu.append(cpu)
            rss.append(peak)
            skopeo_t.append(ds)
            skopeo_cpu.append(scpu)
            print(f"  run {i}: labkit {dt:.3f} s ({cpu:.2f} s CPU, {c.mb(peak)} peak RSS), "
                  f"skopeo {ds:.3f} s ({scpu:.2f} s CPU)" + (f", baseline {db:.3f} s ({bcpu:.2f} s CPU)"
                                                               if a.baseline else ""), flush=True)
        lm, sm = c.median(labkit_t), c.median(skopeo_t)
        ratio = lm / sm
        peak = max(rss)
        print(f"labkit pull --no-extract: median {lm:.3f} s (min {min(labkit_t):.3f}, max {max(labkit_t):.3f}); "
              f"CPU median {c.median(labkit_cpu):.2f} s")
        print(f"skopeo copy:              median {sm:.3f} s (min {min(skopeo_t):.3f}, max {max(skopeo_t):.3f}); "
              f"CPU median {c.median(skopeo_cpu):.2f} s")
        print(f"median ratio labkit/skopeo: {ratio:.2f} (target <= {TARGET_RATIO}) "
              f"{'OK' if ratio <= TARGET_RATIO else 'MISSED'}")
        if a.baseline:
            bm = c.median(base_t)
            print(f"baseline pull --no-extract: median {bm:.3f} s (min {min(base_t):.3f}, max {max(base_t):.3f}); "
                  f"CPU median {c.median(base_cpu):.2f} s")
            print(f"median ratio baseline/skopeo: {bm / sm:.2f}; labkit/baseline: {lm / bm:.2f} "
                  f"({'no regression' if lm <= bm * 1.05 else 'SLOWER than the baseline'})")
        print(f"labkit peak RSS: {c.mb(peak)} (median {c.mb(int(c.median(rss)))}; target <= {c.mb(int(TARGET_RSS))}) "
              f"{'OK' if peak <= TARGET_RSS else 'MISSED'}")
        c.load_note("wall times are noisy (CPU times less so)")
        return 0 if ratio <= TARGET_RATIO and peak <= TARGET_RSS else 1
    finally:
        if stop is not None:
            stop()
        c.remove_workdir(work, a.keep)


if __name__ == "__main__":
    sys.exit(main())
