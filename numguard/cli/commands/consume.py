"""numguard consume store: apply every event to the suppression store."""

from __future__ import annotations

import argparse
import json
import logging
import os

from numguard.cli import options
from numguard.cli.commands.crm import register_consume_crm
from numguard.consumer.metrics import StoreConsumerMetrics
from numguard.consumer.store import open_store
from numguard.consumer.store_consumer import DEFAULT_BATCH_SIZE, DEFAULT_GROUP, StoreConsumer
from numguard.core.kafka.clients import base_config, consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import ensure_topics
from numguard.core.metrics import add_metrics_options, serve_metrics
from numguard.core.signals import stop_on_signals
from numguard.schemas.codec import EventCodec

log = logging.getLogger(__name__)

STORE_DESCRIPTION = """\
Consume the events topic and apply every state change to the suppression store.

The consumer group reads with read_committed isolation. Each batch's state, its
audit history and the consumed offsets are written in one database transaction;
on start the consumer resumes from the offsets in the store, so a crash neither
loses nor double-applies an event. A message that cannot be decoded goes to
<topic>.dlq with the reason and its topic, partition and offset.

Without --until-idle it runs until SIGTERM or SIGINT, then finishes the batch in
hand, commits it, and leaves the group."""

STORE_EPILOG = f"""\
exit status:
  0  stopped cleanly (or caught up, with --until-idle)
  1  Kafka or the store failed
  2  wrong usage

examples:
  numguard consume store --until-idle --store sqlite:///numguard.sqlite3
  numguard consume store --store postgresql://numguard@db:5432/numguard

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "consume",
        help="run a consumer of the events topic",
        description="Run one of numguard's consumers of the events topic.",
    )
    which = parser.add_subparsers(dest="consumer", metavar="CONSUMER", required=True)
    store = which.add_parser(
        "store",
        help="apply every event to the suppression store",
        description=STORE_DESCRIPTION,
        epilog=STORE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    store.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once caught up with the end of every assigned partition (cron, replays)",
    )
    store.add_argument("--group", default=None, help=f"consumer group (default {DEFAULT_GROUP})")
    store.add_argument(
        "--instance-id",
        metavar="ID",
        default=os.environ.get("NUMGUARD_INSTANCE_ID"),
        help="static group membership: a stable name per replica (e.g. the pod name), so a "
        "restarted consumer resumes at once without a rebalance; a stopped one keeps its "
        "partitions until the session times out (env NUMGUARD_INSTANCE_ID)",
    )
    store.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"events applied per database transaction, at most (default {DEFAULT_BATCH_SIZE})",
    )
    options.add_kafka_options(store)
    options.add_store_option(store)
    store.add_argument(
        "--no-state-topic", dest="state_topic", action="store_false",
        help="do not publish each applied change's resulting state on <topic>.state (for a "
        "second store fed by the same topic: one publisher is enough)",
    )  # fmt: skip
    options.add_outage_option(store)
    add_metrics_options(store)
    register_consume_crm(which)
    store.set_defaults(handler=run_store)


def run_store(args: argparse.Namespace) -> int:
    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    ensure_topics(base_config(bootstrap), names)
    store = open_store(args.store)
    serve_metrics(args, "consume store")
    try:
        consumer = StoreConsumer(
            consumer_config(bootstrap, args.group, args.instance_id),
            idempotent_producer_config(bootstrap),
            names,
            store,
            EventCodec.from_registry_url(args.schema_registry_url, names.events),
            batch_size=args.batch_size,
            metrics=StoreConsumerMetrics(),
            outage_seconds=args.outage_seconds,
            publish_state=args.state_topic,
        )
        summary = consumer.run(until_idle=args.until_idle, stop=stop_on_signals())
    finally:
        store.close()
    print(json.dumps(summary.as_json()))
    return 0
