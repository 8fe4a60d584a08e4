"""`python -m labkit`: the same as the `labkit` command."""

import sys

from .cli import program

sys.exit(program())
