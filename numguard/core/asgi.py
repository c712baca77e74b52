"""Running an ASGI application on Granian, for every HTTP service numguard offers: the
HTTP server (hyper's HTTP/1.1 parser, in Rust) in front of the app, in worker processes.

The command line checks everything first, then hands the workers their settings
through an environment variable (JSON; secrets stay in their own variables) and the
app factory named by `target` builds each worker's application from it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

from numguard.core.signals import die_with_parent

WORKER_START_SECONDS = 60
_FACTORY_ENV = "NUMGUARD_ASGI_FACTORY"  # module:function that builds a worker's app
_SERVER_PID_ENV = "NUMGUARD_ASGI_SERVER_PID"
# A client has this long to send a request's headers, on a new or a kept-alive
# connection; then the connection is closed (slow or idle clients hold no worker).
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
# Requests a worker handles at once; more wait in the listen backlog.
DEFAULT_MAX_IN_FLIGHT = 256


@dataclass(frozen=True)
class Listener:
    host: str
    port: int  # 0: a free one
    workers: int = 1
    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    log_level: str = "info"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def run(
    target: str,
    listener: Listener,
    settings_env: str,
    settings: dict[str, object],
    on_start: Callable[[str], None],
) -> None:
    """Serve `target` (module:factory) until SIGTERM or SIGINT, each worker's factory
    reading `settings` from `settings_env`; `on_start(url)` once the socket listens."""
    os.environ[settings_env] = json.dumps(settings)
    os.environ[_FACTORY_ENV] = target
    os.environ[_SERVER_PID_ENV] = str(os.getpid())
    server = Server(
        "numguard.core.asgi:worker_app",
        factory=True,
        interface=Interfaces.ASGI,
        # HTTP/1.1 only: detecting HTTP/2 waits for a first byte with no timeout, so a
        # connection that never sent one was held for ever.
        http=HTTPModes.http1,
        address=listener.host,
        port=listener.port,
        workers=listener.workers,
        loop=Loops.asyncio,
        backpressure=listener.max_in_flight,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(listener.header_timeout_seconds * 1000)
        ),
        websockets=False,
        log_level=LogLevels(listener.log_level),
        log_access=False,  # the access log would hold the path, and the path a number
        log_dictconfig=_GRANIAN_LOGS_TO_OURS,
    )
    ready = threading.Thread(target=_announce_when_accepting, args=(listener, on_start),
                             daemon=True)  # fmt: skip
    server.on_startup(ready.start)
    server.serve()


def worker_app() -> Any:
    """In each worker: tied to the server process (a server killed with SIGKILL leaves
    no worker holding the port), then the application from the factory `run` named."""
    # SIGKILL: a worker still building its app would lose a SIGTERM (its handler only
    # stops a server that is running), and a worker without its server has no use.
    die_with_parent(signal.SIGKILL)
    if os.getppid() != int(os.environ[_SERVER_PID_ENV]):
        os._exit(1)  # the server died before the tie was made: nothing to serve for
    module, factory = os.environ[_FACTORY_ENV].split(":")
    return getattr(importlib.import_module(module), factory)()


def _announce_when_accepting(listener: Listener, on_start: Callable[[str], None]) -> None:
    """Each worker binds the port itself (SO_REUSEPORT): it serves once one accepts."""
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection((listener.host, listener.port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        on_start(listener.url)
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


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
