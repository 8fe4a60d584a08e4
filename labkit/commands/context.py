"""Context: what a command handler gets (parsed args, the Lab, where to write) and how it reports."""

from __future__ import annotations

import json
from typing import TextIO

from ..errors import LabkitError


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
            from ..lab import Lab

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
                self.err.write(f"Error: {one_line(e)}\n")
                status = 1
                continue
            for line in ([result] if isinstance(result, str) else result or []):
                self.print(line)
        return status

    def json_lines(self, rows) -> None:
        for row in rows:
            self.print(json.dumps(row, sort_keys=True))


def one_line(e: Exception) -> str:
    """Return an error's message on one line (docker prints errors as one line)."""
    return " ".join(str(e).split())
