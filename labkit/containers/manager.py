"""Containers: the containers of one labkit home (lifecycle, lookup, their use of images, sizes)."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

from ..errors import Conflict, LabkitError, NotFound, UsageError
from .container import Container
from ..reference import SCRATCH
from .ops import STATE_CREATED, STATE_EXITED, STATE_RUNNING

# --- the manager ----------------------------------------------------------------------------------------

class Containers:
    """The containers of one labkit home: create, start, stop, run, rm, list, and their use of images."""

    def __init__(self, home: "str | os.PathLike | None" = None, store=None, layer_store=None,
                 rng: "random.Random | None" = None):
        from ..home import resolve_home

        self.home = Path(home).absolute() if home is not None else resolve_home()
        self.root = self.home / "containers"
        self._store = store
        self._layer_store = layer_store
        self.rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"Containers({str(self.home)!r})"

    @property
    def store(self):
        """Return the content Store of this home."""
        if self._store is None:
            from ..store import Store

            self._store = Store(self.home)
        return self._store

    @property
    def layer_store(self):
        """Return the LayerStore of this home."""
        if self._layer_store is None:
            from ..layers.store import LayerStore

            self._layer_store = LayerStore(self.home, store=self.store)
        return self._layer_store

    def image_view(self, image_id: "str | None"):
        """Return the read-only ImageView of an image ID (None: the empty scratch image)."""
        from ..imageview import ImageView

        if image_id is None:
            return ImageView([])
        return ImageView.open(self.store, self.layer_store, self.store.resolve(image_id))

    def image_size(self, image_id: "str | None") -> int:
        """Return an image's size (0 for scratch or an image no longer stored)."""
        if image_id is None:
            return 0
        try:
            return max(self.store.image_size(self.store.resolve(image_id)), 0)
        except LabkitError:
            return 0

    # -- lifecycle

    def _new_id(self) -> str:
        while True:
            cid = f"{self.rng.getrandbits(256):064x}"
            if not cid[:12].isdigit() and not (self.root / cid).exists():  # docker: an ID never looks numeric
                return cid

    def _new_name(self) -> str:
        from ..names import random_name

        taken = {c.name for c in self.list(all=True)}
        for retry in range(20):
            name = random_name(self.rng, retry)
            if name not in taken:
                return name
        raise LabkitError("create container: could not find a free random name")

    def create(self, image: str, name: "str | None" = None, cmd: "list[str] | None" = None) -> Container:
        """Create a container (state Created) over a stored image ("scratch": the empty image); the caller
        pulls a missing image first. Returns the Container; nothing of the image is copied."""
        import re

        from ..clock import now, rfc3339

        if image == SCRATCH:
            image_id, image_cmd = None, []
        else:
            rec = self.store.resolve(image)
            image_id = str(rec.image_id)
            image_cmd = list(self.store.config(rec).cmd or [])
        if name is not None:
            if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
                raise UsageError(f'create container: invalid container name "{name}", only '
                                 f"[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            for c in self.list(all=True):
                if c.name == name:
                    raise Conflict(f'Conflict. The container name "/{name}" is already in use by container '
                                   f'"{c.id}". You have to remove (or rename) that container to be able to '
                                   f"reuse that name.")
        cid = self._new_id()
        root = self.root / cid
        tmp = self.root / f".{cid}.partial"
        (tmp / "upper").mkdir(parents=True)
        config = {"id": cid, "name": name or self._new_name(), "image": image, "image_id": image_id,
                  "created": rfc3339(now()), "state": STATE_CREATED, "exit_code": None,
                  "cmd": list(cmd) if cmd else image_cmd, "cmd_given": bool(cmd),
                  "order": time.time_ns()}       # ps order when the clock is pinned (LABKIT_NOW)
        (tmp / "config.json").write_bytes(json.dumps(config, indent=1, sort_keys=True).encode())
        (tmp / "changes.json").write_bytes(b'{"meta":{},"opaque":[],"whiteouts":[]}')
        os.rename(tmp, root)
        return Container(self, root)

    def start(self, ref: "str | Container") -> Container:
        """Start a container (Up until stopped; nothing runs: the file system is live)."""
        c = self.get(ref)
        if not c.running:
            c.set_state(STATE_RUNNING)
        return c

    def stop(self, ref: "str | Container", exit_code: int = 0) -> Container:
        """Stop a running container (Exited); a stopped one is left as it is."""
        c = self.get(ref)
        if c.running:
            c.set_state(STATE_EXITED, exit_code)
        return c

    def run(self, image: str, cmd: "list[str] | None" = None, detach: bool = False, name: "str | None" = None):
        """Create and start a container; unless `detach`, run its command in the built-in shell and leave it
        Exited with the command's status. Returns (container, output text, exit status, ops)."""
        c = self.create(image, name=name, cmd=cmd)
        self.start(c)
        if detach:
            return c, "", 0, []
        from ..shell import run_argv

        output, status, ops = run_argv(c, c.cmd)
        self.stop(c, exit_code=status)
        return c, output, status, ops

    def exec(self, ref: "str | Container", cmd: list[str]):
        """Run `cmd` in an Up container's file system; return (output text, exit status, ops)."""
        c = self.get(ref)
        if not c.running:
            raise Conflict(f"container {c.id} is not running")
        from ..shell import run_argv

        return run_argv(c, cmd)

    def rm(self, ref: "str | Container", force: bool = False) -> str:
        """Remove a container (force: even when Up); return the name or ID as given, like docker."""
        c = self.get(ref)
        if c.running and not force:
            raise Conflict(f'cannot remove container "/{c.name}": container is running: stop the container '
                           f"before removing or force remove")
        trash = self.root / f".{c.id}.removing"
        os.rename(c.root, trash)
        shutil.rmtree(trash)
        return ref if isinstance(ref, str) else c.id

    # -- finding

    def list(self, all: bool = False) -> list[Container]:
        """Return the containers, newest first (`ps`: only Up ones unless `all`)."""
        out = []
        if self.root.is_dir():
            for p in self.root.iterdir():
                if len(p.name) == 64 and (p / "config.json").is_file():
                    c = Container(self, p)
                    if all or c.running:
                        out.append(c)
        out.sort(key=lambda c: (c.created, c.order, c.id), reverse=True)
        return out

    def get(self, ref: "str | Container") -> Container:
        """Return the container with this full ID, name, or unique ID prefix; NotFound otherwise."""
        if isinstance(ref, Container):
            if not (ref.root / "config.json").is_file():
                raise NotFound(f"No such container: {ref.id}")
            ref.reload()
            return ref
        text = ref.strip().lstrip("/")
        if len(text) == 64 and (self.root / text / "config.json").is_file():
            return Container(self, self.root / text)
        every = self.list(all=True)
        for c in every:
            if c.name == text:
                return c
        matches = [c for c in every if text and c.id.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFound(f"No such container: {ref} (the prefix matches {len(matches)} containers)")
        raise NotFound(f"No such container: {ref}")

    def in_use(self) -> dict:
        """Return {image ID Digest: [{"id", "name", "size", "running", "image", "command", "created",
        "status"}]} for Store.rmi and system_df."""
        from ..digest import Digest

        out: dict = {}
        for c in self.list(all=True):
            if c.image_id is None:
                continue
            out.setdefault(Digest.parse(c.image_id), []).append(
                {"id": c.id, "name": c.name, "size": c.size_rw(), "running": c.running, "image": c.image,
                 "command": " ".join(c.cmd), "created": c.created, "status": c.status()})
        return out

    def sizes(self, ref: "str | Container") -> tuple[int, int]:
        """Return (read-write bytes, virtual bytes = read-write + image size) for `ps -s`."""
        c = self.get(ref)
        rw = c.size_rw()
        return rw, rw + self.image_size(c.image_id)


def size_text(rw: int, virtual: int) -> str:
    """Return docker's `ps -s` SIZE cell: "1.2 kB (virtual 130 MB)"."""
    from ..formatting import human_size

    return f"{human_size(rw)} (virtual {human_size(virtual)})"
