"""Blob upload sessions: temp files beside the layout, dropped when idle for `ttl` or on restart."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .problems import RegistryProblem

UPLOAD_TTL = 3600.0            # seconds an idle upload session is kept


@dataclass
class UploadSession:
    """One blob upload in progress: its repository, temp file and size so far."""

    uuid: str
    repo: str
    path: Path
    size: int = 0
    touched: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Uploads:
    """Upload sessions, kept as temp files in one directory; idle ones are removed after `ttl` seconds."""

    def __init__(self, directory: Path, ttl: float = UPLOAD_TTL):
        self.directory = Path(directory)
        self.ttl = ttl
        self._sessions: dict[str, UploadSession] = {}
        self._lock = threading.Lock()
        # Sessions do not survive a restart (their state is in memory): whatever is on disk is abandoned.
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)

    def start(self, repo: str) -> UploadSession:
        """Return a new, empty session for `repo`."""
        self.sweep()
        uuid = secrets.token_hex(16)
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
        session = UploadSession(uuid, repo, self.directory / uuid)
        session.path.touch()
        with self._lock:
            self._sessions[uuid] = session
        return session

    def get(self, repo: str, uuid: str) -> UploadSession:
        """Return the session `uuid` of `repo`, or raise 404 BLOB_UPLOAD_UNKNOWN."""
        with self._lock:
            session = self._sessions.get(uuid)
        if session is None or session.repo != repo:
            raise RegistryProblem(404, "BLOB_UPLOAD_UNKNOWN", detail={"uuid": uuid})
        session.touched = time.monotonic()
        return session

    def discard(self, session: UploadSession) -> None:
        """Forget `session` and delete its temp file."""
        with self._lock:
            self._sessions.pop(session.uuid, None)
        session.path.unlink(missing_ok=True)

    def sweep(self) -> list[str]:
        """Remove sessions idle for longer than the ttl; return their ids."""
        cutoff = time.monotonic() - self.ttl
        with self._lock:
            stale = [s for s in self._sessions.values() if s.touched < cutoff and not s.lock.locked()]
        for session in stale:
            self.discard(session)
        return [s.uuid for s in stale]

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
