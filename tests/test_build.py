"""labkit build: each instruction, COPY/ADD semantics, the cache rules, failures, reproducible images.

Builds run for real in the test's home, FROM the lab's stand-in images pulled from the lab registry (the
`lab` fixture), with BuildKit's expectations written from its source (dockerfile2llb, exporter).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from labkit.build.builder import BuildError
from labkit.build.events import Recorder, VertexCompleted
from labkit.lab import Lab

CLOCK = staticmethod(lambda: 0.0)


def write(ctx: Path, files: dict) -> Path:
    ctx.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    return ctx


def build(lab, ctx, **kw):
    rec = Recorder()
    result = lab.build(ctx, progress=rec, clock=lambda: 0.0, **kw)
    return result, rec


def config(lab, ref):
    return json.loads(lab.store.config(lab.image(ref)).raw)


def cached(rec) -> list[bool]:
    """Return, for each Dockerfile step (FROM, RUN, COPY, ADD, WORKDIR), whether it hit the cache."""
    return [s.cached for s in rec.steps()]


def layer_members(lab, ref, index=-1):
    m = lab.store.manifest(lab.image(ref))
    blob = lab.store.layout.read_blob(m.layers[index].digest)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tf:
        return {t.name: t for t in tf.getmembers()}


# --- instructions ---------------------------------------------------------------------------------------

def test_metadata_instructions_set_the_config_as_docker_does(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
MAINTAINER ada@example.com
ENV A=1 B="two words"
ENV C=$A-${B}
LABEL version=1.0 "description"="a test"
EXPOSE 80 443/udp 8000-8001
VOLUME ["/data", "/logs"]
USER nobody
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD wget -q -O- http://localhost/
SHELL ["/bin/ash", "-c"]
ENTRYPOINT ["/bin/app"]
CMD serve --port 80
ONBUILD RUN echo child
ARG V=1
"""})
    result, _ = build(lab, ctx, tags=["meta:1"])
    doc = config(lab, "meta:1")
    c = doc["config"]
    assert doc["author"] == "ada@example.com"
    assert c["Env"][-3:] == ["A=1", "B=two words", "C=1-two words"]
    assert c["Labels"]["version"] == "1.0" and c["Labels"]["description"] == "a test"
    assert c["Labels"]["io.labkit.official"] == "true"                # busybox's labels are inherited
    assert c["ExposedPorts"] == {"443/udp": {}, "80/tcp": {}, "8000/tcp": {}, "8001/tcp": {}}
    assert c["Volumes"] == {"/data": {}, "/logs": {}}
    assert c["User"] == "nobody" and c["StopSignal"] == "SIGTERM"
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q -O- http://localhost/"],
                                "Interval": 30_000_000_000, "Timeout": 5_000_000_000, "Retries": 3}
    assert c["Shell"] == ["/bin/ash", "-c"]
    assert c["Entrypoint"] == ["/bin/app"]
    assert c["Cmd"] == ["/bin/ash", "-c", "serve --port 80"] and c["ArgsEscaped"] is True
    assert c["OnBuild"] == ["RUN echo child"]
    assert "V=1" not in c["Env"]                                      # ARGs never reach the image
    new = doc["history"][2:]                                          # busybox has two history entries
    assert [h["created_by"] for h in new] == [
        "MAINTAINER ada@example.com", "ENV A=1 B=two words", "ENV C=1-two words",
        "LABEL version=1.0 description=a test", "EXPOSE [443/udp 80/tcp 8000/tcp 8001/tcp]",
        "VOLUME [/data /logs]", "USER nobody", "STOPSIGNAL SIGTERM",
        "HEALTHCHECK {Test:[CMD-SHELL wget -q -O- http://localhost/] Interval:30s Timeout:5s StartPeriod:0s "
        "StartInterval:0s Retries:3}",
        "SHELL [/bin/ash -c]", 'ENTRYPOINT ["/bin/app"]', 'CMD ["/bin/ash" "-c" "serve --port 80"]', "ARG V=1"]
    assert all(h["empty_layer"] is True and h["comment"] == "buildkit.dockerfile.v0" for h in new)
    assert len(doc["rootfs"]["diff_ids"]) == 1                        # metadata steps add no layer


def test_entrypoint_resets_an_inherited_cmd_and_onbuild_triggers_run(lab, tmp_path):
    base = write(tmp_path / "base", {"Dockerfile": "FROM busybox\nCMD [\"sh\"]\nONBUILD RUN echo triggered > /t\n"})
    build(lab, base, tags=["base:1"])
    child = write(tmp_path / "child", {"Dockerfile": "FROM base:1\nENTRYPOINT [\"echo\"]\n"})
    _, rec = build(lab, child, tags=["child:1"])
    c = config(lab, "child:1")["config"]
    assert "Cmd" not in c and c["Entrypoint"] == ["echo"] and "OnBuild" not in c
    assert lab.view("child:1").read("t") == b"triggered\n"
    assert any(v.name == "[2/2] ONBUILD RUN echo triggered > /t" for v in rec.vertices())


def test_run_workdir_and_layers(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
WORKDIR /srv/app
RUN echo hi > note && mkdir -p sub/dir && ln -s note link
RUN ["sh", "-c", "rm /etc/passwd"]
WORKDIR /
"""})
    result, rec = build(lab, ctx, tags=["run:1"])
    busybox = result.plan.target.base.record                          # pulled into the build cache, unnamed
    view = lab.view("run:1")
    assert view.read("srv/app/note") == b"hi\n"
    assert view.lookup("srv/app/sub/dir").type == "dir"
    assert view.lookup("srv/app/link").linkname == "note"
    assert view.lookup("etc/passwd") is None                         # deleted in a later layer: a whiteout
    doc = config(lab, "run:1")
    assert len(doc["rootfs"]["diff_ids"]) == 4                        # busybox + WORKDIR + 2 RUN (WORKDIR / adds none)
    assert [h["created_by"] for h in doc["history"][2:]] == [
        "WORKDIR /srv/app", "RUN /bin/sh -c echo hi > note && mkdir -p sub/dir && ln -s note link # buildkit",
        "RUN sh -c rm /etc/passwd # buildkit", "WORKDIR /"]
    assert doc["history"][-1]["empty_layer"] is True and doc["config"]["WorkingDir"] == "/"
    assert "etc/.wh.passwd" in layer_members(lab, "run:1")
    assert [v.name for v in rec.vertices() if v.name.startswith("[") and "internal" not in v.name] == [
        f"[1/5] FROM docker.io/library/busybox:latest@{busybox.index_digest or busybox.manifest.digest}",
        "[2/5] WORKDIR /srv/app", "[3/5] RUN echo hi > note && mkdir -p sub/dir && ln -s note link",
        '[4/5] RUN ["sh", "-c", "rm /etc/passwd"]']


def test_build_args_and_run_history(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
ARG BASE=busybox
FROM ${BASE}
ARG VERSION=1.0
ARG UNSET
ENV WHERE=/opt/v${VERSION}
RUN mkdir -p $WHERE
"""})
    build(lab, ctx, tags=["args:1"], build_args={"VERSION": "2.0", "NOT_DECLARED": "x"})
    doc = config(lab, "args:1")
    assert "WHERE=/opt/v2.0" in doc["config"]["Env"]
    assert doc["history"][-1]["created_by"] == "RUN |2 VERSION=2.0 UNSET= /bin/sh -c mkdir -p $WHERE # buildkit"
    assert [h["created_by"] for h in doc["history"][2:4]] == ["ARG VERSION=2.0", "ARG UNSET"]


def test_base_config_is_inherited(lab, tmp_path):
    lab.pull("ubuntu")
    build(lab, write(tmp_path / "a", {"Dockerfile": "FROM ubuntu\n"}), tags=["same:1"])
    ubuntu, same = config(lab, "ubuntu"), config(lab, "same:1")
    assert same["config"]["Cmd"] == ubuntu["config"]["Cmd"]
    assert same["rootfs"] == ubuntu["rootfs"] and same["history"] == ubuntu["history"]
    assert lab.store.manifest(lab.image("same:1")).layers == lab.store.manifest(lab.image("ubuntu")).layers


def test_base_images_stay_in_the_build_cache(lab, tmp_path):
    # BuildKit pulls a base image it does not find among the images into its build cache: `docker images` never
    # lists it (moby/moby#39229; docker/docs#13279: "the base image is pulled in the build-cache, but does not
    # appear in the list of images"), an image that is listed is used as it is, and a --platform build leaves
    # the local tag alone.
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo hi > /hi\n"})
    build(lab, ctx, tags=["app:1"])
    assert [f"{r.repository}:{r.tag}" for r in lab.images()] == ["app:1"]
    _, rec = build(lab, ctx, tags=["app:1"], no_cache=True)
    assert cached(rec) == [True, False]                                # the cached base: nothing downloaded
    local = lab.pull("busybox").record
    build(lab, ctx, tags=["app:arm"], platform="linux/arm64")
    assert lab.image("busybox").image_id == local.image_id             # busybox:latest did not move
    assert config(lab, "app:arm")["architecture"] == "arm64" and config(lab, "busybox")["architecture"] != "arm64"
    assert sorted(f"{r.repository}:{r.tag}" for r in lab.images()) == [
        "<none>:<none>", "app:1", "app:arm", "busybox:latest"]        # <none>: the app:1 the rebuild displaced


def test_a_listed_base_of_another_platform_is_not_used(lab, tmp_path):
    # moby's builder-next image source uses a listed image only when its platform is the one built for (the
    # host's by default), else it asks the registry (adapters/containerimage: "Requested build platform ... does
    # not match local image platform ..., checking remote")
    from labkit.oci.platforms import Platform

    host = Platform.host().architecture
    other = "arm64" if host != "arm64" else "amd64"
    lab.pull("busybox", platform=f"linux/{other}")
    assert config(lab, "busybox")["architecture"] == other
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo hi > /hi\n"})
    build(lab, ctx, tags=["app:host"])
    assert config(lab, "app:host")["architecture"] == host and config(lab, "busybox")["architecture"] == other


# --- COPY and ADD -------------------------------------------------------------------------------------------

def test_copy_semantics(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": """\
FROM busybox
COPY app/ /app/
COPY one.txt /dest/renamed.txt
COPY one.txt two.txt /many/
COPY *.md /docs/
COPY --chown=1000:50 --chmod=700 one.txt /owned/
COPY <<EOF /inline.txt
hello $HOSTNAME
EOF
WORKDIR /work
COPY one.txt .
""",
        "app/main.py": "print('hi')\n", "app/lib/util.py": "x = 1\n", "one.txt": "1\n", "two.txt": "2\n",
        "a.md": "a\n", "b.md": "b\n", "skip.log": "no\n"})
    os.symlink("main.py", ctx / "app" / "link.py")
    os.chmod(ctx / "app" / "main.py", 0o755)
    build(lab, ctx, tags=["copy:1"])
    view = lab.view("copy:1")
    assert view.read("app/main.py") == b"print('hi')\n" and view.lookup("app/main.py").mode == 0o755
    assert view.read("app/lib/util.py") == b"x = 1\n"
    assert view.lookup("app/link.py").linkname == "main.py"           # symlinks inside a copied dir stay
    assert view.lookup("app/app") is None                             # a directory copies its contents
    assert view.read("dest/renamed.txt") == b"1\n"
    assert sorted(view.listdir("many")) == ["one.txt", "two.txt"]
    assert sorted(view.listdir("docs")) == ["a.md", "b.md"]
    owned = view.lookup("owned/one.txt")
    assert (owned.uid, owned.gid, owned.mode) == (1000, 50, 0o700)
    assert view.lookup("app/main.py").uid == 0
    assert view.read("inline.txt") == b"hello \n"                      # heredocs expand variables
    assert view.read("work/one.txt") == b"1\n"
    mtime = int(os.stat(ctx / "one.txt").st_mtime)
    assert view.lookup("dest/renamed.txt").mtime == mtime              # COPY keeps modification times


def test_copy_destinations_as_fsutil_decides_them(lab, tmp_path):
    # tonistiigi/fsutil copy.go (BuildKit's COPY): each source, each wildcard match, is copied on its own; a file
    # goes into the destination when it ends in "/" or already is a directory, else it becomes the destination
    # (so several sources without the slash leave the last one: moby/buildkit#1853). Directories a copy creates
    # take an octal --chmod's bits (MkdirAll with CopyInfo.Mode, tonistiigi/fsutil#228; moby/moby#49851), 0755
    # with a symbolic one.
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
COPY one.txt two.txt /plain
COPY *.md /docs
COPY one.txt two.txt /slashed/
COPY one.txt /etc
COPY --chmod=640 one.txt /made/by/chmod/
COPY --chmod=u+x one.txt /sym/dir/one.txt
WORKDIR /w
COPY one.txt two.txt .
""", "one.txt": "1\n", "two.txt": "2\n", "a.md": "a\n", "b.md": "b\n"})
    build(lab, ctx, tags=["dest:1"])
    view = lab.view("dest:1")
    assert view.lookup("plain").type == "file" and view.read("plain") == b"2\n"
    assert view.lookup("docs").type == "file" and view.read("docs") == b"b\n"
    assert sorted(view.listdir("slashed")) == ["one.txt", "two.txt"]
    assert view.read("etc/one.txt") == b"1\n"
    assert [view.lookup(p).mode for p in ("made", "made/by", "made/by/chmod", "made/by/chmod/one.txt")] == [0o640] * 4
    assert [view.lookup(p).mode for p in ("sym", "sym/dir", "sym/dir/one.txt")] == [0o755, 0o755, 0o744]
    assert sorted(view.listdir("w")) == ["one.txt", "two.txt"]


def test_dockerignore_and_missing_sources(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY . /src/\n",
                                   ".dockerignore": "# comment\n*.log\nsecret/\n!secret/public.txt\n",
                                   "a.txt": "a", "debug.log": "x", "secret/key": "k", "secret/public.txt": "p"})
    build(lab, ctx, tags=["ign:1"])
    view = lab.view("ign:1")
    assert sorted(view.listdir("src")) == [".dockerignore", "Dockerfile", "a.txt", "secret"]
    assert view.listdir("src/secret") == ["public.txt"]
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY debug.log /\n")
    with pytest.raises(BuildError, match=r'failed to compute cache key: failed to calculate checksum of ref '
                                         r'\S+: "/debug.log": not found') as e:
        build(lab, ctx, tags=["ign:2"])
    assert e.value.start == 2


def test_add_unpacks_local_archives_but_copy_does_not(lab, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("pkg/bin/tool", b"#!tool\n"), ("pkg/README", b"read me\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nADD pkg.tar.gz /opt/\nCOPY pkg.tar.gz /copied/\n",
                                   "pkg.tar.gz": buf.getvalue()})
    build(lab, ctx, tags=["add:1"])
    view = lab.view("add:1")
    assert view.read("opt/pkg/bin/tool") == b"#!tool\n" and view.lookup("opt/pkg/bin/tool").mode == 0o755
    assert view.read("copied/pkg.tar.gz") == buf.getvalue()


def test_add_url_from_a_local_server(lab, tmp_path):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"downloaded\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/files/data.txt"
        ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nADD {url} /srv/\n"})
        build(lab, ctx, tags=["url:1"])
        node = lab.view("url:1").lookup("srv/data.txt")
        assert lab.view("url:1").read("srv/data.txt") == b"downloaded\n"
        assert node.mode == 0o600 and node.mtime == 1445412480            # BuildKit: 0600 and Last-Modified
        (ctx / "Dockerfile").write_text(f"FROM busybox\nCOPY {url} /srv/\n")
        with pytest.raises(BuildError, match="source can't be a URL for COPY"):
            build(lab, ctx)
    finally:
        server.shutdown()
        server.server_close()
    # unreachable: Go's net/http error, as BuildKit's HTTP source reports it
    ctx.joinpath("Dockerfile").write_text(f"FROM busybox\nADD {url} /srv/\n")
    with pytest.raises(BuildError) as e:
        build(lab, ctx, tags=["url:2"])
    port = server.server_port
    assert e.value.message == (f'failed to load cache key: Get "{url}": dial tcp 127.0.0.1:{port}: connect: '
                               "connection refused")
    ctx.joinpath("Dockerfile").write_text("FROM busybox\nADD http://labkit.invalid/data.txt /srv/\n")
    with pytest.raises(BuildError) as e:                               # .invalid never resolves (RFC 6761)
        build(lab, ctx, tags=["url:3"])
    assert e.value.message == ('failed to load cache key: Get "http://labkit.invalid/data.txt": dial tcp: lookup '
                               "labkit.invalid: no such host")
    assert [f"{r.repository}:{r.tag}" for r in lab.images()] == ["url:1"]   # no new tag


def test_multi_stage_copy_from_stage_and_image_and_target(lab, tmp_path):
    lab.pull("busybox")
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox AS build
RUN mkdir -p /out && echo binary > /out/app && echo junk > /tmp/junk

FROM busybox AS unused
RUN echo never > /never

FROM scratch
COPY --from=build /out/app /app
COPY --from=busybox /bin/busybox /bin/busybox
CMD ["/app"]
"""})
    result, rec = build(lab, ctx, tags=["multi:1"])
    view = lab.view("multi:1")
    assert sorted(view.paths()) == ["app", "bin", "bin/busybox"]
    assert not any("unused" in v.name for v in rec.vertices())        # --target's needs only
    assert len(config(lab, "multi:1")["rootfs"]["diff_ids"]) == 2
    assert lab.store.image_size(lab.image("multi:1")) < lab.store.image_size(lab.image("busybox")) * 2
    _, rec = build(lab, ctx, tags=["stage:unused"], target="unused")
    assert [v.name for v in rec.vertices() if v.name.startswith("[")][-1] == "[unused 2/2] RUN echo never > /never"
    assert lab.view("stage:unused").read("never") == b"never\n"
    with pytest.raises(BuildError, match='target stage "unusd" could not be found \\(did you mean unused\\?\\)'):
        build(lab, ctx, target="unusd")


# --- the cache -----------------------------------------------------------------------------------------------

APP_DOCKERFILE = """\
FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN echo installing > deps.txt
COPY src/ ./src/
RUN echo built > build.txt
"""


def app_context(tmp_path) -> Path:
    return write(tmp_path / "app", {"Dockerfile": APP_DOCKERFILE, "requirements.txt": "flask\n",
                                    "src/app.py": "print('v1')\n"})


def test_cache_hit_then_miss_after_a_change(lab, tmp_path):
    ctx = app_context(tmp_path)
    first, rec = build(lab, ctx, tags=["app:1"])
    assert cached(rec) == [False] * 6                                  # busybox pulled by this build: DONE
    again, rec = build(lab, ctx, tags=["app:1"])
    assert cached(rec) == [True] * 6 and again.config_digest == first.config_digest
    (ctx / "src" / "app.py").write_text("print('v2')\n")
    third, rec = build(lab, ctx, tags=["app:1"])
    assert cached(rec) == [True, True, True, True, False, False]       # the changed COPY and what follows
    assert third.config_digest != first.config_digest
    os.utime(ctx / "src" / "app.py", (1, 1))                          # a new mtime alone changes nothing
    _, rec = build(lab, ctx, tags=["app:1"])
    assert cached(rec) == [True] * 6


def test_cache_rules_for_args_env_and_labels(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
ARG FLAVOR=plain
RUN echo one > /one
LABEL note=$FLAVOR
ENV MODE=fast
RUN echo two > /two
"""})
    build(lab, ctx)
    _, rec = build(lab, ctx, build_args={"FLAVOR": "spicy"})          # an ARG is in every later RUN's env
    assert cached(rec) == [True, False, False]
    _, rec = build(lab, ctx, build_args={"FLAVOR": "spicy"})
    assert cached(rec) == [True, True, True]
    (ctx / "Dockerfile").write_text((ctx / "Dockerfile").read_text().replace("LABEL note=", "LABEL other="))
    _, rec = build(lab, ctx, build_args={"FLAVOR": "spicy"})          # a LABEL re-runs nothing
    assert cached(rec) == [True, True, True]
    (ctx / "Dockerfile").write_text((ctx / "Dockerfile").read_text().replace("MODE=fast", "MODE=slow"))
    _, rec = build(lab, ctx, build_args={"FLAVOR": "spicy"})          # an ENV re-runs the RUNs after it
    assert cached(rec) == [True, True, False]


NO_CACHE_DOCKERFILE = """\
FROM busybox AS deps
WORKDIR /deps
RUN echo deps > /deps/list
WORKDIR /deps/out

FROM deps AS final
RUN echo final > /final

FROM busybox
COPY --from=final /deps/list /list
RUN echo done > /done
"""


def _from_vertices(rec) -> list[str]:
    """Return how each FROM vertex ended: "CACHED" or "DONE"."""
    return ["CACHED" if v.cached else "DONE" for v in rec.vertices() if "] FROM " in v.name]


def test_no_cache_and_no_cache_filter(lab, tmp_path):
    # dockerfile2llb marks the RUN, COPY and ADD of a stage --no-cache names (all of them: --no-cache)
    # llb.IgnoreCache (convert.go dispatchRun, convert_copy.go dispatchCopy); FROM's image source and WORKDIR's
    # mkdir (dispatchWorkdir) are not marked. The solver offers no cache key through a step that executed
    # (solver/edge.go, "so that a --no-cache dependency does not let consumers match records through a step
    # that was forced to re-run"), so every step after it re-runs, `FROM final` included; `COPY --from` matches
    # on the content it copies (the slow cache), so an unchanged file is still a hit.
    ctx = write(tmp_path / "ctx", {"Dockerfile": NO_CACHE_DOCKERFILE})
    build(lab, ctx)
    _, rec = build(lab, ctx, no_cache=True)
    assert cached(rec) == [True, True, False, False, False, True, False, False]
    # the first FROM is not loaded (the WORKDIR after it is a hit): DONE; the last one is, for the forced COPY
    assert _from_vertices(rec) == ["DONE", "CACHED"]
    _, rec = build(lab, ctx, no_cache_filter=["deps"])
    assert cached(rec) == [True, True, False, False, False, True, True, True]
    _, rec = build(lab, ctx, no_cache_filter=["FINAL"])                # stage names match in any case
    assert cached(rec) == [True, True, True, True, False, True, True, True]
    _, rec = build(lab, ctx)
    assert cached(rec) == [True] * 8
    assert _from_vertices(rec) == ["DONE", "DONE"]                     # nothing needed the bases themselves


def test_a_step_after_one_that_ran_runs_too(lab, tmp_path):
    # A step whose cache record is gone runs again, and then so does every step after it, as BuildKit's solver
    # re-runs the dependents of a step that executed (solver/edge.go): their layers were made over the old one.
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo one > /one\nRUN cat /one > /two\n"})
    build(lab, ctx, tags=["chain:1"])
    cache = lab.builder().cache
    middle = next(r for r in cache.records() if r.description == "[2/3] RUN echo one > /one")
    cache._path(middle.key).unlink()
    _, rec = build(lab, ctx, tags=["chain:1"])
    assert cached(rec) == [True, False, False]
    assert _from_vertices(rec) == ["CACHED"]                           # the RUN after it loads the base


def test_cache_survives_restarts_and_rmi_and_builder_prune_clears_it(lab, tmp_path, labkit_home):
    ctx = app_context(tmp_path)
    build(lab, ctx, tags=["app:1"])
    lab.rmi("app:1")
    fresh = Lab(labkit_home)                                          # a new process would see the same
    _, rec = build(fresh, ctx, tags=["app:1"])
    assert cached(rec) == [True] * 6
    from labkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["builder", "prune", "-af"], out=out, err=err) == 0
    # Docker 29: `docker builder prune` is buildx's (docker/buildx commands/prune.go); "*": app:1 shares them
    lines = out.getvalue().splitlines()
    assert lines[0] == "ID\t\t\t\t\t\tRECLAIMABLE\tSIZE\t\tLAST ACCESSED"
    assert all("*" in line.split("\t")[-2] for line in lines[1:-1]) and lines[-1].startswith("Total:\t")
    _, rec = build(fresh, ctx, tags=["app:1"])
    assert cached(rec) == [False] * 6                                 # busybox went with the cache: pulled again


# --- failures -------------------------------------------------------------------------------------------------

def test_failing_run_leaves_no_tag_and_no_partial_layer(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo ok > /ok\nRUN apt-get update\n"})
    lab.pull("busybox")
    blobs_before = set(lab.store.layout.blobs())
    with pytest.raises(BuildError) as e:
        build(lab, ctx, tags=["broken:1"])
    assert e.value.message == 'process "/bin/sh -c apt-get update" did not complete successfully: exit code: 127'
    assert (e.value.start, e.value.end) == (3, 3)
    assert [r.repository for r in lab.images()] == ["busybox"]
    new_blobs = set(lab.store.layout.blobs()) - blobs_before
    assert len(new_blobs) == 1                                         # the successful RUN's cached layer only
    assert not list((labkit_home_of(lab) / "tmp").glob("build-*"))    # no work container left
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo ok > /ok\n")
    good, _ = build(lab, ctx, tags=["broken:1"])
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo ok > /ok\nCOPY missing.txt /\n")
    with pytest.raises(BuildError, match='"/missing.txt": not found'):
        build(lab, ctx, tags=["broken:1"])
    assert lab.image("broken:1").image_id == good.config_digest            # a failed build moves no tag


def labkit_home_of(lab) -> Path:
    return Path(lab.home)


def test_failed_step_event_and_parse_errors(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN apt-get update\n"})
    rec = Recorder()
    with pytest.raises(BuildError):
        lab.build(ctx, progress=rec, clock=lambda: 0.0)
    errors = [e for e in rec.events if isinstance(e, VertexCompleted) and e.error]
    assert len(errors) == 1
    (ctx / "Dockerfile").write_text("FORM busybox\n")
    with pytest.raises(BuildError, match=r"^dockerfile parse error on line 1: unknown instruction: FORM "
                                         r"\(did you mean FROM\?\)$"):
        lab.build(ctx)
    (ctx / "Dockerfile").write_text("FROM busybox AS app\nCOPY --from=later /x /x\nFROM busybox AS later\n")
    with pytest.raises(BuildError, match='cannot copy from stage "later", it needs to be defined before '
                                         'current stage "app"'):
        lab.build(ctx, target="app")
    (ctx / "Dockerfile").write_text("")
    with pytest.raises(BuildError, match="the Dockerfile cannot be empty"):
        lab.build(ctx)
    (ctx / "Dockerfile").unlink()
    with pytest.raises(BuildError, match="failed to read dockerfile: open Dockerfile: no such file or directory"):
        lab.build(ctx)
    with pytest.raises(BuildError, match='invalid tag "App:1"'):
        lab.build(tmp_path, tags=["App:1"])


# --- reproducible images -----------------------------------------------------------------------------------------

def test_same_image_id_in_two_homes_whatever_the_file_times(tmp_path, monkeypatch, lab_images_registry):
    from labkit.home import save_settings

    import random

    epoch = 1700000000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    ids = []
    for n, seed in enumerate((1, 2)):
        home = tmp_path / f"home{n}"
        home.mkdir()
        save_settings(home, {"registry-mirrors": [lab_images_registry.url]})
        ctx = app_context(tmp_path / f"machine{n}")
        rng = random.Random(seed)             # each machine's checkout: its own time for every path (after epoch)
        for p in sorted([ctx, *ctx.rglob("*")], reverse=True):
            when = rng.randrange(epoch, epoch + 10**8) + rng.random()
            os.utime(p, (when, when))
        lab = Lab(home)
        result, _ = build(lab, ctx, tags=["app:1"])
        ids.append((result.config_digest, result.manifest_digest))
        doc = config(lab, "app:1")
        assert doc["created"] == "2023-11-14T22:13:20Z"
        assert {h["created"] for h in doc["history"][2:]} == {"2023-11-14T22:13:20Z"}
        assert {t.mtime for t in layer_members(lab, "app:1").values()} <= {epoch}
    assert ids[0] == ids[1]



def test_run_heredoc_stage_inheritance_and_copy_flags(lab, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox AS base
ENV APP=/srv
RUN <<EOF
mkdir -p /srv/data
echo one > /srv/data/1.txt
EOF
FROM base AS child
WORKDIR $APP
COPY --from=0 /srv/data/1.txt ./copied.txt
COPY --exclude=*.md docs/ /docs/
COPY --parents src/a/x.txt src/b/y.txt /tree/
""", "Dockerfile.dockerignore": "docs/private.txt\n", ".dockerignore": "nothing-to-exclude\n",
        "docs/guide.txt": "g", "docs/notes.md": "n", "docs/private.txt": "p", "src/a/x.txt": "x", "src/b/y.txt": "y"})
    _, rec = build(lab, ctx, tags=["flags:1"])
    view = lab.view("flags:1")
    assert view.read("srv/data/1.txt") == b"one\n" and view.read("srv/copied.txt") == b"one\n"
    assert view.listdir("docs") == ["guide.txt"]             # --exclude, and Dockerfile.dockerignore wins
    assert view.read("tree/src/a/x.txt") == b"x" and view.read("tree/src/b/y.txt") == b"y"
    assert "[base 2/2] RUN <<EOF (mkdir -p /srv/data...)" in [v.name for v in rec.vertices()]
    assert config(lab, "flags:1")["config"]["WorkingDir"] == "/srv"


def test_workdir_owned_by_user_and_unknown_owners(lab, tmp_path):
    lab.pull("busybox")
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nUSER nobody\nWORKDIR /home/app\n"})
    build(lab, ctx, tags=["owned:1"])
    node = lab.view("owned:1").lookup("home/app")
    passwd = lab.view("busybox").read("etc/passwd").decode()
    nobody = next(line.split(":") for line in passwd.splitlines() if line.startswith("nobody:"))
    assert (node.uid, node.gid) == (int(nobody[2]), int(nobody[3]))
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY --chown=nosuchuser Dockerfile /\n")
    with pytest.raises(BuildError, match="can't find uid for user nosuchuser: no such user: nosuchuser"):
        build(lab, ctx)


def test_dockerfile_elsewhere_and_build_arg_from_the_environment(lab, tmp_path, monkeypatch):
    from labkit.cli import main

    ctx = write(tmp_path / "ctx", {"a.txt": "a"})
    dockerfile = write(tmp_path / "df", {"Dockerfile.dev": "FROM busybox\nARG WHO\nCOPY a.txt /$WHO.txt\n"})
    monkeypatch.setenv("WHO", "from-env")
    out, err = io.StringIO(), io.StringIO()
    status = main(["build", "-q", "-t", "dev:1", "-f", str(dockerfile / "Dockerfile.dev"), "--build-arg", "WHO",
                   str(ctx)], out=out, err=err)
    assert status == 0, err.getvalue()
    assert lab.view("dev:1").read("from-env.txt") == b"a"
