"""The Dockerfile grammar, as BuildKit parses it: lines into a tree of nodes (pure, no disk).

A port of moby/buildkit frontend/dockerfile/parser (parser.go, line_parsers.go, split_command.go,
directives.go), so labkit reads a Dockerfile exactly as `docker build` does:

- parser directives (`# syntax=...`, `# escape=...`, `# check=...`) only at the very top, each once; the
  first comment, empty line or instruction ends them;
- comments are whole lines starting with `#` (leading spaces allowed), also between continued lines;
- a line ending in the escape token (`\\`, or a backtick after `# escape=\\``) continues on the next line;
  empty continuation lines are skipped (with BuildKit's warning);
- builder flags (`--from=x`) right after the instruction;
- each instruction's own argument syntax: JSON (exec form) or shell form for RUN/CMD/ENTRYPOINT/SHELL,
  name=value pairs (or the legacy "name value") for ENV/LABEL, words for ARG, a sub-instruction for ONBUILD;
- heredocs (`<<EOF`, `<<-EOF`, quoted delimiters) for RUN, COPY and ADD.

Instructions are not checked here (an unknown one is kept, as BuildKit's parser keeps it): labkit.build.
instructions turns nodes into typed instructions and raises "unknown instruction". `Node.dump()` writes
BuildKit's own debug form, which its test files record, so the tests compare with upstream's expectations.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Optional

from ..errors import LabkitError
from .shellwords import Lexer, ShellWordError, go_quote

DEFAULT_ESCAPE = "\\"
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$", re.S)
_LEADING_TABS = re.compile(r"^\t+", re.M)
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$", re.S)
_VALID_DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_INSTRUCTIONS = ("add", "copy", "run")
EMPTY_CONTINUATION_WARNING = "Empty continuation lines will become errors in a future release"


class DockerfileSyntaxError(LabkitError):
    """A Dockerfile that does not parse; `start`/`end` are its 1-based lines (BuildKit's location)."""

    def __init__(self, message: str, start: int = 0, end: int = 0):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = max(end, start)


@dataclass(frozen=True)
class Heredoc:
    """A heredoc of an instruction: its delimiter name, file descriptor, whether to expand variables in it
    and to strip leading tabs (`<<-`), and its content (each line with its newline)."""

    name: str
    fd: int = 0
    expand: bool = True
    chomp: bool = False
    content: str = ""


@dataclass
class Node:
    """One node of BuildKit's parse tree: an instruction (value = its name as written) with its arguments
    as a chain of `next` nodes; ONBUILD's argument node holds the sub-instruction in `children`."""

    value: str = ""
    next: "Optional[Node]" = None
    children: list = field(default_factory=list)
    heredocs: list = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    original: str = ""
    flags: list = field(default_factory=list)
    start_line: int = 0
    end_line: int = 0
    prev_comment: list = field(default_factory=list)

    def args(self) -> list[str]:
        """Return the argument values (the `next` chain; a sub-instruction's name then its arguments)."""
        out: list[str] = []
        node = self
        while node.next is not None:
            arg = node.next
            if not arg.children:
                out.append(arg.value)
            elif len(arg.children) == 1:
                out.append(arg.children[0].value)
                out.extend(arg.children[0].args())
            node = arg
        return out

    @property
    def is_json(self) -> bool:
        """Return True when the arguments were written as a JSON array (exec form)."""
        return bool(self.attributes.get("json"))

    def dump(self) -> str:
        """Return BuildKit's Node.Dump() text ("(from \\"busybox\\")" per instruction)."""
        out = [self.value.lower()]
        if self.flags:
            out.append(" [" + " ".join(go_quote(f) for f in self.flags) + "]")
        for child in self.children:
            out.append("(" + child.dump() + ")\n")
        node = self.next
        while node is not None:
            out.append(" ")
            out.append(node.dump() if node.children else go_quote(node.value))
            node = node.next
        return "".join(out).strip()


@dataclass
class Result:
    """A parsed Dockerfile: the instructions (root.children), the escape token, the warnings."""

    root: Node
    escape: str
    warnings: list = field(default_factory=list)
    directives: dict = field(default_factory=dict)

    @property
    def instructions(self) -> list:
        """Return the instruction nodes in order."""
        return self.root.children


# --- directives ---------------------------------------------------------------------------------------------

class _Directives:
    """The parser's state: the escape token, the continuation rule, and the directive scanner."""

    def __init__(self):
        self.done = False
        self.seen: dict[str, str] = {}
        self.set_escape(DEFAULT_ESCAPE)

    def set_escape(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise DockerfileSyntaxError(f"invalid escape token '{token}' does not match ` or \\")
        self.escape = token
        e = re.escape(token)
        # the escape token at the end of a line continues it, unless it is itself escaped; alone on a line too
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    def parse_line(self, line: str) -> bool:
        """Return True if `line` is a parser directive (and apply `escape`); False once directives are over."""
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(line[1:].lstrip())
        if not m or m.group(1).lower() not in _VALID_DIRECTIVES:
            self.done = True
            return False
        name = m.group(1).lower()
        if name in self.seen:
            raise DockerfileSyntaxError(f"only one {name} parser directive can be used")
        self.seen[name] = m.group(2)
        if name == "escape":
            self.set_escape(m.group(2))
        return True


# --- line parsers (one per instruction's argument syntax) ----------------------------------------------

def _parse_words(rest: str, d: _Directives) -> list[str]:
    """Split on whitespace, keeping quotes (and escapes) for the later word processing."""
    words: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    buf: list[str] = []
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == in_word:
            if ch.isspace():
                phase = in_spaces
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == d.escape:
                if pos + 1 == n:
                    pos += 1
                    continue                  # an escape token at the very end is dropped
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if phase == in_quote:
            if ch == quote:
                phase = in_word
            if ch == d.escape and quote != "'":
                if pos + 1 == n:
                    phase = in_word
                    pos += 1
                    continue
                pos += 1
                buf.append(ch)
                ch = rest[pos]
            buf.append(ch)
            pos += 1
    return words


def _kv_node(key: str, value: str, sep: str) -> Node:
    return Node(key, Node(value, Node(sep)))


def _chain(nodes: list) -> "Node | None":
    for a, b in zip(nodes, nodes[1:]):
        last = a
        while last.next is not None:
            last = last.next
        last.next = b
    return nodes[0] if nodes else None


def _parse_name_val(rest: str, key: str, d: _Directives) -> "Node | None":
    words = _parse_words(rest, d)
    if not words:
        return None
    if "=" not in words[0]:                     # the legacy form: KEY name value
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileSyntaxError(f"{key} must have two arguments")
        return _kv_node(parts[0], parts[1], "")
    nodes = []
    for word in words:
        if "=" not in word:
            raise DockerfileSyntaxError(f"Syntax error - can't find = in {go_quote(word)}. "
                                        "Must be of the form: name=value")
        k, _, v = word.partition("=")
        nodes.append(_kv_node(k, v, "="))
    return _chain(nodes)


def _parse_env(rest, d):
    return _parse_name_val(rest, "ENV", d), {}


def _parse_label(rest, d):
    return _parse_name_val(rest, "LABEL", d), {}


def _parse_name_or_name_val(rest, d):
    words = _parse_words(rest, d)
    return _chain([Node(w) for w in words]), {}


def _parse_strings_whitespace_delimited(rest, d):
    if rest == "":
        return None, {}
    return _chain([Node(s) for s in _WHITESPACE.split(rest)]), {}


def _parse_string(rest, d):
    if rest == "":
        return None, {}
    return Node(rest), {}


class _NotJSON(Exception):
    pass


_NOT_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"


def _reject_constant(name):
    raise ValueError(name)            # NaN and Infinity are not JSON (Go's decoder refuses them)


def _parse_json(rest: str):
    rest = rest.lstrip()
    if not rest.startswith("["):
        raise _NotJSON()
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except ValueError:
        raise _NotJSON() from None
    if not isinstance(value, list):
        raise _NotJSON()
    if not all(isinstance(v, str) for v in value):
        raise DockerfileSyntaxError(_NOT_STRINGS)
    return _chain([Node(v) for v in value]), {"json": True}


def _parse_maybe_json(rest, d):
    if rest == "":
        return None, {}
    try:
        return _parse_json(rest)
    except _NotJSON:
        return Node(rest), {}


def _parse_maybe_json_to_list(rest, d):
    try:
        return _parse_json(rest)
    except _NotJSON:
        return _parse_strings_whitespace_delimited(rest, d)


def _parse_health_config(rest, d):
    sep = 0
    while sep < len(rest) and not rest[sep].isspace():
        sep += 1
    nxt = sep
    while nxt < len(rest) and rest[nxt].isspace():
        nxt += 1
    if sep == 0:
        return None, {}
    cmd, attrs = _parse_maybe_json(rest[nxt:], d)
    return Node(rest[:sep], cmd), attrs


def _parse_sub_command(rest, d):
    if rest == "":
        return None, {}
    child = _node_from_line(rest, d, [])
    return Node(children=[child]), {}


def _parse_ignore(rest, d):
    return Node(), {}


_DISPATCH = {
    "add": _parse_maybe_json_to_list, "arg": _parse_name_or_name_val, "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list, "entrypoint": _parse_maybe_json, "env": _parse_env,
    "expose": _parse_strings_whitespace_delimited, "from": _parse_strings_whitespace_delimited,
    "healthcheck": _parse_health_config, "label": _parse_label, "maintainer": _parse_string,
    "onbuild": _parse_sub_command, "run": _parse_maybe_json, "shell": _parse_maybe_json,
    "stopsignal": _parse_string, "user": _parse_string, "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}


# --- splitting an instruction line -----------------------------------------------------------------------

def _extract_builder_flags(line: str, d: _Directives) -> tuple[str, list[str]]:
    """Return (the rest of the line, the `--flag[=value]` words at its start)."""
    words: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    buf: list[str] = []
    quote = ""
    blank_ok = False
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words     # only words starting with "--" are flags
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == in_word:
            if ch.isspace():
                word = "".join(buf)
                phase = in_spaces
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
                pos += 1
                continue
            if ch == d.escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            buf.append(ch)
            pos += 1
            continue
        if phase == in_quote:
            if ch == quote:
                phase = in_word
                pos += 1
                continue
            if ch == d.escape:
                if pos + 1 == n:
                    phase = in_word
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            buf.append(ch)
            pos += 1
    return "", words


def _split_command(line: str, d: _Directives) -> tuple[str, list[str], str]:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    args, flags = "", []
    if len(parts) == 2:
        args, flags = _extract_builder_flags(parts[1], d)
    return parts[0], flags, args.strip()


def _node_from_line(line: str, d: _Directives, comments: list) -> Node:
    cmd, flags, args = _split_command(line, d)
    fn = _DISPATCH.get(cmd.lower(), _parse_ignore)
    nxt, attrs = fn(args, d)
    return Node(value=cmd, original=line, flags=flags, next=nxt, attributes=attrs or {},
                prev_comment=list(comments))


# --- heredocs ----------------------------------------------------------------------------------------------

def parse_heredoc(word: str) -> "Heredoc | None":
    """Return the Heredoc a word like `<<EOF`, `<<-'EOF'` or `3<<EOF` opens, or None."""
    m = _HEREDOC.match(word)
    if not m:
        return None
    fd = int(m.group(1)) if m.group(1) else 0
    chomp = m.group(2) == "-"
    rest = m.group(3)
    if not rest:
        return None
    lex = Lexer("\\", skip_unset_env=True)
    words = lex.process_words(rest, {})
    if len(words) != 1:
        return None
    raw = Lexer("\\", raw_quotes=True, skip_unset_env=True).process_words(rest, {})
    if len(raw) != len(words):
        raise DockerfileSyntaxError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    # a quoted delimiter (even partly quoted: eo'f') turns expansion off, as in sh
    return Heredoc(words[0], fd=fd, expand=quotes == raw_quotes, chomp=chomp)


def _heredocs_in(line: str) -> list[Heredoc]:
    lex = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, {})
    except ShellWordError:
        words = []
    out = []
    for word in words:
        try:
            h = parse_heredoc(word)
        except ShellWordError as e:
            raise DockerfileSyntaxError(str(e)) from None
        if h is not None:
            out.append(h)
    return out


def chomp_heredoc(content: str) -> str:
    """Return heredoc content with each line's leading tabs removed (`<<-`)."""
    return _LEADING_TABS.sub("", content)


def _can_contain_heredoc(node: Node) -> bool:
    if node.value.lower() == "onbuild" and node.next is not None and node.next.children:
        node = node.next.children[0]
    return node.value.lower() in HEREDOC_INSTRUCTIONS and not node.is_json


# --- the parser ----------------------------------------------------------------------------------------

def _is_comment(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith("#")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _lines(text: str) -> list[str]:
    """Split keeping each line's ending (bufio.Scanner with BuildKit's scanLines)."""
    out = []
    start = 0
    while True:
        i = text.find("\n", start)
        if i < 0:
            if start < len(text):
                out.append(text[start:])
            return out
        out.append(text[start:i + 1])
        start = i + 1


def parse(source: "str | bytes") -> Result:
    """Parse a Dockerfile; return its Result. DockerfileSyntaxError (with the line) when it does not parse."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", "surrogateescape")
    if source.startswith("\ufeff"):
        source = source[1:]                      # the byte-order mark BuildKit drops
    d = _Directives()
    lines = _lines(source)
    root = Node(start_line=-1)
    warnings: list[str] = []
    comments: list[str] = []
    current = 0
    i = 0

    def process(raw: str, strip_left: bool) -> tuple[str, bool]:
        token = _trim_newline(raw)
        if strip_left:
            token = token.lstrip()
        is_directive = d.parse_line(token)
        return ("" if _is_comment(token) else token), is_directive

    def continued(token: str) -> tuple[str, bool]:
        if d.continuation.search(token):
            return d.continuation.sub(r"\1", token, count=1), False
        return token, True

    while i < len(lines):
        raw = lines[i]
        i += 1
        if _is_comment(raw):
            comment = raw[1:].strip()
            comments = [] if comment == "" else comments + [comment]
        try:
            token, is_directive = process(raw, True)
        except DockerfileSyntaxError as e:
            raise DockerfileSyntaxError(e.message, current + 1, current + 1) from None
        if is_directive and comments:
            comments = comments[:-1]
        current += 1
        start = current
        token, end_of_line = continued(token)
        if end_of_line and token == "":
            continue
        buf = [token]
        empty_continuation = False
        while not end_of_line and i < len(lines):
            raw = lines[i]
            i += 1
            try:
                token, _ = process(raw, False)
            except DockerfileSyntaxError as e:
                raise DockerfileSyntaxError(e.message, current + 1, current + 1) from None
            current += 1
            if _is_comment(raw):
                continue
            if _trim_newline(token).lstrip() == "":
                empty_continuation = True
                continue
            token, end_of_line = continued(token)
            buf.append(token)
        line = "".join(buf)
        if empty_continuation:
            warnings.append(f"Empty continuation line found in: {line}")
        try:
            child = _node_from_line(line, d, comments)
        except DockerfileSyntaxError as e:
            raise DockerfileSyntaxError(e.message, start, current) from None
        if _can_contain_heredoc(child) and "<<" in line:
            try:
                docs = _heredocs_in(line)
            except DockerfileSyntaxError as e:
                raise DockerfileSyntaxError(e.message, start, current) from None
            for doc in docs:
                content = []
                terminated = False
                while i < len(lines):
                    raw = lines[i]
                    i += 1
                    current += 1
                    candidate = _trim_newline(raw)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    content.append(raw)
                if not terminated:
                    raise DockerfileSyntaxError("unterminated heredoc", start, current)
                child.heredocs.append(Heredoc(doc.name, doc.fd, doc.expand, doc.chomp, "".join(content)))
        child.start_line, child.end_line = start, current
        if root.start_line < 0:
            root.start_line = start
        root.end_line = current
        root.children.append(child)
        comments = []
    if root.start_line < 0:
        raise DockerfileSyntaxError("file with no instructions", current, current)
    return Result(root, d.escape, warnings, dict(d.seen))
