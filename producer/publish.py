"""Publish the events of a report in Kafka transactions, with its checkpoint.

Each transaction carries a run of events, the dead-letter records of the rows
rejected in that run, and the report's checkpoint. Large reports span several
transactions; the checkpoint's position lets a restart resume where the last
committed one ended, so no row is published twice and none is skipped.

Kafka unreachable (every broker down, a coordinator moving) is waited out: each
transactional call is tried again once every PROBE_SECONDS while it fails with a
retriable error, saying so (KafkaOutage), up to the outage budget. A transaction
that cannot be committed after all (Kafka aborted it: it outlived
transaction.timeout.ms) is aborted, and PublishError names the last committed
checkpoint, from which the report is published again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from confluent_kafka import KafkaException, Message, Producer

from numguard.core.checkpoints import Checkpoint
from numguard.core.deadletter import DeadLetter, Headers
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.outage import PROBE_SECONDS, KafkaOutage
from numguard.core.kafka.topics import TopicNames
from numguard.core.outages import DEFAULT_OUTAGE_SECONDS, Unreachable
from numguard.producer.metrics import ProducerMetrics
from numguard.producer.sources.base import Flagged, Ignored, Normalized, Rejection
from numguard.schemas.codec import EventCodec

log = logging.getLogger(__name__)

TRANSACTION_TIMEOUT_SECONDS = 60.0
DEFAULT_ROWS_PER_TRANSACTION = 50_000
_QUEUE_FULL_WAIT_SECONDS = 0.5


class PublishError(RuntimeError):
    """A transaction could not be committed; it was aborted, nothing of it is visible.
    `committed`: the report's last committed checkpoint, to publish it again from."""

    def __init__(self, message: str, committed: Checkpoint | None = None) -> None:
        super().__init__(message)
        self.committed = committed


class ReportPublisher:
    """One transactional producer; `publish()` one report at a time."""

    def __init__(
        self,
        config: KafkaConfig,
        names: TopicNames,
        codec: EventCodec,
        rows_per_transaction: int = DEFAULT_ROWS_PER_TRANSACTION,
        metrics: ProducerMetrics | None = None,
        outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
    ) -> None:
        self._metrics = metrics
        self._names = names
        self._codec = codec
        self._rows_per_transaction = rows_per_transaction
        gauge = metrics.kafka_unreachable if metrics is not None else None
        self._outage = KafkaOutage(str(config["bootstrap.servers"]), outage_seconds, gauge)
        self._config = self._outage.watching(config)
        self._producer = self._new_producer()
        self._delivery_failures = 0
        self._in_transaction = False

    def _new_producer(self) -> Producer:
        producer = Producer(self._config)
        # Fences any older producer with the same transactional.id and aborts its open transaction.
        self._wait_out(lambda: producer.init_transactions(PROBE_SECONDS))
        return producer

    def _wait_out(self, step: Callable[[], None]) -> None:
        """`step` (a transactional call), again while it fails with a retriable error:
        Kafka unreachable, or a coordinator moving. A try every PROBE_SECONDS, each said
        in the log and the gauge; past the outage budget, Unreachable."""
        while True:
            started = time.monotonic()
            try:
                step()
            except KafkaException as error:
                if not error.args[0].retriable():
                    raise
                self._outage.waiting(error.args[0].str())
                # A call that failed at once is tried again after the rest of the interval.
                time.sleep(max(0.0, PROBE_SECONDS - (time.monotonic() - started)))
                continue
            self._outage.over()
            return

    def publish(self, items: Iterable[Normalized], start: Checkpoint) -> Checkpoint:
        """Publish every item after `start.position`; return the final, done checkpoint."""
        checkpoint = start
        run = _Run(checkpoint.checksum)
        try:
            for item in items:
                position = (
                    item.row.position
                    if isinstance(item, Rejection | Ignored)
                    else (item.change if isinstance(item, Flagged) else item).report_position
                )
                if position <= start.position:
                    continue  # committed by an earlier run of this report
                self._produce_item(item, run)
                run.position = position
                if run.count >= self._rows_per_transaction:
                    checkpoint = self._commit(run.close(checkpoint, done=False), run)
                    run = _Run(checkpoint.checksum)
            return self._commit(run.close(checkpoint, done=True), run)
        except (PublishError, KafkaException) as error:
            if self._in_transaction:
                self._renew()
            raise PublishError(f"{start.key}: {error}", committed=checkpoint) from error
        except BaseException as error:
            # A report that failed before anything was produced (missing, unreachable)
            # opened no transaction: only one that did is aborted, and counted. Past the
            # outage budget, nothing is waited for: the broker aborts it in time.
            if self._in_transaction and not isinstance(error, Unreachable):
                self._abort()
            raise

    def record_missed(self, checkpoint: Checkpoint) -> Checkpoint:
        """Publish the checkpoint of a report past due and absent (`missed`), alone in a
        transaction; a later publish of the report replaces it."""
        try:
            self._produce(self._names.checkpoints, checkpoint.key.encode(), checkpoint.to_json())
            self._wait_out(lambda: self._producer.commit_transaction(PROBE_SECONDS))
        except KafkaException as error:
            self._abort()
            raise PublishError(f"recording {checkpoint.key} as missed failed: {error}") from error
        self._in_transaction = False
        log.info("recorded %s as missed", checkpoint.key)
        return checkpoint

    def check_kafka(self) -> None:
        """Between polls: after an outage began (librdkafka said every broker is down), ask
        Kafka once every PROBE_SECONDS until it answers, as a consumer does; so an idle
        producer says so too, and does not count an old outage against a later one."""
        self._outage.check(self._producer)

    def close(self) -> None:
        self._producer.flush(TRANSACTION_TIMEOUT_SECONDS)

    def _produce_item(self, item: Normalized, run: _Run) -> None:
        if isinstance(item, Ignored):
            run.ignore(item.row.position)
            return
        if isinstance(item, Rejection):
            self._dead_letter(item)
            run.reject(item.row.position, item.kind.value)
            return
        change = item.change if isinstance(item, Flagged) else item
        self._produce(self._names.events, change.mdn.encode(), self._codec.encode(change))
        run.accept(change.event_id)
        if isinstance(item, Flagged):
            # Published, with a dead letter for the part of the row that was unusable.
            self._dead_letter(item.warning, warning=True)
            run.flag(item.warning.kind.value)

    def _dead_letter(self, rejection: Rejection, *, warning: bool = False) -> None:
        letter = DeadLetter(
            reason=rejection.reason,
            kind=rejection.kind.value,
            stage="ingest",
            source=rejection.row.source,
            report_id=rejection.row.report_id,
            position=rejection.row.position,
            raw=rejection.row.fields,
            warning=warning or None,
        )
        self._produce(self._names.dead_letter, None, letter.to_json(), letter.headers())

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Headers | None = None,
    ) -> None:
        if not self._in_transaction:  # begun by the first record it will hold
            self._producer.begin_transaction()
            self._in_transaction = True
            self._delivery_failures = 0
        full_since: float | None = None
        while True:
            try:
                self._producer.produce(
                    topic, value, key, headers=headers, on_delivery=self._on_delivery
                )
                break
            except BufferError:
                # The local queue is full: let librdkafka send and serve callbacks, then retry.
                # Full for PROBE_SECONDS: Kafka takes nothing, an outage to say and wait out.
                self._producer.poll(_QUEUE_FULL_WAIT_SECONDS)
                now = time.monotonic()
                full_since = full_since or now
                if now - full_since >= PROBE_SECONDS:
                    full_since = now
                    self._outage.waiting("the producer's queue is full: Kafka takes nothing")
        self._producer.poll(0)

    def _on_delivery(self, error: object, message: Message) -> None:
        if error is not None:
            self._delivery_failures += 1
            if self._delivery_failures == 1:  # not one line per record (an outage: thousands)
                log.error("delivery to %s failed: %s (the transaction will be aborted)",
                          message.topic(), error)  # fmt: skip

    def _commit(self, checkpoint: Checkpoint, run: _Run) -> Checkpoint:
        self._produce(self._names.checkpoints, checkpoint.key.encode(), checkpoint.to_json())
        try:
            self._wait_out(lambda: self._producer.commit_transaction(PROBE_SECONDS))
        except KafkaException as error:
            raise PublishError(f"committing {checkpoint.key} failed: {error}") from error
        self._in_transaction = False
        if self._metrics is not None:
            self._metrics.transactions.labels("committed").inc()
            for kind, count in run.rejected_by_kind.items():
                self._metrics.rejected.labels(checkpoint.source, kind).inc(count)
            for kind, count in run.flagged_by_kind.items():
                self._metrics.flagged.labels(checkpoint.source, kind).inc(count)
        log.info(
            "committed %s up to position %d (%d accepted, %d rejected so far%s)",
            checkpoint.key,
            checkpoint.position,
            checkpoint.accepted,
            checkpoint.rejected,
            ", done" if checkpoint.done else "",
        )
        return checkpoint

    def _renew(self) -> None:
        """After a transaction Kafka did not take (records timed out in an outage, or it
        aborted the transaction itself): a new producer with the same transactional.id
        fences this one, and Kafka aborts what it left open. Reusing this one after an
        outage was seen to fail again (out-of-order sequence numbers) a minute later."""
        self._in_transaction = False
        if self._metrics is not None:
            self._metrics.transactions.labels("aborted").inc()
        self._producer.purge()  # what it still holds is never sent: its transaction is over
        self._producer = self._new_producer()

    def _abort(self) -> None:
        self._in_transaction = False
        if self._metrics is not None:
            self._metrics.transactions.labels("aborted").inc()
        # Let in-flight messages land first: aborting with a full queue purges it
        # mid-flight, which some brokers answer with a fatal INVALID_TXN_STATE.
        self._producer.flush(TRANSACTION_TIMEOUT_SECONDS)
        try:
            self._wait_out(lambda: self._producer.abort_transaction(PROBE_SECONDS))
        except KafkaException as error:
            # A fatal error ends this producer (any other leaves its transaction in a state
            # no call gets it out of); a new one (same transactional.id) fences it, and
            # the broker aborts whatever it left open.
            log.warning("aborting the transaction failed (%s); starting a new producer", error)
            self._producer = self._new_producer()


class _Run:
    """What one transaction has produced so far."""

    def __init__(self, checksum: str) -> None:
        self._digest = hashlib.sha256(checksum.encode())
        self.count = 0
        self.accepted = 0
        self.rejected = 0
        self.ignored = 0
        self.position = 0
        self.rejected_by_kind: Counter[str] = Counter()
        self.flagged_by_kind: Counter[str] = Counter()

    def accept(self, event_id: str) -> None:
        self._digest.update(event_id.encode())
        self.accepted += 1
        self.count += 1

    def flag(self, kind: str) -> None:
        """The row's event was published, with a warning on the dead-letter topic."""
        self.flagged_by_kind[kind] += 1

    def ignore(self, position: int) -> None:
        self._digest.update(f"ignored:{position}".encode())
        self.ignored += 1
        self.count += 1

    def reject(self, position: int, kind: str) -> None:
        self._digest.update(f"rejected:{position}".encode())
        self.rejected += 1
        self.count += 1
        self.rejected_by_kind[kind] += 1

    def close(self, checkpoint: Checkpoint, *, done: bool) -> Checkpoint:
        position = max(self.position, checkpoint.position)
        advanced = checkpoint.advanced(
            position=position,
            accepted=self.accepted,
            rejected=self.rejected,
            ignored=self.ignored,
            flagged=sum(self.flagged_by_kind.values()),
            checksum=self._digest.hexdigest() if self.count else checkpoint.checksum,
        )
        return replace(advanced, done=done)
