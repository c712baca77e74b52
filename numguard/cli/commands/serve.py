"""numguard serve: the store's answers over HTTP."""

from __future__ import annotations

import argparse
import logging
import os

from numguard.cli import options
from numguard.cli.config.model import DEFAULT_PORT, DEFAULT_TOKEN_ENV
from numguard.consumer.api.models import MAX_BATCH_ITEMS
from numguard.core import logs
from numguard.core.asgi import DEFAULT_HEADER_TIMEOUT_SECONDS, DEFAULT_MAX_IN_FLIGHT

log = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 8

DESCRIPTION = f"""\
Serve the suppression store's answers over HTTP (JSON):

  GET  /v1/numbers/NUMBER?consented_at=RFC-3339   the decision, as `numguard check`
  POST /v1/check            {{"items": [{{"number", "consented_at"}}, ...]}}, up to
                            {MAX_BATCH_ITEMS:,} items: {{"results": [...]}} in the same order
  GET  /v1/numbers/NUMBER/history                   every event applied to the number
  GET  /healthz             200 when the store answers and no source is stale
                            (--stale-after-hours), else 503; lists each source's
                            latest change and when one was last applied
  GET  /metrics             Prometheus metrics
  GET  /openapi.json        the OpenAPI 3.1 document

When the environment variable named by --token-env is set, every request but
/healthz, /metrics and /openapi.json needs the header `Authorization: Bearer
<its value>`; without it, serve refuses
an address beyond loopback unless --allow-anonymous is given. A request that does
not match /openapi.json is answered 400 naming every problem; in a batch, an item
that cannot be answered (no number, or not a phone number) gets
{{"index", "error"}} in its place. Bodies over 4 MiB get 413; a client has
--header-timeout seconds to send its headers. Request logs show the route, status
and time, never the number. Stops on SIGTERM or SIGINT."""

EPILOG = f"""\
examples:
  NUMGUARD_API_TOKEN=s3cret numguard serve --port 8080
  curl -H 'Authorization: Bearer s3cret' 'http://127.0.0.1:8080/v1/numbers/%2B12025550100?consented_at=2024-01-01'

exit status:
  0  stopped by a signal
  2  the store does not exist or holds no numguard tables, or no token on an
     address beyond loopback without --allow-anonymous

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
        "--port", type=int, default=None, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )
    parser.add_argument(
        "--token-env", default=None, metavar="NAME",
        help=f"environment variable holding the bearer token (default {DEFAULT_TOKEN_ENV})",
    )  # fmt: skip
    parser.add_argument(
        "--allow-anonymous", action="store_true",
        help="serve without a token on an address beyond loopback (anyone who can reach "
        "it can look numbers up)",
    )  # fmt: skip
    parser.add_argument(
        "--pool-size", type=int, default=DEFAULT_POOL_SIZE, metavar="N",
        help=f"PostgreSQL connections per worker at most (default {DEFAULT_POOL_SIZE})",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="worker processes (default 1; one per core for the most lookups a second; "
        "/metrics sums every worker's counts)",
    )  # fmt: skip
    parser.add_argument(
        "--header-timeout", type=float, default=DEFAULT_HEADER_TIMEOUT_SECONDS,
        metavar="SECONDS", help="time a client has to send a request's headers, then the "
        f"connection is closed (default {DEFAULT_HEADER_TIMEOUT_SECONDS:g})",
    )  # fmt: skip
    parser.add_argument(
        "--max-in-flight", type=int, default=DEFAULT_MAX_IN_FLIGHT, metavar="N",
        help=f"requests a worker handles at once (default {DEFAULT_MAX_IN_FLIGHT})",
    )  # fmt: skip
    options.add_consent_options(parser)
    options.add_freshness_option(parser)
    options.add_store_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Here, not above: the API's web stack is this command's alone.
    from numguard.consumer.api.pool import StorePool
    from numguard.consumer.api.server import ServeSettings, serve

    token = os.environ.get(args.token_env) or None
    logs.redact(token)
    if token is None and not options.is_loopback(args.host) and not args.allow_anonymous:
        raise options.UsageError(
            f"refusing to serve {args.host} without a token: set {args.token_env} "
            "(or pass --allow-anonymous to serve anyone who can reach it)"
        )
    options.consent_day_zone(args)  # a bad zone stops here, with its flag named
    StorePool(args.store, 1).close()  # a missing store stops here, with exit 2
    settings = ServeSettings(
        host=args.host, port=args.port, store_url=args.store, token_env=args.token_env,
        day_zone=str(args.consent_day_zone), pool_size=args.pool_size, workers=args.workers,
        header_timeout_seconds=args.header_timeout, max_in_flight=args.max_in_flight,
        stale_after_hours=args.stale_after_hours, no_data=options.no_data_verdict(args),
        log_level=args.log_level, log_format=args.log_format,
    )  # fmt: skip
    auth = f"bearer token from ${args.token_env}" if token else "no token required"

    def started(url: str) -> None:
        log.info("serving %s on %s (%s, %d worker(s))", args.store.split(":", 1)[0], url,
                 auth, settings.workers)  # fmt: skip
        print(f"numguard serve: listening on {url}", flush=True)

    serve(settings, started)
    return 0
