"""`numguard serve` on Granian: the HTTP server (hyper's HTTP/1.1 parser, in Rust) in
front of the ASGI application (app.py), in worker processes.

The command line checks everything first (the store opens, the token rule holds),
then passes the worker its settings through the environment (NUMGUARD_SERVE_SETTINGS,
JSON; the token itself stays in its own variable) and the factory builds the app.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta

from fastapi import FastAPI
from granian.constants import Interfaces, Loops
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server
from prometheus_client import CollectorRegistry

from numguard.consumer.api.app import ApiSettings, create_app
from numguard.consumer.api.pool import StorePool
from numguard.consumer.store.rules import Verdict
from numguard.core import logs
from numguard.core.times import parse_zone

SETTINGS_ENV = "NUMGUARD_SERVE_SETTINGS"
WORKER_START_SECONDS = 60
# A client has this long to send a request's headers, on a new or a kept-alive
# connection; then the connection is closed (slow or idle clients hold no worker).
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
# Requests a worker handles at once; more wait in the listen backlog.
DEFAULT_MAX_IN_FLIGHT = 256


@dataclass(frozen=True)
class ServeSettings:
    host: str
    port: int
    store_url: str
    token_env: str
    day_zone: str
    pool_size: int
    workers: int = 1
    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    stale_after_hours: float = 48.0  # 0: a stale source never makes /healthz fail
    no_data: str = "allow"  # the verdict for a number with no record on an uncovered day
    log_level: str = "info"
    log_format: str = "text"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def serve(settings: ServeSettings, on_start: Callable[[str], None]) -> None:
    """Run until SIGTERM or SIGINT; `on_start(url)` once the socket listens."""
    if settings.port == 0:
        settings = ServeSettings(**{**asdict(settings), "port": _free_port(settings.host)})
    os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
    server = Server(
        "numguard.consumer.api.server:app_from_environment",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop=Loops.asyncio,
        backpressure=settings.max_in_flight,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_timeout_seconds * 1000)
        ),
        websockets=False,
        log_level=LogLevels(settings.log_level),
        log_access=False,  # the access log would hold the path, and the path a number
        log_dictconfig=_GRANIAN_LOGS_TO_OURS,
    )
    ready = threading.Thread(
        target=_announce_when_accepting, args=(settings, on_start), daemon=True
    )
    server.on_startup(ready.start)
    server.serve()


def _announce_when_accepting(settings: ServeSettings, on_start: Callable[[str], None]) -> None:
    """Each worker binds the port itself (SO_REUSEPORT): it serves once one accepts."""
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection((settings.host, settings.port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        on_start(settings.url)
        return
    logging.getLogger(__name__).error(
        "no worker accepted connections within %d s", WORKER_START_SECONDS
    )


# Granian's own loggers hand their records to ours: one format, one redaction filter.
_GRANIAN_LOGS_TO_OURS = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {},
    "handlers": {},
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},
    },
}


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def app_from_environment() -> FastAPI:
    """The worker's application, from the settings the command line checked."""
    settings = ServeSettings(**json.loads(os.environ[SETTINGS_ENV]))
    logs.configure(settings.log_level, settings.log_format)
    token = os.environ.get(settings.token_env) or None
    logs.redact(token)
    pool = StorePool(settings.store_url, settings.pool_size)
    hours = settings.stale_after_hours
    api = ApiSettings(pool, token, parse_zone(settings.day_zone), CollectorRegistry(),
                      timedelta(hours=hours) if hours > 0 else None,
                      Verdict(settings.no_data))  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = create_app(api)
    app.router.lifespan_context = lifespan
    logging.getLogger(__name__).debug("worker %d ready", os.getpid())
    return app
