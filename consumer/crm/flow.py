"""The notifier's bookkeeping per partition and per endpoint: pause, resume, commit, report.

Pausing is what lets a slow or down endpoint hold back progress without
stalling the consumer: the loop keeps calling poll() (so the group never
ejects it for exceeding max.poll.interval.ms), but a paused partition fetches
nothing more, so memory stays bounded by max_pending_per_partition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition

from numguard.consumer.crm.metrics import CrmMetrics
from numguard.consumer.crm.progress import PartitionProgress

if TYPE_CHECKING:
    from numguard.consumer.crm.delivery import EndpointClient

log = logging.getLogger(__name__)

Partition = tuple[str, int]
GAUGE_INTERVAL_SECONDS = 1.0
# While an endpoint fails: one log line per endpoint this often, not one per retry.
DOWN_LOG_INTERVAL_SECONDS = 30.0


@dataclass
class NotifierSummary:
    consumed: int = 0  # events taken from the topic
    delivered: int = 0  # deliveries (event x endpoint) accepted by the endpoint
    dead_lettered: int = 0  # records written to <topic>.crm.dlq
    unwanted: int = 0  # events no endpoint's event_types asks for
    paused: int = 0  # times a partition was paused for its backlog
    resumed: int = 0
    assignments: int = 0  # rebalances that gave this member partitions
    abandoned: int = 0  # events left uncommitted, unfinished (shutdown, rebalance): sent again

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


class Waiting:
    """Deliveries not yet done, per endpoint, with the time their event was published."""

    def __init__(self, endpoints: list[str], metrics: CrmMetrics | None = None) -> None:
        self._by_endpoint: dict[str, dict[int, tuple[Partition, float]]] = {
            name: {} for name in endpoints
        }
        self._metrics = metrics

    def add(self, endpoint: str, ticket: int, partition: Partition, published: float) -> None:
        self._by_endpoint[endpoint][ticket] = (partition, published)

    def remove(self, endpoint: str, ticket: int) -> None:
        self._by_endpoint.get(endpoint, {}).pop(ticket, None)

    def forget(self, partitions: set[Partition]) -> None:
        for waiting in self._by_endpoint.values():
            for ticket in [t for t, (p, _) in waiting.items() if p in partitions]:
                del waiting[ticket]

    def count(self, endpoint: str) -> int:
        return len(self._by_endpoint.get(endpoint, {}))

    def oldest_age(self, endpoint: str, now: float) -> float:
        waiting = self._by_endpoint.get(endpoint, {})
        if not waiting:
            return 0.0
        return max(0.0, now - min(published for _, published in waiting.values()))


class FlowControl:
    def __init__(
        self,
        consumer: Consumer,
        max_pending: int,
        summary: NotifierSummary,
        metrics: CrmMetrics | None,
    ) -> None:
        self.progress: dict[Partition, PartitionProgress] = {}
        self.at_end: set[Partition] = set()
        self.waiting = Waiting([], metrics)
        self._consumer = consumer
        self._max_pending = max_pending
        self._summary = summary
        self._metrics = metrics
        self._reported = 0.0
        self._down_logged: dict[str, float] = {}

    def assigned(self, partitions: list[KafkaPartition]) -> None:
        for partition in partitions:
            self.progress[(partition.topic, partition.partition)] = PartitionProgress()
        self._paused_gauge()

    def unpause(self, gone: set[Partition]) -> None:
        """Resume the partitions this member paused, as they are revoked: librdkafka keeps
        a partition paused across an unassign, so one assigned here again would never be
        fetched (seen: a CRM replica stalled for good after a rebalance gave its paused
        partitions back to it)."""
        held = [where for where in sorted(gone) if where in self.progress]
        paused = [KafkaPartition(*where) for where in held if self.progress[where].paused]
        if not paused:
            return
        try:
            self._consumer.resume(paused)
        except KafkaException as error:  # no longer assigned: nothing stays paused
            log.info("resuming revoked partitions: %s", error)

    def revoked(self, gone: set[Partition]) -> None:
        for partition in gone:
            self.progress.pop(partition, None)
            self.at_end.discard(partition)
        self.waiting.forget(gone)
        self._paused_gauge()

    def pending(self) -> int:
        return sum(progress.pending for progress in self.progress.values())

    def idle(self) -> bool:
        """Caught up with every assigned partition, and nothing left to deliver."""
        return bool(self.progress) and set(self.progress) <= self.at_end and not self.pending()

    def pause_or_resume(self, *, stopping: bool) -> None:
        """Pause at max_pending undelivered events; resume at half (hysteresis, so a
        partition does not flap at the bound)."""
        pause, resume = [], []
        for (topic, number), progress in self.progress.items():
            if not progress.paused and progress.pending >= self._max_pending:
                progress.paused = True
                pause.append(KafkaPartition(topic, number))
            elif progress.paused and not stopping and progress.pending <= self._max_pending // 2:
                progress.paused = False
                resume.append(KafkaPartition(topic, number))
        if pause:
            self._consumer.pause(pause)
            self._summary.paused += len(pause)
            log.info("paused partitions %s: %d+ events not yet delivered everywhere",
                     [p.partition for p in pause], self._max_pending)  # fmt: skip
        if resume:
            self._consumer.resume(resume)
            self._summary.resumed += len(resume)
            log.info("resumed partitions %s", [p.partition for p in resume])
        if pause or resume:
            self._paused_gauge()

    def pause_all(self) -> None:
        chosen = [KafkaPartition(t, p) for (t, p), pr in self.progress.items() if not pr.paused]
        for progress in self.progress.values():
            progress.paused = True
        if chosen:
            self._consumer.pause(chosen)

    def commit(
        self, *, asynchronous: bool, force: bool = False, only: set[Partition] | None = None
    ) -> None:
        """Commit each partition up to its first unfinished event. `force` commits even an
        unchanged position (a final commit, in case an earlier asynchronous one failed)."""
        offsets = []
        for (topic, number), progress in self.progress.items():
            if only is not None and (topic, number) not in only:
                continue
            position = progress.position() if force else progress.to_commit()
            if position is not None:
                offsets.append(KafkaPartition(topic, number, position))
                progress.committed = position
        if not offsets:
            return
        try:
            if asynchronous:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            # Not fatal: those events will simply be delivered again (at-least-once).
            log.warning("commit failed: %s", error)

    def report(self, clients: Mapping[str, EndpointClient]) -> None:
        """The oldest-undelivered gauge, and one log line per failing endpoint."""
        now = time.monotonic()
        if now - self._reported < GAUGE_INTERVAL_SECONDS:
            return
        self._reported = now
        wall = time.time()
        for name, client in clients.items():
            age = self.waiting.oldest_age(name, wall)
            if self._metrics is not None:
                self._metrics.oldest_undelivered_age.labels(name).set(age)
            if client.failing_since is None:
                if self._down_logged.pop(name, None) is not None:
                    log.info("%s: accepting deliveries again", name)
                continue
            if now - self._down_logged.get(name, 0.0) >= DOWN_LOG_INTERVAL_SECONDS:
                self._down_logged[name] = now
                log.warning(
                    "%s: failing for %.0fs (%s); %d delivery(ies) waiting, the oldest "
                    "published %.0fs ago", name, now - client.failing_since, client.last_error,
                    self.waiting.count(name), age,
                )  # fmt: skip

    def _paused_gauge(self) -> None:
        if self._metrics is not None:
            paused = sum(progress.paused for progress in self.progress.values())
            self._metrics.paused_partitions.set(paused)
