"""The subcommands of `labkit`, grouped by what they act on; importing this package registers them all."""

from . import build, containers, images, registry, remote  # noqa: F401 - registers the subcommands
from .context import Context, one_line
from .parser import COMMANDS, ParserExit, build_parser, command

__all__ = ["COMMANDS", "Context", "ParserExit", "build_parser", "command", "one_line"]
