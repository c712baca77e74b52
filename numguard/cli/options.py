"""Connection options shared by the subcommands: flag first, then environment."""

from __future__ import annotations

import argparse
import os

from numguard.cli.config import Default
from numguard.core.kafka.topics import TopicNames

DEFAULT_TOPIC = "numguard.number-state"
DEFAULT_STORE = "sqlite:///numguard.sqlite3"

ENVIRONMENT_HELP = """\
environment:
  KAFKA_BOOTSTRAP_SERVERS      Kafka brokers, host:port[,host:port...]
  NUMGUARD_TOPIC               events topic (default numguard.number-state); its
                               dead-letter topic is <topic>.dlq and the producer's
                               checkpoint topic <topic>.checkpoints
  NUMGUARD_SCHEMA_REGISTRY_URL Confluent-compatible Schema Registry (optional)
  NUMGUARD_STORE_URL           sqlite:///PATH (default sqlite:///numguard.sqlite3)
                               or postgresql://USER@HOST:PORT/DB
  Flags win over the environment."""


class UsageError(Exception):
    """A problem with how numguard was called: exit code 2."""


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        help="Kafka brokers (env KAFKA_BOOTSTRAP_SERVERS)",
    )
    group.add_argument(
        "--topic",
        default=os.environ.get("NUMGUARD_TOPIC") or Default(DEFAULT_TOPIC),
        help=f"events topic (env NUMGUARD_TOPIC; default {DEFAULT_TOPIC})",
    )
    group.add_argument(
        "--schema-registry-url",
        metavar="URL",
        default=os.environ.get("NUMGUARD_SCHEMA_REGISTRY_URL"),
        help="write Confluent Schema Registry framing instead of Avro single-object encoding "
        "(env NUMGUARD_SCHEMA_REGISTRY_URL)",
    )


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get("NUMGUARD_STORE_URL") or Default(DEFAULT_STORE),
        help=f"suppression store (env NUMGUARD_STORE_URL; default {DEFAULT_STORE})",
    )


def bootstrap_servers(args: argparse.Namespace) -> str:
    if not args.bootstrap_servers:
        raise UsageError(
            "no Kafka brokers given: pass --bootstrap-servers HOST:PORT or set "
            "KAFKA_BOOTSTRAP_SERVERS (for a local broker, see `numguard demo --help`)"
        )
    return str(args.bootstrap_servers)


def topic_names(args: argparse.Namespace) -> TopicNames:
    return TopicNames.for_events_topic(args.topic)
