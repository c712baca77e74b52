"""numguard replay: rebuild a fresh store from the beginning of the topic."""

from __future__ import annotations

import argparse
import json
import sys
import time

from numguard.cli import options
from numguard.consumer.store import open_store
from numguard.consumer.store_consumer import DEFAULT_BATCH_SIZE, ConsumeSummary, StoreConsumer
from numguard.core.kafka.clients import base_config, consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import ensure_topics
from numguard.core.signals import stop_on_signals
from numguard.schemas.codec import EventCodec

REPLAY_GROUP = "numguard-replay"
PROGRESS_EVERY_SECONDS = 2.0

DESCRIPTION = """\
Rebuild a store from the beginning of the events topic, then stop.

The replay assigns itself every partition of the topic and commits nothing to
Kafka, so the live consumer group is not disturbed. Its progress is kept in
the new store like any consumer's: an interrupted replay continues where it
stopped when run again. The store must be new (or an earlier replay's): a
store that a live consumer group writes to is refused.

When done it prints a summary and the store's digest; compare it with
`numguard store digest` of the live store to prove both give the same answers."""

EPILOG = f"""\
examples:
  numguard replay --store sqlite:///rebuilt.sqlite3
  numguard replay --store postgresql://numguard@db/numguard_rebuilt

exit status:
  0  replayed to the end of every partition
  1  Kafka or the store failed
  2  wrong usage, or the store belongs to a live consumer group

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay", help="rebuild a fresh store from the beginning of the topic",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
        help=f"events applied per database transaction, at most (default {DEFAULT_BATCH_SIZE})",
    )  # fmt: skip
    options.add_kafka_options(parser)
    options.add_store_option(parser)
    parser.set_defaults(handler=run)


class Progress:
    """A line on stderr every few seconds: long replays show they are alive."""

    def __init__(self) -> None:
        self._started = self._last = time.monotonic()

    def __call__(self, summary: ConsumeSummary) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_SECONDS:
            self._last = now
            rate = summary.consumed / max(now - self._started, 1e-9)
            print(f"replayed {summary.consumed} events ({rate:,.0f}/s)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    ensure_topics(base_config(bootstrap), names)
    store = open_store(args.store)
    try:
        live = [group for group in store.consumer_groups() if group != REPLAY_GROUP]
        if live:
            raise options.UsageError(
                f"{args.store} holds the offsets of consumer group(s) {', '.join(live)}: "
                "it is a live store. Replay into a new one."
            )
        summary = StoreConsumer(
            consumer_config(bootstrap, REPLAY_GROUP), idempotent_producer_config(bootstrap),
            names, store, EventCodec.from_registry_url(args.schema_registry_url, names.events),
            batch_size=args.batch_size, on_batch=Progress(), join_group=False,
            publish_state=False,  # the live consumer publishes states; a replay would repeat them
        ).run(until_idle=True, stop=stop_on_signals())  # fmt: skip
        print(json.dumps({**summary.as_json(), "digest": store.digest(), **store.counts()}))
    finally:
        store.close()
    return 0
