"""The `labkit` command: docker's verbs, flags and output formats over the labkit library.

The `%docker` magic calls `main()` too, so a notebook and a terminal share one parser.
Errors a user can make print one line on stderr and exit 1 (2 for usage errors); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, TextIO

from .errors import LabkitError, UsageError

COMMANDS: dict[str, Callable] = {}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become UsageError (one line, exit 2) instead of a usage dump."""

    def error(self, message):  # noqa: D401 - argparse's API
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status=0, message=None):
        if status:
            raise UsageError((message or "").strip() or f"{self.prog}: usage error")
        if message:
            sys.stdout.write(message)
        raise _Exit(status)


class _Exit(Exception):
    def __init__(self, status):
        self.status = status


class Context:
    """What a command handler needs: parsed args, the Lab, and where to write."""

    def __init__(self, args, out: TextIO, err: TextIO):
        self.args = args
        self.out = out
        self.err = err
        self._lab = None

    @property
    def lab(self):
        """Return the Lab for --home / $LABKIT_HOME, created on first use."""
        if self._lab is None:
            from .lab import Lab

            self._lab = Lab(self.args.home)
        return self._lab

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def each(self, items, action) -> int:
        """Run `action(item)` for every item like docker's multi-argument verbs: print the line(s) it returns,
        report a failure in one line and go on; return 1 if any failed, else 0."""
        status = 0
        for item in items:
            try:
                result = action(item)
            except LabkitError as e:
                self.err.write(f"Error: {_one_line(e)}\n")
                status = 1
                continue
            for line in ([result] if isinstance(result, str) else result or []):
                self.print(line)
        return status

    def json_lines(self, rows) -> None:
        for row in rows:
            self.print(json.dumps(row, sort_keys=True))


def command(name: str, help: str):
    """Return a decorator registering `fn(sub)` that adds the subcommand's arguments and returns its handler."""

    def register(fn):
        COMMANDS[name] = (help, fn)
        return fn

    return register


def _add_format(p):
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="output format: docker's table (default) or JSON (Lines for lists)")


def build_parser() -> argparse.ArgumentParser:
    """Return the full argument parser (docker's verbs as subcommands)."""
    from . import commands  # noqa: F401 - registers the subcommands

    parser = _Parser(prog="labkit", description="Container images for real: docker's verbs on labkit's store.")
    parser.add_argument("--home", help="labkit's home folder (default: $LABKIT_HOME, then the user data dir)")
    parser.add_argument("--version", action="version", version=f"labkit {_version()}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, setup) in COMMANDS.items():
        sub = subs.add_parser(name, help=help_text, description=help_text)
        handler, formats = setup(sub)
        if formats:
            _add_format(sub)
        sub.set_defaults(handler=handler)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: "list[str] | None" = None, out: "TextIO | None" = None, err: "TextIO | None" = None) -> int:
    """Run one labkit command line and return its exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            out.write(parser.format_help())
            return 0
        status = args.handler(Context(args, out, err))
        return int(status or 0)
    except _Exit as e:
        return e.status
    except UsageError as e:
        err.write(f"{_one_line(e)}\nSee 'labkit --help'.\n")
        return 2
    except LabkitError as e:
        err.write(f"Error: {_one_line(e)}\n")
        return 1
    except KeyboardInterrupt:
        err.write("Error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
