"""Container: one container, its record (ContainerState), its merged view (MergedView) and its copy-on-write
file operations (CopyOnWrite), over the image its manager opens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .changes import diff
from .cow import CopyOnWrite
from .state import ContainerState
from .view import MergedView

if TYPE_CHECKING:
    from .manager import Containers


class Container(ContainerState, MergedView, CopyOnWrite):
    """A container: its config, its read-write layer and the merged view over its image."""

    def __init__(self, manager: "Containers", root: Path):
        super().__init__(root)
        self.manager = manager
        self._lower = None

    def __repr__(self) -> str:
        return f"Container({self.short_id!r}, name={self.name!r}, image={self.image!r}, state={self.state!r})"

    @classmethod
    def detached(cls, root: Path, lower, name: str = "build") -> "Container":
        """Return a container that belongs to no home's list (what a build step runs in, as BuildKit's
        containers never show in `docker ps`): created at `root` over `lower`, any read-only view (an
        ImageView of some layers). The caller removes `root` when done."""
        import json
        import secrets

        cid = secrets.token_hex(32)
        (root / "upper").mkdir(parents=True)
        config = {"id": cid, "name": name, "image": "", "image_id": None, "created": "1970-01-01T00:00:00Z",
                  "state": "running", "exit_code": None, "cmd": [], "cmd_given": False, "order": 0,
                  "started_at": "1970-01-01T00:00:00Z"}
        (root / "config.json").write_bytes(json.dumps(config, indent=1, sort_keys=True).encode())
        (root / "changes.json").write_bytes(b'{"meta":{},"opaque":[],"whiteouts":[]}')
        c = cls(None, root)
        c._lower = lower
        return c

    @property
    def lower(self):
        """Return the image's read-only view (labkit.imageview.ImageView; empty for scratch)."""
        if self._lower is None:
            self._lower = self.manager.image_view(self.image_id)
        return self._lower

    # -- reports

    def diff(self) -> list[str]:
        """Return `docker diff` lines for this container (see diff())."""
        return diff(self)

    def sh(self, script: str, cwd: str = "/"):
        """Run `script` with the container's /bin/sh (labkit's shell) on its files; return (output, status, ops)."""
        from ..shell import run
        from .process import process_env

        return run(self, script, cwd, env=process_env(self))

    @property
    def command_line(self) -> str:
        """Return the COMMAND `docker ps` shows (Path and Args)."""
        from .process import command_line

        return command_line(self.argv)

    def size_rw(self) -> int:
        """Return the bytes in the read-write layer (docker's SIZE): files and symlinks, hard links once."""
        total = 0
        seen: set = set()
        if not self.upper.is_dir():
            return 0
        for dirpath, dirnames, filenames in os.walk(self.upper):
            for name in filenames + [x for x in dirnames if os.path.islink(os.path.join(dirpath, x))]:
                st = os.lstat(os.path.join(dirpath, name))
                if st.st_nlink > 1:
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                total += st.st_size
        return total

    def info(self, sizes: bool = False) -> dict:
        """Return a JSON-ready summary for `ps`: id, name, image, command, created, state, status, sizes."""
        out = {"id": self.id, "name": self.name, "image": self.image, "image_id": self.image_id,
               "command": self.command_line, "created": self.config["created"], "state": self.state,
               "exit_code": self.exit_code, "status": self.status(), "running": self.running}
        if sizes:
            rw = self.size_rw()
            out["size"] = rw
            out["virtual_size"] = rw + self.manager.image_size(self.image_id)
        return out
