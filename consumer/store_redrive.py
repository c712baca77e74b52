"""`numguard dlq redrive --events`: the store consumer's dead letters, back on the topic.

A message the store consumer could not decode is on <topic>.dlq with its bytes,
and its number (when its key is one) answers hold / unreadable_event. Once the
cause is fixed (a schema this version did not know, a producer repaired), this
puts each such message back on the events topic with its key and the header
numguard.redriven-from: <topic>/<partition>/<offset>. The store consumer, applying
it, ends the hold; if it still cannot read it, the hold moves to the new copy.

Progress is the committed offset of the group numguard-store-redrive: run it
twice, the second sends nothing new. Each record is committed after its copy is
on the broker (at least once: a copy sent twice is harmless, the event ids match).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer

from numguard.consumer.store.sql import origin
from numguard.consumer.store_consumer import REDRIVEN_FROM_HEADER
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.records import PartitionEnd, Record, read
from numguard.core.kafka.topics import TopicNames, assign_whole_topic

REDRIVE_GROUP = "numguard-store-redrive"
STORE_STAGE = "consume store"
POLL_SECONDS = 1.0
FLUSH_SECONDS = 30.0
METADATA_TIMEOUT_SECONDS = 30.0


@dataclass
class EventRedriveSummary:
    read: int = 0
    redriven: int = 0
    passed_over: int = 0  # other stages' dead letters, or records without bytes

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


class EventRedriver:
    def __init__(
        self, consumer_config: KafkaConfig, producer_config: KafkaConfig, names: TopicNames
    ) -> None:
        """`consumer_config` should name REDRIVE_GROUP as its group."""
        self._consumer = Consumer(
            {**consumer_config, "enable.auto.commit": False, "enable.partition.eof": True}
        )
        self._producer = Producer(producer_config)
        self._names = names
        self.summary = EventRedriveSummary()

    def run(self) -> EventRedriveSummary:
        """Every store dead letter from the group's committed offset to the end at start."""
        try:
            ends = self._assign()
            while ends:
                message = self._consumer.poll(POLL_SECONDS)
                record = read(message) if message is not None else None
                if isinstance(record, PartitionEnd):
                    ends.pop(record.partition, None)  # nothing more to read there
                if not isinstance(record, Record):
                    continue
                if record.offset < ends.get(record.partition, 0):
                    self._redrive(record)
                    self._producer.flush(FLUSH_SECONDS)  # on the broker before the commit
                    if self._producer.flush(0):
                        raise RuntimeError(f"could not write to {self._names.events}")
                    self._consumer.commit(message=record.message, asynchronous=False)
                if record.offset + 1 >= ends.get(record.partition, 0):
                    ends.pop(record.partition, None)
        finally:
            self._consumer.close()
        return self.summary

    def _redrive(self, record: Record) -> None:
        self.summary.read += 1
        try:
            letter = json.loads(record.value or b"")
            raw = bytes.fromhex(letter["raw"])
            where = origin(letter["original_topic"], int(letter["original_partition"]),
                           int(letter["original_offset"]))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            self.summary.passed_over += 1
            return
        if letter.get("stage") != STORE_STAGE or letter["original_topic"] != self._names.events:
            self.summary.passed_over += 1
            return
        self._producer.produce(self._names.events, raw, record.key,
                               headers=[(REDRIVEN_FROM_HEADER, where.encode())])  # fmt: skip
        self.summary.redriven += 1

    def _assign(self) -> dict[int, int]:
        return assign_whole_topic(self._consumer, self._names.dead_letter,
                                  METADATA_TIMEOUT_SECONDS)  # fmt: skip
