"""HTTP without a socket: requests for a registry served inside this process reach its handler directly.

In the browser (Pyodide) nothing can listen on a socket, so `LabRegistry.start()` serves in-process: it
registers an InProcessAdapter for its address here (`serve`). From then on every requests Session of
the process, labkit's clients and a notebook's own `requests.get(...)` alike, hands the requests for
that address to the adapter, which runs the registry's own request handler (a stdlib
BaseHTTPRequestHandler, the code that answers over a socket) on in-memory streams: the request is
written out as HTTP/1.1 bytes and the answer parsed back by http.client, so both sides speak real HTTP.

requests has no registry of transports for a host, so `serve` adds one hook, once: Session.get_adapter
looks here first (a URL for an address served in-process) and otherwise does what it always does.
"""

from __future__ import annotations

import http.client
import io
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.util.url import parse_url

# Pseudo ports for in-process registries asked for port 0: above Linux's ephemeral range (32768-60999),
# so a CPython test that serves in-process does not shadow a real local server.
FIRST_FREE_PORT = 61000

_routes: dict[str, BaseAdapter] = {}   # "host:port" (lowercase) -> adapter
_lock = threading.Lock()
_original_get_adapter = None


class InProcessAdapter(HTTPAdapter):
    """Answers requests with `handler_class` (a BaseHTTPRequestHandler) run on in-memory streams.

    `server` is what the handler sees as `self.server` (the lab registry's handler reads `.registry`).
    """

    def __init__(self, handler_class, server: Any):
        super().__init__()
        self.server = server
        self.handler_class = _in_memory(handler_class)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        raw_request = _serialize(request)
        out = io.BytesIO()
        self.handler_class(raw_request, out, self.server)
        answer = http.client.HTTPResponse(_Socket(out.getvalue()), method=request.method)
        answer.begin()
        body = answer.read()
        resp = urllib3.HTTPResponse(body=io.BytesIO(body), headers=urllib3.HTTPHeaderDict(answer.getheaders()),
                                    status=answer.status, reason=answer.reason, preload_content=False,
                                    decode_content=False, request_method=request.method)
        return self.build_response(request, resp)

    def close(self):
        pass


def _in_memory(handler_class):
    """Return a subclass of `handler_class` reading the request from bytes and writing into a buffer."""

    class InMemory(handler_class):
        def __init__(self, raw_request: bytes, out: io.BytesIO, server):
            self._raw_request, self._out = raw_request, out
            super().__init__(None, ("127.0.0.1", 0), server)

        def setup(self):
            self.connection = None
            self.rfile = io.BytesIO(self._raw_request)
            self.wfile = self._out

        def finish(self):
            pass

    InMemory.__name__ = InMemory.__qualname__ = f"InMemory{handler_class.__name__}"
    return InMemory


def _serialize(request: requests.PreparedRequest) -> bytes:
    """Return `request` as the bytes of one HTTP/1.1 request with a Content-Length body."""
    url = parse_url(request.url)
    body = request.body
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
    elif hasattr(body, "read"):
        data = body.read()
        data = data.encode("utf-8") if isinstance(data, str) else data
    else:  # an iterable of chunks (what requests sends with Transfer-Encoding: chunked)
        data = b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("transfer-encoding", "content-length",
                                                                               "host")}
    lines = [f"{request.method} {request.path_url} HTTP/1.1", f"Host: {url.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if data or request.method not in ("GET", "HEAD", "DELETE"):
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


class _Socket:
    """What http.client.HTTPResponse reads an answer from."""

    def __init__(self, data: bytes):
        self._file = io.BytesIO(data)

    def makefile(self, *args, **kwargs):
        return self._file


# --- the routing table -------------------------------------------------------------------------------

def serve(addresses: "list[str]", adapter: BaseAdapter) -> None:
    """Send every request for `addresses` ("host:port") from any requests Session to `adapter`."""
    _install_hook()
    with _lock:
        for address in addresses:
            _routes[address.lower()] = adapter


def withdraw(addresses: "list[str]") -> None:
    """Stop serving `addresses` in-process (their requests go out on the network again)."""
    with _lock:
        for address in addresses:
            _routes.pop(address.lower(), None)


def served() -> "list[str]":
    """Return the addresses served in-process now."""
    with _lock:
        return sorted(_routes)


def adapter_for(url: str) -> "BaseAdapter | None":
    """Return the in-process adapter for `url`, or None when it goes out on the network."""
    if not _routes or not url.lower().startswith("http://"):
        return None
    return _routes.get(urlsplit(url).netloc.lower())


def free_port(host: str) -> int:
    """Return a port number no in-process route of `host` uses yet (for a registry asked for port 0)."""
    with _lock:
        port = FIRST_FREE_PORT
        while f"{host}:{port}".lower() in _routes:
            port += 1
        return port


def _install_hook() -> None:
    global _original_get_adapter
    with _lock:
        if _original_get_adapter is not None:
            return
        _original_get_adapter = original = requests.Session.get_adapter

        def get_adapter(self, url):
            adapter = adapter_for(url)
            return adapter if adapter is not None else original(self, url)

        requests.Session.get_adapter = get_adapter
