"""`numguard dlq redrive --endpoint NAME`: send one endpoint's dead-lettered events again.

The dead-letter topic is read in order, from where the last redrive for that
endpoint stopped: progress is the committed offset of the consumer group
numguard-crm-redrive.<NAME> on <topic>.crm.dlq, committed after each record is
delivered or dead-lettered again. So a second redrive sends nothing twice, and
an interrupted one continues where it stopped (at worst resending the record in
hand). A record that fails again is appended to the topic as a new dead letter
(with redriven_from_offset), for a later redrive: the topic stays the one list
of what is still undelivered. A redrive reads only up to the end it found on
start, so it never chases its own new dead letters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass

from confluent_kafka import Consumer, Message

from numguard.consumer.crm.config import Endpoint
from numguard.consumer.crm.deadletter import failed_delivery
from numguard.consumer.crm.delivery import EndpointClient
from numguard.consumer.crm.metrics import CrmMetrics
from numguard.core.deadletter import DeadLetterWriter
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.records import PartitionEnd, Record, read
from numguard.core.kafka.topics import assign_whole_topic
from numguard.core.phone import mask

log = logging.getLogger(__name__)

GROUP_PREFIX = "numguard-crm-redrive"
POLL_SECONDS = 1.0
METADATA_TIMEOUT_SECONDS = 30.0
FLUSH_TIMEOUT_SECONDS = 30.0


def redrive_group(endpoint: str) -> str:
    return f"{GROUP_PREFIX}.{endpoint}"


@dataclass
class RedriveSummary:
    endpoint: str
    read: int = 0  # dead letters read (every endpoint's)
    matched: int = 0  # of them, this endpoint's
    delivered: int = 0
    dead_lettered_again: int = 0
    not_redrivable: int = 0  # this endpoint's records without an event, or unreadable

    def as_json(self) -> dict[str, int | str]:
        return dict(self.__dict__)


class Redriver:
    def __init__(
        self,
        consumer_config: KafkaConfig,
        producer_config: KafkaConfig,
        dead_letter_topic: str,
        endpoint: Endpoint,
        metrics: CrmMetrics | None = None,
    ) -> None:
        """`consumer_config` should name redrive_group(endpoint.name) as its group."""
        self._consumer = Consumer(consumer_config)
        self._writer = DeadLetterWriter(producer_config, dead_letter_topic)
        self._topic = dead_letter_topic
        self._endpoint = endpoint
        self._metrics = metrics
        self.summary = RedriveSummary(endpoint.name)

    def run(self, stop: threading.Event | None = None) -> RedriveSummary:
        try:
            asyncio.run(self._run(stop or threading.Event()))
        finally:
            self._consumer.close()
        return self.summary

    async def _run(self, stop: threading.Event) -> None:
        ends = self._assign()
        client = EndpointClient(self._endpoint, self._metrics)
        try:
            while ends and not stop.is_set():
                message = self._consumer.poll(POLL_SECONDS)
                if message is None:
                    continue
                record = read(message)
                if isinstance(record, PartitionEnd):
                    ends.pop(record.partition, None)
                if not isinstance(record, Record):
                    continue
                number = record.partition
                if record.offset >= ends.get(number, 0):
                    ends.pop(number, None)  # written after this redrive started
                    continue
                await self._redrive(client, message)
                self._consumer.commit(message=message, asynchronous=False)
                if record.offset + 1 >= ends[number]:
                    ends.pop(number)
        finally:
            await client.aclose()

    def _assign(self) -> dict[int, int]:
        return assign_whole_topic(self._consumer, self._topic, METADATA_TIMEOUT_SECONDS)

    async def _redrive(self, client: EndpointClient, message: Message) -> None:
        self.summary.read += 1
        try:
            record = json.loads(message.value() or b"")
        except ValueError:
            record = None
        if not isinstance(record, dict) or record.get("endpoint") != self._endpoint.name:
            return
        self.summary.matched += 1
        event = record.get("event")
        if not isinstance(event, dict) or "id" not in event:
            self.summary.not_redrivable += 1
            return
        outcome = await client.deliver(event)
        if outcome.delivered:
            self.summary.delivered += 1
            return
        log.error(
            "%s: redrive of %s (dead letter @%d) %s after %d attempt(s): %s; dead-lettered again",
            self._endpoint.name, mask(str(event.get("subject", ""))), message.offset(),
            outcome.outcome, outcome.attempts, outcome.last_error,
        )  # fmt: skip
        letter = failed_delivery(
            outcome, self._endpoint.name, event, record.get("original_topic"),
            record.get("original_partition"), record.get("original_offset"),
            redriven_from_offset=message.offset(),
        )  # fmt: skip
        written: list[bool] = []
        self._writer.write(letter, message.key(), lambda: written.append(True))
        self._writer.flush(FLUSH_TIMEOUT_SECONDS)  # before the commit that moves past it
        self.summary.dead_lettered_again += len(written)
        if self._metrics is not None:
            self._metrics.dead_lettered.labels(self._endpoint.name).inc()
