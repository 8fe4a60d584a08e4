"""Docker's output formatter: rows through a `--format` (a Go template, `table ...`, or `json`) and the
tabwriter that lines the columns up. Pure; docker/cli's cli/command/formatter (formatter.go, reflect.go)
and its copy of Go's text/tabwriter.

    render("table {{.Repository}}\\t{{.Tag}}", rows, {"Repository": "REPOSITORY", "Tag": "TAG"})

A row is a gotemplate.Struct named like Docker's context type ("*formatter.imageContext"), so an unknown
field fails with Docker's message. The header row runs the same template on the column titles with Docker's
header functions (json, upper, ... leave the titles as they are).
"""

from __future__ import annotations

import unicodedata
from typing import Mapping, Sequence

from .errors import CliError
from .gotemplate import HEADER_FUNCS, TemplateError, is_table, parse, template_text

MIN_WIDTH = 10   # docker/cli since 20.10: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
PADDING = 3
LEGACY_MIN_WIDTH = 20   # docker 1.x (the lab text's era): tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)


def _width(text: str) -> int:
    """Return the cells a text takes in a terminal (go-runewidth: East Asian wide characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def tabwrite_text(text: str, minwidth: int = MIN_WIDTH, padding: int = PADDING, padchar: str = " ",
                  tabwidth: int = 8) -> str:
    """Return `text` (tab-separated cells, newline-ended lines) laid out like Go's text/tabwriter with no
    flags: a column is as wide as its widest cell plus `padding` (at least `minwidth`), counted per block of
    consecutive lines that have that column; a line's last cell is no column. With padchar "\t" (buildx's
    tables) a column's width is rounded up to a multiple of `tabwidth` and cells are padded with tabs."""
    lines = text.split("\n")
    tail = lines.pop() if lines else ""  # after the last newline: an unterminated line, written as it is
    cells = [line.split("\t") for line in lines]
    out: list[str] = []

    def write_lines(line0: int, line1: int, widths: list[int]) -> None:
        for row in cells[line0:line1]:
            parts = []
            for j, cell in enumerate(row):
                parts.append(cell)
                if j < len(widths) and j < len(row) - 1:
                    if padchar == "\t":         # tabwriter.go writePadding
                        cellw = (widths[j] + tabwidth - 1) // tabwidth * tabwidth
                        parts.append("\t" * ((cellw - _width(cell) + tabwidth - 1) // tabwidth))
                    else:
                        parts.append(padchar * (widths[j] - _width(cell)))
                elif j < len(row) - 1:
                    parts.append("")
            out.append("".join(parts) + "\n")

    def fmt(line0: int, line1: int, widths: list[int]) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(cells[this]) - 1:
                this += 1
                continue
            write_lines(line0, this, widths)
            line0 = this
            width = minwidth
            while this < line1 and column < len(cells[this]) - 1:
                width = max(width, _width(cells[this][column]) + padding)
                this += 1
            fmt(line0, this, widths + [width])
            line0 = this
        write_lines(line0, line1, widths)

    fmt(0, len(cells), [])
    return "".join(out) + tail


def tabwrite(rows: Sequence[Sequence[str]], minwidth: int = LEGACY_MIN_WIDTH, padding: int = PADDING) -> str:
    """Return `rows` of cells laid out like Go's text/tabwriter (tabwrite_text)."""
    if not rows:
        return ""
    return tabwrite_text("".join("\t".join(r) + "\n" for r in rows), minwidth, padding)


def render(fmt: str, rows: Sequence, header: Mapping[str, str], minwidth: int = MIN_WIDTH) -> str:
    """Return `rows` (gotemplate Structs) through the --format `fmt` (Docker's Context.Write): each row's
    text on its own line; with a "table" format, a header row first and the columns lined up. CliError
    with Docker's message ("template parsing error: ...") when the template does not parse or execute:
    nothing is printed then, as Docker prints only once every row is done."""
    tmpl = parse_format(fmt)
    body = []
    for row in rows:
        try:
            body.append(tmpl.execute(row) + "\n")
        except TemplateError as e:
            raise CliError(f"template parsing error: {e}") from None
    if not is_table(fmt):
        return "".join(body)
    try:
        head = tmpl.execute(dict(header), funcs=HEADER_FUNCS)
    except TemplateError as e:  # Docker ignores a header error and keeps what was written
        head = getattr(e, "partial", "")
    return tabwrite_text(head + "\n" + "".join(body), minwidth)


def parse_format(fmt: str):
    """Return the gotemplate.Template of a --format; CliError ("template parsing error: ...") if bad."""
    try:
        return parse(template_text(fmt))
    except TemplateError as e:
        raise CliError(f"template parsing error: {e}") from None
