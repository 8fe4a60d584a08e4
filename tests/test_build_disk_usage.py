"""The build cache in `system df` and what `builder prune` removes.

Docker 29 (the containerd image store's look): docker/cli cli/command/formatter/disk_usage.go (the Build
Cache row: TOTAL, ACTIVE, SIZE and RECLAIMABLE in go-units HumanSize, no percentage; `-v`: "Build cache
usage: SIZE" and the table of formatter/buildcache.go), moby daemon/internal/builder-next/builder.go
DiskUsage (reclaimable: records neither in use nor shared), and `docker builder prune`, which the CLI hands
to buildx (docker/cli cmd/docker/builder.go; docker/buildx commands/prune.go). The lab text's Docker
(graphdriver) has no Build Cache row.
"""

from __future__ import annotations

import io

from labkit.cli import main

NOW = "2026-12-03T07:00:00Z"


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_system_df_counts_the_build_cache_and_builder_prune_reclaims_it(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", NOW)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY a.txt /a.txt\nCOPY b.txt /b.txt\n")
    (ctx / "a.txt").write_text("a" * 3000)
    (ctx / "b.txt").write_text("b\n")
    assert _run("build", "-q", "-t", "app:1", str(ctx))[0] == 0
    records = lab.builder().cache.records()
    sizes = sorted(r.size for r in records)
    assert len(records) == 2

    # both layers are app:1's: shared, nothing reclaimable
    row = _run("system", "df")[1].splitlines()[-1]
    assert row.split() == ["Build", "Cache", "2", "0", f"{sum(sizes)}B", "0B"]
    verbose = _run("system", "df", "-v")[1]
    assert f"\nBuild cache usage: {sum(sizes)}B\n" in verbose
    table = verbose.split("Build cache usage:")[1].splitlines()[2:]
    assert table[0] == "CACHE ID       CACHE TYPE   SIZE      CREATED                  LAST USED                USAGE" \
                       "     SHARED"
    ids = sorted(r.id[:12] for r in records)
    assert sorted(line.split()[0] for line in table[1:]) == ids
    assert all(line.split()[1] == "regular" and line.split()[-1] == "true" and line.split()[-2] == "1"
               and "Less than a second ago" in line for line in table[1:])
    assert _run("--image-store", "graphdriver", "system", "df")[1].splitlines()[-1].startswith("Local Volumes")

    # a rebuild uses them (USAGE 2); once the image is gone they are reclaimable
    assert _run("build", "-q", "-t", "app:1", str(ctx))[0] == 0
    assert [line.split()[-2] for line in _run("system", "df", "-v")[1].splitlines()[-2:]] == ["2", "2"]
    assert _run("rmi", "app:1")[0] == 0
    row = _run("system", "df")[1].splitlines()[-1]
    assert row.split() == ["Build", "Cache", "2", "0", f"{sum(sizes)}B", f"{sum(sizes)}B"]
    status, out, _ = _run("builder", "prune", "-f")
    lines = out.splitlines()
    assert lines[0] == "ID\t\t\t\t\t\tRECLAIMABLE\tSIZE\t\tLAST ACCESSED"
    size_of = {r.id: f"{r.size}B" for r in records}
    first, second = sorted(size_of)
    # the header and the first row are one tabwriter block, every later row its own (a Flush after each)
    assert lines[1] == f"{first:<40}\ttrue \t\t{size_of[first]:<10}\tLess than a second ago"
    assert lines[2] == f"{second:<40}\ttrue \t{size_of[second]:<10}\tLess than a second ago"
    assert lines[3:] == [f"Total:\t{sum(sizes)}B"]
    assert _run("system", "df")[1].splitlines()[-1].split() == ["Build", "Cache", "0", "0", "0B", "0B"]
