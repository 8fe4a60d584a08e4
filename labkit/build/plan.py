"""From parsed stages to a build plan, as BuildKit's dockerfile2llb converts a Dockerfile (pure).

The plan is what BuildKit's frontend hands to its solver: for each stage the target needs, the steps that
change files (FROM, RUN, COPY, ADD, WORKDIR: BuildKit's vertices, named "[stage 2/4] COPY . ."), with every
variable already substituted, plus the image configuration and history the metadata instructions (ENV,
LABEL, CMD, ...) build up. Nothing here touches the disk: base images come from a `resolve` callback, and the
builder (labkit.build.builder) runs the steps.

The rules follow moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go:
- ARGs before the first FROM are global: only FROM lines (and `ARG NAME` re-declarations) see them; an ARG
  inside a stage is in scope from its line to the end of the stage, and is part of each later RUN's
  environment (so a changed value re-runs those RUN steps); `--build-arg` only sets declared ARGs;
- ENV values are in the image and in every later step's environment; an instruction is expanded with the
  environment as it was before it (`ENV A=1 B=$A` gives B the old A);
- only the stages the target needs are planned (its base stages and `COPY --from` stages);
- history entries are BuildKit's ("RUN /bin/sh -c make # buildkit", "ENV A=1", comment
  "buildkit.dockerfile.v0"), empty_layer for metadata steps.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..errors import LabkitError
from ..oci.platforms import Platform
from . import instructions as ins
from .dockerfile import Node, chomp_heredoc, parse, parse_heredoc
from .shellwords import Lexer, ShellWordError, go_quote

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # system.DefaultPathEnv("linux")
DEFAULT_SHELL = ["/bin/sh", "-c"]
HISTORY_COMMENT = "buildkit.dockerfile.v0"
SCRATCH = "scratch"
_NON_ENV_ARGS = ("BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE")

_SIGNALS = {"ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18, "FPE": 8, "HUP": 1, "ILL": 4,
            "INT": 2, "IO": 29, "IOT": 6, "KILL": 9, "PIPE": 13, "POLL": 29, "PROF": 27, "PWR": 30, "QUIT": 3,
            "SEGV": 11, "STKFLT": 16, "STOP": 19, "SYS": 31, "TERM": 15, "TRAP": 5, "TSTP": 20, "TTIN": 21,
            "TTOU": 22, "URG": 23, "USR1": 10, "USR2": 12, "VTALRM": 26, "WINCH": 28, "XCPU": 24, "XFSZ": 25}


class PlanError(LabkitError):
    """A Dockerfile BuildKit refuses while converting it; `line`/`end_line` locate it (0: nowhere)."""

    def __init__(self, message: str, line: int = 0, end_line: int = 0):
        super().__init__(message)
        self.message = message
        self.line = line
        self.end_line = max(end_line, line)


@dataclass
class BaseImage:
    """A base image the resolver found: its name as BuildKit shows it (with the digest), its config
    document, and its identity for the cache (the config digest)."""

    name: str                        # "docker.io/library/busybox:latest@sha256:..." (the FROM vertex)
    config: dict
    identity: str
    record: object = None
    ref: str = ""                    # "docker.io/library/busybox:latest" (the metadata vertex)


@dataclass
class Step:
    """A step that changes files (a BuildKit vertex), with everything substituted."""

    kind: str                  # from, run, copy, workdir
    name: str                  # the vertex name: "[build 2/4] COPY . ."
    line: int
    end_line: int
    stage: "StagePlan"
    instruction: str = ""      # the Dockerfile text (for widgets)
    history: int = -1          # the index of its history entry in the stage's history
    no_cache: bool = False
    # run
    argv: list = field(default_factory=list)
    env: list = field(default_factory=list)
    cwd: str = "/"
    user: str = ""
    network: str = ""
    dev_mounts: dict = field(default_factory=dict)   # read-only files under /dev: a heredoc with #! to run
    # copy / add
    sources: list = field(default_factory=list)
    contents: list = field(default_factory=list)
    dest: str = ""
    from_stage: "Optional[StagePlan]" = None
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: list = field(default_factory=list)
    parents: bool = False
    is_add: bool = False
    checksum: str = ""
    unpack: "bool | None" = None
    # workdir
    path: str = ""


@dataclass
class StagePlan:
    """One stage as planned: its display name, where it starts, its steps, its final config and history."""

    stage: ins.Stage
    name: str                        # BuildKit's: the stage name, "stage-N", or "" for a lone stage
    index: int
    base_kind: str = SCRATCH         # image, stage or scratch
    base: "BaseImage | None" = None
    base_stage: "Optional[StagePlan]" = None
    base_name: str = ""              # FROM's argument after substitution
    platform: "Platform | None" = None
    steps: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    base_history: int = 0            # how many history entries come from the base image
    author: str = ""
    env: dict = field(default_factory=dict)
    build_args: list = field(default_factory=list)
    total: int = 0
    count: int = 0
    cmd_set: bool = False
    unregistered: bool = False       # an image named by `COPY --from` (BuildKit's implicit stage)
    onbuild: list = field(default_factory=list)
    deps: list = field(default_factory=list)
    planned: bool = False
    workdir_set: bool = False
    no_cache: bool = False           # --no-cache-filter names this stage: its RUN/COPY/ADD steps re-run

    @property
    def label(self) -> str:
        """Return how a person names the stage ("build", "stage-1", or the base image for a --from image)."""
        return self.name or self.stage.name or (self.base_name if self.unregistered else f"stage-{self.index}")


@dataclass
class Plan:
    """The stages the target needs, in Dockerfile order, and the target."""

    stages: list
    target: StagePlan
    global_args: dict
    labels: dict
    platform: "Platform | None"
    epoch: "int | None"
    source: str = ""


Resolver = Callable[[str, "Platform | None"], BaseImage]


# --- helpers ---------------------------------------------------------------------------------------------

def normalize_path(base: str, path: str, keep_slash: bool) -> str:
    """Return `path` made absolute against `base` and cleaned, keeping a trailing slash when asked
    (BuildKit's system.NormalizePath)."""
    if not path.startswith("/"):
        path = posixpath.join(base or "/", path)
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if keep_slash and path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def dest_path(workdir: str, dest: str) -> str:
    """Return a COPY/ADD destination made absolute (pathRelativeToWorkingDir): "." is the working directory."""
    if dest.startswith("/"):
        return normalize_path("/", dest, True)
    if dest in (".", ""):
        dest = "./"
    return normalize_path(workdir or "/", dest, True)


def with_shell(config: dict, args: list) -> list:
    """Return a shell-form command as the image's shell runs it (SHELL, default /bin/sh -c)."""
    shell = list(config.get("Shell") or DEFAULT_SHELL)
    return [*shell, " ".join(args)]


def go_list(items) -> str:
    """Return a list as Go's %v prints a []string: "[a b c]"."""
    return "[" + " ".join(items) + "]"


def go_quoted_list(items) -> str:
    """Return a list as Go's %q prints a []string: '["a" "b"]'."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def parse_signal(text: str) -> str:
    """Check a STOPSIGNAL like moby/sys/signal.ParseSignal ("SIGKILL", "KILL", "9", "SIGRTMIN+3")."""
    if text.isdigit():
        if int(text) == 0:
            raise PlanError(f"Invalid signal: {text}")
        return text
    name = text.upper()
    name = name[3:] if name.startswith("SIG") else name
    if name in _SIGNALS or name.startswith("RTMIN") or name.startswith("RTMAX"):
        return text
    raise PlanError(f"Invalid signal: {text}")


def parse_ports(ports: list) -> list:
    """Return EXPOSE's ports as "port/proto" (ranges expanded, "ip:host:container/proto" keeps the container
    port), sorted as BuildKit writes them."""
    out = []
    for spec in ports:
        proto = "tcp"
        port = spec
        if "/" in spec:
            port, proto = spec.rsplit("/", 1)
            proto = proto.lower()
            if proto not in ("tcp", "udp", "sctp"):
                raise PlanError(f"invalid proto: {proto}")
        port = port.rsplit(":", 1)[-1]
        lo, _, hi = port.partition("-")
        try:
            start, end = int(lo), int(hi or lo)
        except ValueError:
            raise PlanError(f"invalid containerPort: {port}") from None
        if not (0 < start <= 65535 and 0 < end <= 65535) or end < start:
            raise PlanError(f"invalid containerPort: {port}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return sorted(set(out))


def _summarize_heredoc(doc: str) -> str:
    lines = doc.strip().replace("\r\n", "\n").split("\n")
    return lines[0] + ("..." if len(lines) > 1 else "")


def _uppercase_cmd(text: str) -> str:
    head, sep, rest = text.partition(" ")
    return head.upper() + sep + rest


# --- the planner -------------------------------------------------------------------------------------------

class Planner:
    """Converts parsed stages into a Plan (see the module's docstring)."""

    def __init__(self, stages: list, meta_args: list, escape: str, build_args: "dict | None" = None,
                 target: str = "", platform: "str | None" = None, labels: "dict | None" = None,
                 no_cache_filter: "list | None" = None, epoch: "int | None" = None, resolver: "Resolver | None" = None):
        self.stages = stages
        self.meta_args = meta_args
        self.lex = Lexer(escape)
        self.build_args = dict(build_args or {})
        self.target_name = target
        self.platform = Platform.parse(platform) if platform else None
        self.labels = dict(labels or {})
        self.no_cache_filter = {s.lower() for s in (no_cache_filter or [])}
        self.epoch = epoch
        self.resolver = resolver
        self.plans: list[StagePlan] = []
        self.by_name: dict[str, StagePlan] = {}

    # -- global arguments

    def default_args(self, target: str) -> dict:
        build = Platform.host()
        tp = self.platform or build
        values = {"BUILDPLATFORM": str(build), "BUILDOS": build.os, "BUILDOSVERSION": build.os_version,
                  "BUILDARCH": build.architecture, "BUILDVARIANT": build.variant, "TARGETPLATFORM": str(tp),
                  "TARGETOS": tp.os, "TARGETOSVERSION": tp.os_version, "TARGETARCH": tp.architecture,
                  "TARGETVARIANT": tp.variant, "TARGETSTAGE": target or "default"}
        return {k: self.build_args.get(k, v) for k, v in values.items()}

    def meta(self, args: dict) -> dict:
        for cmd in self.meta_args:
            for a in cmd.args:
                if a.key in self.build_args:
                    args[a.key] = self.build_args[a.key]
                elif a.value is not None:
                    args[a.key] = self._word(a.value, args, cmd)
        return args

    def _word(self, word: str, env: dict, where) -> str:
        try:
            return self.lex.process_word(word, env)
        except ShellWordError as e:
            raise PlanError(str(e), where.line, where.end_line) from None

    # -- planning

    def plan(self) -> Plan:
        """Return the Plan of the target (BuildKit's toDispatchState)."""
        target_name = self.target_name or self.stages[-1].name
        self.global_args = self.meta(self.default_args(target_name))
        for st in self.stages:
            base = self._word(st.base, self.global_args, st)
            if not base:
                raise PlanError(f"base name ({st.base}) should not be blank", st.line, st.end_line)
            sp = StagePlan(stage=st, name=st.name, index=st.index, base_name=base)
            if st.platform:
                text = self._word(st.platform, self.global_args, st)
                if not text:
                    raise PlanError(f"empty platform value from expression {st.platform}", st.line, st.end_line)
                try:
                    sp.platform = Platform.parse(text)
                except LabkitError as e:
                    raise PlanError(f"failed to parse platform {st.platform}: {e}", st.line, st.end_line) from None
            if not st.name:
                sp.name = f"stage-{st.index}"
            base_stage = self.by_name.get(base.lower())
            if base_stage is not None:
                sp.base_kind, sp.base_stage = "stage", base_stage
            elif base.lower() == SCRATCH:
                sp.base_kind = SCRATCH
            else:
                sp.base_kind = "image"
            self.plans.append(sp)
            if st.name:
                self.by_name[st.name.lower()] = sp
            sp.total = (1 if sp.base_kind == "image" else 0) + sum(
                1 for c in st.commands if isinstance(c, (ins.CopyInstruction, ins.RunInstruction, ins.WorkdirInstruction)))
            sp.no_cache = (st.name or "").lower() in self.no_cache_filter if st.name else False
        target = self._target()
        # `COPY --from` stages and images (BuildKit's toCommand): images become implicit stages
        for sp in list(self.plans):
            for c in sp.stage.commands:
                if isinstance(c, ins.CopyInstruction) and c.from_:
                    sp.deps.append(self._from_source(c, sp))
        if len(self.plans) == 1:
            self.plans[0].name = ""
        reachable = self._reachable(target)
        # base images: "[internal] load metadata for ..." in stage order, each image once
        for sp in self.plans:
            if sp in reachable and sp.base_kind == "image":
                self._resolve_base(sp)
        for sp in self.plans:
            if sp in reachable and not sp.unregistered:
                self._onbuild_triggers(sp)
        reachable = self._reachable(target)
        for sp in self.plans:
            if sp in reachable:
                self._dispatch(sp)
        if self.labels:
            target.config["Labels"] = {**(target.config.get("Labels") or {}), **self.labels}
        stages = [sp for sp in self.plans if sp in reachable]
        return Plan(stages, target, self.global_args, self.labels, self.platform, self.epoch)

    def _target(self) -> StagePlan:
        if not self.target_name:
            return self.plans[-1]
        found = self.by_name.get(self.target_name.lower())
        if found is None:
            names = [p.stage.name for p in self.plans if p.stage.name]
            raise PlanError(ins.with_suggestion(f'target stage "{self.target_name}" could not be found',
                                                self.target_name, names, True))
        return found

    def _from_source(self, c: ins.CopyInstruction, sp: StagePlan) -> StagePlan:
        if self.lex.process_word(c.from_, {}) != c.from_:
            raise PlanError("variable expansion is not supported for --from, define a new stage with FROM using "
                            "ARG from global scope as a workaround", c.line, c.end_line)
        if c.from_.isdigit() or (c.from_.startswith("-") and c.from_[1:].isdigit()):
            i = int(c.from_)
            if i < 0 or i >= len(self.plans):
                raise PlanError(f"invalid stage index {i}", c.line, c.end_line)
            return self.plans[i]
        found = self.by_name.get(c.from_.lower())
        if found is not None:
            return found
        for p in self.plans:
            if p.unregistered and p.base_name == c.from_:
                return p
        st = ins.Stage(base=c.from_, name="", platform="", code="", line=c.line, end_line=c.end_line,
                       index=len(self.plans))
        implicit = StagePlan(stage=st, name="", index=len(self.plans), base_kind="image", base_name=c.from_,
                             unregistered=True)
        self.plans.append(implicit)
        return implicit

    def _reachable(self, target: StagePlan) -> list:
        seen: list = []

        def add(p):
            if p in seen:
                return
            seen.append(p)
            if p.base_stage is not None:
                add(p.base_stage)
            for d in p.deps:
                add(d)
        add(target)
        return seen

    def _resolve_base(self, sp: StagePlan) -> None:
        if sp.base is not None:
            return
        if self.resolver is None:
            raise PlanError(f"no resolver for base image {sp.base_name}")
        platform = sp.platform or self.platform
        try:
            sp.base = self.resolver(sp.base_name, platform)
        except PlanError as e:
            raise PlanError(e.message, e.line or sp.stage.line, e.end_line or sp.stage.end_line) from None

    def _onbuild_triggers(self, sp: StagePlan) -> None:
        triggers = []
        if sp.base_kind == "image" and sp.base is not None:
            triggers = list((sp.base.config.get("config") or {}).get("OnBuild") or [])
        elif sp.base_kind == "stage":
            triggers = [c.expression for c in sp.base_stage.stage.commands if isinstance(c, ins.OnbuildInstruction)]
        commands = []
        for expr in triggers:
            try:
                result = parse(expr)
            except LabkitError as e:
                raise PlanError(str(e), sp.stage.line, sp.stage.end_line) from None
            if len(result.instructions) != 1:
                raise PlanError("onbuild trigger should be a single expression", sp.stage.line, sp.stage.end_line)
            node = result.instructions[0]
            node.start_line, node.end_line = sp.stage.line, sp.stage.end_line
            try:
                cmd = ins.parse_instruction(node)
            except ins.InstructionError as e:
                raise PlanError(e.message, sp.stage.line, sp.stage.end_line) from None
            cmd.onbuild = True
            commands.append(cmd)
            if isinstance(cmd, ins.CopyInstruction) and cmd.from_:
                sp.deps.append(self._from_source(cmd, sp))
            if isinstance(cmd, (ins.CopyInstruction, ins.RunInstruction, ins.WorkdirInstruction)):
                sp.total += 1
        sp.onbuild = commands

    # -- one stage (BuildKit's dispatch)

    def _init_stage(self, sp: StagePlan) -> None:
        if sp.base_kind == "stage":
            base = sp.base_stage
            if not base.planned:
                self._dispatch(base)
            sp.config = _clone(base.config)
            sp.config.pop("OnBuild", None)
            sp.history = [dict(h) for h in base.history]
            sp.base_history = len(sp.history)
            sp.platform = base.platform
            sp.author = base.author
            sp.env = dict(base.env)
            sp.build_args = list(base.build_args)
            sp.workdir_set = base.workdir_set
            return
        if sp.base_kind == "image":
            doc = sp.base.config
            sp.config = _clone(doc.get("config") or {})
            sp.config.pop("OnBuild", None)
            sp.history = [dict(h) for h in (doc.get("history") or [])]
            sp.base_history = len(sp.history)
            sp.author = doc.get("author") or ""
            if sp.platform is None:
                sp.platform = Platform(doc.get("os") or "linux", doc.get("architecture") or "amd64",
                                       doc.get("variant") or "")
        else:
            sp.config = {}
            sp.history = []
        if sp.platform is None:
            sp.platform = self.platform or Platform.host()
        env = list(sp.config.get("Env") or [])
        if not any(e.split("=", 1)[0] == "PATH" for e in env):
            env.append(f"PATH={DEFAULT_PATH}")
            sp.config["Env"] = env
        for e in env:
            k, _, v = e.partition("=")
            sp.env[k] = v

    def _prefix(self, sp: StagePlan, text: str, onbuild: bool = False) -> str:
        if sp.total == 0:
            return text
        sp.count += 1
        width = int(1 + math.log10(sp.total))
        name = f"{sp.name} " if sp.name else ""
        return f"[{name}{sp.count:>{width}}/{sp.total}] " + ("ONBUILD " if onbuild else "") + text

    def _commit(self, sp: StagePlan, created_by: str, layer: bool, buildkit_suffix: bool = False) -> int:
        entry = {"created_by": created_by + (" # buildkit" if buildkit_suffix else ""),
                 "comment": HISTORY_COMMENT}
        if not layer:
            entry["empty_layer"] = True
        entry["created"] = None
        sp.history.append(entry)
        return len(sp.history) - 1

    def _dispatch(self, sp: StagePlan) -> None:
        if sp.planned:
            return
        sp.planned = True
        self._init_stage(sp)
        st = sp.stage
        if sp.base_kind == "image":
            sp.steps.append(Step("from", self._prefix(sp, f"FROM {sp.base.name}"), st.line, st.end_line, sp,
                                 instruction=st.code or f"FROM {sp.base_name}", no_cache=False))
        if sp.unregistered:
            return
        for cmd in [*sp.onbuild, *st.commands]:
            try:
                self._command(sp, cmd)
            except PlanError as e:
                raise PlanError(e.message, e.line or cmd.line, e.end_line or cmd.end_line) from None
            except ShellWordError as e:
                raise PlanError(str(e), cmd.line, cmd.end_line) from None

    def _expand(self, sp: StagePlan, word: str) -> str:
        return self.lex.process_word(word, sp.env)

    def _display(self, sp: StagePlan, cmd, raw: bool = False) -> str:
        lex = Lexer(self.lex.escape, raw_quotes=True, skip_unset_env=True) if raw else self.lex
        text = cmd.code
        try:
            text = lex.process_word(text, sp.env)
        except ShellWordError:
            pass
        return _uppercase_cmd(text)

    def _command(self, sp: StagePlan, c) -> None:
        onbuild = getattr(c, "onbuild", False)
        if isinstance(c, ins.EnvInstruction):
            words = []
            pairs = [(self._expand(sp, kv.key), self._expand(sp, kv.value)) for kv in c.env]
            for key, value in pairs:
                sp.env[key] = value
                env = [e for e in (sp.config.get("Env") or [])]
                for i, e in enumerate(env):
                    if e.split("=", 1)[0] == key:
                        env[i] = f"{key}={value}"
                        break
                else:
                    env.append(f"{key}={value}")
                sp.config["Env"] = env
                words.append(f"{key}={value}")
            self._commit(sp, "ENV " + " ".join(words), False)
        elif isinstance(c, ins.LabelInstruction):
            labels = dict(sp.config.get("Labels") or {})
            words = []
            for kv in c.labels:
                key, value = self._expand(sp, kv.key), self._expand(sp, kv.value)
                labels[key] = value
                words.append(f"{key}={value}")
            sp.config["Labels"] = labels
            self._commit(sp, "LABEL " + " ".join(words), False)
        elif isinstance(c, ins.MaintainerInstruction):
            sp.author = c.maintainer
            self._commit(sp, f"MAINTAINER {c.maintainer}", False)
        elif isinstance(c, ins.ArgInstruction):
            self._arg(sp, c)
        elif isinstance(c, ins.WorkdirInstruction):
            path = self._expand(sp, c.path)
            wd = normalize_path(sp.config.get("WorkingDir") or "/", path, False)
            sp.config["WorkingDir"] = wd
            name = self._prefix(sp, self._display(sp, c), onbuild) if wd != "/" else ""
            index = self._commit(sp, f"WORKDIR {wd}", wd != "/")
            if wd != "/":         # "/" exists: no step (BuildKit still counts it in the stage's total)
                sp.steps.append(Step("workdir", name, c.line, c.end_line, sp, instruction=c.code, history=index,
                                     path=wd, user=sp.config.get("User") or ""))
        elif isinstance(c, ins.RunInstruction):
            self._run(sp, c, onbuild)
        elif isinstance(c, ins.CopyInstruction):
            self._copy(sp, c, onbuild)
        elif isinstance(c, ins.CmdInstruction):
            args = with_shell(sp.config, c.cmdline) if c.prepend_shell else list(c.cmdline or [])
            sp.config["Cmd"] = args
            sp.config["ArgsEscaped"] = True
            sp.cmd_set = True
            self._commit(sp, f"CMD {go_quoted_list(args)}", False)
        elif isinstance(c, ins.EntrypointInstruction):
            if c.cmdline is None:
                args = None
            else:
                args = with_shell(sp.config, c.cmdline) if c.prepend_shell else list(c.cmdline)
            sp.config["Entrypoint"] = args
            if not sp.cmd_set:
                sp.config.pop("Cmd", None)
            self._commit(sp, f"ENTRYPOINT {go_quoted_list(args or [])}", False)
        elif isinstance(c, ins.HealthcheckInstruction):
            sp.config["Healthcheck"] = c.health.to_config()
            self._commit(sp, f"HEALTHCHECK {c.health}", False)
        elif isinstance(c, ins.ExposeInstruction):
            ports = []
            for p in c.ports:
                ports.extend(self.lex.process_words(p, sp.env))
            specs = parse_ports(ports)
            exposed = dict(sp.config.get("ExposedPorts") or {})
            for p in specs:
                exposed[p] = {}
            sp.config["ExposedPorts"] = exposed
            self._commit(sp, f"EXPOSE {go_list(specs)}", False)
        elif isinstance(c, ins.UserInstruction):
            user = self._expand(sp, c.user)
            sp.config["User"] = user
            self._commit(sp, f"USER {user}", False)
        elif isinstance(c, ins.VolumeInstruction):
            volumes = dict(sp.config.get("Volumes") or {})
            vols = [self._expand(sp, v) for v in c.volumes]
            for v in vols:
                if not v:
                    raise PlanError("VOLUME specified can not be an empty string")
                volumes[v] = {}
            sp.config["Volumes"] = volumes
            self._commit(sp, f"VOLUME {go_list(vols)}", False)
        elif isinstance(c, ins.StopSignalInstruction):
            signal = self._expand(sp, c.signal)
            parse_signal(signal)
            sp.config["StopSignal"] = signal
            self._commit(sp, f"STOPSIGNAL {signal}", False)
        elif isinstance(c, ins.ShellInstruction):
            sp.config["Shell"] = list(c.shell)
            self._commit(sp, f"SHELL {go_list(c.shell)}", False)
        elif isinstance(c, ins.OnbuildInstruction):
            sp.config["OnBuild"] = [*(sp.config.get("OnBuild") or []), c.expression]

    def _arg(self, sp: StagePlan, c: ins.ArgInstruction) -> None:
        words = []
        for a in c.args:
            key = a.key
            value = a.value
            has_value = key in self.build_args
            if value is None and not has_value and key in self.global_args:
                value = self.global_args[key]
            elif has_value:
                value = self.build_args[key]
            elif value is not None:
                value = self._expand(sp, value)
            if value is not None and key not in _NON_ENV_ARGS:
                sp.env[key] = value
            sp.build_args.append((key, value))
            words.append(key if value is None else f"{key}={value}")
        self._commit(sp, "ARG " + " ".join(words), False)

    def _run_env(self, sp: StagePlan) -> list:
        return [f"{k}={v}" for k, v in sp.env.items()]

    def _run(self, sp: StagePlan, c: ins.RunInstruction, onbuild: bool) -> None:
        if c.mounts:
            raise PlanError("RUN --mount is not supported by labkit's builder (each RUN sees only the image's "
                            "files)")
        args = list(c.cmdline or [])
        custom = c.code
        mounts: dict = {}
        if c.files:
            if len(args) != 1 or not c.prepend_shell:
                raise PlanError(f"parsing produced an invalid run command: {go_list(args)}")
            if parse_heredoc(args[0]) is not None:
                doc = c.files[0]
                data = chomp_heredoc(doc.content) if doc.chomp else doc.content
                if data.startswith("#!"):
                    # convert.go dispatchRun: a single heredoc with a #! line is mounted as the file
                    # /dev/pipes/NAME (mode 0755, not part of the layer) and run: its interpreter runs it
                    path = "/dev/pipes/" + doc.name
                    mounts = {path: data.encode("utf-8", "surrogateescape")}
                    args = [path]
                else:
                    args = [data]
                custom += f" ({_summarize_heredoc(doc.content)})"
            else:
                text = args[0]
                for doc in c.files:
                    text += "\n" + doc.content + doc.name
                args = [text]
        if c.prepend_shell:
            args = with_shell(sp.config, args)
        name = _uppercase_cmd(self._raw_expand(sp, custom))
        env = self._run_env(sp)
        step = Step("run", self._prefix(sp, name, onbuild), c.line, c.end_line, sp, instruction=c.code,
                    argv=args, env=env, cwd=sp.config.get("WorkingDir") or "/", user=sp.config.get("User") or "",
                    network=c.network, no_cache=sp.no_cache, dev_mounts=mounts)
        step.history = self._commit(sp, "RUN " + self._run_string(sp, args), True, buildkit_suffix=True)
        sp.steps.append(step)

    def _raw_expand(self, sp: StagePlan, text: str) -> str:
        try:
            return Lexer(self.lex.escape, raw_quotes=True, skip_unset_env=True).process_word(text, sp.env)
        except ShellWordError:
            return text

    def _run_string(self, sp: StagePlan, args: list) -> str:
        seen: dict[str, int] = {}
        items: list[str] = []
        for key, value in sp.build_args:
            v = sp.env.get(key, value if value is not None else "")
            if key in seen:
                items[seen[key]] = f"{key}={v}"
            else:
                seen[key] = len(items)
                items.append(f"{key}={v}")
        prefix = [f"|{len(items)}", *items] if items else []
        return " ".join([*prefix, *args])

    def _copy(self, sp: StagePlan, c: ins.CopyInstruction, onbuild: bool) -> None:
        sources = [self._expand(sp, s) for s in c.sources]
        dest_raw = self._expand(sp, c.dest)
        chown = self._expand(sp, c.chown)
        chmod = self._expand(sp, c.chmod)
        contents = []
        raw_lex = Lexer("\\", skip_process_quotes=True)
        for s in c.contents:
            data = raw_lex.process_word(s.data, sp.env) if s.expand else s.data
            contents.append(ins.SourceContent(s.path, data, s.expand))
        if chmod:
            bad = PlanError(f"invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and "
                            "07777")
            if chmod.isdigit():
                if any(ch in "89" for ch in chmod) or int(chmod, 8) > 0o7777:
                    raise bad
            elif not re.fullmatch(r"([ugoa]*[-+=][rwxXst]*)(,[ugoa]*[-+=][rwxXst]*)*", chmod):
                raise PlanError(f"invalid mode: '{chmod}'")
        if c.checksum:
            if not c.is_add:
                raise PlanError("checksum can't be specified for COPY")
            if len(sources) != 1:
                raise PlanError("checksum can't be specified for multiple sources")
            if not sources[0].startswith(("http://", "https://")):
                raise PlanError("checksum requires HTTP(S) or Git sources")
        for s in sources:
            if s.startswith(("http://", "https://")) and not c.is_add:
                raise PlanError("source can't be a URL for COPY")
        dest = dest_path(sp.config.get("WorkingDir") or "/", dest_raw)
        words = ["ADD" if c.is_add else "COPY"]
        if c.parents:
            words.append("--parents")
        if chown:
            words.append(f"--chown={chown}")
        if chmod:
            words.append(f"--chmod={chmod}")
        words.extend(sources)
        words.extend(f"<<{s.path}" for s in contents)
        words.append(dest_raw)
        from_stage = None
        if c.from_:
            from_stage = self._from_source(c, sp)
            if not from_stage.unregistered and from_stage.index >= sp.index:
                raise PlanError(f'cannot copy from stage "{c.from_}", it needs to be defined before current '
                                f'stage "{sp.label}"')
            self._dispatch(from_stage)
        name = self._prefix(sp, self._display(sp, c), onbuild)
        step = Step("copy", name, c.line, c.end_line, sp, instruction=c.code, sources=sources, contents=contents,
                    dest=dest, from_stage=from_stage, chown=chown, chmod=chmod, link=c.link,
                    excludes=list(c.excludes), parents=c.parents, is_add=c.is_add, checksum=c.checksum,
                    unpack=c.unpack, no_cache=sp.no_cache, user=sp.config.get("User") or "")
        step.history = self._commit(sp, " ".join(words), True, buildkit_suffix=True)
        sp.steps.append(step)


def _clone(value):
    import copy

    return copy.deepcopy(value)


def make_plan(source: str, resolver: Resolver, build_args: "dict | None" = None, target: str = "",
              platform: "str | None" = None, labels: "dict | None" = None, no_cache_filter: "list | None" = None,
              epoch: "int | None" = None) -> Plan:
    """Parse a Dockerfile and plan the build of `target` (default: the last stage)."""
    result = parse(source)
    stages, meta = ins.parse_stages(result)
    planner = Planner(stages, meta, result.escape, build_args, target, platform, labels, no_cache_filter, epoch,
                      resolver)
    plan = planner.plan()
    plan.source = source if isinstance(source, str) else source.decode("utf-8", "replace")
    return plan
