"""How subcommands register (`command`), docker's management commands (`image ls`, `container logs`, ...) and
the argparse parser whose errors are one-line UsageErrors."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from ..errors import UsageError

COMMANDS: dict[str, Callable] = {}

# Docker's management commands (docker/cli cli/command/image/cmd.go, cli/command/container/cmd.go): each
# subcommand runs the top-level verb named here, with the defaults given (`image inspect` looks at images
# only). A verb not registered (yet) is left out, so adding a verb is enough to get its alias. Commands
# registered as "image prune" exist under their group only, as in Docker.
MANAGEMENT: dict[str, dict[str, "str | tuple[str, dict]"]] = {
    "image": {
        "ls": ("images", {"called_as": "image ls"}), "list": ("images", {"called_as": "image ls"}),
        "pull": "pull", "push": "push", "rm": "rmi", "remove": "rmi", "tag": "tag",
        "inspect": ("inspect", {"type": "image"}), "history": "history", "import": "import",
        "prune": "image prune", "build": "build",
    },
    "container": {
        "ls": "ps", "list": "ps", "ps": "ps", "create": "create", "start": "start", "stop": "stop", "run": "run",
        "exec": "exec", "rm": "rm", "remove": "rm", "diff": "diff", "commit": "commit", "logs": "logs",
        "top": "top", "kill": "kill", "inspect": ("inspect", {"type": "container"}), "prune": "container prune",
    },
}
GROUP_HELP = {"image": "Manage images", "container": "Manage containers"}


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
    """Return a decorator registering `fn(sub)` that adds the subcommand's arguments and returns its handler.

    `fn` returns (handler, formats): with `formats`, the subcommand gets docker's --format."""

    def register(fn):
        COMMANDS[name] = (help, fn)
        return fn

    return register


def add_format(p, short: bool = False):
    """Add docker's --format to the subcommand parser `p`: "table" (the default), "json", or a Go template
    ("table {{.Repository}}\\t{{.Tag}}", "{{json .}}"); labkit.gotemplate runs it."""
    names = ("-f", "--format") if short else ("--format",)
    p.add_argument(*names, default=None, metavar="FORMAT",
                   help="format output: 'table', 'table TEMPLATE', 'json', or a Go template ('{{.ID}}')")


def _add(subs, name: str, target: str, defaults: "dict | None" = None) -> None:
    help_text, setup = COMMANDS[target]
    sub = subs.add_parser(name, help=help_text, description=help_text)
    handler, formats = setup(sub)
    if formats:
        add_format(sub)
    sub.set_defaults(handler=handler, **(defaults or {}))


# The top-level options that take a value (build_parser reads past them to find the verb)
_VALUED_OPTIONS = ("--home", "--image-store")


def verb_of(argv: "list[str]") -> "str | None":
    """Return the verb (or management group) an argument list runs, or None when it names none that is
    registered (`--help`, `--version`, a typo: then the whole parser is needed to answer)."""
    args = iter(argv)
    for arg in args:
        if arg in _VALUED_OPTIONS:
            next(args, None)
        elif arg.startswith(tuple(f"{o}=" for o in _VALUED_OPTIONS)):
            continue
        elif arg.startswith("-"):
            return None
        else:
            return arg if (arg in COMMANDS and " " not in arg) or arg in MANAGEMENT else None
    return None


def build_parser(version: str, argv: "list[str] | None" = None) -> argparse.ArgumentParser:
    """Return the argument parser of the registered subcommands (docker's verbs). Given the `argv` to parse,
    only the verb it runs gets its subparser when it names one (building all ~60 costs more than the rest of
    a short command's start-up); otherwise, and without `argv`, every verb does."""
    only = verb_of(argv) if argv is not None else None
    parser = Parser(prog="labkit", description="Container images for real: docker's verbs on labkit's store.")
    parser.add_argument("--home", help="labkit's home folder (default: $LABKIT_HOME, then the user data dir)")
    parser.add_argument("--image-store", choices=["containerd", "graphdriver"], default=None,
                        help="play Docker 29's containerd image store or the lab text's graphdriver one (default: "
                             "daemon.json's features.containerd-snapshotter, true unless set to false)")
    parser.add_argument("--version", action="version", version=f"labkit {version}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        if " " not in name and only in (None, name):
            _add(subs, name, name)
    for group, verbs in MANAGEMENT.items():
        if only not in (None, group):
            continue
        sub = subs.add_parser(group, help=GROUP_HELP[group], description=GROUP_HELP[group])
        inner = sub.add_subparsers(dest=f"{group}_command", metavar="COMMAND", parser_class=Parser, required=True)
        for verb, target in verbs.items():
            target, defaults = (target, {}) if isinstance(target, str) else target
            if target in COMMANDS:
                _add(inner, verb, target, defaults)
    return parser
