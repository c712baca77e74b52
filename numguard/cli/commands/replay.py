"""numguard replay: rebuild a fresh store from the beginning of the topic."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from numguard.cli import options
from numguard.consumer.replay_shares import ShareFailed, replay_shares
from numguard.consumer.store import SqlStore, open_store
from numguard.consumer.store_consumer import (
    DEFAULT_BATCH_SIZE,
    ConsumeSummary,
    PartitionShare,
    StoreConsumer,
)
from numguard.core.kafka.clients import base_config, consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import ensure_topics
from numguard.core.signals import stop_on_signals
from numguard.schemas.codec import EventCodec

REPLAY_GROUP = "numguard-replay"
PROGRESS_EVERY_SECONDS = 2.0
# Past a few, processes only wait for each other: SQLite has one writer at a time.
MAX_DEFAULT_JOBS = 4

DESCRIPTION = """\
Rebuild a store from the beginning of the events topic, then stop.

The replay assigns itself every partition of the topic and commits nothing to
Kafka, so the live consumer group is not disturbed. Its progress is kept in
the new store like any consumer's: an interrupted replay continues where it
stopped when run again. The store must be new (or an earlier replay's): a
store that a live consumer group writes to is refused.

With --jobs N, N processes replay the events partitions at once, each its share
(a number's events are all in one partition, so no two touch the same number),
then one pass over every partition applies the report checkpoints (the days the
feeds covered) and whatever was published meanwhile: a day is never recorded as
covered before all its events are in the store.

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
    parser.add_argument(
        "--jobs", type=options.processes, metavar="N",
        default=min(len(os.sched_getaffinity(0)), MAX_DEFAULT_JOBS),
        help="processes replaying the events partitions at once; 1: all in this process "
        f"(default: one a CPU, at most {MAX_DEFAULT_JOBS}; %(default)s here)",
    )  # fmt: skip
    # Internal: one of the --jobs processes (replay_shares.py).
    parser.add_argument("--share", type=PartitionShare.parse, help=argparse.SUPPRESS)
    options.add_kafka_options(parser)
    options.add_store_option(parser)
    parser.set_defaults(handler=run)


class Progress:
    """A line on stderr every few seconds: long replays show they are alive."""

    def __init__(self) -> None:
        self._started = self._last = time.monotonic()
        self.before = 0  # events replayed by the --jobs processes, before this one

    def __call__(self, summary: ConsumeSummary) -> None:
        self.shown(self.before + summary.consumed)

    def shown(self, events: int) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_SECONDS:
            self._last = now
            rate = events / max(now - self._started, 1e-9)
            print(f"replayed {events:,} events ({rate:,.0f}/s)", file=sys.stderr)


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
        stop, progress = stop_on_signals(), Progress()
        summary = ConsumeSummary()
        if args.share is None and args.jobs > 1:
            try:
                summary = replay_shares(args.argv, args.jobs, store, (REPLAY_GROUP, names.events),
                                        stop, progress.shown)  # fmt: skip
            except ShareFailed as error:
                print(f"numguard: error: {error}", file=sys.stderr)
                return 1
            progress.before = summary.consumed
        if not stop.is_set():
            summary.add(_replay(args, store, stop, progress).as_json())
        if args.share is not None:
            print(json.dumps(summary.as_json()))  # for the command that started this one
        else:
            print(json.dumps({**summary.as_json(), "digest": store.digest(), **store.counts()}))
    finally:
        store.close()
    return 0


def _replay(
    args: argparse.Namespace, store: SqlStore, stop: threading.Event, progress: Progress
) -> ConsumeSummary:
    """This process's replay: every partition, or a --jobs process's share of them."""
    bootstrap, names = options.bootstrap_servers(args), options.topic_names(args)
    return StoreConsumer(
        consumer_config(bootstrap, REPLAY_GROUP), idempotent_producer_config(bootstrap),
        names, store, EventCodec.from_registry_url(args.schema_registry_url, names.events),
        batch_size=args.batch_size, on_batch=None if args.share else progress, join_group=False,
        publish_state=False,  # the live consumer publishes states; a replay would repeat them
        share=args.share,
    ).run(until_idle=True, stop=stop)  # fmt: skip
