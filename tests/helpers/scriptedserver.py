"""A scripted registry on 127.0.0.1 for fault tests: each (method, path) answers from a list of steps.

Every request to a route takes the next step (the last one repeats): a canned `Reply`, a `blob` that honours
Range requests, a distribution-style `err`, or any callable taking the request handler, so a test can cut a
connection mid-body, answer 429 once, or serve wrong bytes. `log` keeps every request for assertions.
`serve_image` scripts a whole image (or index) built by `helpers.imagefactory`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from labkit.digest import Digest

from helpers.imagefactory import BuiltIndex


@dataclass
class Reply:
    """A canned answer; `cut_after` sends only that many body bytes (with the full Content-Length) then drops."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    cut_after: int | None = None

    def __call__(self, h: "Handler") -> None:
        h.send_response(self.status)
        headers = {"Content-Length": str(len(self.body)), **self.headers}
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        if h.command == "HEAD":
            return
        if self.cut_after is None:
            h.wfile.write(self.body)
        else:
            h.wfile.write(self.body[: self.cut_after])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)


def blob(data: bytes, cut_after: int | None = None, honour_range: bool = True, headers=None):
    """Return a step serving `data` with Range support (206 + Content-Range), optionally cut short."""

    def step(h: "Handler") -> None:
        rng = h.headers.get("Range")
        if rng and honour_range:
            start, _, end = rng.removeprefix("bytes=").partition("-")
            start, end = int(start), int(end) if end else len(data) - 1
            part = data[start:end + 1]
            Reply(206, {"Content-Range": f"bytes {start}-{end}/{len(data)}", **(headers or {})}, part,
                  cut_after)(h)
        else:
            Reply(200, dict(headers or {}), data, cut_after)(h)
    return step


def slow_blob(data: bytes, piece: int = 16 << 10, pause: float = 0.04, honour_range: bool = True):
    """Return a step serving `data` slowly (`piece` bytes every `pause` seconds), a pull to kill in the
    middle; a Range request (honour_range) gets the rest at full speed, the resumption."""

    def step(h: "Handler") -> None:
        rng = h.headers.get("Range") if honour_range else None
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
        part = data[start:]
        h.send_response(206 if rng else 200)
        if rng:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(part)))
        h.end_headers()
        try:
            for i in range(0, len(part), piece):
                h.wfile.write(part[i:i + piece])
                h.wfile.flush()
                if not rng:
                    time.sleep(pause)
        except OSError:
            pass  # the client was killed: that is the point
    return step


def err(status: int, code: str, message: str, headers=None) -> Reply:
    """Return a registry error reply with a distribution-style JSON body."""
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, body)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        server: ScriptedServer = self.server.script  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        server.log.append((self.command, self.path, dict(self.headers)))
        steps = server.routes.get((self.command, path)) or server.routes.get(("*", path))
        if not steps:
            return Reply(404, {"Content-Type": "application/json"},
                         b'{"errors":[{"code":"NOT_FOUND","message":"no script"}]}')(self)
        key = (self.command, path) if (self.command, path) in server.routes else ("*", path)
        with server.lock:
            i = server.hits.get(key, 0)
            server.hits[key] = i + 1
        step = steps[min(i, len(steps) - 1)]
        step(self)

    do_GET = do_HEAD = do_PUT = do_POST = _serve


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the fault steps break connections on purpose


class ScriptedServer:
    """An HTTP server on 127.0.0.1:<free port> answering from `routes`; `log` keeps every request."""

    def __init__(self):
        self.routes: dict = {}
        self.hits: dict = {}
        self.log: list = []
        self.lock = threading.Lock()
        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.httpd.script = self
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def route(self, method: str, path: str, *steps) -> "ScriptedServer":
        """Script the answers for `method path` (method "*" for any)."""
        self.routes[(method, path)] = list(steps)
        return self

    def requests_to(self, path: str) -> list:
        """Return the logged requests whose path (without query) is `path`."""
        return [r for r in self.log if r[1].split("?", 1)[0] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_image(server: ScriptedServer, repo: str, tag: str, built, *, corrupt: Digest | None = None, slow=None):
    """Script `server` to serve `built` (image or index) as repo:tag; `corrupt` serves wrong bytes for a blob."""
    media = built.media_type
    raw = built.raw if isinstance(built, BuiltIndex) else built.manifest
    top = Digest.of(raw)
    headers = {"Content-Type": media, "Docker-Content-Digest": str(top)}
    server.route("*", f"/v2/{repo}/manifests/{tag}", Reply(200, headers, raw))
    for d, data in built.blobs.items():
        if corrupt == d:
            data = b"X" + data[1:]
        try:
            json.loads(data)
            mt = json.loads(data).get("mediaType")
        except (ValueError, UnicodeDecodeError, AttributeError):
            mt = None
        if mt:
            server.route("*", f"/v2/{repo}/manifests/{d}", Reply(200, {"Content-Type": mt}, data))
        server.route("GET", f"/v2/{repo}/blobs/{d}", slow(data) if slow else blob(data))
    return top
