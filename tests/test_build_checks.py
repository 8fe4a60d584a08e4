"""BuildKit's build checks (lint warnings) as `docker build` shows them.

Rule names and messages: moby/buildkit frontend/dockerfile/linter/ruleset.go (v0.2x, the BuildKit of Docker
29); the short form "Rule: message (line N)": linter.LintFormatShort; where they are reported: the
"[internal] load build definition" vertex (frontend/dockerui/config.go, Source.Warn), printed by
util/progress/progressui/printer.go as "#N WARN: ..."; the summary after the build: docker/buildx
commands/build.go printWarnings; `# check=` options: linter.ParseLintOptions, the error: linter.Error.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from labkit.build.checks import CheckOptionError, check, parse_check_options
from labkit.cli import main


def _shorts(source: str) -> list[str]:
    return [w.short for w in check(source)[0]]


def test_each_rule_gives_buildkits_message_in_buildkits_order():
    source = """\
FROM busybox as Builder
MAINTAINER me
env FOO bar
ENV DB_PASSWORD=x PUBLIC_KEY=y APP_VERSION=1
ARG GITHUB_TOKEN
LABEL team lab
WORKDIR app
WORKDIR other
CMD echo hi
CMD ["echo", "two"]
ENTRYPOINT /bin/sh
FROM busybox AS builder
COPY --from=0 / /
"""
    assert _shorts(source) == [
        # while parsing, per instruction (instructions/parse.go)
        "StageNameCasing: Stage name 'Builder' should be lowercase (line 1)",
        "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
        "MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)",
        # validateStageNames, validateCommandCasing
        'DuplicateStageName: Duplicate stage name "builder", stage names should be unique (line 12)',
        "ConsistentInstructionCasing: Command 'env' should match the case of the command majority (uppercase) "
        "(line 3)",
        # while dispatching (dockerfile2llb/convert.go); PUBLIC_KEY and APP_VERSION are allowed names
        "LegacyKeyValueFormat: \"env key=value\" should be used instead of legacy \"env key value\" format (line 3)",
        'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD") (line 4)',
        'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN") (line 5)',
        'LegacyKeyValueFormat: "LABEL key=value" should be used instead of legacy "LABEL key value" format (line 6)',
        'WorkdirRelativePath: Relative workdir "app" can have unexpected results if the base image changes (line 7)',
        "JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS "
        "signals (line 9)",
        "MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because "
        "only the last one will be used (line 9)",
        "JSONArgsRecommended: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to "
        "OS signals (line 11)",
    ]


def test_a_clean_dockerfile_and_a_shell_instruction_give_none():
    assert _shorts('FROM busybox AS build\nENV A=1\nWORKDIR /app\nCMD ["sh"]\n') == []
    assert _shorts('FROM busybox\nSHELL ["/bin/sh", "-c"]\nCMD echo hi\n') == []      # a chosen shell: no warning
    assert _shorts("from busybox as build\nrun echo hi\n") == []                      # lower case, consistently
    # a stage built on another inherits its WORKDIR and SHELL (convert.go initDispatchState, the image config)
    assert _shorts('FROM busybox AS base\nWORKDIR /app\nSHELL ["/bin/sh", "-c"]\n'
                   "FROM base\nWORKDIR sub\nCMD run\n") == []
    # dispatch-time checks only in the stages the target needs (dockerfile2llb dispatchStages)
    unused = "FROM busybox AS unused\nCMD a\nFROM busybox AS dep\nENV A 1\nFROM busybox\nCOPY --from=dep / /\n"
    assert [w.line for w in check(unused)[0]] == [4]
    assert [w.line for w in check(unused, target="unused")[0]] == [2]
    assert _shorts("FROM busybox AS base\nFROM busybox\nWORKDIR sub\n") == [
        'WorkdirRelativePath: Relative workdir "sub" can have unexpected results if the base image changes (line 3)']


def test_check_directive_skips_rules_or_fails_the_build():
    assert _shorts("# check=skip=JSONArgsRecommended,LegacyKeyValueFormat\nFROM busybox\nENV A 1\nCMD x\n") == []
    assert _shorts("# check=skip=all\nFROM busybox\nCMD x\n") == []
    warnings, config = check("# check=error=true\nFROM busybox\nCMD x\n")
    assert config.error and [w.rule for w in warnings] == ["JSONArgsRecommended"]
    assert warnings[0].url == "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"
    assert parse_check_options("skip=A, B ; error=1").skip == frozenset({"A", "B"})
    with pytest.raises(CheckOptionError, match='invalid check option "nope"'):
        parse_check_options("nope")


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def _ctx(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def test_plain_output_shows_warnings_on_the_definition_step_and_in_a_summary(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "2026-12-03T07:00:00Z")           # the build's clock stands still
    ctx = _ctx(tmp_path, "FROM scratch\nENV API_TOKEN abc\nCMD run me\n")
    status, out, err = _run("build", "--progress=plain", "-t", "warned:1", str(ctx))
    assert status == 0
    # as a real Docker 29 prints it (printer.go: WARN lines before the step's DONE)
    assert """\
#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 42B done
#1 WARN: LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)
#1 WARN: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "API_TOKEN") (line 2)
#1 WARN: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS \
signals (line 3)
#1 DONE 0.0s
""" in err
    # buildx printWarnings: a blank line, then " N warnings found ...:" and " - " lines, after the last step
    assert err.endswith("""\
#3 DONE 0.0s

 3 warnings found (use docker --debug to expand):
 - LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)
 - SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "API_TOKEN") (line 2)
 - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals \
(line 3)
""")
    status, out, err = _run("build", "-q", str(ctx))                   # quiet mode: no warnings (printWarnings)
    assert status == 0 and err == ""


def test_check_error_true_fails_the_build_after_listing_the_warnings(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "2026-12-03T07:00:00Z")
    ctx = _ctx(tmp_path, "# check=error=true\nFROM scratch\nCMD run me\n")
    status, out, err = _run("build", "--progress=plain", "-t", "strict:1", str(ctx))
    assert status == 1
    assert err.endswith("""\
#2 [internal] load .dockerignore
#2 transferring context: 2B done
#2 DONE 0.0s

 1 warning found (use docker --debug to expand):
 - JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals \
(line 3)
ERROR: failed to build: failed to solve: lint violation found for rules: JSONArgsRecommended
""")
    assert "strict" not in [r.repository for r in lab.images()]
    (ctx / "Dockerfile").write_text("# check=skip\nFROM scratch\n")
    status, out, err = _run("build", "-q", str(ctx))
    assert status == 1 and err == 'ERROR: failed to build: failed to solve: failed to parse check options: ' \
                                  'invalid check option "skip"\n'
    (ctx / "Dockerfile").write_text("# check=error=true\nFROM scratch\nCMD run me\n")
    status, out, err = _run("build", "-q", str(ctx))
    assert status == 1 and err == "ERROR: failed to build: failed to solve: lint violation found for rules: " \
                                  "JSONArgsRecommended\n"


def test_terminal_view_lists_warnings_under_their_step():
    from labkit.build.display import TtyDisplay
    from labkit.build.events import Progress

    # util/progress/progressui/display.go: " => WARN: Rule: message (line N)" after the step's statuses
    out = io.StringIO()
    tty = TtyDisplay(out, clock=lambda: 0.0, width=80)
    p = Progress(tty, clock=lambda: 0.0)
    v = p.start("[internal] load build definition from Dockerfile")
    p.status(v, "transferring dockerfile: 42B")
    p.warn(v, "JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior (line 3)")
    p.done(v)
    tty.close()
    last = out.getvalue().rsplit("A\r", 1)[-1].replace("\x1b[K", "")   # the final drawing
    rows = last.splitlines()
    assert rows[2].startswith(" => => transferring dockerfile: 42B ")
    assert rows[3] == " => WARN: JSONArgsRecommended: JSON arguments recommended for CMD to preve 0.0s"
