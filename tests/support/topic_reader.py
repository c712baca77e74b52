"""Read back everything a read_committed consumer can see on a topic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

READ_TIMEOUT_SECONDS = 20.0


def read_committed(bootstrap: str, topic: str) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        remaining, found = set(partitions), []
        while remaining:
            message = consumer.poll(READ_TIMEOUT_SECONDS)
            assert message is not None, f"{topic}: no end of partition within the timeout"
            if (error := message.error()) is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                remaining.discard(message.partition())
            else:
                found.append(message)
        return found
    finally:
        consumer.close()


@dataclass(frozen=True)
class Committed:
    count: int  # records a read_committed consumer sees
    next_offsets: dict[int, int]  # per partition with records: its last record's offset + 1


def count_committed(bootstrap: str, topic: str, *, batch: int = 10_000) -> Committed:
    """What a read_committed consumer sees on `topic`, counted in batches (a topic of
    hundreds of thousands of records, never held)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-counter-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        remaining, count, nexts = set(partitions), 0, dict[int, int]()
        while remaining:
            messages = consumer.consume(batch, READ_TIMEOUT_SECONDS)
            assert messages, f"{topic}: no end of partition within the timeout"
            for message in messages:
                if (error := message.error()) is None:
                    count += 1
                    nexts[message.partition() or 0] = (message.offset() or 0) + 1
                else:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    remaining.discard(message.partition())
        return Committed(count, nexts)
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset (the next offset to be written) now."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-ends"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()
