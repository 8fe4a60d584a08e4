"""A subset of Go's text/template, as `docker ... --format` uses it, with Go's own error messages.

    tmpl = parse("{{.Repository}}:{{.Tag}}")
    tmpl.execute(Struct("*formatter.imageContext", {"Repository": "ubuntu", "Tag": "latest"}))  # "ubuntu:latest"

What it covers (Go's text/template and parse packages, go1.22):
- text and actions, `{{- ` / ` -}}` trimming, comments `{{/* */}}`, newlines inside actions;
- fields `.A.B`, `.` , variables `$` / `$x := pipeline` / `$x = pipeline`, `$x.Field`, `(pipeline).Field`;
- literals: strings ("..." and `...`), numbers, true/false, nil;
- pipelines `a | b c` (the value is the last argument of the next command);
- `if` / `else if` / `else`, `range` (with `$i, $v :=`, and `else`), `with` (and `else`), `end`;
- functions: Go's and, or, not, len, index, print, printf, println, eq, ne, lt, le, gt, ge, and Docker's
  json, join, split, lower, upper, title, pad, truncate (docker/cli templates/templates.go).
Not covered: define / template / block (an error says so), break / continue, html, js, urlquery, call,
slice, method values with arguments other than those a Struct declares.

Data: Go structs are `Struct` values (a Go type name for error messages and their fields, each a value or
a function computing it; a field function taking arguments is a method with arguments, like
`{{.Label "k"}}`); Python dicts are Go maps (a missing key prints "<no value>", or fails with
`missingkey="error"`, as Docker's inspect fallback runs); lists are slices; None is nil.
Errors are TemplateError with Go's text: "template: :1: unclosed action", "template: :1:2: executing \"\" at
<.Foo>: can't evaluate field Foo in type *formatter.imageContext".
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import LabkitError


class TemplateError(LabkitError):
    """A template that does not parse or execute; the message is Go's."""


class Method:
    """A struct method that takes arguments (`{{.Label "com.example.key"}}`); Docker's JSON leaves it out."""

    def __init__(self, fn: Callable, nargs: int):
        self.fn = fn
        self.nargs = nargs


class Stringer:
    """A Go value with a String method: prints as `text`, encodes to JSON as `json_value` (Docker's ps
    Platform: "linux/amd64", {"architecture": "amd64", "os": "linux"})."""

    def __init__(self, text: str, json_value):
        self.text = text
        self.json_value = json_value

    def __repr__(self) -> str:
        return f"Stringer({self.text!r})"


class Struct:
    """A Go struct (pointer) value: a type name (for errors) and fields, each a value, a function computing
    it (a method without arguments), or a Method."""

    def __init__(self, type_name: str, fields: Mapping[str, Any], json_fields: "Mapping[str, Any] | None" = None):
        self.type_name = type_name
        self.fields = dict(fields)
        self.json_fields = dict(json_fields or {})  # values MarshalJSON gives instead (docker's search flags)

    def has(self, name: str) -> bool:
        return name in self.fields

    def get(self, name: str, args: tuple = ()):
        value = self.fields[name]
        if isinstance(value, Method):
            return value.fn(*args)
        return value() if callable(value) else value

    def takes_args(self, name: str) -> bool:
        return isinstance(self.fields[name], Method)

    def marshal(self) -> dict:
        """Return what Docker's formatter.MarshalJSON gives: every field that takes no argument."""
        return {k: self.json_fields[k] if k in self.json_fields else self.get(k)
                for k in sorted(self.fields) if not self.takes_args(k)}

    def __repr__(self) -> str:
        return f"Struct({self.type_name!r}, {sorted(self.fields)})"


_NO_VALUE = object()   # an invalid reflect.Value (a missing map key): prints "<no value>"
_MISSING = object()    # no final pipeline value


# --- printing values the way fmt.Print does ------------------------------------------------------------

def _go_float(f: float) -> str:
    """Return a float64 as fmt's %v writes it (strconv 'g' with the shortest digits: 1e+06, 0.5, 123456)."""
    from decimal import Decimal

    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == 0:
        return "0"
    sign, all_digits, exponent = Decimal(repr(f)).as_tuple()
    text = "".join(map(str, all_digits))
    digits = text.rstrip("0")
    exponent += len(text) - len(digits)
    nd = len(digits)
    dp = nd + exponent  # value = 0.<digits> x 10^dp
    neg = "-" if sign else ""
    exp = dp - 1
    if exp < -4 or exp >= 6:  # shortest precision decides with 6, as strconv does
        body = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{neg}{body}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{digits}"
    if dp >= nd:
        return f"{neg}{digits}{'0' * (dp - nd)}"
    return f"{neg}{digits[:dp]}.{digits[dp:]}"


def go_string(value) -> str:
    """Return `value` as Go's fmt.Print writes it (%v)."""
    if value is _NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{go_string(k)}:{go_string(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, Struct):
        return "&{" + " ".join(go_string(v) for v in value.marshal().values()) + "}"
    if isinstance(value, Stringer):
        return value.text
    return str(value)


def _jsonable(value):
    if isinstance(value, Stringer):
        return _jsonable(value.json_value)
    if isinstance(value, Struct):
        return {k: _jsonable(v) for k, v in value.marshal().items()}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is _NO_VALUE:
        return None
    return value


def go_json(value) -> str:
    """Return Docker's `json` template function: encoding/json without HTML escaping, map keys sorted."""
    text = json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _truth(value) -> bool:
    """Go's isTrue: the zero value of its type is false."""
    if value is _NO_VALUE or value is None:
        return False
    if isinstance(value, Struct):
        return True
    if isinstance(value, (str, list, tuple, dict, Mapping)):
        return len(value) > 0
    if isinstance(value, (bool, int, float)):
        return bool(value)
    return True


# --- the functions ------------------------------------------------------------------------------------

class _FuncError(Exception):
    """An error a function returns: execution stops with "error calling NAME: ..."."""


def _index(item, *indexes):
    for i in indexes:
        if item is None or item is _NO_VALUE:
            raise _FuncError("index of untyped nil")
        if isinstance(item, Mapping):
            item = item.get(i, "" if all(isinstance(v, str) for v in item.values()) else None)
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(i, int) or isinstance(i, bool):
                raise _FuncError(f"cannot index slice/array with type {_type_name(i)}")
            if not 0 <= i < len(item):
                raise _FuncError(f"index out of range: {i}")
            item = item[i] if not isinstance(item, str) else ord(item[i])
        else:
            raise _FuncError(f"can't index item of type {_type_name(item)}")
    return item


def _type_name(value) -> str:
    if isinstance(value, Struct):
        return value.type_name
    return {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}",
            tuple: "[]interface {}", dict: "map[string]interface {}", type(None): "<nil>"}.get(type(value), "interface {}")


def _len(item):
    if isinstance(item, (str, list, tuple, Mapping)):
        return len(item)
    raise _FuncError(f"len of type {_type_name(item)}")


def _compare(a, b, op: str):
    basic = (bool, int, float, str)
    if a is None or b is None or not isinstance(a, basic) or not isinstance(b, basic):
        if op in ("eq", "ne") and (a is None or b is None):
            raise _FuncError("incompatible types for comparison")
        raise _FuncError("invalid type for comparison")
    if isinstance(a, str) != isinstance(b, str) or isinstance(a, bool) != isinstance(b, bool):
        raise _FuncError("incompatible types for comparison")
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if isinstance(a, bool):
        raise _FuncError("invalid type for comparison")
    return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


def _eq(a, *others):
    if not others:
        raise _FuncError("missing argument for comparison")
    return any(_compare(a, b, "eq") for b in others)


def _sprint(*args) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    out = ""
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_string(a)
    return out


_VERB_RE = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _sprintf(fmt: str, *args) -> str:
    """fmt.Sprintf for the verbs templates use: %s %v %d %q %t %f %x %%, with flags and width."""
    out, i, pos = [], 0, 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if i >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[i]
        i += 1
        if verb in "sv":
            text = go_string(a) if verb == "v" or not isinstance(a, str) else a
            if prec is not None:
                text = text[:int(prec)]
        elif verb == "d" and isinstance(a, int) and not isinstance(a, bool):
            text = str(a)
        elif verb == "q" and isinstance(a, str):
            text = json.dumps(a, ensure_ascii=False)
        elif verb == "t" and isinstance(a, bool):
            text = go_string(a)
        elif verb == "f" and isinstance(a, (int, float)) and not isinstance(a, bool):
            text = f"{float(a):.{int(prec) if prec is not None else 6}f}"
        elif verb == "x" and isinstance(a, (int, str)) and not isinstance(a, bool):
            text = format(a, "x") if isinstance(a, int) else a.encode().hex()
        else:
            text = f"%!{verb}({_type_name(a)}={go_string(a)})"
        if width is not None:
            w = int(width)
            text = text.ljust(w) if "-" in flags else text.rjust(w, "0" if "0" in flags and verb in "dfx" else " ")
        out.append(text)
    out.append(fmt[pos:])
    if i < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_type_name(a)}={go_string(a)}" for a in args[i:]) + ")")
    return "".join(out)


def _join(elems, sep):
    if elems is None:
        return ""
    if isinstance(elems, Mapping):
        return sep.join(sorted(go_string(v) for v in elems.values()))
    if isinstance(elems, (list, tuple)):
        return sep.join(go_string(v) for v in elems)
    raise _FuncError(f"expected slice, got {_type_name(elems)}")


def _pad(source, prefix, suffix):
    return source if source == "" else " " * prefix + source + " " * suffix


def _truncate(source, length):
    return source if len(source) < length else source[:length]


def _title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), s)


@dataclass(frozen=True)
class Func:
    """A template function: its Python body and how many arguments it takes (min, max; None: variadic)."""

    fn: Callable
    min_args: int
    max_args: "int | None"
    str_args: tuple[int, ...] = ()   # argument positions that must be strings (Go's typed parameters)
    int_args: tuple[int, ...] = ()


BUILTINS: dict[str, Func] = {
    "and": Func(lambda *a: next((x for x in a if not _truth(x)), a[-1]), 1, None),
    "or": Func(lambda *a: next((x for x in a if _truth(x)), a[-1]), 1, None),
    "not": Func(lambda a: not _truth(a), 1, 1),
    "len": Func(_len, 1, 1),
    "index": Func(_index, 1, None),
    "print": Func(_sprint, 0, None),
    "printf": Func(_sprintf, 1, None, str_args=(0,)),
    "println": Func(lambda *a: " ".join(go_string(x) for x in a) + "\n", 0, None),
    "eq": Func(_eq, 1, None),
    "ne": Func(lambda a, b: _compare(a, b, "ne"), 2, 2),
    "lt": Func(lambda a, b: _compare(a, b, "lt"), 2, 2),
    "le": Func(lambda a, b: _compare(a, b, "le"), 2, 2),
    "gt": Func(lambda a, b: _compare(a, b, "gt"), 2, 2),
    "ge": Func(lambda a, b: _compare(a, b, "ge"), 2, 2),
}

# docker/cli templates.basicFunctions
DOCKER_FUNCS: dict[str, Func] = {
    "json": Func(go_json, 1, 1),
    "split": Func(lambda s, sep: s.split(sep) if sep else list(s), 2, 2, str_args=(0, 1)),
    "join": Func(_join, 2, 2, str_args=(1,)),
    "title": Func(_title, 1, 1, str_args=(0,)),
    "lower": Func(str.lower, 1, 1, str_args=(0,)),
    "upper": Func(str.upper, 1, 1, str_args=(0,)),
    "pad": Func(_pad, 3, 3, str_args=(0,), int_args=(1, 2)),
    "truncate": Func(_truncate, 2, 2, str_args=(0,), int_args=(1,)),
}

# docker/cli templates.HeaderFunctions: a table's header row keeps the column names as they are
HEADER_FUNCS: dict[str, Func] = {
    **DOCKER_FUNCS,
    "json": Func(lambda v: v, 1, 1, str_args=(0,)),
    "split": Func(lambda v, _sep: v, 2, 2, str_args=(0, 1)),
    "join": Func(lambda v, _sep: v, 2, 2, str_args=(0, 1)),
    "title": Func(lambda v: v, 1, 1, str_args=(0,)),
    "lower": Func(lambda v: v, 1, 1, str_args=(0,)),
    "upper": Func(lambda v: v, 1, 1, str_args=(0,)),
    "truncate": Func(lambda v, _n: v, 2, 2, str_args=(0,), int_args=(1,)),
}


# --- the lexer (text/template/parse/lex.go) --------------------------------------------------------------

@dataclass
class _Item:
    typ: str
    pos: int
    val: str
    line: int

    def __str__(self) -> str:  # lex.go item.String
        if self.typ == "EOF":
            return "EOF"
        if self.typ == "error":
            return self.val
        if self.typ in _KEYWORDS.values() or self.typ == "dot":
            return f"<{self.val}>"
        if len(self.val) > 10:
            return json.dumps(self.val[:10], ensure_ascii=False) + "..."
        return json.dumps(self.val, ensure_ascii=False)


_KEYWORDS = {"block": "block", "define": "define", "else": "else", "end": "end", "if": "if", "range": "range",
             "nil": "nil", "template": "template", "with": "with", "break": "break", "continue": "continue"}
_SPACE = " \t\r\n"
_NUMBER_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]*|[0-9_]*)(\.[0-9_]*)?([eEpP][+-]?[0-9_]+)?i?")


def _alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


class _Lexer:
    def __init__(self, text: str):
        self.s = text
        self.items: list[_Item] = []
        self.line = 1

    def run(self) -> list[_Item]:
        s, pos = self.s, 0
        while True:
            x = s.find("{{", pos)
            if x < 0:
                if pos < len(s):
                    self._emit("text", pos, s[pos:])
                self._emit("EOF", len(s), "")
                return self.items
            end_text = x
            trim_left = s.startswith("- ", x + 2) or s.startswith("-\t", x + 2) or s.startswith("-\n", x + 2) \
                or s.startswith("-\r", x + 2)
            if trim_left:
                end_text = len(s[pos:x].rstrip(_SPACE)) + pos
            if end_text > pos:
                self._emit("text", pos, s[pos:end_text])
            self.line += s.count("\n", end_text, x)
            start = x + 2 + (2 if trim_left else 0)
            if s.startswith("/*", start):
                pos = self._comment(x, start)
                if pos is None:
                    return self.items
                continue
            self._emit("leftDelim", x, "{{")
            pos = self._action(start)
            if pos is None:
                return self.items

    def _emit(self, typ: str, pos: int, val: str) -> None:
        self.items.append(_Item(typ, pos, val, self.line))
        if typ in ("text", "rawString"):
            self.line += val.count("\n")

    def _error(self, pos: int, msg: str) -> None:
        self.items.append(_Item("error", pos, msg, self.line))

    def _comment(self, delim: int, start: int):
        s = self.s
        end = s.find("*/", start + 2)
        if end < 0:
            self._error(delim, "unclosed comment")
            return None
        self.line += s.count("\n", start, end)
        p = end + 2
        closing, trim = self._at_right_delim(p)
        if not closing:
            self._error(delim, "comment ends before closing delimiter")
            return None
        return self._after_right_delim(p, trim)

    def _after_right_delim(self, p: int, trim: bool) -> int:
        """Return where text resumes after the right delimiter at `p` (" -}}" when `trim`: spaces after it
        are trimmed)."""
        p += 4 if trim else 2
        if trim:
            q = len(self.s) - len(self.s[p:].lstrip(_SPACE))
            self.line += self.s.count("\n", p, q)
            p = q
        return p

    def _at_right_delim(self, p: int) -> "tuple[bool, bool]":
        if self.s.startswith("}}", p):
            return True, False
        if self.s.startswith(" -}}", p) or self.s.startswith("\t-}}", p) or self.s.startswith("\n-}}", p) \
                or self.s.startswith("\r-}}", p):
            return True, True
        return False, False

    def _terminator(self, p: int) -> bool:
        c = self.s[p] if p < len(self.s) else ""
        return c == "" or c in _SPACE or c in ".,|:)(" or c == "}"

    def _field_or_variable_end(self, p: int) -> "int | None":
        """Return where the field (".Name") or variable ("$name") starting at `p` ends (lex.go
        lexFieldOrVariable); None, with the error emitted, when something else than a terminator follows."""
        q = p + 1
        while q < len(self.s) and _alnum(self.s[q]):
            q += 1
        if not self._terminator(q):
            self._error(p, f"bad character {_rune(self.s[q])}")
            return None
        return q

    def _action(self, p: int):
        s = self.s
        depth = 0
        while True:
            delim, trim = self._at_right_delim(p)
            if delim:
                if depth:
                    self._error(p, "unclosed left paren")
                    return None
                self._emit("rightDelim", p + (2 if trim else 0), "}}")
                return self._after_right_delim(p, trim)
            if p >= len(s):
                self._error(p, "unclosed action")
                return None
            c = s[p]
            if c in _SPACE:
                q = p
                while q < len(s) and s[q] in _SPACE:
                    q += 1
                if s.startswith("-}}", q):
                    q -= 1  # the last space belongs to the trim marker " -}}"
                if q > p:
                    self._emit("space", p, s[p:q])
                    self.line += s.count("\n", p, q)
                p = q
            elif c == ":":
                if s[p + 1:p + 2] != "=":
                    self._error(p, "expected :=")
                    return None
                self._emit("declare", p, ":=")
                p += 2
            elif c == "=":
                self._emit("assign", p, "=")
                p += 1
            elif c == "|":
                self._emit("pipe", p, "|")
                p += 1
            elif c == '"':
                q = p + 1
                while True:
                    if q >= len(s) or s[q] == "\n":
                        self._error(p, "unterminated quoted string")
                        return None
                    if s[q] == "\\":
                        if q + 1 >= len(s) or s[q + 1] == "\n":
                            self._error(p, "unterminated quoted string")
                            return None
                        q += 2
                        continue
                    if s[q] == '"':
                        break
                    q += 1
                self._emit("string", p, s[p:q + 1])
                p = q + 1
            elif c == "`":
                q = s.find("`", p + 1)
                if q < 0:
                    self._error(p, "unterminated raw quoted string")
                    return None
                self._emit("rawString", p, s[p:q + 1])
                p = q + 1
            elif c == "$":
                q = self._field_or_variable_end(p)
                if q is None:
                    return None
                self._emit("variable", p, s[p:q])
                p = q
            elif c == "'":
                q = p + 1
                while q < len(s) and s[q] != "'":
                    if s[q] == "\n":
                        break
                    q += 2 if s[q] == "\\" else 1
                if q >= len(s) or s[q] != "'":
                    self._error(p, "unterminated character constant")
                    return None
                self._emit("charConstant", p, s[p:q + 1])
                p = q + 1
            elif c == "." and p + 1 < len(s) and not s[p + 1].isdigit():
                q = self._field_or_variable_end(p)
                if q is None:
                    return None
                self._emit("field" if q > p + 1 else "dot", p, s[p:q])
                p = q
            elif c in "+-." or c.isdigit():
                m = _NUMBER_RE.match(s, p)
                q = m.end()
                if q < len(s) and _alnum(s[q]):
                    self._error(p, f"bad number syntax: {json.dumps(s[p:q + 1])}")
                    return None
                self._emit("number", p, s[p:q])
                p = q
            elif _alnum(c):
                q = p
                while q < len(s) and _alnum(s[q]):
                    q += 1
                if not self._terminator(q):
                    self._error(p, f"bad character {_rune(s[q])}")
                    return None
                word = s[p:q]
                if word in _KEYWORDS:
                    self._emit(_KEYWORDS[word], p, word)
                elif word in ("true", "false"):
                    self._emit("bool", p, word)
                else:
                    self._emit("identifier", p, word)
                p = q
            elif c == "(":
                self._emit("leftParen", p, "(")
                depth += 1
                p += 1
            elif c == ")":
                self._emit("rightParen", p, ")")
                depth -= 1
                p += 1
                if depth < 0:
                    self._error(p - 1, f"unexpected right paren {_rune(')')}")
                    return None
            elif c.isascii() and c.isprintable():
                self._emit("char", p, c)
                p += 1
            else:
                self._error(p, f"unrecognized character in action: {_rune(c)}")
                return None


def _rune(c: str) -> str:
    """Return Go's %#U of a rune: U+007D '}'."""
    if not c:
        return "U+FFFFFFFF"
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


# --- the parse tree (text/template/parse/node.go) ---------------------------------------------------------

@dataclass
class _Node:
    pos: int


@dataclass
class _Text(_Node):
    text: str

    def __str__(self):
        return self.text


@dataclass
class _Field(_Node):
    ident: list

    def __str__(self):
        return "".join("." + i for i in self.ident)


@dataclass
class _Variable(_Node):
    ident: list

    def __str__(self):
        return ".".join(self.ident)


@dataclass
class _Word(_Node):
    """A node that prints as one fixed word."""

    WORD = ""

    def __str__(self):
        return self.WORD


class _Dot(_Word):
    WORD = "."


class _Nil(_Word):
    WORD = "nil"


class _End(_Word):
    WORD = "{{end}}"


class _Else(_Word):
    WORD = "{{else}}"


@dataclass
class _Literal(_Node):
    value: Any
    text: str

    def __str__(self):
        return self.text


@dataclass
class _Identifier(_Node):
    name: str

    def __str__(self):
        return self.name


@dataclass
class _Command(_Node):
    args: list = field(default_factory=list)

    def __str__(self):
        return " ".join(f"({a})" if isinstance(a, _Pipe) else str(a) for a in self.args)


@dataclass
class _Pipe(_Node):
    decl: list = field(default_factory=list)
    is_assign: bool = False
    cmds: list = field(default_factory=list)

    def __str__(self):
        head = ""
        if self.decl:
            head = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(c) for c in self.cmds)


@dataclass
class _Chain(_Node):
    node: Any
    fields: list

    def __str__(self):
        inner = f"({self.node})" if isinstance(self.node, _Pipe) else str(self.node)
        return inner + "".join("." + f for f in self.fields)


@dataclass
class _Action(_Node):
    pipe: _Pipe

    def __str__(self):
        return "{{" + str(self.pipe) + "}}"


@dataclass
class _Control(_Node):
    kind: str      # if range with
    pipe: _Pipe
    body: list
    orelse: "list | None"

    def __str__(self):  # parse.BranchNode.String: the whole node, body and else included
        body = "".join(str(n) for n in self.body)
        orelse = "{{else}}" + "".join(str(n) for n in self.orelse) if self.orelse is not None else ""
        return "{{" + self.kind + " " + str(self.pipe) + "}}" + body + orelse + "{{end}}"


class _Parser:
    def __init__(self, text: str, name: str, funcs: Mapping[str, Func]):
        self.text = text
        self.name = name
        self.funcs = funcs
        self.items = _Lexer(text).run()
        self.i = 0
        self.last = self.items[0]
        self.vars = ["$"]

    # token stream
    def next(self) -> _Item:
        item = self.items[min(self.i, len(self.items) - 1)]
        self.i += 1
        self.last = item
        return item

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> _Item:
        return self.items[min(self.i, len(self.items) - 1)]

    def next_non_space(self) -> _Item:
        while True:
            item = self.next()
            if item.typ != "space":
                return item

    def peek_non_space(self) -> _Item:
        item = self.next_non_space()
        self.backup()
        return item

    def error(self, msg: str):
        raise TemplateError(f"template: {self.name}:{self.last.line}: {msg}")

    def unexpected(self, item: _Item, context: str):
        if item.typ == "error":
            self.error(item.val)
        self.error(f"unexpected {item} in {context}")

    # grammar
    def parse(self) -> list:
        root = []
        while self.peek().typ != "EOF":
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                self.error(f"unexpected {node}")
            root.append(node)
        return root

    def item_list(self):
        out = []
        while self.peek_non_space().typ != "EOF":
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                return out, node
            out.append(node)
        self.error("unexpected EOF")

    def text_or_action(self):
        item = self.next_non_space()
        if item.typ == "text":
            return _Text(item.pos, item.val)
        if item.typ == "leftDelim":
            return self.action()
        self.unexpected(item, "input")

    def action(self):
        item = self.next_non_space()
        if item.typ == "else":
            return self.else_control()
        if item.typ == "end":
            self.expect("rightDelim", "end")
            return _End(item.pos)
        if item.typ in ("if", "range", "with"):
            return self.control(item.typ, item.pos)
        if item.typ in ("define", "block", "template", "break", "continue"):
            self.error(f"labkit's templates do not support {{{{{item.val}}}}}")
        self.backup()
        pos = self.peek().pos
        return _Action(pos, self.pipeline("command"))

    def expect(self, typ: str, context: str) -> _Item:
        item = self.next_non_space()
        if item.typ != typ:
            self.unexpected(item, context)
        return item

    def else_control(self):
        peek = self.peek_non_space()
        if peek.typ == "if":
            return _Else(peek.pos)
        item = self.expect("rightDelim", "else")
        return _Else(item.pos)

    def control(self, kind: str, pos: int):
        mark = len(self.vars)
        pipe = self.pipeline(kind)
        body, nxt = self.item_list()
        orelse = None
        if isinstance(nxt, _Else):
            if kind == "if" and self.peek_non_space().typ == "if":
                self.next_non_space()
                orelse = [self.control("if", self.last.pos)]
            else:
                orelse, nxt = self.item_list()
                if not isinstance(nxt, _End):
                    self.error(f"expected end; found {nxt}")
        del self.vars[mark:]
        return _Control(pipe.pos, kind, pipe, body, orelse)

    def pipeline(self, context: str) -> _Pipe:
        pipe = _Pipe(self.peek_non_space().pos)
        start = self.i
        v = self.peek_non_space()
        if v.typ == "variable":
            self.next_non_space()
            nxt = self.peek_non_space()
            if nxt.typ in ("declare", "assign"):
                self.next_non_space()
                pipe.is_assign = nxt.typ == "assign"
                pipe.decl.append(_Variable(v.pos, [v.val]))
                self.vars.append(v.val)
            elif nxt.typ == "char" and nxt.val == "," and context == "range":
                self.next_non_space()
                pipe.decl.append(_Variable(v.pos, [v.val]))
                self.vars.append(v.val)
                v2 = self.next_non_space()
                if v2.typ != "variable":
                    self.error("range can only initialize variables")
                op = self.next_non_space()
                if op.typ not in ("declare", "assign"):
                    self.error("range can only initialize variables")
                pipe.decl.append(_Variable(v2.pos, [v2.val]))
                self.vars.append(v2.val)
            else:  # "$x" is an argument, not a declaration
                self.i = start
        while True:
            item = self.next_non_space()
            if item.typ in ("rightDelim", "rightParen"):
                if not pipe.cmds:
                    self.error(f"missing value for {context}")
                for n, c in enumerate(pipe.cmds[1:]):
                    if isinstance(c.args[0], (_Literal, _Dot, _Nil)):
                        self.error(f"non executable command in pipeline stage {n + 2}")
                if item.typ == "rightParen":
                    self.backup()
                return pipe
            if item.typ in ("bool", "charConstant", "dot", "field", "identifier", "number", "nil", "rawString",
                            "string", "variable", "leftParen"):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(item, context)

    def command(self) -> _Command:
        cmd = _Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            item = self.next()
            if item.typ == "space":
                continue
            if item.typ == "error":
                self.error(item.val)
            if item.typ in ("rightDelim", "rightParen"):
                self.backup()
            elif item.typ != "pipe":
                self.error(f"unexpected {item} in operand")
            break
        if not cmd.args:
            self.error("empty command")
        return cmd

    def operand(self):
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == "field":
            fields = []
            pos = self.peek().pos
            while self.peek().typ == "field":
                fields.append(self.next().val[1:])
            if isinstance(node, _Field):
                return _Field(node.pos, node.ident + fields)
            if isinstance(node, _Variable):
                return _Variable(node.pos, node.ident + fields)
            if isinstance(node, (_Literal, _Nil, _Dot)):
                self.error(f'unexpected . after term "{node}"')
            return _Chain(pos, node, fields)
        return node

    def term(self):
        item = self.next_non_space()
        t = item.typ
        if t == "error":
            self.error(item.val)
        if t == "identifier":
            if item.val not in self.funcs:
                self.error(f'function "{item.val}" not defined')
            return _Identifier(item.pos, item.val)
        if t == "dot":
            return _Dot(item.pos)
        if t == "nil":
            return _Nil(item.pos)
        if t == "variable":
            if item.val not in self.vars:
                self.error(f'undefined variable "{item.val}"')
            return _Variable(item.pos, [item.val])
        if t == "field":
            return _Field(item.pos, [item.val[1:]])
        if t == "bool":
            return _Literal(item.pos, item.val == "true", item.val)
        if t in ("number", "charConstant"):
            return _Literal(item.pos, self.number(item), item.val)
        if t == "leftParen":
            pipe = self.pipeline("parenthesized pipeline")
            closing = self.next()
            if closing.typ != "rightParen":
                self.error(f"unclosed right paren: unexpected {closing}")
            return pipe
        if t in ("string", "rawString"):
            text = item.val[1:-1] if t == "rawString" else _unquote(item.val)
            if text is None:
                self.error("invalid syntax")
            return _Literal(item.pos, text, item.val)
        self.backup()
        return None

    def number(self, item: _Item):
        text = item.val
        if item.typ == "charConstant":
            body = _unquote('"' + text[1:-1].replace('"', '\\"') + '"')
            if body is None or len(body) != 1:
                self.error(f"malformed character constant: {text}")
            return ord(body)
        clean = text.replace("_", "")
        try:
            if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", clean):
                return int(clean, 0) if not re.fullmatch(r"[+-]?0\d+", clean) else int(clean, 8)
            return float(clean)
        except ValueError:
            self.error(f"illegal number syntax: {json.dumps(text)}")


def _unquote(text: str) -> "str | None":
    try:
        return json.loads(text)
    except ValueError:
        try:
            import ast

            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None


# --- execution (text/template/exec.go) --------------------------------------------------------------------

class _ExecError(Exception):
    pass


class Template:
    """A parsed template; execute() it on data as many times as needed."""

    def __init__(self, text: str, name: str = "", funcs: "Mapping[str, Func] | None" = None):
        self.text = text
        self.name = name
        self.funcs = {**BUILTINS, **(DOCKER_FUNCS if funcs is None else funcs)}
        self.root = _Parser(text, name, self.funcs).parse()

    def execute(self, data, missingkey: str = "default", funcs: "Mapping[str, Func] | None" = None) -> str:
        """Return the text the template writes for `data`; TemplateError (Go's message, the partial output
        in `.partial`) if it fails. `funcs` replaces functions of the same names (Docker's header row)."""
        state = _State(self, {**self.funcs, **(funcs or {})}, missingkey)
        try:
            state.walk_list(data, self.root)
        except _ExecError as e:
            err = TemplateError(str(e))
            err.partial = "".join(state.out)
            raise err from None
        return "".join(state.out)


def parse(text: str, name: str = "", funcs: "Mapping[str, Func] | None" = None) -> Template:
    """Return the Template for `text` (Go's templates.Parse in docker/cli: the built-ins plus Docker's)."""
    return Template(text, name, funcs)


class _State:
    def __init__(self, tmpl: Template, funcs: Mapping[str, Func], missingkey: str):
        self.tmpl = tmpl
        self.funcs = funcs
        self.missingkey = missingkey
        self.out: list[str] = []
        self.vars: list[list] = []
        self.node = None

    def errorf(self, msg: str):
        name = self.tmpl.name
        if self.node is None:
            raise _ExecError(f"template: {name}: {msg}")
        text = self.tmpl.text[:self.node.pos]
        nl = text.rfind("\n")
        col = self.node.pos if nl < 0 else self.node.pos - (nl + 1)
        line = text.count("\n") + 1
        raise _ExecError(f'template: {name}:{line}:{col}: executing "{name}" at <{self.node}>: {msg}')

    def var(self, name: str):
        for n, v in reversed(self.vars):
            if n == name:
                return v
        self.errorf(f"undefined variable: {name}")

    def set_var(self, name: str, value) -> None:
        for pair in reversed(self.vars):
            if pair[0] == name:
                pair[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def walk_list(self, dot, nodes: list) -> None:
        if not self.vars:
            self.vars.append(["$", dot])
        for n in nodes:
            self.walk(dot, n)

    def walk(self, dot, node) -> None:
        self.node = node
        if isinstance(node, _Text):
            self.out.append(node.text)
        elif isinstance(node, _Action):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append(go_string(value))
        elif isinstance(node, _Control):
            mark = len(self.vars)
            try:
                if node.kind == "range":
                    self.walk_range(dot, node)
                else:
                    value = self.eval_pipeline(dot, node.pipe)
                    if _truth(value):
                        for n in node.body:
                            self.walk(value if node.kind == "with" else dot, n)
                    elif node.orelse is not None:
                        for n in node.orelse:
                            self.walk(dot, n)
            finally:
                del self.vars[mark:]

    def walk_range(self, dot, node: _Control) -> None:
        value = self.eval_pipeline(dot, node.pipe)
        if isinstance(value, Mapping):
            pairs = sorted(value.items())
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is None or value is _NO_VALUE:
            pairs = []
        else:
            self.node = node
            self.errorf(f"range can't iterate over {go_string(value)}")
        if not pairs:
            if node.orelse is not None:
                for n in node.orelse:
                    self.walk(dot, n)
            return
        mark = len(self.vars)
        for key, elem in pairs:
            if node.pipe.decl:
                self.vars[mark - 1][1] = elem
            if len(node.pipe.decl) > 1:
                self.vars[mark - 2][1] = key
                self.vars[mark - 1][1] = elem
            for n in node.body:
                self.walk(elem, n)
            del self.vars[mark:]

    def eval_pipeline(self, dot, pipe: _Pipe):
        self.node = pipe
        value = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v.ident[0], value)
            else:
                self.vars.append([v.ident[0], value])
        return value

    def not_a_function(self, args: list, final) -> None:
        if len(args) > 1 or final is not _MISSING:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot, cmd: _Command, final):
        first = cmd.args[0]
        if isinstance(first, _Field):
            self.node = first
            return self.eval_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, _Chain):
            self.node = first
            receiver = self.eval_arg(dot, first.node)
            self.node = first
            return self.eval_chain(dot, receiver, first, first.fields, cmd.args, final)
        if isinstance(first, _Identifier):
            return self.eval_function(dot, first, cmd.args, final)
        if isinstance(first, _Pipe):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, _Variable):
            self.node = first
            value = self.var(first.ident[0])
            if len(first.ident) == 1:
                self.not_a_function(cmd.args, final)
                return value
            return self.eval_chain(dot, value, first, first.ident[1:], cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, _Dot):
            return dot
        if isinstance(first, _Nil):
            self.errorf("nil is not a command")
        return first.value

    def eval_chain(self, dot, receiver, node, ident: list, args: list, final):
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, [], _MISSING, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_field(self, dot, name: str, node, args: list, final, receiver):
        has_args = len(args) > 1 or final is not _MISSING
        if receiver is _NO_VALUE:
            if self.missingkey == "error":
                self.errorf(f'nil data; no entry for key "{name}"')
            return _NO_VALUE
        if isinstance(receiver, Struct):
            if receiver.has(name):
                if receiver.takes_args(name):
                    values = [self.eval_arg(dot, a) for a in args[1:]]
                    if final is not _MISSING:
                        values.append(final)
                    want = receiver.fields[name].nargs
                    if len(values) != want:
                        self.node = node
                        self.errorf(f"wrong number of args for {name}: want {want} got {len(values)}")
                    return receiver.get(name, tuple(values))
                if has_args:
                    self.node = node
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return receiver.get(name)
            self.node = node
            self.errorf(f"can't evaluate field {name} in type {receiver.type_name}")
        if isinstance(receiver, Mapping):
            if has_args:
                self.node = node
                self.errorf(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missingkey == "error":
                self.node = node
                self.errorf(f'map has no entry for key "{name}"')
            return _NO_VALUE
        if receiver is None:
            self.node = node
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        self.node = node
        self.errorf(f"can't evaluate field {name} in type {_type_name(receiver)}")

    def eval_arg(self, dot, n):
        self.node = n
        if isinstance(n, _Dot):
            return dot
        if isinstance(n, _Nil):
            return None
        if isinstance(n, _Field):
            return self.eval_chain(dot, dot, n, n.ident, [n], _MISSING)
        if isinstance(n, _Variable):
            value = self.var(n.ident[0])
            return value if len(n.ident) == 1 else self.eval_chain(dot, value, n, n.ident[1:], [n], _MISSING)
        if isinstance(n, _Pipe):
            return self.eval_pipeline(dot, n)
        if isinstance(n, _Identifier):
            return self.eval_function(dot, n, [n], _MISSING)
        if isinstance(n, _Chain):
            receiver = self.eval_arg(dot, n.node)
            return self.eval_chain(dot, receiver, n, n.fields, [n], _MISSING)
        return n.value

    def eval_function(self, dot, node: _Identifier, args: list, final):
        self.node = node
        name = node.name
        fn = self.funcs[name]
        if name in ("and", "or"):  # short-circuit, as Go 1.18+
            values = []
            for a in args[1:]:
                v = self.eval_arg(dot, a)
                values.append(v)
                if (name == "and") != _truth(v):
                    return v
            if final is not _MISSING:
                values.append(final)
            if not values:
                self.node = node
                self.errorf(f"wrong number of args for {name}: want at least 1 got 0")
            return values[-1]
        values = [self.eval_arg(dot, a) for a in args[1:]]
        if final is not _MISSING:
            values.append(final)
        self.node = node
        n = len(values)
        if fn.max_args is None:
            if n < fn.min_args:
                self.errorf(f"wrong number of args for {name}: want at least {fn.min_args} got {n}")
        elif not fn.min_args <= n <= fn.max_args:
            self.errorf(f"wrong number of args for {name}: want {fn.max_args} got {n}")
        for i in fn.str_args:
            if i < n and not isinstance(values[i], str):
                self.errorf(f"wrong type for value; expected string; got {_type_name(values[i])}")
        for i in fn.int_args:
            if i < n and (not isinstance(values[i], int) or isinstance(values[i], bool)):
                self.errorf(f"wrong type for value; expected int; got {_type_name(values[i])}")
        values = [None if v is _NO_VALUE else v for v in values]
        try:
            return fn.fn(*values)
        except _FuncError as e:
            self.node = node
            self.errorf(f"error calling {name}: {e}")


# --- Docker's --format strings (docker/cli cli/command/formatter/formatter.go) ------------------------------

TABLE = "table"
JSON = "json"


def is_table(fmt: str) -> bool:
    """Return whether a --format is a table (it starts with "table")."""
    return fmt.startswith(TABLE)


def template_text(fmt: str) -> str:
    """Return the template a --format stands for (Format.templateString): "json" is `{{json .}}`; a "table"
    prefix is dropped; spaces at both ends are trimmed; the two-character escapes \\t and \\n become a tab
    and a newline (shells pass them literally)."""
    if fmt == TABLE:
        return ""
    if fmt == JSON:
        return "{{json .}}"
    out = fmt[len(TABLE):] if fmt.startswith(TABLE) else fmt
    return out.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
