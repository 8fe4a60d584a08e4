"""The grammar of labkit's shell: a POSIX sh subset (XCU 2.10, "Shell Grammar") parsed into JSON-ready lists.

A parsed program is plain lists and strings, so a suspended container process can be saved with its code:

    ["seq", [andor, ...]]                        a list: and-or lists run one after the other
    ["andor", pipeline, [["&&"|"||", pipeline], ...]]
    ["pipe", negated, [command, ...]]            `!` and `|`
    ["cmd", assigns, words, redirects, line]     a simple command: [[name, word]], [word], [[fd, op, word]]
    ["while", cond, body, until]                 while/until ... do ... done
    ["if", [[cond, body], ...], else_or_None]    if/elif/else/fi
    ["for", name, words_or_None, body]           for NAME [in WORDS]; do ...; done
    ["group", seq]  ["sub", seq]                 { ...; } and ( ... )

A word is a list of parts: ["lit", text] (unquoted), ["q", text] (quoted), ["dq", [parts]] (double quotes),
["var", name, op, word_or_None] ($x, ${x:-w}, ${#x}), ["sub", seq] ($(...) and `...`), ["arith", text]
($((...))), ["tilde", user]. Not in the subset, each said plainly by the shell: here-documents, `case`,
functions, background jobs (`&`).
"""

from __future__ import annotations

KEYWORDS = frozenset({"if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "{", "}",
                      "!", "case", "esac"})
_OPERATORS = ("&&", "||", ";;", ">>", "<<", ">&", "<&", "&>", ";", "&", "|", "<", ">", "(", ")")
_SPECIAL_PARAMS = "@*#?$!-0123456789"
_PARAM_OPS = (":-", ":=", ":+", ":?", "-", "=", "+", "?")


class ParseError(Exception):
    """A syntax error: `kind` is "token" (an unexpected `token`), "eof" (the input ended; `expecting` says
    what was missing), "quote" (an unterminated quote) or "unsupported" (`token` names the feature)."""

    def __init__(self, kind: str, token: str = "", expecting: str = "", line: int = 1):
        super().__init__(f"{kind}: {token or expecting}")
        self.kind = kind
        self.token = token
        self.expecting = expecting
        self.line = line


def parse(src: str) -> list:
    """Return the program `src` as a ["seq", ...] tree; ParseError on a syntax error."""
    p = _Parser(src)
    seq = p.parse_list(stop=())
    p.blank(newlines=True)
    if p.pos < len(p.src):
        raise ParseError("token", p.peek_token(), line=p.line)
    return seq


def is_name(text: str) -> bool:
    """Return True for a shell variable name (XBD 3.235: letters, digits, underscores; no leading digit)."""
    return bool(text) and (text[0].isalpha() or text[0] == "_") and all(c.isalnum() or c == "_" for c in text)


def word_text(word: list) -> "str | None":
    """Return the text of a word made only of literal parts (None when it holds an expansion)."""
    out = []
    for part in word:
        if part[0] in ("lit", "q"):
            out.append(part[1])
        elif part[0] == "dq" and all(p[0] in ("lit", "q") for p in part[1]):
            out.append("".join(p[1] for p in part[1]))
        else:
            return None
    return "".join(out)


def _plain(word: list) -> "str | None":
    """Return the text of a word that is one unquoted literal (how keywords and assignments are seen)."""
    if len(word) == 1 and word[0][0] == "lit":
        return word[0][1]
    return None


class _Parts:
    """The parts of a word being read: literal characters gather into one part of `kind` until another part."""

    def __init__(self, kind: str):
        self.kind = kind
        self.parts: list = []
        self.chars: list[str] = []

    def char(self, c: str) -> None:
        self.chars.append(c)

    def add(self, part: list) -> None:
        self.flush()
        self.parts.append(part)

    def flush(self) -> list:
        if self.chars:
            self.parts.append([self.kind, "".join(self.chars)])
            self.chars.clear()
        return self.parts


class _Parser:
    def __init__(self, src: str, pos: int = 0, line: int = 1, closer: str = ""):
        self.src = src
        self.pos = pos
        self.line = line
        self.closer = closer          # ")" inside $( ... ): where the nested program ends

    # -- characters and tokens

    def ch(self, k: int = 0) -> str:
        i = self.pos + k
        return self.src[i] if i < len(self.src) else ""

    def blank(self, newlines: bool = False) -> None:
        """Skip blanks, line continuations and comments (and newlines when asked)."""
        while self.pos < len(self.src):
            c = self.src[self.pos]
            if c in " \t" or (newlines and c == "\n"):
                if c == "\n":
                    self.line += 1
                self.pos += 1
            elif c == "\\" and self.ch(1) == "\n":
                self.pos += 2
                self.line += 1
            elif c == "#":
                while self.pos < len(self.src) and self.src[self.pos] != "\n":
                    self.pos += 1
            else:
                break

    def op(self) -> "str | None":
        """Return the operator at the current position (without consuming it), or None."""
        if self.ch() == "\n":
            return "\n"
        for o in _OPERATORS:
            if self.src.startswith(o, self.pos):
                return o
        return None

    def peek_token(self) -> str:
        self.blank()
        o = self.op()
        if o:
            return "newline" if o == "\n" else o
        save = (self.pos, self.line)
        try:
            w = self.word()
        except ParseError:
            w = None
        self.pos, self.line = save
        if w is None:
            return "end of file"
        return word_text(w) or self.src[save[0]:self.pos] or "word"

    def peek_word(self) -> "str | None":
        """Return the next token when it is a plain word (what keywords are), without consuming it."""
        self.blank()
        if self.op():
            return None
        save = (self.pos, self.line)
        w = self.word()
        self.pos, self.line = save
        return _plain(w) if w else None

    def expect_word(self, keyword: str) -> None:
        got = self.peek_word()
        if got != keyword:
            if self.pos >= len(self.src) or (self.closer and self.ch() == self.closer):
                raise ParseError("eof", expecting=keyword, line=self.line)
            raise ParseError("token", self.peek_token(), expecting=keyword, line=self.line)
        self.word()

    def skip_separators(self) -> None:
        while True:
            self.blank(newlines=True)
            if self.ch() == ";" and self.op() == ";":
                self.pos += 1
                continue
            return

    # -- words

    def word(self) -> "list | None":
        """Read one word (its parts) at the current position; None when there is none."""
        w = _Parts("lit")
        start = self.pos
        while self.pos < len(self.src):
            c = self.src[self.pos]
            if c in " \t\n;&|<>()" or (self.closer and c == self.closer):
                break
            if c == "\\":
                nxt = self.ch(1)
                if nxt == "\n":
                    self.pos += 2
                    self.line += 1
                elif nxt == "":
                    w.char("\\")
                    self.pos += 1
                else:
                    w.add(["q", nxt])
                    self.pos += 2
                continue
            if c == "'":
                w.add(["q", self.single_quoted()])
                continue
            if c == '"':
                self.pos += 1
                w.add(["dq", self.double_quoted()])
                continue
            if c in "$`":
                exp = self.expansion()
                if exp is not None:
                    w.add(exp)
                    continue
            if c == "~" and self.pos == start:
                j = self.pos + 1
                while j < len(self.src) and (self.src[j].isalnum() or self.src[j] in "_.-"):
                    j += 1
                if j >= len(self.src) or self.src[j] in " \t\n/;&|<>()":
                    w.add(["tilde", self.src[self.pos + 1:j]])
                    self.pos = j
                    continue
            w.char(c)
            self.pos += 1
        parts = w.flush()
        return parts if self.pos != start else None

    def single_quoted(self) -> str:
        end = self.src.find("'", self.pos + 1)
        if end < 0:
            raise ParseError("quote", "'", line=self.line)
        text = self.src[self.pos + 1:end]
        self.line += text.count("\n")
        self.pos = end + 1
        return text

    def double_quoted(self) -> list:
        w = _Parts("q")
        while True:
            if self.pos >= len(self.src):
                raise ParseError("quote", '"', line=self.line)
            c = self.src[self.pos]
            if c == '"':
                self.pos += 1
                return w.flush()
            if c == "\\" and self.ch(1) in ('$', '`', '"', '\\', '\n'):
                if self.ch(1) == "\n":
                    self.line += 1
                else:
                    w.char(self.ch(1))
                self.pos += 2
                continue
            if c in "$`":
                exp = self.expansion()
                if exp is not None:
                    w.add(exp)
                    continue
            if c == "\n":
                self.line += 1
            w.char(c)
            self.pos += 1

    def expansion(self) -> "list | None":
        """Read a $-expansion or a `command` at the current position; None when the `$` is a plain character."""
        return self.backquoted() if self.ch() == "`" else self.dollar()

    def dollar(self) -> "list | None":
        """Read a $-expansion at the current position; None when the `$` is a plain character."""
        nxt = self.ch(1)
        if self.src.startswith("$((", self.pos):
            depth, j = 0, self.pos + 3
            while j < len(self.src):
                if self.src[j] == "(":
                    depth += 1
                elif self.src[j] == ")":
                    if depth == 0 and self.src.startswith("))", j):
                        text = self.src[self.pos + 3:j]
                        self.pos = j + 2
                        return ["arith", text]
                    depth -= 1
                j += 1
            raise ParseError("eof", expecting="))", line=self.line)
        if nxt == "(":
            sub = _Parser(self.src, self.pos + 2, self.line, closer=")")
            seq = sub.parse_list(stop=())
            sub.blank(newlines=True)
            if sub.ch() != ")":
                if sub.pos >= len(sub.src):
                    raise ParseError("eof", expecting=")", line=sub.line)
                raise ParseError("token", sub.peek_token(), line=sub.line)
            self.pos, self.line = sub.pos + 1, sub.line
            return ["sub", seq]
        if nxt == "{":
            return self.braced()
        if nxt and (nxt in _SPECIAL_PARAMS):
            self.pos += 2
            return ["var", nxt, "", None]
        if nxt and (nxt.isalpha() or nxt == "_"):
            j = self.pos + 1
            while j < len(self.src) and (self.src[j].isalnum() or self.src[j] == "_"):
                j += 1
            name = self.src[self.pos + 1:j]
            self.pos = j
            return ["var", name, "", None]
        return None

    def braced(self) -> list:
        self.pos += 2                     # "${"
        length = False
        if self.ch() == "#" and self.ch(1) not in ("}", ""):
            length = True
            self.pos += 1
        j = self.pos
        if self.ch() and self.ch() in _SPECIAL_PARAMS:
            j += 1
        else:
            while j < len(self.src) and (self.src[j].isalnum() or self.src[j] == "_"):
                j += 1
        name = self.src[self.pos:j]
        if not name:
            raise ParseError("token", "${", line=self.line)
        self.pos = j
        if length:
            if self.ch() != "}":
                raise ParseError("token", "${#", line=self.line)
            self.pos += 1
            return ["var", name, "#len", None]
        if self.ch() == "}":
            self.pos += 1
            return ["var", name, "", None]
        for op in _PARAM_OPS:
            if self.src.startswith(op, self.pos):
                self.pos += len(op)
                arg = self.brace_word()
                return ["var", name, op, arg]
        raise ParseError("unsupported", "${" + name + self.ch() + "...}", line=self.line)

    def brace_word(self) -> list:
        """Read the word of ${x:-word} up to its closing brace."""
        w = _Parts("lit")
        while True:
            if self.pos >= len(self.src):
                raise ParseError("eof", expecting="}", line=self.line)
            c = self.src[self.pos]
            if c == "}":
                self.pos += 1
                return w.flush()
            if c == "'":
                w.add(["q", self.single_quoted()])
            elif c == '"':
                self.pos += 1
                w.add(["dq", self.double_quoted()])
            elif c == "\\" and self.ch(1):
                w.add(["q", self.ch(1)])
                self.pos += 2
            elif c in "$`" and self.expansion_here():
                w.add(self.expansion())
            else:
                w.char(c)
                self.pos += 1

    def expansion_here(self) -> bool:
        save = (self.pos, self.line)
        exp = self.expansion()
        self.pos, self.line = save
        return exp is not None

    def backquoted(self) -> list:
        j = self.pos + 1
        text = []
        while j < len(self.src) and self.src[j] != "`":
            if self.src[j] == "\\" and j + 1 < len(self.src) and self.src[j + 1] in "$`\\":
                text.append(self.src[j + 1])
                j += 2
                continue
            text.append(self.src[j])
            j += 1
        if j >= len(self.src):
            raise ParseError("quote", "`", line=self.line)
        self.pos = j + 1
        return ["sub", parse("".join(text))]

    # -- grammar

    def at_stop(self, stop: tuple) -> bool:
        self.blank()
        if self.pos >= len(self.src):
            return True
        if self.closer and self.ch() == self.closer:
            return True
        o = self.op()
        if o == ")":
            return True
        w = self.peek_word()
        return w is not None and w in stop

    def parse_list(self, stop: tuple) -> list:
        items = []
        while True:
            self.skip_separators()
            if self.at_stop(stop):
                break
            items.append(self.parse_andor())
            self.blank()
            o = self.op()
            if o in (";", "\n"):
                if o == "\n":
                    self.line += 1
                self.pos += 1
                continue
            if o == "&":
                raise ParseError("unsupported", "&", line=self.line)
            if o == ";;":
                raise ParseError("token", ";;", line=self.line)
            break
        return ["seq", items]

    def parse_andor(self) -> list:
        first = self.parse_pipeline()
        rest = []
        while True:
            self.blank()
            o = self.op()
            if o not in ("&&", "||"):
                return ["andor", first, rest]
            self.pos += 2
            self.blank(newlines=True)
            rest.append([o, self.parse_pipeline()])

    def parse_pipeline(self) -> list:
        negated = False
        if self.peek_word() == "!":
            self.word()
            negated = True
        cmds = [self.parse_command()]
        while True:
            self.blank()
            if self.op() != "|":
                return ["pipe", negated, cmds]
            self.pos += 1
            self.blank(newlines=True)
            cmds.append(self.parse_command())

    def parse_command(self) -> list:
        self.blank()
        o = self.op()
        if o == "(":
            self.pos += 1
            seq = self.parse_list(stop=())
            self.blank(newlines=True)
            if self.op() != ")":
                raise self._missing(")")
            self.pos += 1
            return self._no_redirects(["sub", seq])
        if o is not None and o not in (">", ">>", "<", ">&", "<&", "&>"):
            raise ParseError("token", "newline" if o == "\n" else o, line=self.line)
        w = self.peek_word()
        if w == "while" or w == "until":
            self.word()
            cond = self.parse_list(stop=("do",))
            self.expect_word("do")
            body = self.parse_list(stop=("done",))
            self.expect_word("done")
            return self._no_redirects(["while", cond, body, w == "until"])
        if w == "if":
            self.word()
            branches = []
            cond = self.parse_list(stop=("then",))
            self.expect_word("then")
            body = self.parse_list(stop=("elif", "else", "fi"))
            branches.append([cond, body])
            other = None
            while True:
                k = self.peek_word()
                if k == "elif":
                    self.word()
                    cond = self.parse_list(stop=("then",))
                    self.expect_word("then")
                    body = self.parse_list(stop=("elif", "else", "fi"))
                    branches.append([cond, body])
                elif k == "else":
                    self.word()
                    other = self.parse_list(stop=("fi",))
                else:
                    break
            self.expect_word("fi")
            return self._no_redirects(["if", branches, other])
        if w == "for":
            self.word()
            self.blank()
            name_word = self.word()
            name = _plain(name_word) if name_word else None
            if name is None or not is_name(name):
                raise ParseError("token", word_text(name_word or []) or self.peek_token(), line=self.line)
            self.blank()
            words = None
            if self.op() in (";", "\n"):
                self.pos += 1
            self.blank(newlines=True)
            if self.peek_word() == "in":
                self.word()
                words = []
                while True:
                    self.blank()
                    if self.op() in (";", "\n") or self.pos >= len(self.src):
                        break
                    wd = self.word()
                    if wd is None:
                        raise ParseError("token", self.peek_token(), line=self.line)
                    words.append(wd)
                self.skip_separators()
            self.expect_word("do")
            body = self.parse_list(stop=("done",))
            self.expect_word("done")
            return self._no_redirects(["for", name, words, body])
        if w == "{":
            self.word()
            seq = self.parse_list(stop=("}",))
            self.expect_word("}")
            return self._no_redirects(["group", seq])
        if w == "case":
            raise ParseError("unsupported", "case", line=self.line)
        if w in ("then", "elif", "else", "fi", "do", "done", "}", "esac", "in"):
            raise ParseError("token", w, line=self.line)
        return self.parse_simple()

    def _missing(self, what: str) -> ParseError:
        if self.pos >= len(self.src):
            return ParseError("eof", expecting=what, line=self.line)
        return ParseError("token", self.peek_token(), expecting=what, line=self.line)

    def _no_redirects(self, node: list) -> list:
        self.blank()
        if self.op() in (">", ">>", "<", ">&", "<&", "&>"):
            raise ParseError("unsupported", "a redirection of a compound command", line=self.line)
        if self.op() is None and self.pos < len(self.src) and not (self.closer and self.ch() == self.closer):
            w = self.peek_word()
            if w not in (None, "then", "do", "done", "fi", "elif", "else", "}"):
                raise ParseError("token", self.peek_token(), line=self.line)
        return node

    def parse_simple(self) -> list:
        line = self.line
        assigns, words, redirects = [], [], []
        while True:
            self.blank()
            o = self.op()
            if o in (">", ">>", "<", ">&", "<&", "&>", "<<"):
                redirects.append(self.redirect(None))
                continue
            if o is not None:
                break
            if self.closer and self.ch() == self.closer:
                break
            start = self.pos
            w = self.word()
            if w is None:
                break
            text = _plain(w) if len(w) == 1 else None
            if text is not None and text.isdigit() and self.ch() in ("<", ">"):
                redirects.append(self.redirect(int(text)))
                continue
            if not words:
                head = w[0][1] if w[0][0] == "lit" else ""
                name, eq, _ = head.partition("=")
                if eq and is_name(name):
                    value = ([["lit", head[len(name) + 1:]]] if head[len(name) + 1:] else []) + w[1:]
                    assigns.append([name, value])
                    continue
            if not words and not assigns and text in KEYWORDS and text not in ("!", "{", "}", "in"):
                self.pos = start
                break
            words.append(w)
        if not words and not assigns and not redirects:
            if self.pos >= len(self.src):
                raise ParseError("eof", line=self.line)
            raise ParseError("token", self.peek_token(), line=self.line)
        return ["cmd", assigns, words, redirects, line]

    def redirect(self, fd: "int | None") -> list:
        o = self.op()
        if o == "<<":
            raise ParseError("unsupported", "here-documents (<<)", line=self.line)
        self.pos += len(o)
        self.blank()
        target = self.word()
        if target is None:
            raise ParseError("token", self.peek_token(), line=self.line)
        if fd is None:
            fd = 0 if o in ("<", "<&") else 1
        return [fd, o, target]
