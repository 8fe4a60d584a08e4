"""Context: what a command handler gets (parsed args, the Lab, where to write) and how it reports."""

from __future__ import annotations

import json
from typing import TextIO

from ..errors import LabkitError


class Context:
    """What a command handler needs: parsed args, the Lab, and where to write."""

    def __init__(self, args, out: TextIO, err: TextIO, inp: "TextIO | None" = None):
        self.args = args
        self.out = out
        self.err = err
        self.inp = inp
        self._lab = None

    @property
    def lab(self):
        """Return the Lab for --home / $LABKIT_HOME and --image-store, created on first use; daemon.json is
        read now, so a corrupt one stops the command before it changes anything, and its warnings (keys
        labkit ignores) print once on stderr."""
        if self._lab is None:
            from ..lab import Lab

            lab = Lab(self.args.home, image_store=getattr(self.args, "image_store", None))
            for warning in lab.config.warnings:
                self.err.write(f"WARNING: {warning}\n")
            self._lab = lab
        return self._lab

    @property
    def containerd(self) -> bool:
        """Return whether this command plays Docker 29's containerd image store (else the graphdriver one)."""
        from ..daemonconfig import CONTAINERD

        return self.lab.image_store == CONTAINERD

    @property
    def style(self):
        """Return the look of this command's tables and sizes (labkit.tables.DOCKER29 or LAB_TEXT)."""
        from ..tables import style_for

        return style_for(self.containerd)

    def write(self, text: str) -> None:
        """Write `text` as it is (a table, a template's output) and flush."""
        if text:
            self.out.write(text)
            self.out.flush()

    def confirm(self, warning: str) -> bool:
        """Ask docker's prompt.Confirm question ("WARNING! ...\nAre you sure you want to continue? [y/N] ") and
        return True only for "y" or "Y"; no answer (end of input) is no."""
        import sys

        self.out.write(warning + " [y/N] ")
        self.out.flush()
        line = (self.inp or sys.stdin).readline()
        return line.strip().lower() == "y"

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
                self.err.flush()
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
