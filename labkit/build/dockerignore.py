""".dockerignore: reading the file and matching paths, as moby/patternmatcher does (pure).

A port of moby/patternmatcher (ignorefile.ReadAll, New, MatchesUsingParentResults and Pattern.compile):

- lines starting with `#` are comments; blank lines are skipped; each pattern is cleaned (`a/./b` -> `a/b`)
  and a leading `/` dropped, so `/tmp` and `tmp` are the same;
- `*` matches within one path component, `?` one character, `[...]` a range, `**` any number of
  components (`**/*.go`, `docs/**`), `\\` escapes;
- a pattern matching a directory excludes everything below it;
- `!pattern` re-includes what an earlier pattern excluded; the last matching pattern wins.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


class IgnorePatternError(ValueError):
    """A .dockerignore pattern patternmatcher refuses (a lone `!`, a bad `[` range)."""


def read_ignore(text: "str | bytes") -> list[str]:
    """Return the patterns of a .dockerignore file (ignorefile.ReadAll): comments and blanks dropped, each
    pattern cleaned, leading `/` removed, `!` kept in front."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def _clean(path: str) -> str:
    """Go's filepath.Clean on a slash path ("" -> ".", "//a" -> "/a")."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


_ESCAPE = set(".+()|{}$")


@dataclass
class Pattern:
    """One pattern: its cleaned text, whether it is an exception (`!`), and how it matches."""

    text: str
    exclusion: bool
    kind: str = ""               # exact, prefix, suffix or regexp
    regex: "re.Pattern | None" = None

    def __post_init__(self):
        self.dirs = self.text.split("/")
        self._compile()

    def _compile(self) -> None:
        out = ["^"]
        kind = "exact"
        text = self.text
        i = 0
        n = len(text)
        first = True
        while i < n:
            ch = text[i]
            i += 1
            if ch == "*":
                if i < n and text[i] == "*":
                    i += 1
                    if i < n and text[i] == "/":
                        i += 1              # "**/" counts as "**"
                    if i >= n:              # "**" at the end matches everything, as .gitignore
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            out.append(".*")
                            kind = "regexp"
                    else:
                        out.append("(.*/)?")  # any number of components, even none
                        kind = "regexp"
                    if first:
                        kind = "suffix"
                else:
                    out.append("[^/]*")
                    kind = "regexp"
            elif ch == "?":
                out.append("[^/]")
                kind = "regexp"
            elif ch in _ESCAPE:
                out.append("\\" + ch)
            elif ch == "\\":
                if i < n:
                    out.append("\\" + text[i])
                    i += 1
                    kind = "regexp"
                else:
                    out.append("\\\\")
            elif ch in "[]":
                out.append(ch)
                kind = "regexp"
            else:
                out.append(ch)
            first = False
        if kind == "regexp":
            try:
                self.regex = re.compile("".join(out) + r"\Z")
            except re.error as e:
                raise IgnorePatternError(f"syntax error in pattern {self.text!r}: {e}") from None
        self.kind = kind

    def match(self, path: str) -> bool:
        """Return True when `path` (slash-separated, relative) matches this pattern."""
        kind = self.kind
        if kind == "exact":
            return path == self.text
        if kind == "prefix":
            return path.startswith(self.text[:-2])
        if kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]      # "**/foo" matches "foo"
        return bool(self.regex.match(path))


class PatternMatcher:
    """A list of patterns, matched in order (patternmatcher.PatternMatcher)."""

    def __init__(self, patterns: "list[str]"):
        self.patterns: list[Pattern] = []
        self.exclusions = False
        for p in patterns:
            p = p.strip()
            if not p:
                continue
            p = _clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise IgnorePatternError('illegal exclusion pattern: "!"')
                p = p[1:]
                self.exclusions = True
            _check_syntax(p)
            self.patterns.append(Pattern(p, exclusion))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str, parent: "list[bool] | None" = None) -> tuple[bool, list[bool]]:
        """Return (excluded?, this path's per-pattern results) for `path`, given its parent directory's
        per-pattern results (MatchesUsingParentResults; None: the parents are checked here)."""
        matched = False
        info = [False] * len(self.patterns)
        for i, pattern in enumerate(self.patterns):
            match = parent[i] if parent else False
            if not match:
                if pattern.exclusion != matched:
                    continue        # an inclusion already matched, or an exception with nothing to undo
                match = pattern.match(path)
                if not match and not parent:
                    head = posixpath.dirname(path)
                    if head:
                        parts = head.split("/")
                        for k in range(1, len(parts) + 1):
                            if pattern.match("/".join(parts[:k])):
                                match = True
                                break
            info[i] = match
            if match:
                matched = not pattern.exclusion
        return matched, info

    def excluded(self, path: str) -> bool:
        """Return True when `path` (or a directory above it) is excluded (MatchesOrParentMatches)."""
        return self.matches(path)[0]

    def may_include_below(self, directory: str) -> bool:
        """Return True when an exception (`!pattern`) could re-include something inside an excluded
        `directory`, so a walk must still enter it (fsutil's walker)."""
        if not self.exclusions:
            return False
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def _check_syntax(pattern: str) -> None:
    """Refuse what Go's filepath.Match refuses: an unclosed `[`, a trailing `\\` inside a range."""
    depth = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[" and not depth:
            depth = True
        elif ch == "]" and depth:
            depth = False
        i += 1
    if depth:
        raise IgnorePatternError("syntax error in pattern")
