"""What a consumed Kafka message is: a record, the end of a partition, or a fault.

Every consumer loop asks the same three questions of each message; they are
answered here once. A fatal error stops the process (KafkaException); any other
error is librdkafka's to recover from, so it is logged and skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message

log = logging.getLogger(__name__)

Partition = tuple[str, int]  # (topic, partition number)


@dataclass(frozen=True, slots=True)
class Record:
    """A message that carries a record, with its position typed as never missing."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    message: Message  # for headers, timestamps and commits

    @property
    def where(self) -> Partition:
        return (self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class PartitionEnd:
    """The consumer reached the end of a partition (enable.partition.eof)."""

    topic: str
    partition: int

    @property
    def where(self) -> Partition:
        return (self.topic, self.partition)


def read(message: Message) -> Record | PartitionEnd | None:
    """The message as a Record or a PartitionEnd; None for a transient error (logged).

    Raises KafkaException for a fatal error: the client cannot go on.
    """
    error = message.error()
    topic, partition = message.topic() or "", message.partition()
    if error is None:
        offset = message.offset()
        if partition is None or offset is None:  # never for a consumed record
            raise KafkaException(KafkaError(KafkaError._BAD_MSG, "a record without a position"))
        return Record(topic, partition, offset, message.key(), message.value(), message)
    if error.code() == KafkaError._PARTITION_EOF and partition is not None:
        return PartitionEnd(topic, partition)
    if error.fatal():
        raise KafkaException(error)
    log.warning("consumer: %s", error)
    return None
