"""The `labkit` command: docker's verbs, flags and output formats over the labkit library.

The `%docker` magic calls `main()` too, so a notebook and a terminal share one parser.
Errors a user can make print one line on stderr and exit 1 (2 for usage errors); never a traceback.
The subcommands, their parser and their Context live in labkit.commands; this is the entry point.
"""

from __future__ import annotations

import sys
from typing import TextIO

from . import __version__
from .commands import Context, ParserExit, build_parser, one_line
from .errors import CliError, LabkitError, UsageError
from .paths import printable


class _Printable:
    """A text stream that shows names that are not UTF-8 escaped (labkit.paths.printable) instead of failing
    on them: docker prints such names' raw bytes; a text stream (a terminal, a notebook) cannot."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(printable(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: "list[str] | None" = None, out: "TextIO | None" = None, err: "TextIO | None" = None,
         inp: "TextIO | None" = None) -> int:
    """Run one labkit command line and return its exit status (`inp`: where prompts read answers, stdin)."""
    out = _Printable(out or sys.stdout)
    err = _Printable(err or sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(__version__, argv)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            out.write(parser.format_help())
            return 0
        status = args.handler(Context(args, out, err, inp))
        return int(status or 0)
    except ParserExit as e:
        return e.status
    except UsageError as e:
        err.write(f"{one_line(e)}\nSee 'labkit --help'.\n")
        return 2
    except CliError as e:
        err.write(f"{e}\n")
        return e.status
    except LabkitError as e:
        err.write(f"Error: {one_line(e)}\n")
        err.flush()                     # in order with what the command printed before (a notebook's streams)
        return 1
    except KeyboardInterrupt:
        err.write("Error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
