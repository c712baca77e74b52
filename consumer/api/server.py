"""`numguard serve`: the check API (app.py) on Granian (numguard.core.asgi).

The command line checks everything first (the store opens, the token rule holds),
then passes the worker its settings through the environment (NUMGUARD_SERVE_SETTINGS,
JSON; the token itself stays in its own variable) and the factory builds the app.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from numguard.consumer.api.app import ApiSettings, create_app
from numguard.consumer.api.metrics import SHARED_DIRECTORY_ENV, count_in_shared_directory
from numguard.consumer.api.pool import StorePool
from numguard.consumer.store.rules import Verdict
from numguard.core import logs
from numguard.core.asgi import (
    DEFAULT_HEADER_TIMEOUT_SECONDS,
    DEFAULT_MAX_IN_FLIGHT,
    Listener,
    free_port,
    run,
)
from numguard.core.times import parse_zone

SETTINGS_ENV = "NUMGUARD_SERVE_SETTINGS"


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
        settings = ServeSettings(**{**asdict(settings), "port": free_port(settings.host)})
    listener = Listener(settings.host, settings.port, settings.workers,
                        settings.header_timeout_seconds, settings.max_in_flight,
                        settings.log_level)  # fmt: skip
    with _shared_metrics_directory(settings.workers):
        run("numguard.consumer.api.server:app_from_environment", listener, SETTINGS_ENV,
            asdict(settings), on_start)  # fmt: skip


@contextmanager
def _shared_metrics_directory(workers: int) -> Iterator[None]:
    """With several workers, a fresh directory for their counts (one the operator named
    in PROMETHEUS_MULTIPROC_DIR is used as it is), removed when the server stops."""
    if workers == 1 or os.environ.get(SHARED_DIRECTORY_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="numguard-serve-metrics-") as directory:
        os.environ[SHARED_DIRECTORY_ENV] = directory
        try:
            yield
        finally:
            del os.environ[SHARED_DIRECTORY_ENV]


def app_from_environment() -> FastAPI:
    """The worker's application, from the settings the command line checked."""
    settings = ServeSettings(**json.loads(os.environ[SETTINGS_ENV]))
    logs.configure(settings.log_level, settings.log_format)
    if os.environ.get(SHARED_DIRECTORY_ENV):
        count_in_shared_directory()
    token = os.environ.get(settings.token_env) or None
    logs.redact(token)
    pool = StorePool(settings.store_url, settings.pool_size)
    hours = settings.stale_after_hours
    api = ApiSettings(pool, token, parse_zone(settings.day_zone), CollectorRegistry(),
                      timedelta(hours=hours) if hours > 0 else None,
                      Verdict(settings.no_data))  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What the worker holds from now on (modules, the app, its routes) is never
        # garbage: out of the collector's sight, a full collection during a 10,000-number
        # batch no longer walks it (a fifth of the batch's time).
        gc.freeze()
        yield
        await pool.aclose()

    app = create_app(api)
    app.router.lifespan_context = lifespan
    logging.getLogger(__name__).debug("worker %d ready", os.getpid())
    return app
