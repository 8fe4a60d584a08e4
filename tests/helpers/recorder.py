"""A recording proxy: sits in front of a real server on 127.0.0.1 and writes down every request it forwards.

The client under test talks to the proxy as if it were the registry (or the token server); the proxy forwards
each request unchanged (the Host header too, so the registry's Location URLs point back at the proxy) and
keeps one `Recorded` per exchange. Several proxies can share one `Conversation`, so a registry and its token
server are recorded in one sequence, in the order the client sent them:

    talk = Conversation()
    tokens = RecordingProxy(token_server_url, talk, "token")
    url, stop = start_distribution_registry(tmp_path, {"auth": {"token": {..., "realm": tokens.url + "/token"}}})
    registry = RecordingProxy(url, talk, "registry")
    ... pull from registry.host ...
    assert talk.lines() == ["GET /v2/ -> 401", "GET /token scope=repository:x:pull -> 200", ...]
"""

from __future__ import annotations

import http.client
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Recorded:
    """One exchange as the proxy saw it (headers as sent; secrets are the test's own)."""

    server: str  # the proxy's name: "registry", "token", ...
    method: str
    target: str  # path?query as sent
    status: int
    request_headers: dict = field(default_factory=dict)
    response_headers: dict = field(default_factory=dict)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> "list[tuple[str, str]]":
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def auth(self) -> str:
        """Return the scheme of the Authorization header sent ("Bearer", "Basic") or ""."""
        value = next((v for k, v in self.request_headers.items() if k.lower() == "authorization"), "")
        return value.split(" ", 1)[0]

    def line(self, names: "dict[str, str] | None" = None) -> str:
        """Return `METHOD path [auth] -> status`, digests replaced by `names` (digest -> short name).

        A token request shows only its scopes (`GET /token scope=repository:x:pull -> 200`); a mount shows
        `?mount=NAME&from=REPO`; other query strings (upload session state) are left out."""
        def named(text: str) -> str:
            return _DIGEST.sub(lambda m: (names or {}).get(m.group(0), m.group(0)), text)

        target = named(self.path)
        query = self.query
        if self.server == "token" or self.path.endswith("/token"):
            scopes = " ".join(v for k, v in query if k == "scope")
            target += f" scope={scopes}" if scopes else ""
            grant = next((v for k, v in query if k == "grant_type"), "")
            target += f" grant_type={grant}" if grant else ""
        else:
            keep = [(k, v) for k, v in query if k in ("mount", "from")]
            if keep:
                target += "?" + "&".join(f"{k}={named(v)}" for k, v in keep)
        auth = f" [{self.auth}]" if self.auth else ""
        return f"{self.method} {target}{auth} -> {self.status}"


class Conversation:
    """The exchanges recorded by one or more proxies, in the order they were answered."""

    def __init__(self):
        self.exchanges: list[Recorded] = []
        self._lock = threading.Lock()

    def add(self, rec: Recorded) -> None:
        with self._lock:
            self.exchanges.append(rec)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def lines(self, names: "dict[str, str] | None" = None) -> list[str]:
        """Return one `Recorded.line` per exchange, in order."""
        with self._lock:
            return [r.line(names) for r in self.exchanges]

    def __iter__(self):
        with self._lock:
            return iter(list(self.exchanges))

    def __len__(self) -> int:
        return len(self.exchanges)


class RecordingProxy:
    """An HTTP reverse proxy on 127.0.0.1:<free port> forwarding to `upstream` (http://host:port).

    For transfer tests it can also hold each answer back (`delay` seconds, so transfers overlap), count how
    many requests of a method were in flight at once (`max_in_flight`), and cut the next answer whose path
    contains a text after some bytes of its body (`cut_next`), as a dropped connection does."""

    def __init__(self, upstream: str, conversation: "Conversation | None" = None, name: str = "registry",
                 delay: float = 0.0):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port or 80)
        self.conversation = conversation if conversation is not None else Conversation()
        self.name = name
        self.delay = delay
        self.max_in_flight: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        self._cuts: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def lines(self, names: "dict[str, str] | None" = None) -> list[str]:
        """Return the conversation's lines (every proxy sharing it)."""
        return self.conversation.lines(names)

    def cut_next(self, path_contains: str, after: int) -> None:
        """Drop the connection of the next answer whose path contains `path_contains` after `after` body bytes."""
        with self._lock:
            self._cuts.append((path_contains, after))

    def _take_cut(self, path: str) -> "int | None":
        with self._lock:
            for i, (text, after) in enumerate(self._cuts):
                if text in path:
                    del self._cuts[i]
                    return after
        return None

    def _enter(self, method: str) -> None:
        with self._lock:
            n = self._in_flight[method] = self._in_flight.get(method, 0) + 1
            self.max_in_flight[method] = max(self.max_in_flight.get(method, 0), n)

    def _leave(self, method: str) -> None:
        with self._lock:
            self._in_flight[method] -= 1

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    """A client that drops its connection (a killed pull, a cut test) is no error worth a traceback."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _handler(proxy: RecordingProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _forward(self):
            body = self._body()
            # A list, not a dict: a header sent several times (Go clients send one Accept line per media type)
            # must reach the server several times.
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-length"}]
            if body or self.command in ("PUT", "POST", "PATCH"):
                headers.append(("Content-Length", str(len(body))))
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            proxy._enter(self.command)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()
                answer = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
                status, reason = resp.status, resp.reason
                if proxy.delay:
                    time.sleep(proxy.delay)
            finally:
                conn.close()
                proxy._leave(self.command)
            cut = proxy._take_cut(self.path) if self.command == "GET" else None
            proxy.conversation.add(Recorded(proxy.name, self.command, self.path, status, dict(self.headers),
                                            dict(answer)))
            self.send_response(status, reason)
            for k, v in answer:
                if k.lower() != "content-length":
                    self.send_header(k, v)
            if self.command == "HEAD":  # keep the upstream's length: it says how big the manifest or blob is
                length = dict((k.lower(), v) for k, v in answer).get("content-length")
                if length is not None:
                    self.send_header("Content-Length", length)
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if cut is not None:  # a dropped connection: part of the body, then nothing
                self.wfile.write(data[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

    return Handler
