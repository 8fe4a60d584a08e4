"""The Dockerfile front end, pure parts: grammar, word processing, instructions, .dockerignore.

The expected results come from BuildKit's and patternmatcher's own tests (tests/data/buildkit holds their
files; the tables below transcribe their Go test tables), plus the examples of the Dockerfile reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.build import instructions as ins
from labkit.build.dockerfile import DockerfileSyntaxError, Heredoc, parse
from labkit.build.dockerignore import IgnorePatternError, PatternMatcher, read_ignore
from labkit.build.shellwords import Lexer, ShellWordError

DATA = Path(__file__).parent / "data" / "buildkit"


# --- the grammar: BuildKit's parser test files --------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(p.name for p in (DATA / "testfiles").iterdir()))
def test_parse_tree_matches_buildkit(case):
    folder = DATA / "testfiles" / case
    assert parse((folder / "Dockerfile").read_bytes()).root.dump() + "\n" == (folder / "result").read_text()


@pytest.mark.parametrize("case", sorted(p.name for p in (DATA / "testfiles-negative").iterdir()))
def test_parse_errors_of_buildkit_negative_files(case):
    with pytest.raises(DockerfileSyntaxError):
        parse((DATA / "testfiles-negative" / case / "Dockerfile").read_bytes())


def test_line_numbers_cover_continuations_and_comments():
    text = ("FROM busybox\n"        # 1
            "# a comment\n"         # 2
            "RUN echo a && \\\n"    # 3
            "  # inside\n"          # 4
            "\n"                    # 5 (empty continuation line)
            "  echo b\n"            # 6
            "COPY <<EOF /x\n"       # 7
            "hello\n"               # 8
            "EOF\n"                 # 9
            "CMD [\"sh\"]\n")       # 10
    result = parse(text)
    assert [(n.value, n.start_line, n.end_line) for n in result.instructions] == [
        ("FROM", 1, 1), ("RUN", 3, 6), ("COPY", 7, 9), ("CMD", 10, 10)]
    assert result.instructions[1].original == "RUN echo a &&   echo b"
    assert result.instructions[1].prev_comment == ["a comment"]
    assert result.warnings == ["Empty continuation line found in: RUN echo a &&   echo b"]


def test_directives_only_at_the_top_and_once():
    assert parse("# escape=`\nFROM x\nRUN a `\n b\n").instructions[1].original == "RUN a  b"
    assert parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\n").directives == {
        "syntax": "docker/dockerfile:1", "escape": "`"}
    # an empty line, a comment or an instruction ends the directives
    assert parse("\n# escape=`\nFROM x\nRUN a `\n").instructions[1].original == "RUN a `"
    with pytest.raises(DockerfileSyntaxError, match="only one escape parser directive can be used") as e:
        parse("# escape=\\\n# escape=`\nFROM x\n")
    assert e.value.start == 2
    with pytest.raises(DockerfileSyntaxError, match="invalid escape token '!' does not match ` or"):
        parse("# escape=!\nFROM x\n")


def test_byte_order_mark_and_crlf():
    result = parse(b"\xef\xbb\xbfFROM busybox\r\nRUN echo hi\r\n")
    assert [n.original for n in result.instructions] == ["FROM busybox", "RUN echo hi"]


def test_empty_files():
    for text in ("", "\n\n", "# only a comment\n"):
        with pytest.raises(DockerfileSyntaxError, match="file with no instructions"):
            parse(text)


# heredocs (BuildKit's parser_heredoc_test.go, TestParseExtractsHeredoc)
HEREDOC_FILE = r"""
FROM alpine:3.6

RUN <<EMPTY
EMPTY

RUN 3<<EMPTY2
EMPTY2

RUN "<<NOHEREDOC"

RUN <<INDENT
	foo
	bar
INDENT

RUN <<-UNINDENT2
	baz
	quux
	UNINDENT2

RUN <<-'NOEXPAND'
	don't expand $NAME
NOEXPAND

RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT

COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2

COPY <<X <<Y /dest
Y
X
X
Y

RUN <<COMPLEX python3
print('hello world')
COMPLEX

RUN <<eo'f'
echo foo
eof

RUN <<eo\'f
echo foo
eo'f

RUN <<'one two'
echo bar
one two

RUN <<  EOF
EOF
"""

HEREDOCS = [
    [],
    [Heredoc("EMPTY", 0, True, False, "")],
    [Heredoc("EMPTY2", 3, True, False, "")],
    [],
    [Heredoc("INDENT", 0, True, False, "\tfoo\n\tbar\n")],
    [Heredoc("UNINDENT2", 0, True, True, "\tbaz\n\tquux\n")],
    [Heredoc("NOEXPAND", 0, False, True, "\tdon't expand $NAME\n")],
    [Heredoc("MOUNT", 0, True, False, "echo hello\n")],
    [Heredoc("FILE1", 0, True, False, "content 1\n"), Heredoc("FILE2", 0, True, False, "content 2\n")],
    [Heredoc("X", 0, True, False, "Y\n"), Heredoc("Y", 0, True, False, "X\n")],
    [Heredoc("COMPLEX", 0, True, False, "print('hello world')\n")],
    [Heredoc("eof", 0, False, False, "echo foo\n")],
    [Heredoc("eo'f", 0, True, False, "echo foo\n")],
    [Heredoc("one two", 0, False, False, "echo bar\n")],
    [Heredoc("EOF", 0, True, False, "")],
]


def test_heredocs_as_buildkit_extracts_them():
    assert [n.heredocs for n in parse(HEREDOC_FILE).instructions] == HEREDOCS


def test_heredoc_errors_and_non_heredoc_instructions():
    with pytest.raises(DockerfileSyntaxError, match="unterminated heredoc"):
        parse("FROM x\nRUN <<EOF\necho hi\n")
    # only RUN, COPY and ADD read heredocs; the exec form never does
    nodes = parse('FROM x\nUSER <<INVALID\nINVALID\nRUN ["<<EOF"]\n').instructions
    assert [n.heredocs for n in nodes] == [[], [], [], []]
    assert [n.value for n in nodes] == ["FROM", "USER", "INVALID", "RUN"]


# --- words and substitution: BuildKit's shell tables -------------------------------------------------------

def _env_var_cases():
    for line in (DATA / "envVarTest").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        platform, source, expected = (w.strip() for w in line.split("|"))
        if platform != "W":
            yield source, expected


@pytest.mark.parametrize("source,expected", list(_env_var_cases()))
def test_substitution_matches_buildkit(source, expected):
    env = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}
    if expected == "error":
        with pytest.raises(ShellWordError, match="failed to process"):
            Lexer().process_word(source, env)
    else:
        assert Lexer().process_word(source, env) == expected


def _words_cases():
    env: dict = {}
    for line in (DATA / "wordsTest").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            key, _, value = line[3:].lstrip(" ").partition("=")
            env[key] = value
            continue
        source, expected = line.split("|")
        yield source.strip(), expected.lstrip(" ").split(","), dict(env)


@pytest.mark.parametrize("source,expected,env", list(_words_cases()))
def test_word_splitting_matches_buildkit(source, expected, env):
    try:
        got = Lexer().process_words(source, env)
    except ShellWordError:
        got = ["error"]
    assert got == expected


@pytest.mark.parametrize("word,env,expected", [
    # the Dockerfile reference's examples (Environment replacement)
    ("${variable:-word}", {}, "word"),
    ("${variable:-word}", {"variable": "set"}, "set"),
    ("${variable:+word}", {"variable": "set"}, "word"),
    ("${variable:+word}", {}, ""),
    ("${variable#*/}", {"variable": "foo/bar/baz"}, "bar/baz"),
    ("${variable##*/}", {"variable": "foo/bar/baz"}, "baz"),
    ("${variable%/*}", {"variable": "foo/bar/baz"}, "foo/bar"),
    ("${variable%%/*}", {"variable": "foo/bar/baz"}, "foo"),
    ("${variable/bar/x}", {"variable": "bar/bar"}, "x/bar"),
    ("${variable//bar/x}", {"variable": "bar/bar"}, "x/x"),
    ("\\$foo", {"foo": "1"}, "$foo"),
    ("\\${foo}", {"foo": "1"}, "${foo}"),
    ("${VAR-default}", {"VAR": ""}, ""),
])
def test_substitution_reference_examples(word, env, expected):
    assert Lexer().process_word(word, env) == expected


def test_required_variables_and_errors():
    with pytest.raises(ShellWordError, match="VAR: message herex"):
        Lexer().process_word("${VAR:?message here$ARG}", {"VAR": "", "ARG": "x"})
    with pytest.raises(ShellWordError, match=r"failed to process \"\$\{:x\}\": syntax error: bad substitution"):
        Lexer().process_word("${:x}", {})
    with pytest.raises(ShellWordError, match=r"unsupported modifier \(:#\) in substitution"):
        Lexer().process_word("${a:#b}", {"a": "x"})


def test_backtick_escape():
    assert Lexer("`").process_word("C:`\\path `$HOME", {"HOME": "/h"}) == "C:\\path $HOME"


# --- instructions: BuildKit's flags, argument rules and messages ------------------------------------------

def _stages(text):
    return ins.parse_stages(parse(text))


@pytest.mark.parametrize("text,message", [
    ("FORM busybox\n", "dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)"),
    ("FROM x\nRUNN echo\n", "dockerfile parse error on line 2: unknown instruction: RUNN (did you mean RUN?)"),
    ("FROM x\nfoo bar\n", "dockerfile parse error on line 2: unknown instruction: foo"),
    ("FROM x\nCOPY\t\n", "dockerfile parse error on line 2: COPY requires at least two arguments, but only one "
                        "was provided. Destination could not be determined"),
    ("FROM x\nONBUILD FROM scratch\n", "FROM isn't allowed as an ONBUILD trigger"),
    ("FROM x\nONBUILD ONBUILD RUN touch foobar\n", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FROM x\nMAINTAINER --boo joe@example.com\n", "unknown flag: --boo"),
    ("FROM x\nCOPY --form=a b c\n", "unknown flag: --form (did you mean from?)"),
    ("FROM x\nCOPY --chown a b\n", "missing a value on flag: --chown"),
    ("FROM x\nCOPY --link=maybe a b\n", "expecting boolean value for flag --link, not: maybe"),
    ("FROM x\nCOPY --from=a --from=b c d\n", "duplicate flag specified: --from"),
    ("FROM x\nWORKDIR\n", "WORKDIR requires exactly one argument"),
    ("FROM x\nUSER\n", "USER requires exactly one argument"),
    ("FROM x\nEXPOSE\n", "EXPOSE requires at least one argument"),
    ("FROM x\nENV\n", "ENV requires at least one argument"),
    ("FROM x\nENV A\n", "ENV must have two arguments"),
    ("FROM x\nLABEL a=b c\n", "Syntax error - can't find = in \"c\". Must be of the form: name=value"),
    ("FROM x\nARG =x\n", "ARG names can not be blank"),
    ("FROM x\nSHELL sh -c\n", "SHELL requires the arguments to be in JSON form"),
    ("FROM x\nHEALTHCHECK --interval=1 CMD true\n", 'time: missing unit in duration "1"'),
    ("FROM x\nHEALTHCHECK --interval=100us CMD true\n", 'Interval "interval" cannot be less than 1ms'),
    ("FROM x\nHEALTHCHECK GET /\n", 'Unknown type "GET" in HEALTHCHECK (try CMD)'),
    ("FROM x\nHEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments"),
    ("FROM x\nHEALTHCHECK --retries=-1 CMD true\n", "--retries cannot be negative (-1)"),
    ("FROM a b\n", "FROM requires either one or three arguments"),
    ("FROM a AS 1st\n", 'invalid name for build stage: "1st", name can\'t start with a number or contain symbols'),
    ("RUN echo\n", "no build stage in current context"),
    ("ARG A\n", "dockerfile contains no stages to build"),
    ('FROM x\nCMD ["a", 1]\n', "when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM x\nCOPY a <<EOF\nEOF\n", "COPY cannot accept a heredoc as a destination"),
])
def test_instruction_errors(text, message):
    with pytest.raises((ins.InstructionError, DockerfileSyntaxError)) as e:
        _stages(text)
    assert message in str(e.value)


def test_stages_and_meta_args():
    stages, meta = _stages("ARG BASE=busybox\nARG TAG\nFROM ${BASE}:${TAG:-latest} AS Build\nRUN make\n"
                           "FROM --platform=linux/arm64 scratch\nCOPY --from=build /out /\n")
    assert [str(a) for m in meta for a in m.args] == ["BASE=busybox", "TAG"]
    assert [(s.base, s.name, s.platform, s.index) for s in stages] == [
        ("${BASE}:${TAG:-latest}", "build", "", 0), ("scratch", "", "linux/arm64", 1)]
    assert [c.code for c in stages[0].commands] == ["RUN make"]
    copy = stages[1].commands[0]
    assert (copy.from_, copy.sources, copy.dest, copy.is_add) == ("build", ["/out"], "/", False)


def test_instruction_forms():
    (stage,), _ = _stages(
        'FROM busybox\nRUN echo "a b"  c\nRUN ["echo", "x"]\nCMD echo hi\nENTRYPOINT []\n'
        "ENV A=1 B=\"two words\"\nENV LEGACY a value\nLABEL version=1.0\nEXPOSE 80/udp 443\n"
        'VOLUME ["/data", "/logs"]\nHEALTHCHECK --interval=30s --retries=3 CMD curl -f http://localhost/\n'
        "ADD --chmod=644 --checksum=sha256:abc https://example.com/x.tar /opt/\n"
        "COPY --chown=1000:1000 --exclude=*.md --link a b /dst/\nSHELL [\"/bin/bash\", \"-c\"]\n"
        "STOPSIGNAL SIGKILL\nONBUILD RUN echo built\nARG V=1 W\nWORKDIR /app\nUSER nobody\n")
    c = stage.commands
    assert (c[0].cmdline, c[0].prepend_shell) == (['echo "a b"  c'], True)
    assert (c[1].cmdline, c[1].prepend_shell) == (["echo", "x"], False)
    assert c[2].cmdline == ["echo hi"] and c[3].cmdline is None
    assert [(kv.key, kv.value, kv.no_delim) for kv in c[4].env] == [("A", "1", False), ("B", '"two words"', False)]
    assert [(kv.key, kv.value, kv.no_delim) for kv in c[5].env] == [("LEGACY", "a value", True)]
    assert c[7].ports == ["443", "80/udp"]                    # BuildKit sorts them
    assert c[8].volumes == ["/data", "/logs"]
    assert c[9].health.to_config() == {"Test": ["CMD-SHELL", "curl -f http://localhost/"],
                                       "Interval": 30_000_000_000, "Retries": 3}
    add = c[10]
    assert (add.is_add, add.chmod, add.checksum, add.sources, add.dest) == (
        True, "644", "sha256:abc", ["https://example.com/x.tar"], "/opt/")
    copy = c[11]
    assert (copy.chown, copy.excludes, copy.link, copy.sources) == ("1000:1000", ["*.md"], True, ["a", "b"])
    assert c[12].shell == ["/bin/bash", "-c"] and c[13].signal == "SIGKILL"
    assert c[14].expression == "RUN echo built"
    assert [str(a) for a in c[15].args] == ["V=1", "W"]
    assert (c[16].path, c[17].user) == ("/app", "nobody")


def test_heredoc_sources_of_copy():
    (stage,), _ = _stages("FROM x\nCOPY <<one.txt <<-'two' /dst/\nhello $X\none.txt\n\tworld\n\ttwo\n")
    copy = stage.commands[0]
    assert [(s.path, s.data, s.expand) for s in copy.contents] == [("one.txt", "hello $X\n", True),
                                                                   ("two", "world\n", False)]
    assert copy.sources == []


@pytest.mark.parametrize("text,expected", [
    ("30s", 30 * 10**9), ("1m30s", 90 * 10**9), ("1.5h", 5400 * 10**9), ("0", 0), ("300ms", 3 * 10**8)])
def test_durations(text, expected):
    assert ins.parse_duration(text) == expected


# --- .dockerignore: patternmatcher's tables --------------------------------------------------------------

MATCHES = [  # (pattern, path, matched) from patternmatcher_test.go TestMatches
    ("**", "file", True), ("**", "file/", True), ("**/", "file", True), ("**/", "file/", True),
    ("**", "/", True), ("**/", "/", True), ("**", "dir/file", True), ("**/", "dir/file", True),
    ("**/**", "dir/file", True), ("dir/**", "dir/file", True), ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True), ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True), ("**file", "file", True), ("**file", "dir/file", True),
    ("**/file", "dir/file", True), ("**file", "dir/dir/file", True), ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True), ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False), ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True), ("a**/*.txt", "a/file.txt", True), ("a**/*.txt", "a/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True), ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True),
    (".*", ".foo", True), (".*", "foo", False), ("abc.def", "abcdef", False), ("abc.def", "abc.def", True),
    ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False), ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/dir2/foo/bar", True), ("abc/**", "abc", False),
    ("abc/**", "abc/def/ghi", True), ("**/.foo", ".foo", True), ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True), ("a(b)c/def", "a(b)c/xyz", False), ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]

MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
]


@pytest.mark.parametrize("pattern,path,matched", MATCHES)
def test_ignore_pattern_matches(pattern, path, matched):
    pm = PatternMatcher([pattern])
    assert pm.excluded(path) is matched
    # walking down, each directory's results handed to its children, gives the same answer
    info = None
    parts = path.split("/")[:-1]
    for k in range(1, len(parts) + 1):
        _, info = pm.matches("/".join(parts[:k]), info)
    assert pm.matches(path, info)[0] is matched


@pytest.mark.parametrize("patterns,path,matched", MULTI)
def test_ignore_exceptions(patterns, path, matched):
    assert PatternMatcher(patterns).excluded(path) is matched


def test_read_ignore_file():
    text = "# comment\n\n  /tmp  \n!/tmp/keep\n./a/../b\n*.pyc\n"
    assert read_ignore(text) == ["tmp", "!tmp/keep", "b", "*.pyc"]
    with pytest.raises(IgnorePatternError, match='illegal exclusion pattern: "!"'):
        PatternMatcher(["!"])
    with pytest.raises(IgnorePatternError):
        PatternMatcher(["["])
    assert PatternMatcher(["docs", "!docs/keep.md"]).may_include_below("docs")
    assert not PatternMatcher(["docs"]).may_include_below("docs")
