"""`docker build` with BuildKit's rules: plan the Dockerfile, decide each step from the cache, run the rest,
export the image (disk level: the store, the layer store, containers).

    builder = Builder(store, layer_store, home, pull=lab_pull)
    result = builder.build(BuildRequest(context="app", tags=["app:1"]), progress=PlainDisplay(sys.stderr))

`pull(ref, platform, keep)` pulls a base image the store does not list and returns its PullResult, naming
nothing (labkit.pull's `keep`): the builder holds the image in its cache, as BuildKit does.

The order of the output is BuildKit's: load the Dockerfile, load the base images' metadata, load
.dockerignore, then the stages' steps (FROM, the context transfer before the first COPY that needs it,
RUN/COPY/ADD/WORKDIR, each CACHED or DONE), then "exporting to image". A step's cache key chains its parent's
key with what it does after substitution (RUN: command, environment with the stage's ARGs, working
directory, user; COPY/ADD: a checksum of the selected source files, destination and flags; WORKDIR: path
and user), so a change re-runs that step and every later step of its stage. As in BuildKit's solver, a step
after one that ran in this build runs too (a step offers no cache key through an execution), and --no-cache
(or --no-cache-filter STAGE) forces the RUN, COPY and ADD steps (not FROM, not WORKDIR) and so everything
after the first of them. Metadata instructions (ENV, LABEL, CMD, ...) make no step: changing a LABEL re-runs
nothing; changing an ENV re-runs the later RUNs.

With SOURCE_DATE_EPOCH (the environment or a build argument), every time the image holds is clamped to it
(file times in new layers, history, config `created`), BuildKit's rewrite-timestamp: the same context gives
the same image ID in any home, whatever its files' modification times.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..digest import Digest
from ..errors import LabkitError, NotFound
from . import plan as planning
from .cache import BuildCache, CacheRecord, SourceRecord
from .checks import CheckOptionError, check, lint_error
from .context import BuildContext, ContextError, MetadataCache
from .display import units_bytes
from .dockerfile import DockerfileSyntaxError
from .dockerignore import IgnorePatternError, read_ignore
from .events import BuildFailed, Progress, StepInfo
from .instructions import InstructionError
from .shellwords import ShellWordError
from .steps import (Copier, SourceEntry, StepFailed, archive_entries, context_entries, fetch_url, layer_of,
                    resolve_owner, run_command, run_failed, view_checksum, view_entries, view_resolve)

GRAPHDRIVER, CONTAINERD = "graphdriver", "containerd"
_DOCKER_TO_OCI = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


class BuildError(LabkitError):
    """A build that failed: BuildKit's message, and the Dockerfile lines it points at (0: none)."""

    def __init__(self, message: str, start: int = 0, end: int = 0):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = max(end, start)


@dataclass
class BuildRequest:
    """What `docker build` is asked: the context, the Dockerfile (a path, or its text), tags, build
    arguments, the target stage, cache switches, labels and platform."""

    context: "str | os.PathLike"
    dockerfile: "str | os.PathLike | None" = None
    dockerfile_text: "str | None" = None
    tags: list = field(default_factory=list)
    build_args: dict = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    no_cache_filter: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)
    platform: "str | None" = None


@dataclass
class BuildResult:
    """A built image: its record in the store, its config digest (graphdriver's image ID), its manifest
    digest (containerd's image ID), and what each step did."""

    record: object
    config_digest: Digest
    manifest_digest: Digest
    steps: list
    tags: list
    plan: object = None          # the labkit.build.plan.Plan that was built (stages, instructions)

    def image_id(self, image_store: str = GRAPHDRIVER) -> Digest:
        """Return the image ID in `image_store`'s terms (config digest, or manifest digest for containerd)."""
        return self.manifest_digest if image_store == CONTAINERD else self.config_digest


@dataclass
class Layer:
    diff_id: Digest
    desc: object              # oci.Descriptor of the blob
    created: "str | None"     # when the step ran (None: a base image's layer)


@dataclass
class StageResult:
    """A state of the build: its layers, its cache key, its merged view (made on demand), and whether a step
    that ran in this build made it (then no later step of its chain can come from the cache)."""

    layers: list
    key: str
    view: object = None
    ran: bool = False


def _key(*parts) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def epoch_from(build_args: dict) -> "int | None":
    """Return SOURCE_DATE_EPOCH from the build arguments or the environment (buildx passes the environment's
    as a build argument), None when unset or empty."""
    text = build_args.get("SOURCE_DATE_EPOCH", os.environ.get("SOURCE_DATE_EPOCH", ""))
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise BuildError(f'invalid SOURCE_DATE_EPOCH: "{text}"') from None


class Builder:
    """Builds images from Dockerfiles into one home's store (see the module's docstring)."""

    def __init__(self, store, layer_store, home: "str | os.PathLike", pull: "Callable | None" = None,
                 clock: "Callable[[], float] | None" = None, image_store: str = GRAPHDRIVER):
        self.store = store
        self.layer_store = layer_store
        self.home = Path(home).absolute()
        self.pull = pull
        self.clock = clock
        self.image_store = image_store
        self.cache = BuildCache(self.home, store)

    # -- the build

    def build(self, req: BuildRequest, progress: "Callable | None" = None) -> BuildResult:
        """Build the image `req` asks for; return a BuildResult. BuildError (after a BuildFailed event) when
        the build fails: nothing is tagged and no partial layer is kept."""
        self.progress = Progress(progress, self.clock)
        self.req = req
        self.claims: list = []
        self.workdir = self.home / "tmp" / f"build-{os.getpid()}-{secrets.token_hex(4)}"
        self.steps_info: list[StepInfo] = []
        self.pulled: set = set()
        self.source = ""
        self.filename = "Dockerfile"
        self.context: "BuildContext | None" = None
        self.context_loaded = False
        self.context_shown = False
        self.keys: dict = {}
        self.results: dict = {}
        self.epoch = None
        self._sweep_stale()
        try:
            return self._build()
        except BuildError as e:
            self.progress.emit(BuildFailed(e.message, e.start, e.end, self.filename, self.source))
            raise
        finally:
            with contextlib.suppress(OSError):
                if self.context is not None:
                    self.context.cache.save()
            if self.claims:                   # new layers: pin them before the claims that protect them go
                with self.cache.lock():
                    self.cache.pin()
            for c in self.claims:
                c.release()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _sweep_stale(self) -> None:
        """Remove work directories of builds whose process is gone (a crash leaves no lasting debris)."""
        tmp = self.home / "tmp"
        if not tmp.is_dir():
            return
        for p in tmp.glob("build-*-*"):
            try:
                pid = int(p.name.split("-")[1])
                os.kill(pid, 0)
            except (ValueError, IndexError):
                continue
            except ProcessLookupError:
                shutil.rmtree(p, ignore_errors=True)
            except PermissionError:
                continue

    def _build(self) -> BuildResult:
        req = self.req
        for tag in req.tags:
            self._check_tag(tag)
        self.epoch = epoch_from(req.build_args)
        ctx_dir = Path(req.context).absolute()
        if not ctx_dir.is_dir():
            raise BuildError(f'unable to prepare context: path "{req.context}" not found')
        self._load_definition(ctx_dir)
        build_args = dict(req.build_args)
        try:
            the_plan = planning.make_plan(self.source, self._resolve, build_args, req.target, req.platform,
                                          req.labels, req.no_cache_filter, self.epoch)
        except (DockerfileSyntaxError,) as e:
            raise BuildError(e.message, e.start, e.end) from None
        except (InstructionError, planning.PlanError) as e:
            raise BuildError(e.message, e.line, e.end_line) from None
        except ShellWordError as e:
            raise BuildError(str(e)) from None
        self.plan = the_plan
        self._load_ignore(ctx_dir)
        if self.lint_config.error and self.lint_warnings:   # `# check=error=true`: BuildKit fails before solving
            raise BuildError(lint_error(self.lint_warnings))
        target = self._stage(the_plan.target)
        return self._export(the_plan, target)

    def _check_tag(self, tag: str) -> None:
        from ..reference import Reference

        try:
            ref = Reference.parse(tag)
        except LabkitError as e:
            raise BuildError(f'invalid tag "{tag}": {e}') from None
        if ref.digest is not None:
            raise BuildError(f'invalid tag "{tag}": the tag can not include a digest')

    def _load_definition(self, ctx_dir: Path) -> None:
        req = self.req
        if req.dockerfile_text is not None:
            self.source = req.dockerfile_text
            self.filename = "Dockerfile"
        else:
            path = Path(req.dockerfile) if req.dockerfile else ctx_dir / "Dockerfile"
            if not path.is_absolute() and req.dockerfile:
                path = Path(req.dockerfile).absolute()
            self.filename = path.name
            self.dockerfile_path = path
        v = self.progress.start(f"[internal] load build definition from {self.filename}")
        if req.dockerfile_text is None:
            try:
                raw = self.dockerfile_path.read_bytes()
            except FileNotFoundError:
                self.progress.error(v, f"failed to read dockerfile: open {self.filename}: no such file or directory")
                raise BuildError(f"failed to read dockerfile: open {self.filename}: no such file or directory") \
                    from None
            except IsADirectoryError:
                raise BuildError(f"failed to read dockerfile: read {self.filename}: is a directory") from None
            self.source = raw.decode("utf-8", "surrogateescape")
        size = len(self.source.encode("utf-8", "surrogateescape"))
        self.progress.status(v, f"transferring dockerfile: {units_bytes(size)}")
        try:
            self.lint_warnings, self.lint_config = check(self.source, req.target)
        except CheckOptionError as e:           # dockerfile2llb newRuleLinter
            self.progress.done(v)
            raise BuildError(f"failed to parse check options: {e}") from None
        for w in self.lint_warnings:
            self.progress.warn(v, w.short, w.rule, w.url, w.line)
        self.progress.done(v)
        if not self.source.strip("\ufeff"):
            raise BuildError("the Dockerfile cannot be empty")

    def _load_ignore(self, ctx_dir: Path) -> None:
        patterns: list = []
        text = None
        candidates = []
        if self.req.dockerfile_text is None:
            candidates.append(self.dockerfile_path.with_name(self.dockerfile_path.name + ".dockerignore"))
        candidates.append(ctx_dir / ".dockerignore")
        for p in candidates:
            if p.is_file():
                text = p.read_bytes()
                break
        v = self.progress.start("[internal] load .dockerignore")
        size = len(text) if text is not None else 2
        self.progress.status(v, f"transferring context: {units_bytes(size)}")
        self.progress.done(v)
        if text is not None:
            patterns = read_ignore(text)
        try:
            digest = hashlib.sha256(str(ctx_dir).encode("utf-8", "surrogateescape")).hexdigest()
            cache = MetadataCache(self.home / "buildcache" / "contexts" / f"{digest}.json")
            self.context = BuildContext(ctx_dir, patterns, cache)
        except IgnorePatternError as e:
            raise BuildError(f"failed to parse .dockerignore: {e}") from None

    # -- base images

    def _resolve(self, name: str, platform) -> planning.BaseImage:
        """Find (or pull) a base image; emit BuildKit's "[internal] load metadata for ..." vertex once per image."""
        from ..reference import Reference

        try:
            ref = Reference.parse(name).with_default_tag()
        except LabkitError as e:
            raise planning.PlanError(f'failed to parse stage name "{name}": {e}') from None
        key = (str(ref), str(platform) if platform else "")
        cached = getattr(self, "_bases", {}).get(key)
        if cached is not None:
            return cached
        v = self.progress.start(f"[internal] load metadata for {ref}")
        try:
            record = self.store.resolve(str(ref))
        except NotFound:
            record = None
        if record is not None:
            # a listed image serves only for the platform built for (the host's by default): moby's image source
            # (builder-next adapters/containerimage) checks the registry when the local image's differs
            from ..oci.platforms import Platform

            want = platform or Platform.host()
            cfg = self.store.config(record)
            if (cfg.os, cfg.architecture) != (want.os, want.architecture):
                record = None
        if record is None:
            if self.pull is None:
                self.progress.error(v, f"{ref}: not found")
                raise planning.PlanError(f"{name}: failed to resolve source metadata for {ref}: not found")
            # Not among the images: BuildKit pulls it into its build cache, and `docker images` never lists it
            # (nor does a --platform build move the local tag); an unchanged image downloads nothing again.
            try:
                result = self.pull(str(ref), str(platform) if platform else None,
                                   lambda manifest, digests: self._keep_base(ref, platform, manifest, digests))
            except LabkitError as e:
                message = (f"{name}: failed to resolve source metadata for {ref}: "
                           + " ".join(str(e).split()))
                self.progress.error(v, message.split(": ", 1)[1])
                raise planning.PlanError(message) from None
            record = result.record
            if result.downloaded:
                self.pulled.add(str(record.image_id))
        self.progress.done(v)
        manifest_digest = record.index_digest or record.manifest.digest
        config = self.store.config(record)
        base = planning.BaseImage(name=f"{ref}@{manifest_digest}", config=json.loads(config.raw),
                                  identity=str(record.image_id), record=record, ref=str(ref))
        if not hasattr(self, "_bases"):
            self._bases = {}
        self._bases[key] = base
        return base

    def _keep_base(self, ref, platform, manifest, digests) -> None:
        """Hold a pulled base image's blobs in the build cache (pinned), as BuildKit keeps the images it pulls."""
        from ..clock import now, rfc3339

        source = SourceRecord(ref=str(ref), platform=str(platform) if platform else "",
                              manifest=str(manifest.digest), digests=[str(d) for d in digests],
                              layers=[[str(d.digest), d.size] for d in manifest.layers], created=rfc3339(now()))
        with self.cache.lock():
            self.cache.put_source(source)
            self.cache.pin()

    # -- stages

    def _stage(self, sp: "planning.StagePlan") -> StageResult:
        """Return the result of stage `sp`, building it (and what it needs) first."""
        done = self.results.get(id(sp))
        if done is not None:
            return done
        for step in sp.steps:             # the stages it copies from come first, as BuildKit's graph orders them
            if step.from_stage is not None and step.from_stage is not sp:
                self._stage(step.from_stage)
        if sp.base_kind == "stage":
            parent = self._stage(sp.base_stage)
            state = StageResult(list(parent.layers), parent.key, parent.view, parent.ran)
        elif sp.base_kind == "scratch":
            state = StageResult([], _key("scratch", str(sp.platform)))
        else:
            state = None
        for i, step in enumerate(sp.steps):
            if step.kind == "from":
                state = self._from(sp, step, sp.steps[i + 1] if i + 1 < len(sp.steps) else None)
                continue
            state = self._step(sp, step, state)
        if state is None:
            state = StageResult([], _key("scratch", str(sp.platform)))
        self.results[id(sp)] = state
        return state

    def _from(self, sp, step, following) -> StageResult:
        """The FROM vertex. BuildKit's image source computes its cache key first (the "resolve" status), which
        ends the vertex as DONE (solver/jobs.go CacheMap: a vertex without inputs); the image's result is loaded
        only when a step needs it, which marks the vertex CACHED (LoadCache): when the step after FROM runs, or
        when none follows in the stage. A base pulled by this build is DONE after its layers' statuses."""
        base = sp.base
        record = base.record
        v = self.progress.start(step.name)
        self.progress.status(v, f"resolve {base.name}")
        manifest = self.store.manifest(record)
        config = self.store.config(record)
        layers = [Layer(d, desc, None) for d, desc in zip(config.diff_ids, manifest.layers)]
        fresh = str(record.image_id) in self.pulled
        state = StageResult(layers, _key("from", base.identity, str(sp.platform)))
        if fresh:
            for desc in manifest.layers:
                self.progress.status(v, f"sha256:{desc.digest.hex}", desc.size, desc.size)
            for desc in manifest.layers:
                self.progress.status(v, f"extracting sha256:{desc.digest.hex}")
            self.progress.done(v)
        else:
            self.progress.done(v, cached=following is None or self._runs(following, state))
        self._info(step, v, not fresh, None, 0, state.key)
        return state

    def _info(self, step, vertex, cached, layer, size, key) -> None:
        info = StepInfo(vertex, step.stage.label, step.instruction or step.name, step.line, cached,
                        str(layer) if layer is not None else None, size, key, step.kind)
        self.steps_info.append(info)
        self.progress.emit(info)

    def _view(self, state: StageResult):
        from ..imageview import ImageView

        if state.view is None:
            trees = [self._tree(layer) for layer in state.layers]
            state.view = ImageView(trees)
        return state.view

    def _tree(self, layer: Layer):
        if self.layer_store.has(layer.diff_id):
            return self.layer_store.tree(layer.diff_id)
        return self.layer_store.ensure(layer.diff_id, self.store.layout.blob_path(layer.desc.digest),
                                       layer.desc.media_type)

    def _forced(self, step) -> bool:
        """Return True when the cache is ignored for `step` itself: RUN, COPY and ADD under --no-cache or of a
        stage --no-cache-filter names (dockerfile2llb's llb.IgnoreCache; WORKDIR's mkdir and FROM have none)."""
        return step.kind in ("run", "copy") and (self.req.no_cache or step.no_cache)

    def _runs(self, step, state: StageResult) -> bool:
        """Return True when `step` will run over `state` (no cache hit), without reporting anything."""
        if state.ran or self._forced(step):
            return True
        try:
            key, _ = self._decide_key(step, state)
        except (ContextError, StepFailed, OSError):
            return False                  # it fails before anything loads its parent
        return self.cache.get(key) is None

    def _decide_key(self, step, state: StageResult):
        """Return (cache key, what the run needs) of `step` over `state`, computed once per build (a URL is
        fetched once even when the key was asked for ahead of the step)."""
        memo = self.keys.get(id(step))
        if memo is not None and memo[0] == state.key:
            if isinstance(memo[1], BaseException):
                raise memo[1]
            return memo[1]
        try:
            found = self._step_key(step, state)
        except (ContextError, StepFailed, OSError) as e:
            self.keys[id(step)] = (state.key, e)
            raise
        self.keys[id(step)] = (state.key, found)
        return found

    def _step(self, sp, step, state: StageResult) -> StageResult:
        """Decide `step` and run it when the cache cannot give it. A step whose parent ran in this build runs
        too: BuildKit's solver offers no cache key through a step that executed (solver/edge.go), and a step
        forced by --no-cache or --no-cache-filter re-runs its whole chain after it."""
        if step.kind == "copy" and step.from_stage is None and any(
                not s.startswith(("http://", "https://")) for s in step.sources):
            self._show_context()
        try:
            key, prepare = self._decide_key(step, state)
        except (ContextError, StepFailed) as e:
            v = self.progress.start(step.name)
            message = self._context_error(e) if isinstance(e, ContextError) else str(e)
            self.progress.error(v, message)
            raise BuildError(message, step.line, step.end_line) from None
        rec = None if state.ran or self._forced(step) else self.cache.get(key)
        v = self.progress.start(step.name)
        if rec is not None:
            from ..clock import now, rfc3339

            with self.cache.lock():            # LAST USED and USAGE of `system df -v`
                self.cache.touch(rec, rfc3339(now()))
            self.progress.done(v, cached=True)
            self._info(step, v, True, rec.diff_id, rec.uncompressed, key)
            return self._next(state, rec, key, ran=False)
        try:
            rec = self._run_step(step, state, key, v, prepare)
        except StepFailed as e:
            self.progress.error(v, str(e))
            raise BuildError(str(e), step.line, step.end_line) from None
        except OSError as e:
            message = f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
            self.progress.error(v, message)
            raise BuildError(message, step.line, step.end_line) from None
        self.progress.done(v)
        self._info(step, v, False, rec.diff_id, rec.uncompressed, key)
        return self._next(state, rec, key, ran=True)

    def _next(self, state: StageResult, rec: CacheRecord, key: str, ran: bool) -> StageResult:
        from ..oci import Descriptor

        layer = Layer(Digest.parse(rec.diff_id), Descriptor(rec.media_type, Digest.parse(rec.digest), rec.size),
                      rec.created)
        view = None
        if state.view is not None:
            view = state.view.extend([self._tree(layer)])
        return StageResult([*state.layers, layer], key, view, ran)

    def _context_error(self, e: ContextError) -> str:
        ref = hashlib.sha256(str(self.context.root if self.context else "").encode()).hexdigest()
        ident = int(ref[:32], 16)
        chars = "0123456789abcdefghijklmnopqrstuvwxyz"
        out = ""
        while ident and len(out) < 25:
            ident, r = divmod(ident, 36)
            out += chars[r]
        return f"failed to compute cache key: failed to calculate checksum of ref {out}::{out[::-1]}: {e}"

    # -- cache keys

    def _load_context(self) -> None:
        """Checksum every context source of the plan once, reading only the files the metadata cache does not
        know (what BuildKit's "[internal] load build context" transfers and hashes)."""
        if self.context_loaded:
            return
        self.context_loaded = True
        self.context_sums: dict = {}
        for sp in self.plan.stages:
            for step in sp.steps:
                if step.kind != "copy" or step.from_stage is not None:
                    continue
                for src in step.sources:
                    if src.startswith(("http://", "https://")) or src in self.context_sums:
                        continue
                    try:
                        matches = self.context.resolve(src)
                        self.context_sums[src] = (matches, self.context.checksum(matches))
                    except ContextError as e:
                        self.context_sums[src] = e

    def _show_context(self) -> None:
        """The "[internal] load build context" vertex, once, before the first step that copies from the
        context (the checksums may already be known: a FROM asks whether the step after it hits)."""
        if self.context_shown:
            return
        self.context_shown = True
        v = self.progress.start("[internal] load build context")
        self._load_context()
        self.progress.status(v, f"transferring context: {units_bytes(self.context.bytes_read)}")
        self.progress.done(v)

    def _step_key(self, step, state: StageResult):
        """Return (cache key, what the run needs) of a step."""
        parent = state.key
        if step.kind == "run":
            mounts = sorted((k, v.hex()) for k, v in step.dev_mounts.items())   # [] keeps older keys as they were
            return _key(parent, "run", step.argv, step.env, step.cwd, step.user, step.network, self.epoch,
                        *([mounts] if mounts else [])), None
        if step.kind == "workdir":
            return _key(parent, "workdir", step.path, step.user, self.epoch), None
        # copy / add
        sums = []
        prepared = []
        if step.from_stage is not None:
            src_state = self._stage(step.from_stage)
            view = self._view(src_state)
            for src in step.sources:
                selected = view_resolve(view, src)
                sums.append(view_checksum(view, selected))
                prepared.append(("view", src, view, selected))
        else:
            for src in step.sources:
                if src.startswith(("http://", "https://")):
                    path, mtime = fetch_url(src, self._scratch_dir())
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    if step.checksum and step.checksum != f"sha256:{digest}":
                        raise StepFailed(f"digest mismatch {step.checksum}: sha256:{digest}")
                    sums.append(f"url {src} sha256:{digest}")
                    prepared.append(("url", src, path, mtime))
                    continue
                self._load_context()
                found = self.context_sums.get(src)
                if isinstance(found, ContextError):
                    raise found
                matches, checksum = found
                sums.append(checksum)
                prepared.append(("context", src, matches, None))
        flags = {"dest": step.dest, "chown": step.chown, "chmod": step.chmod, "link": step.link,
                 "excludes": step.excludes, "parents": step.parents, "add": step.is_add, "unpack": step.unpack}
        contents = [(c.path, c.data) for c in step.contents]
        return _key(parent, "copy", flags, step.sources, sums, contents, self.epoch), prepared

    def _scratch_dir(self) -> Path:
        d = self.workdir / f"dl-{secrets.token_hex(4)}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- running a step

    def _now(self) -> int:
        from ..clock import now_seconds

        return now_seconds()

    def _run_step(self, step, state: StageResult, key: str, vertex: int, prepared) -> CacheRecord:
        from ..clock import now, rfc3339
        from ..containers import Container

        view = self._view(state)
        root = self.workdir / f"step-{vertex}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        container = Container.detached(root, view)
        try:
            with container.batch():
                if step.kind == "run":
                    container.dev_mounts = step.dev_mounts
                    output, status = run_command(container, step.argv, step.env, step.cwd, step.user)
                    if output:
                        self.progress.log(vertex, output)
                    if status != 0:
                        raise run_failed(step.argv, status)
                elif step.kind == "workdir":
                    owner = resolve_owner(container, step.user) if step.user else (0, 0)
                    Copier(container, owner, "", self._now()).ensure_dir(step.path)
                else:
                    self._copy(container, step, prepared)
            desc, diff_id, usize, claim = layer_of(container, self.store, self.layer_store, self.epoch)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        self.claims.append(claim)
        rec = CacheRecord(key=key, description=step.name, diff_id=str(diff_id), digest=str(desc.digest),
                          size=desc.size, media_type=desc.media_type, uncompressed=usize, created=rfc3339(now()),
                          last_used=rfc3339(now()))
        with self.cache.lock():
            self.cache.put(rec)
        return rec

    def _copy(self, container, step, prepared) -> None:
        owner = resolve_owner(container, step.chown) if step.chown else None
        copier = Copier(container, owner, step.chmod, self._now(), step.excludes)
        items = []           # (entries, name, is_dir, parents_rel)
        for kind, src, a, b in prepared:
            if kind == "context":
                for m in a:
                    entries = context_entries(self.context, m)
                    if step.is_add and step.unpack is not False and m.type == "file":
                        unpacked = archive_entries(m.disk)
                        if unpacked is not None:
                            items.append((_as_dir(unpacked, self._now()), "", True, m.path))
                            continue
                    items.append((entries, m.path.rsplit("/", 1)[-1], m.type == "dir", m.path))
            elif kind == "view":
                for path, node in b:
                    items.append((view_entries(a, path, node), path.rsplit("/", 1)[-1] if path else "",
                                  node.type == "dir", path))
            else:                                               # a URL: one file, 0600, not unpacked
                path, mtime = a, b
                name = src.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "__unnamed__"
                entry = SourceEntry("", "file", 0o600, mtime or self._now(), disk=path)
                if step.unpack:
                    unpacked = archive_entries(path)
                    if unpacked is not None:
                        items.append((_as_dir(unpacked, self._now()), "", True, ""))
                        continue
                items.append((iter([entry]), name, False, name))
        for c in step.contents:
            entry = SourceEntry("", "file", 0o644, self._now(), data=c.data.encode("utf-8", "surrogateescape"))
            items.append((iter([entry]), c.path, False, c.path))
        # Each source (each wildcard match) is copied on its own, as fsutil's Copy does: a file goes into the
        # destination when it ends in "/" or is a directory by then, else it becomes the destination. So
        # `COPY a.txt b.txt /dst` without the slash leaves /dst a file holding b.txt (moby/buildkit#1853),
        # though the Dockerfile reference asks for the slash.
        dest = step.dest
        for entries, name, is_dir, rel in items:
            target = dest
            if step.parents and rel:
                parent = os.path.dirname(rel.split("/./", 1)[-1])
                target = os.path.join(dest, parent) + "/" if parent else dest
            into_dir = target.endswith("/")
            if not into_dir:
                with contextlib.suppress(OSError):
                    into_dir = container.stat(target).type == "dir"
            copier.copy_item(entries, target, into_dir or is_dir, name)

    # -- the image

    def _history_times(self, sp, layers_by_history: dict, base_entries: int) -> list:
        """Fill each new history entry's `created` as BuildKit's exporter does (normalizeLayersAndHistory and
        patchImageConfig); the first `base_entries` are the base image's, kept as they are."""
        history = [dict(h) for h in sp.history]
        for i, created in layers_by_history.items():
            history[i]["created"] = created
        if self.epoch is not None:
            from datetime import datetime, timezone

            from ..clock import rfc3339

            stamp = rfc3339(datetime.fromtimestamp(self.epoch, tz=timezone.utc))
            for h in history[base_entries:]:
                h["created"] = stamp
            return history
        created = None
        missing = False
        for h in history:
            if h.get("created") is not None:
                created = h["created"]
                if missing:
                    break
            else:
                missing = True
        missing = False
        for h in history:
            if h.get("created") is not None:
                if missing:
                    created = h["created"]
            else:
                missing = True
                h["created"] = created
        return history

    def _export(self, the_plan, state: StageResult) -> BuildResult:
        from ..clock import now, rfc3339
        from ..oci import Descriptor, ImageConfig, Manifest
        from ..oci.mediatypes import OCI_CONFIG, OCI_MANIFEST
        from ..reference import Reference

        sp = the_plan.target
        v = self.progress.start("exporting to image")
        start = self.progress.clock()
        # which history entry each new layer fills: the steps of this stage and of the stages below it
        chain = []
        s = sp
        while s is not None:
            chain.append(s)
            s = s.base_stage if s.base_kind == "stage" else None
        created_by_history = {}
        layer_steps = [st for s in reversed(chain) for st in s.steps if st.kind != "from"]
        new_layers = [layer for layer in state.layers if layer.created is not None]
        for st, layer in zip(layer_steps, new_layers):
            created_by_history[st.history] = layer.created
        history = self._history_times(sp, created_by_history, chain[-1].base_history)
        created = next((h["created"] for h in reversed(history) if h.get("created")), None) or rfc3339(now())
        platform = sp.platform
        if the_plan.platform is not None:
            platform = the_plan.platform
        config = {k: v2 for k, v2 in sp.config.items() if v2 is not None}
        raw = ImageConfig.build(diff_ids=[str(layer.diff_id) for layer in state.layers], platform=platform,
                                created=created, author=sp.author, config=config,
                                history=[{k: h[k] for k in h if h[k] is not None} for h in history])
        cfg = ImageConfig.from_bytes(raw)
        layers = [Descriptor(_DOCKER_TO_OCI.get(layer.desc.media_type, layer.desc.media_type), layer.desc.digest,
                             layer.desc.size) for layer in state.layers]
        manifest = Manifest.build(cfg.descriptor(OCI_CONFIG), layers, media_type=OCI_MANIFEST)
        self.progress.status(v, "exporting layers", started=start)
        names = [str(Reference.parse(t).with_default_tag()) for t in self.req.tags]
        with self.store.claim([cfg.digest, manifest.digest, *(d.digest for d in layers)]):
            self.store.layout.put_bytes(raw, cfg.digest)
            if self.image_store == CONTAINERD:
                self.progress.status(v, f"exporting manifest {manifest.digest}")
                self.progress.status(v, f"exporting config {cfg.digest}")
            else:
                self.progress.status(v, f"writing image {cfg.digest}")
            record = None
            for name in names:
                record = self.store.add_image(name, manifest, repo_digest=False)
                self.progress.status(v, f"naming to {name}")
                if self.image_store == CONTAINERD:
                    self.progress.status(v, f"unpacking to {name}")
            if record is None:
                from ..commit import record_image

                record = record_image(self.store, None, manifest, [])
        self.progress.done(v)
        return BuildResult(record, cfg.digest, manifest.digest, list(self.steps_info), names, the_plan)


def _as_dir(entries, mtime: int):
    """Return an archive's entries as the contents of a directory item (its root first)."""
    yield SourceEntry("", "dir", 0o755, mtime)
    yield from entries
