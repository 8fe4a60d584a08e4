"""Typed Dockerfile instructions from the parse tree, with BuildKit's checks and error texts (pure).

A port of moby/buildkit frontend/dockerfile/instructions (parse.go, bflag.go, commands.go): each
instruction's flags (`COPY --from --chown --chmod --link --exclude --parents`, `ADD --checksum ...`,
`FROM --platform`, `HEALTHCHECK --interval ...`, `RUN --network ...`), its argument rules ("WORKDIR requires
exactly one argument") and the wording of every error, so that a mistake reads as it does with
`docker build`:

    dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)

`parse_stages(result)` splits the instructions into build stages (each starting at FROM) and the ARGs
declared before the first FROM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ..errors import LabkitError
from .dockerfile import Heredoc, Node, Result, chomp_heredoc, parse_heredoc

INSTRUCTIONS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
                "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir")

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


class InstructionError(LabkitError):
    """An instruction BuildKit refuses; `line` is its first line, `end_line` its last (1-based)."""

    def __init__(self, message: str, line: int = 0, end_line: int = 0):
        super().__init__(message)
        self.message = message
        self.line = line
        self.end_line = max(end_line, line)


def parse_error(message: str, node: Node) -> InstructionError:
    """Return BuildKit's parseError: "dockerfile parse error on line N: MESSAGE"."""
    return InstructionError(f"dockerfile parse error on line {node.start_line}: {message}", node.start_line,
                            node.end_line)


# --- suggestions (util/suggest: "did you mean FROM?") ----------------------------------------------------

def levenshtein(a: str, b: str) -> int:
    """Return the edit distance between two strings (insertions, deletions, substitutions cost 1)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(value: str, options, case_sensitive: bool = False) -> "str | None":
    """Return the option closest to `value` (edit distance under 3), in `value`'s case, or None."""
    val = value if case_sensitive else value.lower()
    best, best_dist = None, 3
    for opt in options:
        o = opt if case_sensitive else opt.lower()
        if val == o:
            return None                      # an exact match: the error is about something else
        dist = levenshtein(val, o)
        if dist < best_dist:
            best_dist = dist
            if case_sensitive:
                best = o
            elif value == value.lower():
                best = o.lower()
            elif value == value.upper():
                best = o.upper()
            else:
                best = o
    return best


def with_suggestion(message: str, value: str, options, case_sensitive: bool = False) -> str:
    """Return `message` plus BuildKit's " (did you mean X?)" when an option is close to `value`."""
    match = suggest(value, options, case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message


# --- flags (bflag.go) ----------------------------------------------------------------------------------------

class _Flags:
    """An instruction's `--name[=value]` flags, declared then parsed like BuildKit's BFlags."""

    def __init__(self, args: list[str]):
        self.args = list(args)
        self.kinds: dict[str, str] = {}
        self.values: dict[str, "str | list[str] | bool"] = {}
        self.used: set[str] = set()

    def add_bool(self, name: str, default: bool = False) -> None:
        self.kinds[name] = "bool"
        self.values[name] = default

    def add_string(self, name: str, default: str = "") -> None:
        self.kinds[name] = "string"
        self.values[name] = default

    def add_strings(self, name: str) -> None:
        self.kinds[name] = "strings"
        self.values[name] = []

    def parse(self) -> None:
        for a in self.args:
            if a == "--":
                return
            if not a.startswith("--"):
                raise ValueError(f"arg should start with -- : {a}")
            flag_name, eq, value = a.partition("=")
            name = flag_name[2:]
            kind = self.kinds.get(name)
            if kind is None:
                raise ValueError(with_suggestion(f"unknown flag: {flag_name}", name, self.kinds, True))
            if name in self.used and kind != "strings":
                raise ValueError(f"duplicate flag specified: {flag_name}")
            self.used.add(name)
            if kind == "bool":
                if eq and value == "":
                    raise ValueError(f"missing a value on flag: {flag_name}")
                if value.lower() in ("true", ""):
                    self.values[name] = True
                elif value.lower() == "false":
                    self.values[name] = False
                else:
                    raise ValueError(f"expecting boolean value for flag {flag_name}, not: {value}")
            elif kind == "string":
                if not eq:
                    raise ValueError(f"missing a value on flag: {flag_name}")
                self.values[name] = value
            else:
                if not eq:
                    raise ValueError(f"missing a value on flag: {flag_name}")
                self.values[name].append(value)

    def __getitem__(self, name: str):
        return self.values[name]


# --- the instructions --------------------------------------------------------------------------------------

@dataclass
class Instruction:
    """What every instruction has: its name (lower case), its source text, its lines."""

    name: str
    code: str
    line: int
    end_line: int
    flags_used: tuple = ()

    def __str__(self) -> str:
        return self.code

    @property
    def keyword(self) -> str:
        """Return the instruction's name in upper case ("COPY")."""
        return self.name.upper()


@dataclass
class KeyValue:
    """One `key=value` of ENV or LABEL (no_delim: the legacy "KEY value" form)."""

    key: str
    value: str
    no_delim: bool = False

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


@dataclass
class EnvInstruction(Instruction):
    env: list = field(default_factory=list)


@dataclass
class LabelInstruction(Instruction):
    labels: list = field(default_factory=list)


@dataclass
class MaintainerInstruction(Instruction):
    maintainer: str = ""


@dataclass
class SourceContent:
    """A heredoc source of COPY/ADD: the file name (its delimiter), its data, whether to expand it."""

    path: str
    data: str
    expand: bool


@dataclass
class CopyInstruction(Instruction):
    """COPY and ADD (is_add): sources (paths, URLs for ADD), heredoc contents, the destination, the flags."""

    sources: list = field(default_factory=list)
    contents: list = field(default_factory=list)
    dest: str = ""
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: list = field(default_factory=list)
    parents: bool = False
    is_add: bool = False
    checksum: str = ""
    keep_git_dir: "bool | None" = None
    unpack: "bool | None" = None


@dataclass
class ShellDependent(Instruction):
    """RUN, CMD, ENTRYPOINT: the command line (exec form, or one shell string when prepend_shell) and
    RUN's heredoc files."""

    cmdline: "list | None" = None
    prepend_shell: bool = True
    files: list = field(default_factory=list)


@dataclass
class RunInstruction(ShellDependent):
    network: str = ""
    mounts: list = field(default_factory=list)
    security: str = ""


@dataclass
class CmdInstruction(ShellDependent):
    pass


@dataclass
class EntrypointInstruction(ShellDependent):
    pass


@dataclass
class WorkdirInstruction(Instruction):
    path: str = ""


@dataclass
class UserInstruction(Instruction):
    user: str = ""


@dataclass
class ExposeInstruction(Instruction):
    ports: list = field(default_factory=list)


@dataclass
class VolumeInstruction(Instruction):
    volumes: list = field(default_factory=list)


@dataclass
class StopSignalInstruction(Instruction):
    signal: str = ""


@dataclass
class Healthcheck:
    """Docker's HealthConfig: Test (["NONE"], ["CMD", ...], ["CMD-SHELL", "..."]) and durations in ns."""

    test: list
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    def to_config(self) -> dict:
        """Return the config's Healthcheck object (Go's field names; zero durations left out)."""
        out: dict = {"Test": list(self.test)}
        for key, value in (("Interval", self.interval), ("Timeout", self.timeout),
                           ("StartPeriod", self.start_period), ("StartInterval", self.start_interval),
                           ("Retries", self.retries)):
            if value:
                out[key] = value
        return out

    def __str__(self) -> str:
        # Go's %+v of the struct, as BuildKit writes it in the history entry
        test = "[" + " ".join(self.test) + "]"
        return (f"{{Test:{test} Interval:{_go_duration(self.interval)} Timeout:{_go_duration(self.timeout)} "
                f"StartPeriod:{_go_duration(self.start_period)} StartInterval:{_go_duration(self.start_interval)} "
                f"Retries:{self.retries}}}")


@dataclass
class HealthcheckInstruction(Instruction):
    health: Optional[Healthcheck] = None


@dataclass
class ArgDecl:
    """One `name[=default]` of ARG."""

    key: str
    value: "str | None" = None

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


@dataclass
class ArgInstruction(Instruction):
    args: list = field(default_factory=list)


@dataclass
class ShellInstruction(Instruction):
    shell: list = field(default_factory=list)


@dataclass
class OnbuildInstruction(Instruction):
    expression: str = ""


@dataclass
class Stage:
    """A build stage: FROM's base (as written), its name (lower case, "" when unnamed), its platform flag,
    its source text and lines, and its instructions."""

    base: str
    name: str
    platform: str
    code: str
    line: int
    end_line: int
    commands: list = field(default_factory=list)
    index: int = 0


# --- parsing each instruction ------------------------------------------------------------------------------

def _base(node: Node, cls, **fields):
    return cls(name=node.value.lower(), code=node.original.strip(), line=node.start_line, end_line=node.end_line,
               **fields)


def _json_args(args: list, node: Node) -> list:
    """BuildKit's handleJSONArgs: exec form as is; shell form joined into one string."""
    if not args:
        return []
    if node.is_json:
        return list(args)
    return [" ".join(args)]


def _kvps(args: list, what: str) -> list:
    if not args:
        raise ValueError(f"{what} requires at least one argument")
    if len(args) % 3:
        raise ValueError(f"Bad input to {what}, too many arguments")
    out = []
    for i in range(0, len(args), 3):
        if not args[i]:
            raise ValueError(f"{what} names can not be blank")
        out.append(KeyValue(args[i], args[i + 1], args[i + 2] == ""))
    return out


def _sources_and_dest(node: Node, args: list, what: str) -> tuple[list, list, str]:
    srcs, dest = args[:-1], args[-1]
    if parse_heredoc(dest) is not None:
        raise ValueError(f"{what} cannot accept a heredoc as a destination")
    by_name = {h.name: h for h in node.heredocs}
    paths, contents = [], []
    for src in srcs:
        h = parse_heredoc(src)
        if h is not None:
            doc = by_name.get(h.name, Heredoc(h.name))
            data = chomp_heredoc(doc.content) if h.chomp else doc.content
            contents.append(SourceContent(h.name, data, h.expand))
        else:
            paths.append(src)
    return paths, contents, dest


_UNIT_NS = {"ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}
_DURATION_PART = re.compile(r"([0-9]*)(\.[0-9]*)?([^0-9.]*)")


def parse_duration(text: str) -> int:
    """Return nanoseconds of a Go duration ("30s", "1m30s", "1.5h"); ValueError worded like Go's."""
    s = text
    neg = s[:1] == "-"
    if s[:1] in ("+", "-"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        if not whole and frac in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _UNIT_NS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float((whole or "0") + (frac if frac != "." else "")) * _UNIT_NS[unit]
        pos = m.end()
    return -int(total) if neg else int(total)


def _go_duration(ns: int) -> str:
    """Return a duration as Go's time.Duration.String() writes it ("30s", "1m30s", "0s")."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 10**3:
        return f"{sign}{ns}ns"
    if ns < 10**6:
        return f"{sign}{_trim(ns / 10**3)}µs"
    if ns < 10**9:
        return f"{sign}{_trim(ns / 10**6)}ms"
    h, rest = divmod(ns, 3600 * 10**9)
    m, rest = divmod(rest, 60 * 10**9)
    secs = _trim(rest / 10**9)
    if h:
        return f"{sign}{h}h{m}m{secs}s"
    if m:
        return f"{sign}{m}m{secs}s"
    return f"{sign}{secs}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def _interval(flags: _Flags, name: str) -> int:
    text = flags[name]
    if not text:
        return 0
    ns = parse_duration(text)
    if ns == 0:
        return 0
    if ns < 10**6:
        raise ValueError(f'Interval "{name}" cannot be less than 1ms')
    return ns


def _instruction(node: Node):
    """Return the typed instruction (or the Stage a FROM starts) for a node; ValueError with BuildKit's words."""
    cmd = node.value.lower()
    args = node.args()
    flags = _Flags(node.flags)

    if cmd == "env":
        flags.parse()
        return _base(node, EnvInstruction, env=_kvps(args, "ENV"))
    if cmd == "maintainer":
        if len(args) != 1:
            raise ValueError("MAINTAINER requires exactly one argument")
        flags.parse()
        return _base(node, MaintainerInstruction, maintainer=args[0])
    if cmd == "label":
        flags.parse()
        return _base(node, LabelInstruction, labels=_kvps(args, "LABEL"))
    if cmd in ("add", "copy"):
        what = cmd.upper()
        if len(args) < 2:
            raise ValueError(f"{what} requires at least two arguments, but only one was provided. "
                             "Destination could not be determined")
        flags.add_string("chown")
        flags.add_string("chmod")
        flags.add_bool("link")
        flags.add_strings("exclude")
        if cmd == "add":
            flags.add_bool("keep-git-dir")
            flags.add_string("checksum")
            flags.add_bool("unpack")
        else:
            flags.add_string("from")
            flags.add_bool("parents")
        flags.parse()
        paths, contents, dest = _sources_and_dest(node, args, what)
        fields = dict(sources=paths, contents=contents, dest=dest, chown=flags["chown"], chmod=flags["chmod"],
                      link=flags["link"], excludes=list(flags["exclude"]), is_add=cmd == "add",
                      flags_used=tuple(sorted(flags.used)))
        if cmd == "add":
            fields.update(checksum=flags["checksum"],
                          keep_git_dir=flags["keep-git-dir"] if "keep-git-dir" in flags.used else None,
                          unpack=flags["unpack"] if "unpack" in flags.used else None)
        else:
            fields.update(from_=flags["from"], parents=flags["parents"])
        return _base(node, CopyInstruction, **fields)
    if cmd == "from":
        if len(args) == 3 and args[1].lower() == "as":
            name = args[2].lower()
            if not _STAGE_NAME.match(name):
                raise ValueError(f'invalid name for build stage: "{args[2]}", name can\'t start with a number or '
                                 "contain symbols")
        elif len(args) != 1:
            raise ValueError("FROM requires either one or three arguments")
        else:
            name = ""
        flags.add_string("platform")
        flags.parse()
        return Stage(base=args[0], name=name, platform=flags["platform"], code=node.original.strip(),
                     line=node.start_line, end_line=node.end_line)
    if cmd == "onbuild":
        if not args:
            raise ValueError("ONBUILD requires at least one argument")
        flags.parse()
        trigger = args[0].strip().upper()
        if trigger == "ONBUILD":
            raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise ValueError(f"{trigger} isn't allowed as an ONBUILD trigger")
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original, count=1)
        for doc in node.heredocs:
            expression += "\n" + doc.content + doc.name
        return _base(node, OnbuildInstruction, expression=expression)
    if cmd == "workdir":
        if len(args) != 1:
            raise ValueError("WORKDIR requires exactly one argument")
        flags.parse()
        return _base(node, WorkdirInstruction, path=args[0])
    if cmd in ("run", "cmd", "entrypoint"):
        if cmd == "run":
            flags.add_strings("mount")
            flags.add_string("network")
            flags.add_string("security")
            flags.add_strings("device")
        flags.parse()
        files = [Heredoc(h.name, h.fd, h.expand, h.chomp, h.content) for h in node.heredocs]
        cmdline = _json_args(args, node)
        if cmd == "entrypoint" and not cmdline:
            cmdline = None
        common = dict(cmdline=cmdline, prepend_shell=not node.is_json, files=files,
                      flags_used=tuple(sorted(flags.used)))
        if cmd == "run":
            return _base(node, RunInstruction, network=flags["network"], mounts=list(flags["mount"]),
                         security=flags["security"], **common)
        return _base(node, CmdInstruction if cmd == "cmd" else EntrypointInstruction, **common)
    if cmd == "healthcheck":
        if not args:
            raise ValueError("HEALTHCHECK requires at least one argument")
        typ = args[0].upper()
        rest = args[1:]
        if typ == "NONE":
            if rest:
                raise ValueError("HEALTHCHECK NONE takes no arguments")
            return _base(node, HealthcheckInstruction, health=Healthcheck(["NONE"]))
        for name in ("interval", "timeout", "start-period", "start-interval", "retries"):
            flags.add_string(name)
        flags.parse()
        if typ != "CMD":
            raise ValueError(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)')
        cmdline = _json_args(rest, node)
        if not cmdline:
            raise ValueError("Missing command after HEALTHCHECK CMD")
        test = ["CMD" if node.is_json else "CMD-SHELL", *cmdline]
        health = Healthcheck(test, _interval(flags, "interval"), _interval(flags, "timeout"),
                             _interval(flags, "start-period"), _interval(flags, "start-interval"))
        if flags["retries"]:
            try:
                retries = int(flags["retries"])
            except ValueError:
                raise ValueError(f'strconv.ParseInt: parsing "{flags["retries"]}": invalid syntax') from None
            if retries < 0:
                raise ValueError(f"--retries cannot be negative ({retries})")
            health.retries = retries
        return _base(node, HealthcheckInstruction, health=health)
    if cmd == "expose":
        if not args:
            raise ValueError("EXPOSE requires at least one argument")
        flags.parse()
        return _base(node, ExposeInstruction, ports=sorted(args))
    if cmd == "user":
        if len(args) != 1:
            raise ValueError("USER requires exactly one argument")
        flags.parse()
        return _base(node, UserInstruction, user=args[0])
    if cmd == "volume":
        if not args:
            raise ValueError("VOLUME requires at least one argument")
        flags.parse()
        volumes = []
        for v in args:
            v = v.strip()
            if not v:
                raise ValueError("VOLUME specified can not be an empty string")
            volumes.append(v)
        return _base(node, VolumeInstruction, volumes=volumes)
    if cmd == "stopsignal":
        if len(args) != 1:
            raise ValueError("STOPSIGNAL requires exactly one argument")
        return _base(node, StopSignalInstruction, signal=args[0])
    if cmd == "arg":
        if not args:
            raise ValueError("ARG requires at least one argument")
        decls = []
        for a in args:
            if "=" in a:
                key, _, value = a.partition("=")
                if not key:
                    raise ValueError("ARG names can not be blank")
                decls.append(ArgDecl(key, value))
            else:
                decls.append(ArgDecl(a))
        return _base(node, ArgInstruction, args=decls)
    if cmd == "shell":
        flags.parse()
        shell = _json_args(args, node)
        if not shell:
            raise ValueError("SHELL requires at least one argument")
        if not node.is_json:
            raise ValueError("SHELL requires the arguments to be in JSON form")
        return _base(node, ShellInstruction, shell=shell)
    raise ValueError(with_suggestion(f"unknown instruction: {node.value}", node.value,
                                     [i.upper() for i in INSTRUCTIONS]))


def parse_instruction(node: Node):
    """Return the typed instruction of one node; InstructionError "dockerfile parse error on line N: ..."."""
    try:
        return _instruction(node)
    except ValueError as e:
        raise parse_error(str(e), node) from None


def parse_stages(result: Result) -> tuple[list, list]:
    """Return (stages, meta ARGs before the first FROM) of a parsed Dockerfile (BuildKit's instructions.Parse)."""
    stages: list[Stage] = []
    meta: list[ArgInstruction] = []
    for node in result.instructions:
        item = parse_instruction(node)
        if not stages and isinstance(item, ArgInstruction):
            meta.append(item)
            continue
        if isinstance(item, Stage):
            item.index = len(stages)
            stages.append(item)
            continue
        if not stages:
            raise InstructionError("no build stage in current context", node.start_line, node.end_line)
        stages[-1].commands.append(item)
    if not stages:
        raise InstructionError("dockerfile contains no stages to build")
    return stages, meta
