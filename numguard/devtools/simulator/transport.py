"""The socket side of the simulator: a threading HTTP/1.1 server and response writing.

Kept apart from the feeds so their rules read without socket code. Every
response carries Content-Length (keep-alive needs it, and it lets a client tell
a cut-off body from a short one); a truncated response stops early and closes
the connection, as a dropped download does.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from numguard.devtools.simulator.responses import Response

log = logging.getLogger(__name__)

IDLE_CONNECTION_TIMEOUT_SECONDS = 30.0  # an idle keep-alive connection is closed after this


def write_response(
    handler: BaseHTTPRequestHandler, response: Response, keep_bytes: int | None = None
) -> None:
    """Send the status, headers and body; with `keep_bytes`, only that many bytes of the
    body go out (Content-Length still announces all of it) and the connection closes."""
    handler.send_response(response.status)
    handler.send_header("Content-Type", response.content_type)
    handler.send_header("Content-Length", str(response.body.length))
    for name, value in response.headers:
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command == "HEAD":
        return
    sent = 0
    for chunk in response.body.chunks():
        if keep_bytes is not None and sent + len(chunk) > keep_bytes:
            handler.wfile.write(chunk[: keep_bytes - sent])
            break
        handler.wfile.write(chunk)
        sent += len(chunk)
    handler.wfile.flush()
    if keep_bytes is not None:
        handler.close_connection = True


class Handler(BaseHTTPRequestHandler):
    """Hands every request, whatever its method, to the server's app."""

    server: HttpServer
    protocol_version = "HTTP/1.1"  # keep-alive, so every response carries Content-Length
    timeout = IDLE_CONNECTION_TIMEOUT_SECONDS
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body
    # would wait for the client's delayed ACK (40 ms a response on Linux).
    disable_nagle_algorithm = True
    server_version = "numguard-carrier-simulator"

    def do_GET(self) -> None:
        self.server.app(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class HttpServer(ThreadingHTTPServer):
    """One thread per connection; `app` answers each request on its handler."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        app: Callable[[BaseHTTPRequestHandler], None],
    ) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End keep-alive connections still open, so their threads finish with the server."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
