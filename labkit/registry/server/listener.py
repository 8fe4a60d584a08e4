"""The lab registry's listening socket (stdlib ThreadingHTTPServer) that can hang up its open connections."""

from __future__ import annotations

import logging
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import LabRegistry

log = logging.getLogger(__name__)


class Listener(ThreadingHTTPServer):
    """The listening socket: one thread per connection, and a record of open connections to hang up."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, registry: "LabRegistry"):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.registry = registry
        self.connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self._conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up idle keep-alive connections so a stopped server stops answering."""
        with self._conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # The stdlib prints a traceback to stderr; the lab registry stays quiet.
        log.debug("connection from %s failed", client_address, exc_info=True)
