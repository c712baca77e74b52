"""numguard receive: the sender's delivery reports in, UNDELIVERABLE events out."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict

from numguard.cli import options
from numguard.core import logs
from numguard.core.asgi import DEFAULT_HEADER_TIMEOUT_SECONDS, Listener, free_port, run
from numguard.core.kafka.clients import base_config
from numguard.core.kafka.topics import ensure_topics
from numguard.producer.delivery import codes

log = logging.getLogger(__name__)

DEFAULT_PORT = 8090


def _wrapped(values: list[str]) -> str:
    """A long list of codes over lines of the help's width."""
    lines, line = [], ""
    for value in values:
        if len(line) + len(value) > 60:
            lines.append(line.rstrip())
            line = ""
        line += value + ", "
    return "\n              ".join([*lines, line.rstrip(", ")])


DESCRIPTION = f"""\
Receive the delivery reports of the sender's messaging provider and publish each
permanent failure that means the number is gone as an UNDELIVERABLE event on the
events topic (the store then blocks the number for consents given on or before
that day, unless a carrier later says it is active again):

  POST /v1/delivery-reports/twilio    Twilio status callbacks (form-encoded),
                                      verified with X-Twilio-Signature and the
                                      Auth Token in $TWILIO_AUTH_TOKEN
  POST /v1/delivery-reports/infobip   Infobip delivery reports (JSON), with HTTP
                                      Basic credentials from $INFOBIP_DLR_USERNAME
                                      and $INFOBIP_DLR_PASSWORD
  GET  /healthz, GET /metrics

A provider whose secret is not set is not enabled (its path answers 404); with
none set, receive refuses to start. The answer is 2xx once Kafka acknowledged the
events, 503 with Retry-After when it did not (the provider sends it again), 403
for a Twilio signature that does not match, 401 without Infobip's credentials.

Which codes mean the number is gone (--codes PROVIDER=CODE,CODE replaces a
provider's list; the same table reads `numguard ingest --format delivery-failures`):
  twilio      {", ".join(sorted(codes.TWILIO))} (not 30003, unreachable handset: temporary)
  infobip     error id {", ".join(sorted(codes.INFOBIP))} (EC_UNKNOWN_SUBSCRIBER), unless the
              report says permanent: false
  openmarket  {_wrapped(sorted(codes.OPENMARKET, key=int))}

Twilio signs the URL it called: behind a proxy give that URL's base with
--public-url. Stops on SIGTERM or SIGINT."""

EPILOG = f"""\
examples:
  TWILIO_AUTH_TOKEN=... numguard receive --public-url https://hooks.example.com
  numguard receive --codes twilio=30005,30006,30008

exit status:
  0  stopped by a signal
  2  no provider enabled, or a setting is wrong

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "receive", help="delivery-report webhooks in, UNDELIVERABLE events out",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0: any free)")  # fmt: skip
    parser.add_argument(
        "--public-url", metavar="URL",
        help="the base URL the providers call, when a proxy stands in front",
    )  # fmt: skip
    options.add_codes_option(parser)
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="worker processes (default 1)")  # fmt: skip
    options.add_kafka_options(parser, publishes=True)
    parser.set_defaults(handler=run_receive)


def run_receive(args: argparse.Namespace) -> int:
    # Here, not above: the receiver's web stack is this command's alone.
    from numguard.producer.delivery.receiver import SETTINGS_ENV, Credentials, ReceiverSettings

    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    settings = ReceiverSettings(
        bootstrap_servers=bootstrap, topic=names.events,
        schema_registry_url=args.schema_registry_url,
        schema_compatibility=options.schema_compatibility(args), public_url=args.public_url,
        codes=options.code_overrides(args), log_level=args.log_level, log_format=args.log_format,
    )  # fmt: skip
    credentials = Credentials.from_environment(settings)
    enabled = credentials.enabled()
    if not enabled:
        raise options.UsageError(
            f"no provider enabled: set {settings.twilio_token_env} (Twilio) or "
            f"{settings.infobip_user_env} and {settings.infobip_password_env} (Infobip)"
        )
    for secret in (credentials.twilio_token, credentials.infobip_password):
        logs.redact(secret)
    if not options.is_loopback(args.host):
        log.info("listening beyond loopback: every report is authenticated (%s)",
                 ", ".join(enabled))  # fmt: skip
    ensure_topics(base_config(bootstrap), names)
    options.event_writer(args, names)  # registered before listening: a refusal stops it here
    port = args.port or free_port(args.host)
    listener = Listener(args.host, port, args.workers, DEFAULT_HEADER_TIMEOUT_SECONDS,
                        log_level=args.log_level)  # fmt: skip

    def started(url: str) -> None:
        log.info("receiving delivery reports on %s (%s) for %s", url, ", ".join(enabled),
                 names.events)  # fmt: skip
        print(f"numguard receive: listening on {url}", flush=True)

    run("numguard.producer.delivery.receiver:app_from_environment", listener, SETTINGS_ENV,
        asdict(settings), started)  # fmt: skip
    return 0
