"""Dockerfile word processing: quotes, escapes and `$VAR` / `${VAR...}` substitution, as BuildKit does it.

A port of moby/buildkit frontend/dockerfile/shell/lex.go (pure): the same quoting rules (single quotes keep
everything, double quotes keep everything but `$` and escaped `"`, `$` and the escape character), the same
substitutions (`${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`,
`${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`, `${VAR/pat/repl}`, `${VAR//pat/repl}`)
and the same error texts ("failed to process \"...\": syntax error: bad substitution").

    lex = Lexer("\\")
    lex.process_word("${HOME:-/root}/bin", {"HOME": "/home/me"})     -> "/home/me/bin"
    lex.process_words('a "b c" $X', {"X": "d e"})                    -> ["a", "b c", "d", "e"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

EOF = ""

_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class ShellWordError(ValueError):
    """A word BuildKit refuses to process (unterminated quote, bad substitution, `${VAR:?}` unset)."""


@dataclass
class WordResult:
    """What processing one word gave: the word, its split words, the variables found and not found."""

    result: str
    words: list[str]
    matched: set = field(default_factory=set)
    unmatched: set = field(default_factory=set)


class _Scanner:
    """A character cursor with Go text/scanner's Peek and Next (EOF is "")."""

    __slots__ = ("text", "pos")

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else EOF

    def next(self) -> str:
        if self.pos >= len(self.text):
            return EOF
        ch = self.text[self.pos]
        self.pos += 1
        return ch


class _Words:
    """Go's wordsStruct: splits on unquoted whitespace while characters are added."""

    def __init__(self):
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace() and self.in_word:
            if self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        elif not ch.isspace():
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class Lexer:
    """BuildKit's shell.Lex: `escape` is the Dockerfile's escape token (`\\` or a backtick).

    raw_quotes keeps quote characters in the result, raw_escapes keeps escape characters, skip_unset_env
    leaves `$VAR` of an unset variable as written, skip_process_quotes treats quotes as plain characters.
    """

    def __init__(self, escape: str = "\\", raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_unset_env: bool = False, skip_process_quotes: bool = False):
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env
        self.skip_process_quotes = skip_process_quotes

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Return `word` with quotes processed and variables substituted (spaces kept); ShellWordError."""
        return self.process(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Return `word` split into words after substitution (quoted spaces kept); ShellWordError."""
        return self.process(word, env).words

    def process(self, word: str, env: Mapping[str, str]) -> WordResult:
        """Return the WordResult of `word` (result, split words, matched and unmatched variable names)."""
        sw = _ShellWord(self, word, env)
        try:
            result, words = sw.process_stop_on(EOF, self.raw_escapes)
        except ShellWordError as e:
            raise ShellWordError(f"failed to process {_go_quote(word)}: {e}") from None
        return WordResult(result, words, sw.matches, sw.nonmatches)


class _ShellWord:
    def __init__(self, lex: Lexer, word: str, env: Mapping[str, str]):
        self.lex = lex
        self.scanner = _Scanner(word)
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matches: set = set()
        self.nonmatches: set = set()

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            sc = self.scanner
            escape = self.lex.escape
            while sc.peek() != EOF:
                ch = sc.peek()
                if stop != EOF and ch == stop:
                    sc.next()
                    return "".join(result), words.get_words()
                special = None
                if ch == "$":
                    special = self.process_dollar
                elif ch == "<":
                    special = self.process_possible_heredoc
                elif not self.lex.skip_process_quotes and ch == "'":
                    special = self.process_single_quote
                elif not self.lex.skip_process_quotes and ch == '"':
                    special = self.process_double_quote
                if special is not None:
                    tmp = special()
                    result.append(tmp)
                    if ch == "$":
                        words.add_string(tmp)
                    else:
                        words.add_raw_string(tmp)
                    continue
                ch = sc.next()
                if ch == escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = sc.next()          # the escape token escapes the next character, except at the end
                    if ch == EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
            if stop != EOF:
                raise ShellWordError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get_words()
        finally:
            self.raw_escapes = saved

    def process_single_quote(self) -> str:
        # everything between single quotes is literal; a single quote cannot be escaped inside them
        sc = self.scanner
        out = []
        ch = sc.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = sc.next()
            if ch == EOF:
                raise ShellWordError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        # literal except `$`; the escape token escapes only `"`, `$` and itself (sh(1) "Double Quotes")
        sc = self.scanner
        out = []
        ch = sc.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            peek = sc.peek()
            if peek == EOF:
                raise ShellWordError("unexpected end of statement while looking for matching double-quote")
            if peek == '"':
                ch = sc.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if peek == "$":
                out.append(self.process_dollar())
                continue
            ch = sc.next()
            if ch == self.lex.escape:
                if self.raw_escapes:
                    out.append(ch)
                nxt = sc.peek()
                if nxt == EOF:
                    continue
                if nxt in ('"', "$", self.lex.escape):
                    ch = sc.next()
            out.append(ch)

    def process_dollar(self) -> str:
        sc = self.scanner
        sc.next()
        if sc.peek() != "{":                                  # $name
            name = self.process_name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        sc.next()
        peek = sc.peek()
        if peek == EOF:
            raise ShellWordError("syntax error: missing '}'")
        if peek in ("{", "}", ":"):
            raise ShellWordError("syntax error: bad substitution")
        name = self.process_name()
        ch = sc.next()
        chs = ch
        null_is_unset = False
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == ":":
            null_is_unset = True
            ch = sc.next()
            chs += ch
        if ch in ("+", "-", "?", "#", "%") or null_is_unset:
            raw = ch in ("#", "%")
            if null_is_unset and raw:
                raise ShellWordError(f"unsupported modifier ({chs}) in substitution")
            try:
                word, _ = self.process_stop_on("}", raw)
            except ShellWordError:
                if sc.peek() == EOF:
                    raise ShellWordError("syntax error: missing '}'") from None
                raise
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + chs + word + "}"
            if ch == "-":
                return word if (not found or (null_is_unset and value == "")) else value
            if ch == "+":
                return "" if (not found or (null_is_unset and value == "")) else word
            if ch == "?":
                if not found:
                    raise ShellWordError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise ShellWordError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            if ch in ("%", "#"):
                greedy = False
                if word and word[0] == ch:
                    greedy = True
                    word = word[1:]
                if ch == "%":
                    return _trim_suffix(word, value, greedy)
                return _trim_prefix(word, value, greedy)
            raise ShellWordError(f"unsupported modifier ({chs}) in substitution")
        if ch == "/":
            replace_all = sc.peek() == "/"
            if replace_all:
                sc.next()
            try:
                pattern, _ = self.process_stop_on("/", True)
            except ShellWordError:
                if sc.peek() == EOF:
                    raise ShellWordError("syntax error: missing '/' in ${}") from None
                raise
            try:
                replacement, _ = self.process_stop_on("}", True)
            except ShellWordError:
                if sc.peek() == EOF:
                    raise ShellWordError("syntax error: missing '}'") from None
                raise
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            regex = _shell_pattern_regex(pattern, greedy=True, anchored=False)
            if replace_all:
                return regex.sub(lambda _m: replacement, value)
            m = regex.search(value)
            if m:
                value = value[:m.start()] + replacement + value[m.end():]
            return value
        raise ShellWordError(f"unsupported modifier ({chs}) in substitution")

    def process_name(self) -> str:
        # a name is letters, digits and _; a leading digit reads all digits ($1), a special parameter one char
        sc = self.scanner
        name: list[str] = []
        while sc.peek() != EOF:
            ch = sc.peek()
            if not name and ch.isdigit():
                while sc.peek() != EOF and sc.peek().isdigit():
                    name.append(sc.next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return sc.next()
            if not (ch.isalpha() or ch.isdigit() or ch == "_"):
                break
            name.append(sc.next())
        return "".join(name)

    def process_possible_heredoc(self) -> str:
        sc = self.scanner
        sc.next()
        if sc.peek() != "<":
            return "<"
        sc.next()
        space = []
        while sc.peek() in ("\t", "\r", " ") and sc.peek() != EOF:
            space.append(sc.next())
        return "<<" + "".join(space)

    def get_env(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matches.add(name)
            return self.env[name], True
        self.nonmatches.add(name)
        return "", False


# --- ${VAR#pattern} and friends ----------------------------------------------------------------------------

def _shell_pattern_regex(pattern: str, greedy: bool, anchored: bool) -> "re.Pattern":
    """Return the regex of a shell wildcard pattern (`?` one char, `*` shortest or longest), no brackets."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):           # escaped as part of ${}, not part of the pattern
                continue
            if nxt not in ("*", "?", "\\"):
                raise ShellWordError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append("\\" + nxt)
            i += 1
            continue
        out.append(re.escape(tok) if tok in "[]{}.+()|^$" else tok)
    return re.compile("".join(out))   # like Go, "." stops at a newline


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _shell_pattern_regex(pattern, greedy, anchored=True).search(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    # reverse, keeping each escape before the character it escapes: a\*c -> c\*a
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        tok = pattern[i]
        j = last - i
        if tok == "\\" and i != last:
            out[j - 1] = tok
            out[j] = pattern[i + 1]
            i += 2
        else:
            out[j] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # a regex finds leftmost matches only: reverse the pattern and the value to trim the rightmost one
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


# --- Go's strconv.Quote (error texts quote words as Go does) ---------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def _go_quote(text: str) -> str:
    """Return `text` as Go's strconv.Quote writes it (printable characters kept, others escaped)."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif "\udc80" <= ch <= "\udcff":          # an undecodable byte (surrogateescape)
            out.append(f"\\x{ord(ch) - 0xdc00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


go_quote = _go_quote
