"""numguard produce: poll every configured carrier feed and publish its changes."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

from numguard.cli import options
from numguard.cli.config.model import (
    DEFAULT_CADENCE_HOURS,
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_LOOKBACK_DAYS,
)
from numguard.core import logs
from numguard.core.kafka.clients import base_config, transactional_producer_config
from numguard.core.kafka.topics import ensure_topics
from numguard.core.metrics import add_metrics_options, serve_metrics
from numguard.core.signals import stop_on_signals
from numguard.producer.checkpoints import read_checkpoints
from numguard.producer.feeds import FeedSettings, FeedSettingsError, build_sources
from numguard.producer.metrics import ProducerMetrics
from numguard.producer.poller import Poller
from numguard.producer.publish import DEFAULT_ROWS_PER_TRANSACTION, ReportPublisher
from numguard.producer.sources.base import Source
from numguard.producer.sources.http import RetryPolicy

log = logging.getLogger(__name__)


DESCRIPTION = """\
Poll every configured carrier feed and publish each state change once.

Each poll lists the reports a source has that are not published yet (daily
feeds: every day of the look-back window, so days missed during downtime are
fetched in date order), and publishes each report's events with its checkpoint
in Kafka transactions. A report published before is never published again; a
report cut off mid-way resumes where its last committed transaction ended.

A day whose file is absent past its expected time is logged as a missed day
and counted in numguard_reports_missing_total; it is fetched again on every
poll while it is inside the look-back window. Wrong or expired credentials stop
that source with a clear message (no retry storm); 5xx, timeouts and 429 are
retried with exponential backoff and jitter, honouring Retry-After.

Kafka unreachable is waited out for --outage-seconds, said once every few
seconds in the log and in numguard_kafka_unreachable_seconds; a transaction
Kafka aborted meanwhile is published again from its report's last committed
one on the next poll. Past the budget: exit 1 with one line.

Runs until SIGTERM or SIGINT, then aborts the transaction in hand (its report
resumes on the next start) and exits 0."""

EPILOG = f"""\
sources (give at least one):
  --convey-url TEMPLATE   Convey daily files over HTTP; TEMPLATE holds {{date:%Y%m%d}},
                          e.g. https://files.example/convey/mcdn_deact_{{date:%Y%m%d}}.csv
  --convey-dir DIR        Convey daily files dropped into DIR (SFTP-style)
  --infobip-url BASE      Infobip Number Activation State API; the key comes from
                          INFOBIP_API_KEY; paced at one request a second
  --twilio-url BASE       Twilio-style Deactivations API; the account SID and auth
                          token come from TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN
  --govdelivery-url BASE  GovDelivery TMS /deactivated_phone_numbers; the token comes
                          from GOVDELIVERY_AUTH_TOKEN (sent as X-AUTH-TOKEN)
  --vibes-url TEMPLATE    Vibes carrier disconnect files over HTTPS; TEMPLATE holds
                          {{date:%Y_%m_%d}}, e.g. https://host/disconnect_{{date:%Y_%m_%d}}.tsv.gz;
                          HTTP Basic when VIBES_USERNAME and VIBES_PASSWORD are set
  --vibes-dir DIR         Vibes files dropped into DIR (mirrored from its SFTP)
  --vonage-url BASE       Vonage US number deactivations (a zip a day, the last 31
                          days); VONAGE_API_KEY and VONAGE_API_SECRET (Basic), or
                          VONAGE_BEARER_TOKEN (an application JWT)
  --telesign-url BASE     Telesign deactivated numbers (/files, then each new
                          {{carrier}}-deacts_YYYYMMDD.zip); TELESIGN_CUSTOMER_ID and
                          TELESIGN_API_KEY (Basic)
  --aws-sms               AWS End User Messaging's deactivation reports (the
                          Requester Pays bucket {{region}}-pinpoint-sms-voice, with
                          the AWS SDK's credentials: AWS_ACCESS_KEY_ID, a profile, a
                          role); --aws-region, --aws-bucket, --aws-endpoint-url

exit status (with --once):
  0  every source was polled; missed days are logged, not failures
  1  a source failed (unreachable after retries, credentials refused, a report
     unreadable)
  2  wrong usage

examples:
  numguard produce --once --convey-dir /srv/sftp/convey
  numguard produce --convey-url 'http://127.0.0.1:8081/convey/mcdn_deact_{{date:%Y%m%d}}.csv' \\
      --interval 900 --metrics-port 9101

{options.ENVIRONMENT_HELP}
  NUMGUARD_CONVEY_URL, NUMGUARD_CONVEY_DIR, NUMGUARD_INFOBIP_URL, NUMGUARD_TWILIO_URL,
  NUMGUARD_GOVDELIVERY_URL, NUMGUARD_VIBES_URL, NUMGUARD_VIBES_DIR, NUMGUARD_VONAGE_URL,
  NUMGUARD_TELESIGN_URL, NUMGUARD_AWS_SMS (1 to enable), NUMGUARD_AWS_REGION
                               the sources, as the flags"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "produce", help="poll the carrier feeds and publish their changes",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    feeds = parser.add_argument_group("sources")
    feeds.add_argument(
        "--convey-url", metavar="TEMPLATE", default=os.environ.get("NUMGUARD_CONVEY_URL"),
        help="Convey daily files over HTTP (see below)",
    )  # fmt: skip
    feeds.add_argument(
        "--convey-dir", metavar="DIR", type=Path, default=os.environ.get("NUMGUARD_CONVEY_DIR"),
        help="Convey daily files dropped into DIR",
    )  # fmt: skip
    feeds.add_argument(
        "--infobip-url", metavar="BASE", default=os.environ.get("NUMGUARD_INFOBIP_URL"),
        help="Infobip Number Activation State API, e.g. https://xxxxx.api.infobip.com",
    )  # fmt: skip
    feeds.add_argument(
        "--infobip-key-env", metavar="NAME", default=None,
        help="environment variable holding the Infobip API key (default INFOBIP_API_KEY)",
    )  # fmt: skip
    feeds.add_argument(
        "--twilio-url", metavar="BASE", default=os.environ.get("NUMGUARD_TWILIO_URL"),
        help="Twilio-style Deactivations API, e.g. https://messaging.twilio.com",
    )  # fmt: skip
    feeds.add_argument(
        "--twilio-sid-env", metavar="NAME", default=None,
        help="environment variable holding the account SID (default TWILIO_ACCOUNT_SID)",
    )  # fmt: skip
    feeds.add_argument(
        "--twilio-token-env", metavar="NAME", default=None,
        help="environment variable holding the auth token (default TWILIO_AUTH_TOKEN)",
    )  # fmt: skip
    feeds.add_argument(
        "--govdelivery-url", metavar="BASE", default=os.environ.get("NUMGUARD_GOVDELIVERY_URL"),
        help="GovDelivery TMS, e.g. https://tms.govdelivery.com",
    )  # fmt: skip
    feeds.add_argument(
        "--govdelivery-token-env", metavar="NAME", default=None,
        help="environment variable holding the TMS token (default GOVDELIVERY_AUTH_TOKEN)",
    )  # fmt: skip
    feeds.add_argument(
        "--vibes-url", metavar="TEMPLATE", default=os.environ.get("NUMGUARD_VIBES_URL"),
        help="Vibes carrier disconnect files over HTTPS (see below)",
    )  # fmt: skip
    feeds.add_argument(
        "--vibes-dir", metavar="DIR", type=Path, default=os.environ.get("NUMGUARD_VIBES_DIR"),
        help="Vibes carrier disconnect files dropped into DIR",
    )  # fmt: skip
    feeds.add_argument(
        "--vonage-url", metavar="BASE", default=os.environ.get("NUMGUARD_VONAGE_URL"),
        help="Vonage number deactivations, e.g. https://api.nexmo.com",
    )  # fmt: skip
    feeds.add_argument(
        "--telesign-url", metavar="BASE", default=os.environ.get("NUMGUARD_TELESIGN_URL"),
        help="Telesign deactivated numbers, e.g. https://deact-api.telesign.com",
    )  # fmt: skip
    feeds.add_argument(
        "--aws-sms", action="store_true",
        default=True if os.environ.get("NUMGUARD_AWS_SMS") == "1" else None,
        help="AWS End User Messaging's deactivation reports in S3 (see below)",
    )  # fmt: skip
    feeds.add_argument(
        "--aws-region", default=os.environ.get("NUMGUARD_AWS_REGION"),
        help="the region whose reports bucket to read (default us-east-1)",
    )  # fmt: skip
    feeds.add_argument("--aws-bucket", help="the bucket (default {region}-pinpoint-sms-voice)")
    feeds.add_argument(
        "--aws-endpoint-url", metavar="URL",
        help="an S3-compatible server instead of AWS (tests, a mirror)",
    )  # fmt: skip
    schedule = parser.add_argument_group("schedule")
    schedule.add_argument("--once", action="store_true", help="poll each source once and exit")
    schedule.add_argument(
        "--interval", type=float, default=None, metavar="SECONDS",
        help=f"time between polls (default {DEFAULT_INTERVAL_SECONDS})",
    )  # fmt: skip
    schedule.add_argument(
        "--expected-cadence-hours", type=float, default=None, metavar="H",
        help="how often each source should publish a new report, exported as "
        "numguard_source_expected_cadence_seconds for the stale-feed alert "
        f"(default {DEFAULT_CADENCE_HOURS:g}: daily feeds)",
    )  # fmt: skip
    schedule.add_argument(
        "--lookback-days", type=int, default=None, metavar="N",
        help="daily feeds: fetch unpublished days up to N days back "
        f"(default {DEFAULT_LOOKBACK_DAYS})",
    )  # fmt: skip
    retries = parser.add_argument_group("retries")
    retries.add_argument(
        "--retry-attempts", type=int, default=RetryPolicy.attempts, metavar="N",
        help="attempts per request before a source counts as failed "
        f"(default {RetryPolicy.attempts})",
    )  # fmt: skip
    retries.add_argument(
        "--retry-initial-seconds", type=float, default=RetryPolicy.initial_seconds, metavar="S",
        help="first backoff; it doubles, with jitter, up to a minute "
        f"(default {RetryPolicy.initial_seconds})",
    )  # fmt: skip
    parser.add_argument(
        "--rows-per-transaction", type=int, default=DEFAULT_ROWS_PER_TRANSACTION, metavar="N",
        help="split larger reports into transactions of N rows "
        f"(default {DEFAULT_ROWS_PER_TRANSACTION})",
    )  # fmt: skip
    add_metrics_options(parser)
    parser.add_argument(
        "--transactional-id", metavar="ID",
        help="Kafka transactional.id (default numguard-produce-<topic>-<host>); a second "
        "producer with the same id fences the first",
    )  # fmt: skip
    options.add_kafka_options(parser, publishes=True)
    options.add_outage_option(parser)
    parser.set_defaults(handler=run)


def feed_settings(args: argparse.Namespace) -> FeedSettings:
    """The flags, with the credentials read from the environment variables they name."""
    # An empty URL (a variable set to nothing, as compose does) turns its feed off.
    infobip = bool(args.infobip_url)
    twilio = bool(args.twilio_url)
    govdelivery = bool(args.govdelivery_url)
    return FeedSettings(
        lookback_days=args.lookback_days,
        policy=RetryPolicy(attempts=args.retry_attempts,
                           initial_seconds=args.retry_initial_seconds),
        convey_url=args.convey_url,
        convey_dir=Path(args.convey_dir) if args.convey_dir else None,
        infobip_url=args.infobip_url,
        infobip_api_key=_secret(args.infobip_key_env) if infobip else None,
        twilio_url=args.twilio_url,
        twilio_account_sid=_secret(args.twilio_sid_env) if twilio else None,
        twilio_auth_token=_secret(args.twilio_token_env) if twilio else None,
        govdelivery_url=args.govdelivery_url,
        govdelivery_token=_secret(args.govdelivery_token_env) if govdelivery else None,
        vibes_url=args.vibes_url,
        vibes_dir=Path(args.vibes_dir) if args.vibes_dir else None,
        vibes_username=os.environ.get("VIBES_USERNAME") or None,
        vibes_password=_optional_secret("VIBES_PASSWORD"),
        vonage_url=args.vonage_url,
        vonage_api_key=os.environ.get("VONAGE_API_KEY") or None,
        vonage_api_secret=_optional_secret("VONAGE_API_SECRET"),
        vonage_bearer_token=_optional_secret("VONAGE_BEARER_TOKEN"),
        telesign_url=args.telesign_url,
        telesign_customer_id=os.environ.get("TELESIGN_CUSTOMER_ID") or None,
        telesign_api_key=_optional_secret("TELESIGN_API_KEY"),
        aws_sms=bool(args.aws_sms), aws_region=args.aws_region or "us-east-1",
        aws_bucket=args.aws_bucket,
        aws_endpoint_url=args.aws_endpoint_url,
    )  # fmt: skip


def _optional_secret(variable: str) -> str | None:
    value = os.environ.get(variable) or None
    logs.redact(value)
    return value


def _secret(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise options.UsageError(f"the environment variable {variable} is not set")
    logs.redact(value)
    return value


def run(args: argparse.Namespace) -> int:
    try:
        sources = build_sources(feed_settings(args))
    except FeedSettingsError as error:
        raise options.UsageError(str(error)) from error
    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    ensure_topics(base_config(bootstrap), names)
    serve_metrics(args, "produce")
    stop = stop_on_signals()
    transactional_id = (
        args.transactional_id or f"numguard-produce-{names.events}-{socket.gethostname()}"
    )
    metrics = ProducerMetrics()
    publisher = ReportPublisher(
        transactional_producer_config(bootstrap, transactional_id), names,
        options.event_writer(args, names),
        rows_per_transaction=args.rows_per_transaction, metrics=metrics,
        outage_seconds=args.outage_seconds,
    )  # fmt: skip
    poller = Poller(
        publisher, read_checkpoints(base_config(bootstrap), names.checkpoints),
        metrics, stop=stop,
    )  # fmt: skip
    for source in sources:
        poller.prime_metrics(source.name, timedelta(hours=args.expected_cadence_hours))
    try:
        return poll_until_stopped(poller, sources, args, stop)
    finally:
        publisher.close()
        for source in sources:
            source.close()


def poll_until_stopped(
    poller: Poller, sources: list[Source], args: argparse.Namespace, stop: threading.Event
) -> int:
    active = list(sources)
    while True:
        failed = False
        for source in list(active):
            outcome = poller.poll(source)
            print(json.dumps(outcome.as_json()), flush=True)
            failed |= outcome.failed
            if outcome.credentials_rejected:
                log.error("%s: stopped until the credentials are fixed and numguard restarts",
                          source.name)  # fmt: skip
                active.remove(source)
        if args.once:
            return 1 if failed else 0
        if poller.wait(args.interval) or not active:
            return 0 if active else 1
