"""numguard serve: the store's answers over HTTP."""

from __future__ import annotations

import argparse
import logging
import os
import threading

from numguard.cli import options
from numguard.cli.config.model import DEFAULT_PORT, DEFAULT_TOKEN_ENV
from numguard.consumer.api.pool import StorePool
from numguard.consumer.api.server import MAX_BATCH_ITEMS, StoreApiServer
from numguard.core import logs
from numguard.core.signals import stop_on_signals

log = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 8

DESCRIPTION = f"""\
Serve the suppression store's answers over HTTP (JSON):

  GET  /v1/numbers/NUMBER?consented_at=ISO-8601   the decision, as `numguard check`
  POST /v1/check            {{"items": [{{"number", "consented_at"}}, ...]}}, up to
                            {MAX_BATCH_ITEMS:,} items: {{"results": [...]}} in the same order
  GET  /v1/numbers/NUMBER/history                   every event applied to the number
  GET  /healthz             200 when the store answers, else 503
  GET  /metrics             Prometheus metrics
  GET  /openapi.json        the OpenAPI 3.1 document

When the environment variable named by --token-env is set, every /v1/ request
needs the header `Authorization: Bearer <its value>`. Request logs show the
route, status and time, never the number. Stops on SIGTERM or SIGINT."""

EPILOG = f"""\
examples:
  NUMGUARD_API_TOKEN=s3cret numguard serve --port 8080
  curl -H 'Authorization: Bearer s3cret' 'http://127.0.0.1:8080/v1/numbers/%2B12025550100?consented_at=2024-01-01'

exit status:
  0  stopped by a signal
  2  the store does not exist

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve", help="HTTP API over the store (check, batch check, history)",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port (default {DEFAULT_PORT}; 0: any free)",
    )
    parser.add_argument(
        "--token-env", default=None, metavar="NAME",
        help=f"environment variable holding the bearer token (default {DEFAULT_TOKEN_ENV})",
    )  # fmt: skip
    parser.add_argument(
        "--pool-size", type=int, default=DEFAULT_POOL_SIZE, metavar="N",
        help=f"store connections at most (default {DEFAULT_POOL_SIZE})",
    )  # fmt: skip
    options.add_consent_options(parser)
    options.add_store_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    token = os.environ.get(args.token_env) or None
    logs.redact(token)
    pool = StorePool(args.store, args.pool_size)
    server = StoreApiServer((args.host, args.port), pool, token, options.consent_day_zone(args))
    stop = stop_on_signals()
    thread = threading.Thread(target=server.serve_forever, name="numguard-serve", daemon=True)
    thread.start()
    auth = f"bearer token from ${args.token_env}" if token else "no token required"
    log.info("serving %s on %s (%s)", pool.backend, server.url, auth)
    print(f"numguard serve: listening on {server.url}", flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        pool.close()
    return 0
