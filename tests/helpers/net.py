"""Loopback networking for tests: every test server binds 127.0.0.1 on a port the kernel picks."""

from __future__ import annotations

import socket


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot bind port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_addr() -> str:
    """Return "127.0.0.1:PORT" with a port that was free a moment ago."""
    return f"127.0.0.1:{free_port()}"
