"""BuildKit's build checks: the lint warnings `docker build` prints about a Dockerfile (pure).

A port of a subset of moby/buildkit frontend/dockerfile/linter (ruleset.go: the rule names, messages and
URLs), instructions/parse.go (MaintainerDeprecated, StageNameCasing, FromAsCasing while parsing),
dockerfile2llb/validations.go (DuplicateStageName, ConsistentInstructionCasing, the secrets regex) and
dockerfile2llb/convert.go (the checks made while dispatching: LegacyKeyValueFormat, SecretsUsedInArgOrEnv,
WorkdirRelativePath, JSONArgsRecommended, MultipleInstructionsDisallowed), in the order BuildKit emits them.

BuildKit reports each warning on the "[internal] load build definition" step as its short form
"Rule: message (line N)" (linter.LintFormatShort); buildx lists them again after the build. The
`# check=skip=RuleA,RuleB` / `skip=all` / `error=true` parser directive (linter.ParseLintOptions) skips rules
or turns any warning into the build's error: "lint violation found for rules: A, B".

Not ported: UndefinedVar, UndefinedArgInFrom and the rules about platforms, base images and .dockerignore
(they need the dispatcher's variables and the base image). The dispatch-time checks look at the stages the
target needs, as BuildKit dispatches only those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RULE_URL = "https://docs.docker.com/go/dockerfile/rule/{}/"

# rule name -> the slug of its documentation page (ruleset.go's URL)
_SLUGS = {
    "StageNameCasing": "stage-name-casing",
    "FromAsCasing": "from-as-casing",
    "ConsistentInstructionCasing": "consistent-instruction-casing",
    "DuplicateStageName": "duplicate-stage-name",
    "ReservedStageName": "reserved-stage-name",
    "JSONArgsRecommended": "json-args-recommended",
    "MaintainerDeprecated": "maintainer-deprecated",
    "WorkdirRelativePath": "workdir-relative-path",
    "MultipleInstructionsDisallowed": "multiple-instructions-disallowed",
    "LegacyKeyValueFormat": "legacy-key-value-format",
    "SecretsUsedInArgOrEnv": "secrets-used-in-arg-or-env",
}

# validations.go reservedStageNames
_RESERVED_STAGE_NAMES = ("context", "scratch")

# validations.go getSecretsRegex: a secret word as the whole name or its first/last "_" word, unless an
# allowed word is too
_SECRET = re.compile(r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)"
                     r"(?:_|$)")
_SECRET_ALLOWED = re.compile(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)")


@dataclass(frozen=True)
class CheckWarning:
    """One build check warning: its rule, message, Dockerfile line (0: none) and documentation URL."""

    rule: str
    message: str
    line: int = 0

    @property
    def short(self) -> str:
        """Return linter.LintFormatShort: "Rule: message (line N)"."""
        text = f"{self.rule}: {self.message}"
        return f"{text} (line {self.line})" if self.line > 0 else text

    @property
    def url(self) -> str:
        return RULE_URL.format(_SLUGS.get(self.rule, self.rule.lower()))


@dataclass(frozen=True)
class CheckConfig:
    """What `# check=` asks: rules to skip (or all), and whether a warning fails the build."""

    skip: frozenset = frozenset()
    skip_all: bool = False
    error: bool = False


class CheckOptionError(ValueError):
    pass


def parse_check_options(text: str) -> CheckConfig:
    """Parse the value of `# check=` as linter.ParseLintOptions does ("skip=A,B;error=true")."""
    text = text.strip()
    if not text:
        return CheckConfig()
    skip: set = set()
    skip_all = error = False
    for part in text.split(";", 2):
        key, eq, value = part.partition("=")
        if not eq:
            raise CheckOptionError(f'invalid check option "{part}"')
        key, value = key.strip(), value.strip()
        if key == "skip":
            if value == "all":
                skip_all = True
            else:
                skip |= {r.strip() for r in value.split(",")}
        elif key == "error":
            lowered = {"1": True, "t": True, "true": True, "True": True, "TRUE": True,
                       "0": False, "f": False, "false": False, "False": False, "FALSE": False}
            if value not in lowered:
                raise CheckOptionError(f'failed to parse check option "{part}"')
            error = lowered[value]
        elif key == "experimental":
            continue                                 # experimental rules: none of them is ported
        else:
            raise CheckOptionError(f'invalid check option "{key}"')
    return CheckConfig(frozenset(skip), skip_all, error)


def lint_error(warnings: "list[CheckWarning]") -> str:
    """Return the build's error when `# check=error=true` and there are warnings (linter.Error; BuildKit
    joins a Go map's keys, in no set order: labkit keeps the order of first appearance)."""
    rules = list(dict.fromkeys(w.rule for w in warnings))
    return "lint violation found for rules: " + ", ".join(rules)


def _self_consistent(s: str) -> bool:
    return s == s.lower() or s == s.upper()


def _is_secret(key: str) -> bool:
    return bool(_SECRET.search(key)) and not _SECRET_ALLOWED.search(key)


def _is_abs(path: str) -> bool:
    return path.startswith("/")


def _reachable(stages: list, target: str) -> set:
    """Return the indexes of the stages a build of `target` ("" = the last stage) needs: its FROM stage and
    COPY --from stages, transitively (names as written: labkit does not expand ARGs here)."""
    names = {name: i for i, (_, name, _) in enumerate(stages) if name}
    start = names.get(target.lower(), len(stages) - 1) if target else len(stages) - 1
    seen: set = set()
    todo = [start]
    while todo:
        i = todo.pop()
        if i in seen or not 0 <= i < len(stages):
            continue
        seen.add(i)
        from_node, _, cmds = stages[i]
        base = (from_node.args() or [""])[0].lower()
        if base in names and names[base] < i:
            todo.append(names[base])
        for _, c in cmds:
            ref = getattr(c, "from_", "") or ""
            if ref.isdigit():
                todo.append(int(ref))
            elif ref.lower() in names:
                todo.append(names[ref.lower()])
    return seen


def check(source: str, target: str = "") -> "tuple[list[CheckWarning], CheckConfig]":
    """Return the warnings BuildKit's build checks give for a Dockerfile built for `target` (a stage name,
    "" for the last), skipped rules left out, and the
    `# check=` configuration. A Dockerfile that does not parse gives none (the build reports its error);
    CheckOptionError when the `# check=` directive does not parse."""
    from .dockerfile import DockerfileSyntaxError, parse
    from .instructions import InstructionError, parse_instruction

    try:
        result = parse(source)
    except DockerfileSyntaxError:
        return [], CheckConfig()
    config = parse_check_options(result.directives.get("check", ""))   # CheckOptionError: the build fails
    found: list[CheckWarning] = []

    # 1. while parsing (instructions.Parse): per instruction, in order
    stages: list = []                                # [from node, stage name, [(node, instruction)]]
    for node in result.instructions:
        cmd = node.value.lower()
        args = node.args()
        if cmd == "maintainer":
            found.append(CheckWarning("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using "
                                 "label", node.start_line))
        if cmd == "from":
            if len(args) == 3 and args[2] != args[2].lower():
                found.append(CheckWarning("StageNameCasing", f"Stage name '{args[2]}' should be lowercase",
                                     node.start_line))
            if len(args) >= 3 and _self_consistent(node.value):
                want = args[1].lower() if node.value == node.value.lower() else args[1].upper()
                if args[1] != want:
                    found.append(CheckWarning("FromAsCasing", f"'{args[1]}' and '{node.value}' keywords' casing do not "
                                         "match", node.start_line))
        try:
            item = parse_instruction(node)
        except InstructionError:
            return [], config
        if cmd == "from":
            stages.append([node, getattr(item, "name", ""), []])
        elif stages:
            stages[-1][2].append((node, item))

    # 2. validateStageNames, validateCommandCasing
    names: set = set()
    for from_node, name, _ in stages:
        if not name:
            continue
        if name in _RESERVED_STAGE_NAMES:
            found.append(CheckWarning("ReservedStageName", f'Stage name should not use the same name as reserved stage '
                                 f'"{name}"', from_node.start_line))
        if name in names:
            found.append(CheckWarning("DuplicateStageName", f'Duplicate stage name "{name}", stage names should be '
                                 "unique", from_node.start_line))
        names.add(name)
    written = [n.value for from_node, _, cmds in stages for n in [from_node] + [c[0] for c in cmds]]
    lower = sum(1 for w in written if _self_consistent(w) and w == w.lower())
    upper = sum(1 for w in written if _self_consistent(w) and w != w.lower())
    majority_lower = lower > upper
    for from_node, _, cmds in stages:
        for n in [from_node] + [c[0] for c in cmds]:
            casing = ""
            if majority_lower and n.value.lower() != n.value:
                casing = "lowercase"
            elif not majority_lower and n.value.upper() != n.value:
                casing = "uppercase"
            if casing:
                found.append(CheckWarning("ConsistentInstructionCasing", f"Command '{n.value}' should match the "
                                          f"case of the command majority ({casing})", n.start_line))

    # 3. while dispatching each stage (convert.go); a stage built on an earlier one inherits its WORKDIR and
    # SHELL state (initDispatchState copies the base's workdirSet; the image config carries Shell)
    states: dict = {}
    needed = _reachable(stages, target)            # dispatchStages skips the stages the target does not need
    for i, (from_node, name, cmds) in enumerate(stages):
        if i not in needed:
            continue
        base = (from_node.args() or [""])[0].lower()
        warnings, state = _dispatch_checks(cmds, states.get(base, (False, False)))
        found.extend(warnings)
        if name:
            states[name] = state

    kept = [w for w in found if not config.skip_all and w.rule not in config.skip]
    return kept, config


def _dispatch_checks(cmds, inherited: tuple) -> "tuple[list[CheckWarning], tuple]":
    """Return the dispatch-time warnings of one stage's instructions, and its (workdir set, shell set)."""
    out: list[CheckWarning] = []
    workdir_set, shell_set = inherited
    used: dict = {}                                  # "cmd"/"entrypoint"/"healthcheck" -> line of the last one
    for node, c in cmds:
        name = c.name
        written = node.value
        line = node.start_line
        if name in ("env", "label"):
            for kv in (c.env if name == "env" else c.labels):
                if kv.no_delim:
                    out.append(CheckWarning("LegacyKeyValueFormat", f'"{written} key=value" should be used instead of '
                                       f'legacy "{written} key value" format', line))
                if name == "env" and _is_secret(kv.key):
                    out.append(_secret("ENV", kv.key, line))
        elif name == "arg":
            for decl in c.args:
                if _is_secret(decl.key):
                    out.append(_secret("ARG", decl.key, line))
        elif name == "workdir":
            if not workdir_set and not _is_abs(c.path):
                out.append(CheckWarning("WorkdirRelativePath", f'Relative workdir "{c.path}" can have unexpected '
                                        "results if the base image changes", line))
            workdir_set = True
        elif name == "shell":
            shell_set = True
        elif name in ("cmd", "entrypoint", "healthcheck"):
            if name in used:                         # validateUsedOnce reports the earlier, ignored one
                out.append(CheckWarning("MultipleInstructionsDisallowed", f"Multiple {written} instructions should not "
                                   "be used in the same stage because only the last one will be used", used[name]))
            used[name] = line
            if name != "healthcheck" and c.prepend_shell and not shell_set:
                out.append(CheckWarning("JSONArgsRecommended", f"JSON arguments recommended for {written} to prevent "
                                   "unintended behavior related to OS signals", line))
    return out, (workdir_set, shell_set)


def _secret(instruction: str, key: str, line: int) -> CheckWarning:
    return CheckWarning("SecretsUsedInArgOrEnv", "Do not use ARG or ENV instructions for sensitive data "
                        f'({instruction} "{key}")', line)
