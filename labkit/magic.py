"""The `%docker` line magic: the lab's commands typed as the text writes them, through the `labkit` parser.

Load it with `%load_ext labkit.magic` (or `labkit.magic.load_ipython_extension(get_ipython())`).
"""

from __future__ import annotations

import shlex
import sys


def run_line(line: str) -> int:
    """Run one docker-style command line (with or without a leading 'docker') and return its exit status."""
    from .cli import main

    try:
        argv = shlex.split(line)
    except ValueError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 2
    if argv and argv[0] in ("docker", "labkit"):
        argv = argv[1:]
    return main(argv, out=sys.stdout, err=sys.stderr)


def docker(line: str):
    """`%docker images`: run a labkit command; errors print one line, never a traceback."""
    run_line(line)


def load_ipython_extension(ipython) -> None:
    """Register the %docker and %labkit line magics."""
    ipython.register_magic_function(docker, magic_kind="line", magic_name="docker")
    ipython.register_magic_function(docker, magic_kind="line", magic_name="labkit")
