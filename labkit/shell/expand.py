"""Word expansion (XCU 2.6): tilde, parameters, command substitution, arithmetic, field splitting, pathnames.

`expand(words, ctx)` turns parsed words (labkit.shell.syntax) into the argument strings a command gets; the
context answers for variables, positional parameters, command substitution and the container's files.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import Protocol

IFS_WHITESPACE = " \t\n"


class ExpansionError(Exception):
    """An expansion that stops the command: ${x?message}, bad arithmetic. `message` is the shell's text."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Context(Protocol):
    """What expansion asks of the shell running it."""

    def get(self, name: str) -> "str | None": ...
    def set(self, name: str, value: str) -> None: ...
    def params(self) -> list[str]: ...
    def special(self, name: str) -> str: ...
    def substitute(self, seq: list) -> str: ...
    def listdir(self, path: str) -> "list[str] | None": ...
    def cwd(self) -> str: ...
    def home(self, user: str) -> "str | None": ...


class _Field:
    __slots__ = ("segs", "quoted")

    def __init__(self):
        self.segs: list[tuple[str, bool]] = []
        self.quoted = False

    def text(self) -> str:
        return "".join(t for t, _ in self.segs)


class _Builder:
    def __init__(self):
        self.fields = [_Field()]
        self.boundary = False

    def _cur(self) -> _Field:
        if self.boundary:
            self.fields.append(_Field())
            self.boundary = False
        return self.fields[-1]

    def add(self, text: str, quoted: bool) -> None:
        f = self._cur()
        if text:
            f.segs.append((text, quoted))
        if quoted:
            f.quoted = True

    def add_split(self, text: str) -> None:
        """Add the result of an unquoted expansion: split on IFS whitespace (XCU 2.6.5)."""
        if not text:
            return
        words = text.split()
        if text[0] in IFS_WHITESPACE and (self.fields[-1].segs or self.fields[-1].quoted):
            self.boundary = True
        for i, w in enumerate(words):
            if i:
                self.boundary = True
            self.add(w, False)
        if words and text[-1] in IFS_WHITESPACE:
            self.boundary = True
        elif not words:
            self.boundary = True

    def new_field(self) -> None:
        self.boundary = True

    def result(self) -> list[_Field]:
        return [f for f in self.fields if f.segs or f.quoted]


def expand(words: list, ctx: Context) -> list[str]:
    """Return the fields of `words` after every expansion, field splitting and pathname expansion."""
    out: list[str] = []
    for word in words:
        b = _Builder()
        _parts(word, ctx, b, quoted=False)
        for f in b.result():
            out.extend(_pathnames(f, ctx))
    return out


def expand_one(word: list, ctx: Context) -> str:
    """Return a word expanded without field splitting or pathnames (assignments, redirection targets)."""
    b = _Builder()
    _parts(word, ctx, b, quoted=True, split=False)
    return "".join(f.text() for f in b.fields)


def _parts(parts: list, ctx: Context, b: _Builder, quoted: bool, split: bool = True) -> None:
    for part in parts:
        kind = part[0]
        if kind == "lit":
            b.add(part[1], quoted)
        elif kind == "q":
            b.add(part[1], True)
        elif kind == "dq":
            if len(part[1]) == 1 and part[1][0][0] == "var" and part[1][0][1] == "@" and not part[1][0][2]:
                params = ctx.params()
                for i, p in enumerate(params):
                    if i:
                        b.new_field()
                    b.add(p, True)
                continue
            b.add("", True)
            _parts(part[1], ctx, b, quoted=True, split=False)
        elif kind == "tilde":
            home = ctx.get("HOME") if not part[1] else ctx.home(part[1])
            b.add(home if home is not None else "~" + part[1], True)
        else:
            if kind == "var" and part[1] in "@*" and not part[2] and not quoted and split:
                for i, p in enumerate(ctx.params()):
                    if i:
                        b.new_field()
                    b.add_split(p)
                continue
            text = _expansion(part, ctx, quoted)
            if quoted or not split:
                b.add(text, True)
            else:
                b.add_split(text)


def _expansion(part: list, ctx: Context, quoted: bool) -> str:
    kind = part[0]
    if kind == "sub":
        return ctx.substitute(part[1]).rstrip("\n")
    if kind == "arith":
        return str(arith(_arith_text(part[1], ctx), ctx))
    name, op, arg = part[1], part[2], part[3]
    value = _param(name, ctx)
    if op == "#len":
        return str(len(value or ""))
    if op == "":
        return value or ""
    null_counts = op.startswith(":")
    unset = value is None or (null_counts and value == "")
    base = op.lstrip(":")
    if base == "-":
        return expand_one(arg or [], ctx) if unset else value
    if base == "=":
        if unset:
            new = expand_one(arg or [], ctx)
            ctx.set(name, new)
            return new
        return value
    if base == "+":
        return "" if unset else expand_one(arg or [], ctx)
    if base == "?":
        if unset:
            msg = expand_one(arg or [], ctx) or ("parameter null or not set" if null_counts else "parameter not set")
            raise ExpansionError(f"{name}: {msg}")
        return value
    return value or ""


def _param(name: str, ctx: Context) -> "str | None":
    if name in "@*":
        return " ".join(ctx.params())
    if name in "#?$!-0":
        return ctx.special(name)
    if name.isdigit():
        params = ctx.params()
        i = int(name)
        return params[i - 1] if 0 < i <= len(params) else None
    return ctx.get(name)


def _arith_text(text: str, ctx: Context) -> str:
    """Expand $x, ${x} and $(...) inside an arithmetic expression before evaluating it."""
    def repl(m):
        name = m.group(1) or m.group(2)
        return _param(name, ctx) or "0"
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*|[0-9#?$!])\}|\$([A-Za-z_][A-Za-z0-9_]*|[0-9#?$!])", repl, text)


# --- arithmetic (XCU 2.6.4: C's integer operators) --------------------------------------------------------

_ARITH_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%()<>!~&|^?:]))")
_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="), ("<<", ">>"),
           ("+", "-"), ("*", "/", "%")]


def arith(text: str, ctx: Context) -> int:
    """Return the value of a shell arithmetic expression (integers, variables, C operators)."""
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _ARITH_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpansionError(f"arithmetic expression: expecting primary: \"{text}\"")
        num, name, op = m.groups()
        tokens.append(("n", int(num, 0)) if num else ("v", name) if name else ("o", op))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if not tokens:
        return 0
    p = _Arith(tokens, ctx, text)
    value = p.ternary()
    if p.i != len(tokens):
        raise ExpansionError(f"arithmetic expression: expecting EOF: \"{text}\"")
    return value


class _Arith:
    def __init__(self, tokens, ctx, text):
        self.t, self.i, self.ctx, self.text = tokens, 0, ctx, text

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else ("", None)

    def take(self, op):
        if self.peek() == ("o", op):
            self.i += 1
            return True
        return False

    def ternary(self) -> int:
        cond = self.binary(0)
        if self.take("?"):
            a = self.ternary()
            if not self.take(":"):
                raise ExpansionError(f"arithmetic expression: expecting ':': \"{self.text}\"")
            b = self.ternary()
            return a if cond else b
        return cond

    def binary(self, level: int) -> int:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "o" and self.peek()[1] in _BINARY[level]:
            op = self.t[self.i][1]
            self.i += 1
            right = self.binary(level + 1)
            left = _apply(op, left, right, self.text)
        return left

    def unary(self) -> int:
        for op, fn in (("-", lambda v: -v), ("+", lambda v: v), ("!", lambda v: int(not v)), ("~", lambda v: ~v)):
            if self.take(op):
                return fn(self.unary())
        kind, value = self.peek()
        if kind == "n":
            self.i += 1
            return value
        if kind == "v":
            self.i += 1
            raw = (self.ctx.get(value) or "0").strip() or "0"
            try:
                return int(raw, 0)
            except ValueError:
                raise ExpansionError(f"arithmetic expression: expecting primary: \"{self.text}\"") from None
        if self.take("("):
            v = self.ternary()
            if not self.take(")"):
                raise ExpansionError(f"arithmetic expression: expecting ')': \"{self.text}\"")
            return v
        raise ExpansionError(f"arithmetic expression: expecting primary: \"{self.text}\"")


def _apply(op: str, a: int, b: int, text: str) -> int:
    if op in ("/", "%") and b == 0:
        raise ExpansionError("arithmetic expression: division by zero: \"" + text + "\"")
    if op == "/":
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q          # C truncates toward zero
    if op == "%":
        return a - b * _apply("/", a, b, text)
    return {"+": a + b, "-": a - b, "*": a * b, "<<": a << b, ">>": a >> b, "<": int(a < b), "<=": int(a <= b),
            ">": int(a > b), ">=": int(a >= b), "==": int(a == b), "!=": int(a != b), "&": a & b, "^": a ^ b,
            "|": a | b, "&&": int(bool(a) and bool(b)), "||": int(bool(a) or bool(b))}[op]


# --- pathname expansion (XCU 2.13) ------------------------------------------------------------------------

def _pathnames(f: _Field, ctx: Context) -> list[str]:
    text = f.text()
    if not any(not q and any(c in t for c in "*?[") for t, q in f.segs):
        return [text]
    pattern = "".join(t if not q else "".join(f"[{c}]" if c in "*?[]" else c for c in t) for t, q in f.segs)
    found = _glob(pattern, ctx)
    return found or [text]


def _glob(pattern: str, ctx: Context) -> list[str]:
    absolute = pattern.startswith("/")
    parts = [p for p in pattern.split("/") if p]
    bases = ["/" if absolute else ""]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt = []
        magic = any(c in part for c in "*?[")
        for base in bases:
            if not magic:
                literal = _unescape(part)
                cand = posixpath.join(base, literal) if base else literal
                nxt.append(cand)
                continue
            names = ctx.listdir(posixpath.join(ctx.cwd(), base) if not absolute else base or "/")
            if names is None:
                continue
            for name in names:
                if name.startswith(".") and not part.startswith((".", "[.]")):
                    continue
                if fnmatch.fnmatchcase(name, part):
                    nxt.append(posixpath.join(base, name) if base else name)
        bases = sorted(nxt)
        if not bases:
            return []
        if not last and not magic:
            continue
    # a literal tail must exist (the shell checks the whole path)
    return [b for b in bases if ctx.listdir(b if absolute else posixpath.join(ctx.cwd(), b)) is not None
            or _exists(b, ctx, absolute)]


def _exists(path: str, ctx: Context, absolute: bool) -> bool:
    full = path if absolute else posixpath.join(ctx.cwd(), path)
    names = ctx.listdir(posixpath.dirname(full) or "/")
    return names is not None and posixpath.basename(full) in names


def _unescape(part: str) -> str:
    return re.sub(r"\[(.)\]", r"\1", part)
