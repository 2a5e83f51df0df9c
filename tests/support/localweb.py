"""A real multi-host HTTP server on loopback for fetcher tests, with fault injection.

Each host is its own ``ThreadingHTTPServer`` bound to a distinct loopback address
(127.0.0.1, 127.0.0.2, ... - all loopback on Linux), so host-keyed politeness is observable.
Routes map a path (optionally per host) to a sequence of :class:`Reply`; the n-th request
gets the n-th reply and the last one repeats.  Every request is logged with its arrival time.

Exposed to pytest as the ``local_web`` fixture (``pytest_plugins = ["tests.support.localweb"]``).
"""

import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import pytest


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering
    reset: bool = False  # send a TCP RST instead of an answer
    repeat_body: int = 1  # stream ``body`` this many times (big pages without big memory)
    declare_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    trickle_s: float = 0.0  # sleep this long before each repeat of ``body`` (a slow server)


@dataclass(frozen=True)
class Hit:
    host: str  # the address the request arrived on
    path: str
    at: float  # time.monotonic()
    headers: dict


class LocalWeb:
    """``hosts`` loopback servers sharing one route table and one request log."""

    def __init__(self, hosts: int = 3, default: Optional[Reply] = None, tls: Optional[ssl.SSLContext] = None):
        self.scheme = "https" if tls else "http"
        self._tls = tls
        self.default = default or Reply(404, b"not found")
        self.hits: list[Hit] = []
        self._routes: dict[tuple, list] = {}
        self._served: dict[tuple, int] = {}
        self._lock = threading.Lock()
        self._servers = [self._serve(f"127.0.0.{i + 1}") for i in range(hosts)]

    def url(self, path: str, host: int = 0) -> str:
        address, port = self._servers[host].server_address[:2]
        return f"{self.scheme}://{address}:{port}{path}"

    def route(self, path: str, *replies: Reply, host: Optional[int] = None) -> str:
        """Serve ``replies`` in order at ``path`` (on one host or all); returns the URL on host 0 or ``host``."""
        address = None if host is None else self._servers[host].server_address[0]
        self._routes[(address, path)] = list(replies)
        return self.url(path, host or 0)

    def hits_for(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def _reply_for(self, address: str, path: str) -> Reply:
        key = (address, path) if (address, path) in self._routes else (None, path)
        replies = self._routes.get(key)
        if not replies:
            return self.default
        with self._lock:
            n = self._served.get(key, 0)
            self._served[key] = n + 1
        return replies[min(n, len(replies) - 1)]

    def _serve(self, address: str) -> ThreadingHTTPServer:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                host = self.server.server_address[0]
                with web._lock:
                    web.hits.append(Hit(host, self.path, time.monotonic(), dict(self.headers)))
                reply = web._reply_for(host, self.path)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                if reply.declare_length:
                    headers = {"Content-Length": str(len(reply.body) * reply.repeat_body), **reply.headers}
                else:
                    headers = {"Connection": "close", **reply.headers}
                    self.close_connection = True
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    for _ in range(reply.repeat_body):
                        if reply.trickle_s:
                            time.sleep(reply.trickle_s)
                        self.wfile.write(reply.body)
                        if reply.trickle_s:
                            self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: expected
                    self.close_connection = True

        server = ThreadingHTTPServer((address, 0), Handler)
        if self._tls:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server


@pytest.fixture
def local_web():
    web = LocalWeb()
    yield web
    web.close()
