"""`numguard consume crm`: every state change to every subscribed CRM, in order per number.

One asyncio loop runs everything: it polls Kafka without blocking (so poll() is
called every few milliseconds whatever the endpoints do, and max.poll.interval.ms
is never exceeded), hands each event to a FIFO per (endpoint, number), and
commits, per partition, only up to the first event not yet delivered to every
endpoint or durably dead-lettered (consumer/crm/progress.py). A partition whose
backlog reaches max_pending_per_partition is paused, not the loop: the others
keep flowing, and it is resumed once the backlog is down to half.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from datetime import UTC, datetime

from confluent_kafka import Consumer, Message
from confluent_kafka import TopicPartition as KafkaPartition

from numguard.consumer.crm.cloudevents import held_cloudevent, to_cloudevent
from numguard.consumer.crm.config import CrmConfig
from numguard.consumer.crm.deadletter import failed_delivery, undecodable
from numguard.consumer.crm.delivery import EndpointClient
from numguard.consumer.crm.flow import FlowControl, NotifierSummary, Partition, Waiting
from numguard.consumer.crm.metrics import NO_ENDPOINT, CrmMetrics
from numguard.consumer.crm.ordering import Job, KeyedSerialExecutor
from numguard.consumer.crm.progress import Origin, PartitionProgress, published_at
from numguard.consumer.state_topic import Held, UnreadableStateRecord, read_state_record
from numguard.core.deadletter import DeadLetterWriter
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.outage import KafkaOutage, close_within
from numguard.core.kafka.records import PartitionEnd, Record, read
from numguard.core.kafka.topics import TopicNames
from numguard.core.outages import DEFAULT_OUTAGE_SECONDS
from numguard.core.phone import mask
from numguard.schemas.codec import EventCodec, UndecodableEvent
from numguard.schemas.events import StateChange

log = logging.getLogger(__name__)

DEFAULT_GROUP = "numguard-crm"
BATCH_SIZE = 500
IDLE_SLEEP_SECONDS = 0.05
FLUSH_TIMEOUT_SECONDS = 30.0


class CrmNotifier:
    def __init__(
        self,
        consumer_config: KafkaConfig,
        dlq_producer_config: KafkaConfig,
        names: TopicNames,
        config: CrmConfig,
        codec: EventCodec,
        metrics: CrmMetrics | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
        from_state: bool = False,
    ) -> None:
        """With from_state, read <topic>.state (written by `consume store`): each webhook
        then carries the number's resulting state after its change (data.state)."""
        self._kafka = KafkaOutage(str(consumer_config["bootstrap.servers"]), outage_seconds,
                                  metrics.kafka_unreachable if metrics else None)  # fmt: skip
        self._consumer = Consumer(self._kafka.watching(consumer_config))
        self._dlq = DeadLetterWriter(dlq_producer_config, names.crm_dead_letter)
        self._from_state = from_state
        self._topic = names.state if from_state else names.events
        self._config = config
        self._codec = codec
        self._metrics = metrics
        self._batch_size = batch_size
        self._executor = KeyedSerialExecutor()
        self._clients: dict[str, EndpointClient] = {}
        self._tickets = itertools.count()
        self._stopping = False
        self.summary = NotifierSummary()
        self.flow = FlowControl(
            self._consumer, config.notifier.max_pending_per_partition, self.summary, metrics
        )

    def run(
        self, *, until_idle: bool = False, stop: threading.Event | None = None
    ) -> NotifierSummary:
        """Deliver until `stop` is set (with until_idle: until caught up and all delivered)."""
        asyncio.run(self._run(until_idle, stop or threading.Event()))
        return self.summary

    async def _run(self, until_idle: bool, stop: threading.Event) -> None:
        self._clients = {e.name: EndpointClient(e, self._metrics) for e in self._config.endpoints}
        self.flow.waiting = Waiting(list(self._clients), self._metrics)
        self._consumer.subscribe(
            [self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )  # fmt: skip
        try:
            while not stop.is_set():
                taken = self._step()
                if not taken and until_idle and self.flow.idle():
                    log.info("caught up: every event delivered or dead-lettered")
                    return
                # While messages flow, only yield to the deliveries; else wait a little.
                await asyncio.sleep(0 if taken else IDLE_SLEEP_SECONDS)
            await self._drain()
        finally:
            await self._close()

    def _step(self) -> int:
        """One turn of the loop: poll, hand out, pause/resume, commit. Never blocks."""
        if self._executor.failure is not None:
            raise self._executor.failure
        messages = self._consumer.consume(self._batch_size, 0)
        for message in messages:
            self._handle(message)
        self._kafka.check(self._consumer)  # past the outage budget: Unreachable, exit 1
        self._dlq.poll()
        self.flow.pause_or_resume(stopping=self._stopping)
        self.flow.commit(asynchronous=True)
        self.flow.report(self._clients)
        return len(messages)

    def _handle(self, message: Message) -> None:
        record = read(message)
        if isinstance(record, PartitionEnd):
            self.flow.at_end.add(record.where)
        if not isinstance(record, Record):
            return
        partition, offset = record.where, record.offset
        progress = self.flow.progress.get(partition)
        if progress is None or self._stopping:
            return  # not taken, so never committed: read again by whoever owns it next
        self.flow.at_end.discard(partition)
        try:
            change, state = self._read(record)
        except (UndecodableEvent, UnreadableStateRecord) as poison:
            if progress.take(offset, 1):
                self.summary.consumed += 1
                self._poison(record, progress, str(poison))
            return
        if isinstance(change, Held):
            # Whatever types an endpoint asked for: the message may be a deactivation.
            wanted = list(self._clients.values())
            noticed = datetime.fromtimestamp(published_at(message), UTC)
            event = held_cloudevent(change.mdn, change.origin, noticed)
        else:
            wanted = [c for c in self._clients.values() if c.endpoint.wants(change.event_type)]
            event = to_cloudevent(change)
        if not progress.take(offset, len(wanted)):
            return
        self.summary.consumed += 1
        self.summary.unwanted += not wanted
        if state is not None:
            event["data"]["state"] = state
        published = published_at(message)
        for client in wanted:
            name = client.endpoint.name
            ticket = next(self._tickets)
            self.flow.waiting.add(name, ticket, partition, published)
            origin = Origin(progress, partition, offset, record.key, name, ticket)
            self._executor.submit((partition, name, change.mdn), self._job(client, event, origin))

    def _read(self, record: Record) -> tuple[StateChange | Held, dict | None]:
        if self._from_state:
            return read_state_record(record.key, record.value)
        return self._codec.decode_record(record.key, record.value), None

    def _job(self, client: EndpointClient, event: dict, origin: Origin) -> Job:
        """The delivery as a job for the executor, its arguments bound now."""
        return lambda: self._deliver(client, event, origin)

    async def _deliver(self, client: EndpointClient, event: dict, origin: Origin) -> None:
        outcome = await client.deliver(event)
        if outcome.delivered:
            self.summary.delivered += 1
            self._complete(origin)
            return
        log.error(
            "%s: %s for %s (%s[%d]@%d) after %d attempt(s): %s; dead-lettering",
            origin.endpoint, outcome.outcome, mask(str(event["subject"])), *origin.partition,
            origin.offset, outcome.attempts, outcome.last_error,
        )  # fmt: skip
        letter = failed_delivery(outcome, origin.endpoint, event, *origin.partition, origin.offset)
        self._dlq.write(letter, origin.key, lambda: self._dead_lettered(origin))

    def _poison(self, record: Record, progress: PartitionProgress, reason: str) -> None:
        log.error("dead-lettering %s[%d]@%d: %s", *record.where, record.offset, reason)
        origin = Origin(progress, record.where, record.offset, record.key, NO_ENDPOINT, -1)
        letter = undecodable(record, reason)
        self._dlq.write(letter, record.key, lambda: self._dead_lettered(origin))

    def _dead_lettered(self, origin: Origin) -> None:
        """The dead letter is on the broker: the delivery counts as done."""
        self.summary.dead_lettered += 1
        if self._metrics is not None:
            self._metrics.dead_lettered.labels(origin.endpoint).inc()
        self._complete(origin)

    def _complete(self, origin: Origin) -> None:
        origin.progress.complete(origin.offset)
        self.flow.waiting.remove(origin.endpoint, origin.ticket)

    async def _drain(self) -> None:
        """After SIGTERM: fetch nothing more; let in-flight deliveries finish, within the
        grace time, while still polling so the group keeps this member."""
        self._stopping = True
        grace = self._config.notifier.shutdown_grace_seconds
        log.info("stopping: up to %gs for %d delivery(ies) in flight", grace, self.flow.pending())
        self.flow.pause_all()
        deadline = time.monotonic() + grace
        while self.flow.pending() and time.monotonic() < deadline:
            self._step()
            await asyncio.sleep(IDLE_SLEEP_SECONDS)

    async def _close(self) -> None:
        """Abandon what is unfinished (uncommitted, so it is sent again), commit the rest."""
        self._stopping = True
        tasks = self._executor.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=FLUSH_TIMEOUT_SECONDS)
        try:
            self._dlq.flush(FLUSH_TIMEOUT_SECONDS)  # completes the dead-lettered offsets
        finally:
            self.flow.commit(asynchronous=False, force=True)
            abandoned = self.flow.pending()
            if abandoned:
                log.warning("%d event(s) not delivered everywhere: left uncommitted, they will "
                            "be sent again", abandoned)  # fmt: skip
            self.summary.abandoned += abandoned
            # Nothing left for the revocation that close() triggers to commit or count.
            self.flow.revoked(set(self.flow.progress))
            close_within(self._consumer)
            for client in self._clients.values():
                await client.aclose()

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        self.flow.assigned(partitions)
        consumer.assign(partitions)
        self.summary.assignments += 1
        log.info("assigned partitions %s", sorted(p.partition for p in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self.flow.commit(asynchronous=False, force=True, only=gone)
        self._forget(gone)
        consumer.unassign()

    def _on_lost(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        # Another member may own them already: committing now could overwrite its progress.
        self._forget({(p.topic, p.partition) for p in partitions})
        consumer.unassign()

    def _forget(self, gone: set[Partition]) -> None:
        """Drop revoked partitions: their unfinished deliveries are abandoned uncommitted."""
        pending = sum(self.flow.progress[p].pending for p in gone if p in self.flow.progress)
        self.summary.abandoned += pending
        self._executor.cancel(lambda key: key[0] in gone)  # type: ignore[index]
        self.flow.unpause(gone)
        self.flow.revoked(gone)
        log.info("revoked partitions %s (%d event(s) unfinished)", sorted(p for _, p in gone),
                 pending)  # fmt: skip
