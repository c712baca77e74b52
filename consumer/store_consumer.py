"""`numguard consume store`: consume -> decode -> apply -> commit.

The offsets live in the store, written in the same database transaction as the
state they produced; on assignment the consumer seeks to them. Kafka's own
committed offsets are written afterwards for lag monitoring only.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Message,
)
from confluent_kafka import TopicPartition as KafkaPartition

from numguard.consumer.metrics import StoreConsumerMetrics
from numguard.consumer.state_topic import StateNotPublished, StatePublisher
from numguard.consumer.store import Consumed, Fenced, SqlStore, Unreadable, coverage
from numguard.core.checkpoints import Checkpoint
from numguard.core.deadletter import DeadLetter, DeadLetterWriter
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.outage import KafkaOutage, close_within
from numguard.core.kafka.records import Partition, PartitionEnd, Record, read
from numguard.core.kafka.topics import TopicNames
from numguard.core.outages import DEFAULT_OUTAGE_SECONDS, ride_out
from numguard.schemas.codec import EventCodec, UndecodableEvent
from numguard.schemas.events import E164

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_GROUP = "numguard-store"
# Fewer, larger transactions: 1M events into SQLite at 17.9k events/s with 2,000, 22.3k with
# 10,000 (bench/consume.py). A batch waits at most BATCH_WAIT_SECONDS to fill.
DEFAULT_BATCH_SIZE = 10_000
BATCH_WAIT_SECONDS = 0.5
DLQ_FLUSH_TIMEOUT_SECONDS = 30.0
METADATA_TIMEOUT_SECONDS = 30.0
METRICS_REFRESH_SECONDS = 15.0


@dataclass(frozen=True)
class PartitionShare:
    """One of `count` processes replaying a topic together: the events partitions whose
    number modulo `count` is `index`. The checkpoints are left to a last pass over every
    partition once all shares are done, so a day is never marked covered before all its
    report's events are applied (PendingCoverage)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> PartitionShare:
        """`I/N`, 0 <= I < N."""
        index, _, count = text.partition("/")
        share = cls(int(index), int(count))
        if not 0 <= share.index < share.count:
            raise ValueError(f"{text!r}: I/N with 0 <= I < N")
        return share

    def holds(self, partition: int) -> bool:
        return partition % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class ConsumeSummary:
    consumed: int = 0
    applied: int = 0
    dead_lettered: int = 0
    batches: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)

    def add(self, other: dict[str, int]) -> None:
        """Add another process's summary (its as_json)."""
        for name in self.__dict__:
            setattr(self, name, getattr(self, name) + int(other.get(name, 0)))


class PendingCoverage:
    """Checkpoints read but not applied yet: a day counts as covered only once the events
    of its report are applied too. The checkpoints topic is small and read ahead of the
    events (on a rebuild, at once), so its rows wait until the events partitions are read
    to their end; their offsets wait with them (a restart reads them again)."""

    def __init__(self) -> None:
        self._rows: list[tuple[str, str, str, str]] = []
        self._offsets: dict[Partition, int] = {}
        self._firsts: dict[Partition, int] = {}

    def add(self, record: Record) -> None:
        if (row := coverage_row(record)) is not None:
            self._rows.append(row)
        self._offsets[record.where] = record.offset + 1
        self._firsts.setdefault(record.where, record.offset)

    def drop(self) -> None:
        """Partitions moved away: whoever owns them now reads these again."""
        self._rows, self._offsets, self._firsts = [], {}, {}

    def take(
        self, offsets: dict[Partition, int], firsts: dict[Partition, int]
    ) -> list[tuple[str, str, str, str]]:
        """The rows to apply now; their offsets are added to `offsets`, and where they
        start to `firsts`."""
        rows, self._rows = self._rows, []
        offsets.update(self._offsets)
        firsts.update(self._firsts)
        self._offsets, self._firsts = {}, {}
        return rows


def coverage_row(record: Record) -> tuple[str, str, str, str] | None:
    """The coverage a checkpoint record makes (coverage.row), or None for anything that
    is not a checkpoint this version reads: never an error that stops the store."""
    if record.value is None:
        return None  # a compaction tombstone
    try:
        return coverage.row(Checkpoint.from_json(record.value))
    except (ValueError, TypeError, AttributeError) as error:  # not an object, or wrong fields
        # Our own record, from a newer or broken writer: its day stays uncovered.
        log.warning("%s[%d]@%d: not a checkpoint this version reads: %s",
                    record.topic, record.partition, record.offset, error)  # fmt: skip
        return None


REDRIVEN_FROM_HEADER = "numguard.redriven-from"  # set by `numguard dlq redrive --store`


def readable_number(key: bytes | None) -> str | None:
    """The message key as an E.164 number, or None when it is not one."""
    try:
        text = (key or b"").decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if E164.fullmatch(text) else None


def redriven_from(message: Message) -> str | None:
    """The origin (topic/partition/offset) of the unreadable message this one replaces."""
    headers = message.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    for name, value in pairs:
        if name == REDRIVEN_FROM_HEADER and isinstance(value, bytes):
            return value.decode("utf-8", "replace")
    return None


class StoreConsumer:
    def __init__(
        self,
        consumer_config: KafkaConfig,
        dlq_producer_config: KafkaConfig,
        names: TopicNames,
        store: SqlStore,
        codec: EventCodec,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: Callable[[ConsumeSummary], None] | None = None,
        *,
        join_group: bool = True,
        metrics: StoreConsumerMetrics | None = None,
        outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
        publish_state: bool = True,
        share: PartitionShare | None = None,
    ) -> None:
        """With join_group=False (replays) the consumer assigns itself every partition
        and commits nothing to Kafka: no consumer group is joined or disturbed; with a
        `share` too, only its share of the events partitions (no checkpoints: see
        PartitionShare).
        With publish_state, each applied change's resulting state goes to <topic>.state
        (a replay into a new store leaves it alone: it would only repeat it)."""
        self._group = str(consumer_config["group.id"])
        self._join_group = join_group
        self._kafka = KafkaOutage(str(consumer_config["bootstrap.servers"]), outage_seconds,
                                  metrics.kafka_unreachable if metrics else None)  # fmt: skip
        self._consumer = Consumer(self._kafka.watching(consumer_config))
        self._dlq_config = dlq_producer_config
        self._dlq: DeadLetterWriter | None = None
        self._state = (StatePublisher(dlq_producer_config, names.state, self._kafka)
                       if publish_state else None)  # fmt: skip
        self._names = names
        self._store = store
        self._codec = codec
        self._batch_size = batch_size
        self._on_batch = on_batch
        self._metrics = metrics
        self._metrics_refreshed = 0.0
        self._assigned: set[Partition] = set()
        self._at_end: set[Partition] = set()
        self._outage_seconds = outage_seconds
        self._coverage = PendingCoverage()
        self._leaving = False
        self._share = share
        self.summary = ConsumeSummary()

    def run(
        self, *, until_idle: bool = False, stop: threading.Event | None = None
    ) -> ConsumeSummary:
        """Consume until `stop` is set (with until_idle: until caught up), then leave cleanly."""
        stop = stop or threading.Event()
        topics = self._topics()
        if self._join_group:
            self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        else:
            metadata = self._consumer.list_topics(timeout=METADATA_TIMEOUT_SECONDS)
            if self._share is not None:
                topics = [self._names.events]
            partitions = [KafkaPartition(topic, p) for topic in topics
                          for p in metadata.topics[topic].partitions
                          if self._share is None or self._share.holds(p)]  # fmt: skip
            self._on_assign(self._consumer, partitions)
        try:
            while not stop.is_set():
                messages = self._consumer.consume(self._batch_size, BATCH_WAIT_SECONDS)
                self._process(messages)
                self._kafka.check(self._consumer)
                self._refresh_metrics()
                # A group member waits for its first assignment; a replay's share may hold
                # no partition at all (more processes than partitions).
                assigned = self._assigned or not self._join_group
                if until_idle and assigned and self._assigned <= self._at_end:
                    log.info("caught up with the end of every assigned partition")
                    break
        finally:
            # Leaves the group so its partitions move on at once. Dead letters need no
            # flush here: each batch's were flushed before its offsets were stored.
            self._leaving = True
            close_within(self._consumer)
        return self.summary

    def _events_caught_up(self) -> bool:
        """Whether every assigned events partition was read to its end: then every event
        committed with the checkpoints read so far is in hand (one Kafka transaction
        carries a report's events and its checkpoint)."""
        events = {where for where in self._assigned if where[0] == self._names.events}
        return events <= self._at_end

    def _topics(self) -> list[str]:
        """The events, and the report checkpoints (the days the feeds covered) when the
        topic exists: ensure_topics makes it, a bare events topic has none."""
        metadata = self._consumer.list_topics(timeout=METADATA_TIMEOUT_SECONDS)
        found = [self._names.events]
        if self._names.checkpoints in metadata.topics:
            found.append(self._names.checkpoints)
        else:
            log.warning("%s does not exist: the store will not know which days the feeds "
                        "covered (numbers answer no_data)", self._names.checkpoints)  # fmt: skip
        return found

    def _process(self, messages: list[Message]) -> None:
        batch: list[Consumed] = []
        letters: list[tuple[DeadLetter, Message]] = []
        unreadable: list[Unreadable] = []
        offsets: dict[Partition, int] = {}
        firsts: dict[Partition, int] = {}  # where the batch starts in each partition
        for message in messages:
            record = read(message)
            if isinstance(record, PartitionEnd):
                self._at_end.add(record.where)
            if not isinstance(record, Record):
                continue
            self._at_end.discard(record.where)
            if record.topic == self._names.checkpoints:
                self._coverage.add(record)
                continue
            offsets[record.where] = record.offset + 1
            firsts.setdefault(record.where, record.offset)
            try:
                change = self._codec.decode_record(record.key, record.value)
            except UndecodableEvent as poison:
                letters.append((self._poison_letter(record, str(poison)), message))
                if (number := readable_number(record.key)) is not None:
                    # Fail closed: the event may be a deactivation. Held until redriven.
                    unreadable.append(Unreadable(number, record.topic, record.partition,
                                                 record.offset, str(poison),
                                                 redriven_from(message)))  # fmt: skip
                continue
            batch.append(Consumed(change, record.topic, record.partition, record.offset,
                                  redriven_from(message)))  # fmt: skip
        coverage_rows = self._coverage.take(offsets, firsts) if self._events_caught_up() else []
        if not offsets:
            return
        started = time.perf_counter()
        if letters:
            self._dead_letter(letters)
        # A database restart or failover is waited out; the batch is applied whole or not.
        publish = self._state.publish if self._state is not None else None
        try:
            self._with_store(lambda: self._store.apply_batch(
                batch, offsets, self._group, unreadable, publish, coverage_rows, firsts
            ))  # fmt: skip
        except Fenced as fenced:
            self._read_again_from_the_store(fenced, set(offsets))
            return
        self._count(batch, len(letters), len(unreadable), time.perf_counter() - started)
        if self._join_group:
            # The store is the source of truth; this commit only feeds lag monitoring.
            committed = [KafkaPartition(t, p, o) for (t, p), o in offsets.items()]
            self._consumer.commit(offsets=committed, asynchronous=True)
        self.summary.consumed += len(batch) + len(letters)
        self.summary.applied += len(batch)
        self.summary.dead_lettered += len(letters)
        self.summary.batches += 1
        if self._on_batch is not None:
            self._on_batch(self.summary)

    def _read_again_from_the_store(self, fenced: Fenced, partitions: set[Partition]) -> None:
        """Another member applied some of this batch's partitions after this one lost them
        (the rebalance is not served yet): nothing of the batch was written. Every partition
        of it still assigned here reads on from the store's offsets, so no event is applied
        twice, and none skipped; a partition no longer assigned is its new owner's."""
        log.warning("batch not applied: the store's offsets of %s are past it: another "
                    "member applied them after this one lost them; reading on from the "
                    "store's offsets", fenced)  # fmt: skip
        if self._metrics is not None:
            self._metrics.fenced.inc()
        stored = self._with_store(lambda: self._stored_offsets({t for t, _ in partitions}))
        for where in sorted(partitions & self._assigned):
            offset = stored.get(where, OFFSET_BEGINNING)
            try:
                self._consumer.seek(KafkaPartition(*where, offset))
            except KafkaException as error:
                # Unassigned here already: the rebalance callback comes with the next poll.
                log.info("%s[%d] not read again here: %s", *where, error.args[0])
            self._at_end.discard(where)

    def _count(self, batch: list[Consumed], dead: int, held: int, seconds: float) -> None:
        if self._metrics is None:
            return
        # Counted per batch: a labels() lookup per event costs more than the event's rules.
        for kind, count in collections.Counter(i.change.event_type.value for i in batch).items():
            self._metrics.consumed.labels(kind).inc(count)
            self._metrics.applied.labels(kind).inc(count)
        if dead:
            self._metrics.consumed.labels("UNDECODABLE").inc(dead)
            self._metrics.dead_lettered.inc(dead)
            self._metrics.unreadable_held.inc(held)
        self._metrics.batch_duration.observe(seconds)

    def _with_store(self, step: Callable[[], T]) -> T:
        """`step` (it writes the store and may publish states), again while the database
        or Kafka is unreachable, for up to the outage budget."""
        return ride_out(self._unreachable, step, self._is_outage, self._outage_seconds,
                        self._store.reconnect)  # fmt: skip

    def _unreachable(self, error: BaseException | None) -> str:
        if isinstance(error, StateNotPublished):
            return f"{self._kafka.what} (publishing to {self._names.state})"
        return self._store.where

    def _is_outage(self, error: BaseException) -> bool:
        return isinstance(error, StateNotPublished) or self._store.is_outage(error)

    def _refresh_metrics(self) -> None:
        """Lag and store counts, every METRICS_REFRESH_SECONDS: both cost a round trip.
        Best effort: during an outage they wait for the next refresh."""
        now = time.monotonic()
        if self._metrics is None or now - self._metrics_refreshed < METRICS_REFRESH_SECONDS:
            return
        self._metrics_refreshed = now
        try:
            self._read_metrics(self._metrics)
        except KafkaException as error:
            log.warning("metrics not refreshed: Kafka: %s", error.args[0])
        except Exception as error:
            if not self._store.is_outage(error):
                raise
            log.warning("metrics not refreshed: %s: %s", self._store.where, error)

    def _read_metrics(self, metrics: StoreConsumerMetrics) -> None:
        stored = self._stored_offsets({topic for topic, _ in self._assigned})
        for topic, partition in sorted(self._assigned):
            # The end the last fetch saw (no round trip, so the consume loop never waits
            # on it); before any fetch it is unknown and the partition is skipped.
            _, high = self._consumer.get_watermark_offsets(
                KafkaPartition(topic, partition), cached=True
            )
            if high < 0:
                continue
            lag = max(0, high - stored.get((topic, partition), 0))
            metrics.lag.labels(self._group, topic, str(partition)).set(lag)
        for state, count in self._store.numbers_by_state().items():
            metrics.numbers.labels(state).set(count)

    def _poison_letter(self, record: Record, reason: str) -> DeadLetter:
        log.error(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        return DeadLetter.of_record(record, reason, "consume store")

    def _dead_letter(self, letters: list[tuple[DeadLetter, Message]]) -> None:
        """Write and flush dead letters before the offsets that skip them are stored."""
        if self._dlq is None:
            self._dlq = DeadLetterWriter(self._dlq_config, self._names.dead_letter)
        for letter, message in letters:
            self._dlq.write(letter, message.key())
        self._dlq.flush(DLQ_FLUSH_TIMEOUT_SECONDS)  # raises DeadLetterFailed: nothing stored

    def _stored_offsets(self, topics: set[str]) -> dict[Partition, int]:
        found: dict[Partition, int] = {}
        for topic in topics:
            stored = self._store.offsets(self._group, topic)
            found.update(((topic, partition), offset) for partition, offset in stored.items())
        return found

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        topics = {p.topic for p in partitions}
        stored = self._with_store(lambda: self._stored_offsets(topics))
        for partition in partitions:
            # No offset in the store means nothing of this partition is applied yet.
            partition.offset = stored.get((partition.topic, partition.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)
        self._assigned |= {(p.topic, p.partition) for p in partitions}
        log.info("assigned partitions %s", sorted(f"{p.topic}[{p.partition}]" for p in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self._coverage.drop()
        self._assigned -= gone
        self._at_end -= gone
        if self._metrics is not None and not self._leaving:
            # Its new owner reports its lag now: the replicas' lags add up to the group's.
            # (Leaving, the process ends: its last lags stay for a last scrape.)
            for topic, partition in gone:
                self._metrics.lag.remove(self._group, topic, str(partition))
        consumer.unassign()
