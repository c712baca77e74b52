"""Connection options shared by the subcommands: flag first, then environment."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from datetime import UTC, datetime, timedelta, tzinfo

from numguard.cli.config.model import DEFAULT_CONSENT_DAY_ZONE, DEFAULT_STORE, DEFAULT_TOPIC
from numguard.consumer.store import SqlStore
from numguard.consumer.store.rules import NoData, Verdict
from numguard.core.kafka.topics import TopicNames
from numguard.core.outages import DEFAULT_OUTAGE_SECONDS
from numguard.core.times import parse_zone
from numguard.schemas.codec import EventCodec
from numguard.schemas.registry import (
    COMPATIBILITY_LEVELS,
    DEFAULT_COMPATIBILITY,
    Compatibility,
    compatibility_level,
)

ENVIRONMENT_HELP = """\
environment:
  KAFKA_BOOTSTRAP_SERVERS      Kafka brokers, host:port[,host:port...]
  NUMGUARD_TOPIC               events topic (default numguard.number-state); its
                               dead-letter topic is <topic>.dlq and the producer's
                               checkpoint topic <topic>.checkpoints
  NUMGUARD_SCHEMA_REGISTRY_URL Confluent-compatible Schema Registry (optional)
  NUMGUARD_SCHEMA_COMPATIBILITY
                               the compatibility level set on the subject
                               <topic>-value when produce, ingest or receive
                               register the schema there (default BACKWARD)
  NUMGUARD_STORE_URL           sqlite:///PATH (default sqlite:///numguard.sqlite3)
                               or postgresql://USER@HOST:PORT/DB
  Flags win over the environment."""


class UsageError(Exception):
    """A problem with how numguard was called: exit code 2."""


def add_kafka_options(parser: argparse.ArgumentParser, *, publishes: bool = False) -> None:
    """The cluster, the topic and the registry; `publishes`: a command that writes events,
    and so registers their schema."""
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        help="Kafka brokers (env KAFKA_BOOTSTRAP_SERVERS)",
    )
    group.add_argument(
        "--topic",
        default=os.environ.get("NUMGUARD_TOPIC"),
        help=f"events topic (env NUMGUARD_TOPIC; default {DEFAULT_TOPIC})",
    )
    group.add_argument(
        "--schema-registry-url",
        metavar="URL",
        # Empty is unset, as docker-compose.yml passes it when no registry is wanted.
        default=os.environ.get("NUMGUARD_SCHEMA_REGISTRY_URL") or None,
        help="write Confluent Schema Registry framing instead of Avro single-object encoding "
        "(env NUMGUARD_SCHEMA_REGISTRY_URL)",
    )
    if publishes:
        group.add_argument(
            "--schema-compatibility", choices=COMPATIBILITY_LEVELS, metavar="LEVEL",
            default=os.environ.get("NUMGUARD_SCHEMA_COMPATIBILITY"),
            help="with a registry: the compatibility level numguard sets on the subject "
            "<topic>-value before registering its schema there, normalized; a schema the "
            f"registry refuses stops the command (one of {', '.join(COMPATIBILITY_LEVELS)}; "
            f"env NUMGUARD_SCHEMA_COMPATIBILITY; default {DEFAULT_COMPATIBILITY})",
        )  # fmt: skip


def schema_compatibility(args: argparse.Namespace) -> Compatibility:
    """The compatibility level chosen (the environment's value is checked here)."""
    try:
        return compatibility_level(str(args.schema_compatibility))
    except ValueError as error:
        raise UsageError(f"--schema-compatibility: {error}") from error


def event_writer(args: argparse.Namespace, names: TopicNames) -> EventCodec:
    """The codec of a command that publishes events. With a registry its schema is
    registered now, so a refusal stops the command before it reads or publishes
    anything (registry.SchemaRejected: one line, exit 1)."""
    codec = EventCodec.from_registry_url(
        args.schema_registry_url, names.events, schema_compatibility(args)
    )
    codec.register()
    return codec


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get("NUMGUARD_STORE_URL"),
        help=f"suppression store (env NUMGUARD_STORE_URL; default {DEFAULT_STORE})",
    )


CONSENT_DAY_ZONE_HELP = (
    "where a consent given as a moment starts to count: from the start of the day after "
    "the deactivation date in this zone (env NUMGUARD_CONSENT_DAY_ZONE; default "
    f"{DEFAULT_CONSENT_DAY_ZONE}, the westernmost US zone, so no opt-in made anywhere in "
    "the US on the deactivation date counts; UTC for the plain UTC date; an offset or an "
    "IANA name such as America/New_York). A consent given as a date (2024-03-07) counts "
    "when it is after the deactivation date"
)


NO_DATA_HELP = (
    "the decision for a number with no record when a day from the consent to today is "
    "not covered by the feeds (before the first day any feed reported, or a day a feed "
    "missed): its reason is no_data, with the days listed; allow (the default) or hold "
    "(env NUMGUARD_NO_DATA)"
)


def add_consent_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--consent-day-zone", metavar="ZONE",
        default=os.environ.get("NUMGUARD_CONSENT_DAY_ZONE"),
        help=CONSENT_DAY_ZONE_HELP,
    )  # fmt: skip
    parser.add_argument(
        "--no-data", choices=("allow", "hold"), default=os.environ.get("NUMGUARD_NO_DATA"),
        help=NO_DATA_HELP,
    )  # fmt: skip


def no_data_verdict(args: argparse.Namespace) -> str:
    """The verdict chosen for a number with no record on an uncovered day."""
    choice = str(args.no_data or "allow")
    if choice not in ("allow", "hold"):
        raise UsageError(f"--no-data: expected allow or hold, got {choice!r}")
    return choice


def no_data(args: argparse.Namespace, store: SqlStore) -> NoData:
    """The store's coverage and the verdict chosen for uncovered days."""
    return NoData(store.coverage(), Verdict(no_data_verdict(args)))


def consent_day_zone(args: argparse.Namespace) -> tzinfo:
    try:
        return parse_zone(str(args.consent_day_zone))
    except ValueError as error:
        raise UsageError(f"--consent-day-zone: {error}") from error


def bootstrap_servers(args: argparse.Namespace) -> str:
    if not args.bootstrap_servers:
        raise UsageError(
            "no Kafka brokers given: pass --bootstrap-servers HOST:PORT or set "
            "KAFKA_BOOTSTRAP_SERVERS (for a local broker, see `numguard demo --help`)"
        )
    return str(args.bootstrap_servers)


def topic_names(args: argparse.Namespace) -> TopicNames:
    return TopicNames.for_events_topic(args.topic)


def add_outage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outage-seconds", type=float, metavar="SECONDS",
        default=float(os.environ.get("NUMGUARD_OUTAGE_SECONDS") or DEFAULT_OUTAGE_SECONDS),
        help="how long to wait out PostgreSQL or Kafka being unreachable (retrying with "
        "backoff) before exiting 1 with one line saying which (env NUMGUARD_OUTAGE_SECONDS; "
        f"default {DEFAULT_OUTAGE_SECONDS:g})",
    )  # fmt: skip


def add_freshness_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stale-after-hours", type=float, metavar="HOURS",
        default=float(os.environ.get("NUMGUARD_STALE_AFTER_HOURS") or 48),
        help="a source of which nothing was applied for longer is stale: warned about "
        "(env NUMGUARD_STALE_AFTER_HOURS; default 48, twice a daily feed's cadence; "
        "0: never)",
    )  # fmt: skip


def stale_after(args: argparse.Namespace) -> timedelta | None:
    hours = float(args.stale_after_hours)
    return timedelta(hours=hours) if hours > 0 else None


def warn_if_stale(store: SqlStore, args: argparse.Namespace) -> list[dict[str, object]]:
    """The store's freshness per source, with a warning line on stderr for each stale one
    (an answer from a store that stopped receiving a feed may be out of date)."""
    limit, now = stale_after(args), datetime.now(UTC)
    report = [f.as_json(now, limit) for f in store.freshness()]
    for source in report:
        if source["stale"]:
            print(f"numguard: warning: source {source['source']} is stale: nothing applied "
                  f"since {source['last_applied']} (latest change {source['latest_change']})",
                  file=sys.stderr)  # fmt: skip
        if isinstance(missed := source.get("missed_days"), list) and missed:
            print(f"numguard: warning: source {source['source']} missed days: "
                  f"{' '.join(map(str, missed))}", file=sys.stderr)  # fmt: skip
    return report


def add_codes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--codes", action="append", default=[], metavar="PROVIDER=CODE,...",
        help="replace a provider's list of delivery-failure codes that mean the number is "
        "gone (repeatable; see `numguard receive --help` for the lists)",
    )  # fmt: skip


def code_overrides(args: argparse.Namespace) -> dict[str, list[str]]:
    """--codes twilio=30005,30006 as {"twilio": ["30005", "30006"]}."""
    found: dict[str, list[str]] = {}
    for value in args.codes:
        provider, sign, listed = value.partition("=")
        codes = [code.strip() for code in listed.split(",") if code.strip()]
        if not sign or not provider.strip() or not codes:
            raise UsageError(f"--codes {value!r}: expected PROVIDER=CODE,CODE")
        found[provider.strip().lower()] = codes
    return found


def processes(text: str) -> int:
    """An argparse type: a number of worker processes (--jobs), at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1")
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (a name other than localhost may resolve
    anywhere, so it is not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
