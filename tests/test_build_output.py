"""What `labkit build` prints: BuildKit's plain progress, the error report, the terminal view, the CLI's flags.

Expected texts are written from moby/buildkit util/progress/progressui/printer.go (plain), display.go
(terminal), solver/errdefs/source.go (the Dockerfile excerpt) and buildx's final "ERROR: failed to build:
failed to solve:" line; times come from a fixed clock, IDs from SOURCE_DATE_EPOCH.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from labkit.build.builder import Builder, BuildError, BuildRequest
from labkit.build.display import PlainDisplay, TtyDisplay, units_bytes
from labkit.build.events import BuildFailed, Progress, Recorder
from labkit.cli import main

EPOCH = "1700000000"


@pytest.fixture
def pinned(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def _ctx(tmp_path: Path, dockerfile: str, files: "dict | None" = None) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (ctx / name).write_text(text)
    return ctx


def _builder(lab, image_store: str = "graphdriver") -> Builder:
    return Builder(lab.store, lab.layers, lab.home, pull=lambda ref, p, keep: lab.pull(ref, platform=p, keep=keep),
                   clock=lambda: 0.0, image_store=image_store)


def _plain(lab, ctx, **kw) -> str:
    """Return the plain output of a build in the graphdriver store's terms (the lab text's Docker)."""
    out = io.StringIO()
    try:
        _builder(lab).build(BuildRequest(context=ctx, **kw), PlainDisplay(out))
    except BuildError:
        pass
    return out.getvalue()


@pytest.mark.parametrize("n,text", [(0, "0B"), (2, "2B"), (999, "999B"), (1000, "1.00kB"), (1234, "1.23kB"),
                                    (31020, "31.02kB"), (12_345_678, "12.35MB")])
def test_units_bytes(n, text):
    assert units_bytes(n) == text


def test_plain_output_of_a_build_then_a_cached_rebuild(lab, tmp_path, pinned):
    ctx = _ctx(tmp_path, "FROM busybox\nCOPY app.txt /app/\nRUN cat /app/app.txt\n", {"app.txt": "hello\n"})
    first = _plain(lab, ctx, tags=["app:1"])
    busybox = lab.pull("busybox").record                                # the image the build pulled
    digest = busybox.index_digest or busybox.manifest.digest
    layer = lab.store.manifest(busybox).layers[0]
    image_id = lab.store.config(lab.image("app:1")).digest            # graphdriver's image ID: the config's
    assert first == f"""\
#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 53B done
#1 DONE 0.0s

#2 [internal] load metadata for docker.io/library/busybox:latest
#2 DONE 0.0s

#3 [internal] load .dockerignore
#3 transferring context: 2B done
#3 DONE 0.0s

#4 [1/3] FROM docker.io/library/busybox:latest@{digest}
#4 resolve docker.io/library/busybox:latest@{digest} done
#4 sha256:{layer.digest.hex} {units_bytes(layer.size)} / {units_bytes(layer.size)} done
#4 extracting sha256:{layer.digest.hex} done
#4 DONE 0.0s

#5 [internal] load build context
#5 transferring context: 6B done
#5 DONE 0.0s

#6 [2/3] COPY app.txt /app/
#6 DONE 0.0s

#7 [3/3] RUN cat /app/app.txt
#7 0.000 hello
#7 DONE 0.0s

#8 exporting to image
#8 exporting layers done
#8 writing image {image_id} done
#8 naming to docker.io/library/app:1 done
#8 DONE 0.0s
"""
    # The rebuild: FROM only resolves busybox (its image source's cache key: DONE, solver/jobs.go CacheMap) and
    # is never loaded, since the COPY after it is a hit; the steps are CACHED (solver/progress.go marks the
    # inputs of a loaded vertex), as in docker/cli#5280's plain output of a rebuild.
    second = _plain(lab, ctx, tags=["app:1"])
    assert second == first.replace(
        f"#4 sha256:{layer.digest.hex} {units_bytes(layer.size)} / {units_bytes(layer.size)} done\n"
        f"#4 extracting sha256:{layer.digest.hex} done\n", "").replace(
        "transferring context: 6B", "transferring context: 0B").replace(
        "#6 DONE 0.0s", "#6 CACHED").replace("#7 0.000 hello\n#7 DONE 0.0s", "#7 CACHED")
    # a changed file: the base is loaded for the COPY that runs, so FROM is CACHED (BuildKit's docs/cdi.md shows
    # "resolve ... done" then "CACHED" for a FROM whose next step runs)
    (ctx / "app.txt").write_text("hello again\n")
    third = _plain(lab, ctx, tags=["app:1"])
    assert f"#4 resolve docker.io/library/busybox:latest@{digest} done\n#4 CACHED\n" in third
    assert "#6 [2/3] COPY app.txt /app/\n#6 DONE 0.0s\n" in third


def test_plain_output_of_a_failing_run(lab, tmp_path):
    lab.pull("busybox")
    ctx = _ctx(tmp_path, "FROM busybox\nRUN apt-get update\n")
    out = _plain(lab, ctx)
    tail = out[out.index("#5 [2/2] RUN apt-get update"):]
    assert tail == """\
#5 [2/2] RUN apt-get update
#5 0.000 /bin/sh: apt-get: not found
#5 ERROR: process "/bin/sh -c apt-get update" did not complete successfully: exit code: 127
------
 > [2/2] RUN apt-get update:
0.000 /bin/sh: apt-get: not found
------
Dockerfile:2
--------------------
   1 |     FROM busybox
   2 | >>> RUN apt-get update
   3 |     
--------------------
ERROR: failed to build: failed to solve: process "/bin/sh -c apt-get update" did not complete successfully: exit code: 127
"""


def test_plain_output_of_a_parse_error_and_stage_names(lab, tmp_path):
    ctx = _ctx(tmp_path, "FORM busybox\n")
    assert _plain(lab, ctx).endswith("""\
#1 DONE 0.0s
Dockerfile:1
--------------------
   1 | >>> FORM busybox
   2 |     
--------------------
ERROR: failed to build: failed to solve: dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)
""")
    (ctx / "Dockerfile").write_text("FROM busybox AS build\n" + "RUN echo x > /x\n" * 10 +
                                    "FROM scratch\nCOPY --from=build /x /x\n")
    names = [line.split(" ", 1)[1] for line in _plain(lab, ctx).splitlines() if re.match(r"#\d+ \[(build|stage)", line)]
    assert names[:3] == ["[build  1/11] FROM docker.io/library/busybox:latest@" + names[0].split("@")[1],
                         "[build  2/11] RUN echo x > /x", "[build  3/11] RUN echo x > /x"]
    assert names[-1] == "[stage-1 1/1] COPY --from=build /x /x"


def test_containerd_store_export_lines(lab, tmp_path, pinned):
    ctx = _ctx(tmp_path, "FROM busybox\nENV A=1\n")
    out = io.StringIO()
    result = _builder(lab, "containerd").build(BuildRequest(context=ctx, tags=["app:1", "app:latest"]),
                                               PlainDisplay(out))
    assert out.getvalue().endswith(f"""\
#5 exporting to image
#5 exporting layers done
#5 exporting manifest {result.manifest_digest} done
#5 exporting config {result.config_digest} done
#5 naming to docker.io/library/app:1 done
#5 unpacking to docker.io/library/app:1 done
#5 naming to docker.io/library/app:latest done
#5 unpacking to docker.io/library/app:latest done
#5 DONE 0.0s
""")
    assert result.image_id("containerd") == result.manifest_digest
    assert result.image_id("graphdriver") == result.config_digest == lab.store.config(lab.image("app:latest")).digest


def test_terminal_view_redraws_steps():
    out = io.StringIO()
    clock = iter([float(i) for i in range(100)])
    tty = TtyDisplay(out, clock=lambda: next(clock), width=60)
    p = Progress(tty, clock=lambda: 1.0)
    v = p.start("[1/2] FROM docker.io/library/busybox")
    p.done(v, cached=True)
    v = p.start("[2/2] RUN make")
    p.status(v, "naming to docker.io/library/app:1")
    p.done(v)
    tty.close()
    last = re.split(r"\x1b\[\d+A\r", out.getvalue())[-1].replace("\x1b[K", "")
    assert last.splitlines() == [
        "[+] Building 6.0s (2/2) FINISHED             docker:default",     # 59 columns: BuildKit's align()
        " => CACHED [1/2] FROM docker.io/library/busybox        0.0s",
        " => [2/2] RUN make                                     0.0s",
        " => => naming to docker.io/library/app:1               0.0s",
    ]


def test_failure_report_marks_a_range_of_lines():
    rec = Recorder()
    PlainDisplay(io.StringIO())(BuildFailed("x", 3, 4, "Dockerfile", "a\nb\nc\nd\ne\nf\ng\n"))
    out = io.StringIO()
    PlainDisplay(out, description="")(BuildFailed("boom", 3, 4, "Dockerfile", "a\nb\nc\nd\ne\nf\ng\n"))
    assert out.getvalue() == ("Dockerfile:3\n--------------------\n"
                              "   2 |     b\n   3 | >>> c\n   4 | >>> d\n   5 |     e\n"
                              "--------------------\nERROR: failed to build: failed to solve: boom\n")
    assert rec.events == []


# --- the command line ----------------------------------------------------------------------------------------

def _run(*argv, stdin=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_cli_quiet_iidfile_tags_labels(lab, tmp_path, pinned):
    ctx = _ctx(tmp_path, "FROM busybox\nRUN echo hi > /hi\n")
    iid = tmp_path / "iid"
    status, out, err = _run("build", "-q", "-t", "app:1", "-t", "app:2", "--label", "team=lab",
                            "--iidfile", str(iid), str(ctx))
    assert status == 0 and err == ""
    record = lab.image("app:1")
    # the ID of the image store in use: the config digest (graphdriver) or the manifest's (containerd)
    ids = {str(lab.store.config(record).digest), str(record.manifest.digest)}
    assert out.endswith("\n") and out.strip() in ids and iid.read_text() == out.strip()
    assert lab.image("app:2").manifest.digest == record.manifest.digest
    assert lab.store.config(lab.image("app:1")).labels["team"] == "lab"
    status, out, err = _run("build", "--progress=plain", "-t", "app:3", str(ctx))
    assert status == 0 and out == ""                                  # docker build prints on stderr
    assert re.search(r"^#\d+ \[2/2\] RUN echo hi > /hi\n#\d+ CACHED$", err, re.M)
    assert err.rstrip().endswith("DONE 0.0s") or re.search(r"#\d+ DONE \d+\.\ds\n$", err)


def test_cli_errors_and_stdin(lab, tmp_path, monkeypatch):
    ctx = _ctx(tmp_path, "FROM busybox\nRUN apt-get update\n")
    status, out, err = _run("build", "-q", "-t", "broken:1", str(ctx))
    assert status == 1 and out == ""
    assert err.endswith('ERROR: failed to build: failed to solve: process "/bin/sh -c apt-get update" did not '
                        "complete successfully: exit code: 127\n")
    assert "broken" not in [r.repository for r in lab.images()]
    status, out, err = _run("build", "-q", "-t", "fromstdin:1", "-", stdin="FROM busybox\nENV X=1\n",
                            monkeypatch=monkeypatch)
    assert status == 0 and out.startswith("sha256:")
    status, out, err = _run("build", "-q", str(tmp_path / "nowhere"))
    assert status == 1 and 'unable to prepare context: path "' in err
    status, _, err = _run("build", "--nope", str(ctx))
    assert status == 2


def test_cli_builder_prune_asks_first(lab, tmp_path, monkeypatch):
    ctx = _ctx(tmp_path, "FROM busybox\nRUN echo hi > /hi\n")
    assert _run("build", "-q", str(ctx))[0] == 0
    status, out, _ = _run("builder", "prune", stdin="n\n", monkeypatch=monkeypatch)
    assert (status, out) == (0, "WARNING! This will remove all dangling build cache. Are you sure you want to "
                                "continue? [y/N] ")
    status, out, _ = _run("builder", "prune", "--all", stdin="y\n", monkeypatch=monkeypatch)
    assert status == 0
    # Docker 29 hands `builder` to buildx (docker/cli cmd/docker/builder.go); buildx commands/prune.go prints
    # each removed record through a tabwriter that pads with tabs, then the total of their sizes
    assert re.fullmatch(r"WARNING! This will remove all build cache\. Are you sure you want to continue\? \[y/N\] "
                        r"ID\t{6}RECLAIMABLE\tSIZE\t\tLAST ACCESSED\n"
                        r"[0-9a-z]{25} {15}\ttrue \t\t[\d.]+k?B\*? *\tLess than a second ago\n"
                        r"[0-9a-z]{25} {15}\ttrue \t[\d.]+k?B\*? *\tLess than a second ago\n"
                        r"Total:\t[\d.]+k?B\n", out)
    assert _run("builder", "prune", "-f")[1] == "Total:\t0B\n"
    assert _run("--image-store", "graphdriver", "builder", "prune", "-f")[1] == "Total reclaimed space: 0B\n"


def test_terminal_view_ends_with_the_error_report():
    out = io.StringIO()
    tty = TtyDisplay(out, clock=lambda: 0.0, width=60)
    p = Progress(tty, clock=lambda: 0.0)
    v = p.start("[2/2] RUN apt-get update")
    p.error(v, "exit code: 127")
    p.emit(BuildFailed("exit code: 127"))
    text = out.getvalue()
    tty.close()                                              # nothing is redrawn over the report
    assert out.getvalue() == text
    assert " => ERROR [2/2] RUN apt-get update" in text
    assert text.endswith("------\n > [2/2] RUN apt-get update:\n------\n"
                         "ERROR: failed to build: failed to solve: exit code: 127\n")
