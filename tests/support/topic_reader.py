"""Read back everything a read_committed consumer can see on a topic."""

from __future__ import annotations

import uuid

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
