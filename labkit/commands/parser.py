"""How subcommands register (`command`) and the argparse parser whose errors are one-line UsageErrors."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from ..errors import UsageError

COMMANDS: dict[str, Callable] = {}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become UsageError (one line, exit 2) instead of a usage dump."""

    def error(self, message):  # noqa: D401 - argparse's API
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status=0, message=None):
        if status:
            raise UsageError((message or "").strip() or f"{self.prog}: usage error")
        if message:
            sys.stdout.write(message)
        raise ParserExit(status)


class ParserExit(Exception):
    """Raised when the parser is done without an error (--help, --version): exit with `status`."""

    def __init__(self, status):
        self.status = status


def command(name: str, help: str):
    """Return a decorator registering `fn(sub)` that adds the subcommand's arguments and returns its handler."""

    def register(fn):
        COMMANDS[name] = (help, fn)
        return fn

    return register


def add_format(p):
    """Add docker's --format choice (table or JSON) to the subcommand parser `p`."""
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="output format: docker's table (default) or JSON (Lines for lists)")


def build_parser(version: str) -> argparse.ArgumentParser:
    """Return the full argument parser of the registered subcommands (docker's verbs)."""
    parser = Parser(prog="labkit", description="Container images for real: docker's verbs on labkit's store.")
    parser.add_argument("--home", help="labkit's home folder (default: $LABKIT_HOME, then the user data dir)")
    parser.add_argument("--version", action="version", version=f"labkit {version}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (help_text, setup) in COMMANDS.items():
        sub = subs.add_parser(name, help=help_text, description=help_text)
        handler, formats = setup(sub)
        if formats:
            add_format(sub)
        sub.set_defaults(handler=handler)
    return parser
