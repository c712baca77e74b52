"""ASGI middleware around the API: the token check, a cap on request bodies, and
per-route metrics and logs.

Written as plain ASGI (not BaseHTTPMiddleware) so a request costs one function call
each. The token is checked before any byte of the body is read or parsed, and the
body cap holds while the body is read, declared length or not.
"""

from __future__ import annotations

import hmac
import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from numguard.consumer.api.metrics import ApiMetrics

log = logging.getLogger("numguard.consumer.api")


# Open to probes and clients without a token; every other path needs it.
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json"})


class BearerToken:
    """401 without `Authorization: Bearer <token>`, when a token is set, for every path
    but PUBLIC_PATHS: a route added later, or a path spelled in a way the router might
    read differently, is guarded by default."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        # Constant time: how long the comparison takes says nothing about the token.
        if scheme.lower() == b"bearer" and hmac.compare_digest(token, self.expected):
            await self.app(scope, receive, send)
            return
        await _answer(send, 401, "a valid bearer token is required",
                      [(b"www-authenticate", b'Bearer realm="numguard"')])  # fmt: skip


class BodyLimit:
    """413 for a body over `max_bytes`: at once from Content-Length, else as it streams
    in (chunked). The server closes the connection rather than read the rest."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _answer(send, 413, f"the body is over {self.max_bytes} bytes")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _answer(send, 413, f"the body is over {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _answer(
    send: Send, status: int, error: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """An answer before the application: the body unread, so the connection is closed
    (the server never reads what is left of it as a request)."""
    payload = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"), *(headers or []),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": payload})


class RequestMetrics:
    """Count and time each request by its route template (never the path: it holds a
    number), and log one line for it."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _route(scope)
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            log.info("%s %s %d %.1f ms", scope["method"], route, status, elapsed * 1000)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", "unknown"))
