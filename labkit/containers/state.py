"""A container's record on disk: config.json (who it is, its state), changes.json (the read-write layer's
metadata), history.jsonl (what its file operations did) and the lock that serializes them."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path
from typing import Iterator

from .ops import STATE_EXITED, STATE_RUNNING, Op


class ContainerState:
    """The record of the container in `root`: config and state, the read-write layer's metadata, the history."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.upper = self.root / "upper"
        self._config: dict = json.loads((self.root / "config.json").read_bytes())
        self._changes: "dict | None" = None
        self._batch: "list | None" = None     # the Ops of a batch() in progress

    def reload(self) -> None:
        """Read config.json and changes.json again (another process may have changed them)."""
        self._config = json.loads((self.root / "config.json").read_bytes())
        self._changes = None

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Hold the container's lock with its state read fresh: no file operation runs meanwhile (what
        docker's pause gives `docker commit`)."""
        from ..fsutil import file_lock

        with file_lock(self.root / "lock"):
            self._changes = None
            yield

    # -- config and state

    @property
    def config(self) -> dict:
        """Return a copy of config.json's fields."""
        return dict(self._config)

    @property
    def id(self) -> str:
        """Return the 64-hex container ID."""
        return self._config["id"]

    @property
    def short_id(self) -> str:
        """Return the 12-hex ID docker shows."""
        return self.id[:12]

    @property
    def name(self) -> str:
        """Return the container's name."""
        return self._config["name"]

    @property
    def image(self) -> str:
        """Return the image as the user named it at create time ("debian:jessie")."""
        return self._config["image"]

    @property
    def image_id(self) -> "str | None":
        """Return the image ID ("sha256:...") the container was created from; None for scratch."""
        return self._config.get("image_id")

    @property
    def cmd(self) -> list:
        """Return the container's Cmd (the image's unless `run` gave arguments)."""
        return list(self._config.get("cmd") or [])

    @property
    def entrypoint(self) -> list:
        """Return the container's Entrypoint (the image's, [] when it has none)."""
        return list(self._config.get("entrypoint") or [])

    @property
    def argv(self) -> list:
        """Return what the container runs as PID 1: Entrypoint + Cmd (Docker's Path and Args)."""
        return self.entrypoint + self.cmd

    @property
    def hostname(self) -> str:
        """Return the container's host name (Docker's default: the first 12 hex digits of its ID)."""
        return self._config.get("hostname") or self.id[:12]

    @property
    def created(self) -> datetime:
        """Return when the container was created."""
        from ..clock import parse_time

        return parse_time(self._config["created"])

    @property
    def state(self) -> str:
        """Return "created", "running" or "exited"."""
        return self._config["state"]

    @property
    def running(self) -> bool:
        """Return True when the container is Up."""
        return self.state == STATE_RUNNING

    @property
    def exit_code(self) -> "int | None":
        """Return the last exit status (None if it never exited)."""
        return self._config.get("exit_code")

    @property
    def error(self) -> str:
        """Return the error of the last failed start ("" when none)."""
        return self._config.get("error") or ""

    def status(self, now: "datetime | None" = None) -> str:
        """Return docker's STATUS column, as moby's State.String() words it (daemon/container/state.go):
        "Up 5 minutes" while running; "Created" if it never started; "Exited (0) 2 minutes ago" after."""
        from ..clock import now as clock_now, parse_time
        from ..formatting import human_duration

        now = now or clock_now()
        if self.state == STATE_RUNNING:
            since = parse_time(self._config["started_at"])
            return "Up " + human_duration((now - since).total_seconds())
        if not self._config.get("started_at"):
            return "Created"
        if not self._config.get("finished_at"):
            return ""
        since = parse_time(self._config["finished_at"])
        return f"Exited ({self.exit_code or 0}) " + human_duration((now - since).total_seconds()) + " ago"

    def _save_config(self) -> None:
        from ..fsutil import atomic_write_bytes

        atomic_write_bytes(self.root / "config.json", json.dumps(self._config, indent=1, sort_keys=True).encode())

    def set_state(self, state: str, exit_code: "int | None" = None, at: "datetime | None" = None) -> None:
        """Record a new state in config.json (Up: when it started, `at` or now; Exited: when, and the exit
        code)."""
        from ..clock import now, rfc3339

        when = rfc3339(at or now())
        self._config["state"] = state
        if state == STATE_RUNNING:
            self._config["started_at"] = when
            self._config["error"] = ""
        elif state == STATE_EXITED:
            self._config["finished_at"] = when
            self._config["exit_code"] = exit_code
        self._save_config()

    def record_error(self, exit_code: int, message: str) -> None:
        """Record a start that failed: the exit code Docker sets and the error (the state stays)."""
        self._config["exit_code"] = exit_code
        self._config["error"] = message
        self._save_config()

    def update_config(self, **fields) -> None:
        """Set fields of config.json."""
        self._config.update(fields)
        self._save_config()

    @property
    def order(self) -> int:
        """Return the creation order (nanoseconds) that sorts containers created within one pinned second."""
        return self._config.get("order", 0)

    # -- changes.json

    @property
    def changes(self) -> dict:
        """Return the metadata of the read-write layer: whiteouts, opaque dirs, per-path metadata."""
        if self._changes is None:
            try:
                data = json.loads((self.root / "changes.json").read_bytes())
            except FileNotFoundError:
                data = {}
            self._changes = {"whiteouts": set(data.get("whiteouts", ())), "opaque": set(data.get("opaque", ())),
                             "meta": dict(data.get("meta", {}))}
        return self._changes

    @property
    def whiteouts(self) -> list[str]:
        """Return the image paths this container deleted, sorted."""
        return sorted(self.changes["whiteouts"])

    @property
    def opaque_dirs(self) -> list[str]:
        """Return the directories that hide the image's contents at the same path, sorted."""
        return sorted(self.changes["opaque"])

    def save_changes(self) -> None:
        """Write the read-write layer's metadata to changes.json (atomically)."""
        from ..fsutil import atomic_write_bytes

        c = self.changes
        doc = {"whiteouts": sorted(c["whiteouts"]), "opaque": sorted(c["opaque"]),
               "meta": {k: c["meta"][k] for k in sorted(c["meta"])}}
        atomic_write_bytes(self.root / "changes.json", json.dumps(doc, sort_keys=True).encode())

    @contextlib.contextmanager
    def mutation(self) -> Iterator[list]:
        """Hold the container's lock, reload its state, collect Ops; save changes and history on the way out.
        Inside batch() the lock is already held: the Ops join the batch, saved once at its end."""
        if self._batch is not None:
            ops: list[Op] = []
            try:
                yield ops
            finally:
                self._batch.extend(ops)
            return
        ops = []
        with self.frozen():
            try:
                yield ops
            finally:
                self._save(ops)

    @contextlib.contextmanager
    def batch(self) -> Iterator[list]:
        """Hold the lock across many file operations (a build step copying thousands of files): changes.json
        and the history are written once, at the end; yields the list the operations' Ops gather in."""
        if self._batch is not None:
            yield self._batch
            return
        with self.frozen():
            self._batch = []
            try:
                yield self._batch
            finally:
                ops, self._batch = self._batch, None
                self._save(ops)

    def _save(self, ops: list) -> None:
        self.save_changes()
        if ops:
            with open(self.root / "history.jsonl", "a", encoding="utf-8") as f:
                for op in ops:
                    f.write(json.dumps(op.to_json(), sort_keys=True) + "\n")

    def history(self) -> list[Op]:
        """Return every Op this container's file operations produced, oldest first."""
        try:
            lines = (self.root / "history.jsonl").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [Op.from_json(json.loads(line)) for line in lines if line.strip()]
