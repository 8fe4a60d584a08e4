"""A class of 30 pulling at once through the instructors' pull-through cache (the README's recipe).

    .venv/bin/python bench/classroom.py [--students 30] [--image library/httpd:latest]

A plain local `docker-registry` stands in for Docker Hub, behind a recording proxy that counts what reaches it;
the README's cache (`docker-registry` with `proxy: remoteurl`, its config.yml taken from README.md) sits in
front, and every student is a `labkit pull` process with its own home and the README's daemon.json
(tests/helpers/classroom.py). Two lessons run one after the other: the first class fills the cache, the second
(new students) finds it warm. Prints each lesson's wall time (first start to last finish) and the students'
median and slowest pull, the upstream requests per blob, and the manifest requests that reached the upstream:
the GETs are what Docker Hub would count as pulls, the HEADs are version checks it does not count. Then one
student alone on the warm cache, for scale: on one machine the class shares its CPUs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the classroom and the registries are the tests' helpers
sys.path.insert(0, str(REPO / "bench"))

import _common as c  # noqa: E402
from helpers.classroom import Classroom, seed_upstream  # noqa: E402
from helpers.registries import start_distribution_registry  # noqa: E402


def report(name: str, room: Classroom, lesson) -> None:
    failed = [s for s in lesson.students if s.returncode != 0]
    times = [s.seconds for s in lesson.students]
    print(f"{name}: {len(lesson.students)} students, wall {lesson.wall:.2f} s (each pull: median "
          f"{statistics.median(times):.2f} s, slowest {max(times):.2f} s); {len(failed)} failed")
    for s in failed[:3]:
        print(f"  {s.home.name}: {s.stderr.strip()[-300:]}")
    blobs = room.upstream_blob_requests()
    if blobs:
        counts = sorted(blobs.values())
        print(f"  upstream requests per blob: {len(blobs)} blobs, min {counts[0]}, median "
              f"{statistics.median(counts):g}, max {counts[-1]} ({sum(counts)} in all)")
    else:
        print("  upstream requests per blob: none (every blob came from the cache)")
    manifests = room.upstream_manifest_requests()
    print(f"  upstream manifest requests: {manifests.get('GET', 0)} GET (Docker Hub pulls), "
          f"{manifests.get('HEAD', 0)} HEAD (version checks, not counted)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30, help="labkit pull processes at once (default 30)")
    ap.add_argument("--image", default="library/httpd:latest", help="lab image the class pulls")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (for debugging)")
    a = ap.parse_args()
    ref = a.image.removeprefix("library/")
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-classroom-"))
    try:
        with start_distribution_registry(work / "upstream") as upstream:
            seed_upstream(upstream.host, [a.image])
            with Classroom(work, upstream.url) as room:
                print(f"{a.students} students pull {ref} through the README's cache "
                      f"({room.cache.host} -> stand-in for Docker Hub {upstream.host})")
                first = room.pull(ref, students=a.students)
                report("first class (cold cache)", room, first)
                room.upstream.conversation.clear()
                second = room.pull(ref, students=a.students)
                report("second class (warm cache)", room, second)
                room.upstream.conversation.clear()
                alone = room.pull(ref, students=1)
                report("one student alone (warm cache)", room, alone)
                print(f"class of {a.students} / one student: {second.wall / alone.wall:.1f}x the wall time "
                      f"({os.cpu_count()} CPUs share {a.students} pulls)")
        c.load_note()
        return 0 if all(s.returncode == 0 for s in first.students + second.students + alone.students) else 1
    finally:
        c.remove_workdir(work, a.keep)


if __name__ == "__main__":
    sys.exit(main())
