"""Containers: the containers of one labkit home (lifecycle, lookup, their use of images, sizes)."""

from __future__ import annotations

import json
import math
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

    def create(self, image: str, name: "str | None" = None, cmd: "list[str] | None" = None,
               entrypoint: "list[str] | None" = None, env: "list[str] | tuple" = (), tty: bool = False,
               interactive: bool = False, workdir: "str | None" = None, auto_remove: bool = False,
               require_command: bool = False, record=None) -> Container:
        """Create a container (state Created) over a stored image ("scratch": the empty image); the caller
        pulls a missing image first. Returns the Container; nothing of the image is copied.

        The command is Docker's (moby daemon/commit.go merge): `cmd` replaces the image's Cmd; `entrypoint`
        replaces its Entrypoint and drops its Cmd. `env` (["K=V"]) adds to or replaces the image's Env.
        `tty`/`interactive` are `run -t`/`-i`. With `require_command`, an image and arguments giving no command
        are refused as the daemon refuses them ("no command specified"). `record`: the image's ImageRecord when
        the caller resolved `image` already (an image store's ID, its choice of platform)."""
        import re

        from ..clock import now, rfc3339

        image_cfg: dict = {}
        if image == SCRATCH:
            image_id = None
        else:
            rec = record if record is not None else self.store.resolve(image)
            image_id = str(rec.image_id)
            image_cfg = dict(self.store.config(rec).config or {})
        if entrypoint is None:
            the_cmd = list(cmd) if cmd else list(image_cfg.get("Cmd") or [])
            the_entrypoint = list(image_cfg.get("Entrypoint") or [])
        else:
            the_entrypoint = [] if entrypoint == [""] else list(entrypoint)
            the_cmd = list(cmd or [])
        if require_command and not the_cmd and not the_entrypoint:
            raise LabkitError("no command specified")
        merged_env = list(image_cfg.get("Env") or [])
        for item in env:
            key = item.partition("=")[0]
            merged_env = [e for e in merged_env if e.partition("=")[0] != key] + [item]
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
                  "cmd": the_cmd, "entrypoint": the_entrypoint, "cmd_given": bool(cmd) or entrypoint is not None,
                  "env": merged_env, "working_dir": workdir or image_cfg.get("WorkingDir") or "",
                  "stop_signal": image_cfg.get("StopSignal") or "", "tty": bool(tty), "open_stdin": bool(interactive),
                  "auto_remove": bool(auto_remove), "hostname": cid[:12],
                  "order": time.time_ns()}       # ps order when the clock is pinned (LABKIT_NOW)
        (tmp / "config.json").write_bytes(json.dumps(config, indent=1, sort_keys=True).encode())
        (tmp / "changes.json").write_bytes(b'{"meta":{},"opaque":[],"whiteouts":[]}')
        os.rename(tmp, root)
        return Container(self, root)

    def start(self, ref: "str | Container", stdin: "str | None" = None) -> Container:
        """Start a container: its command runs as PID 1 (labkit.containers.process) up to labkit's now;
        StartError (status 127, 126) when the command cannot start. A running container is left as it is."""
        from ..clock import now
        from . import process

        c = self.get(ref)
        if not c.running:
            process.start(c, now(), stdin=stdin)
            c.reload()
        return c

    def stop(self, ref: "str | Container", timeout: "int | None" = None, signal: "str | None" = None) -> Container:
        """Stop a running container as `docker stop` does (SIGTERM, `timeout` seconds of simulated grace,
        SIGKILL); a stopped one is left as it is (Docker answers 304 Not Modified, the command succeeds)."""
        from ..clock import now
        from . import process

        c = self.get(ref)
        if c.running:
            process.stop(c, now(), timeout=timeout, signal_name=signal)
            c.reload()
        return c

    def kill(self, ref: "str | Container", signal: str = "KILL") -> Container:
        """Send a signal to the container's PID 1 (`docker kill`, SIGKILL by default); Conflict when it is not
        running, worded as moby's container router words it."""
        from ..clock import now
        from ..shell.programs import signal_number
        from . import process

        try:
            number = signal_number(signal)
        except ValueError:
            raise UsageError(f"Invalid signal: {signal}") from None
        c = self.get(ref)
        if not c.running:
            shown = ref if isinstance(ref, str) else c.id
            raise Conflict(f"cannot kill container: {shown}: container {c.id} is not running")
        process.signal(c, number, now())
        c.reload()
        return c

    def run(self, image: str, cmd: "list[str] | None" = None, detach: bool = False, name: "str | None" = None,
            **create_options):
        """Create and start a container; unless `detach`, run its command to its end (simulated time) and
        return its output. Returns (container, output text, exit status or None while it runs, ops)."""
        from . import process

        c = self.create(image, name=name, cmd=cmd, **create_options)
        self.start(c)
        if detach:
            return c, "", None, []
        process.run_until(c, math.inf)
        c.reload()
        output = "".join(r["log"] for r in process.read_log(c))
        return c, output, (c.exit_code if not c.running else None), c.history()

    def exec(self, ref: "str | Container", cmd: list[str], stdin: "str | None" = None,
             env: "list | None" = None, workdir: "str | None" = None):
        """Run `cmd` in a running container (`docker exec`); return a labkit.shell.Execution."""
        from ..clock import now
        from . import process

        c = self.get(ref)
        return process.exec_in(c, cmd, now(), stdin=stdin, env_extra=env, workdir=workdir)

    def rm(self, ref: "str | Container", force: bool = False) -> str:
        """Remove a container (force: even when Up, killed first); return the name or ID as given, like docker."""
        c = self.get(ref)
        if c.running and not force:
            raise Conflict(f'cannot remove container "/{c.name}": container is running: stop the container '
                           f"before removing or force remove")
        self._remove(c)
        return ref if isinstance(ref, str) else c.id

    def _remove(self, c: Container) -> None:
        trash = self.root / f".{c.id}.removing"
        os.rename(c.root, trash)
        shutil.rmtree(trash)

    def _settled(self, c: Container) -> "Container | None":
        """Return `c` with its process carried on to now; None when it ended and was made with --rm (removed)."""
        from ..clock import now
        from . import process

        if c.running:
            process.advance(c, now())
            c.reload()
        if not c.running and c.config.get("auto_remove") and c.state == STATE_EXITED:
            try:
                self._remove(c)
            except FileNotFoundError:
                pass
            return None
        return c

    # -- finding

    def list(self, all: bool = False) -> list[Container]:
        """Return the containers, newest first (`ps`: only Up ones unless `all`)."""
        out = []
        if self.root.is_dir():
            for p in self.root.iterdir():
                if len(p.name) == 64 and (p / "config.json").is_file():
                    c = self._settled(Container(self, p))
                    if c is not None and (all or c.running):
                        out.append(c)
        out.sort(key=lambda c: (c.created, c.order, c.id), reverse=True)
        return out

    def get(self, ref: "str | Container") -> Container:
        """Return the container with this full ID, name, or unique ID prefix; NotFound otherwise."""
        if isinstance(ref, Container):
            if not (ref.root / "config.json").is_file():
                raise NotFound(f"No such container: {ref.id}")
            ref.reload()
            if self._settled(ref) is None:
                raise NotFound(f"No such container: {ref.id}")
            return ref
        text = ref.strip().lstrip("/")
        if len(text) == 64 and (self.root / text / "config.json").is_file():
            c = self._settled(Container(self, self.root / text))
            if c is not None:
                return c
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
                 "command": c.command_line, "created": c.created, "status": c.status()})
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
