"""Reading the report checkpoints back (numguard.core.checkpoints is the record):
the producer resumes each report from its latest committed checkpoint.
"""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from numguard.core.checkpoints import Checkpoint
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.records import PartitionEnd, Record, read

READ_TIMEOUT_SECONDS = 30.0


def read_checkpoints(config: KafkaConfig, topic: str) -> dict[str, Checkpoint]:
    """Every report's latest committed checkpoint, read from the start of the topic."""
    consumer = Consumer(
        {
            **config,
            "group.id": "numguard-checkpoint-reader",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = (
            consumer.list_topics(topic, timeout=READ_TIMEOUT_SECONDS).topics[topic].partitions
        )
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        remaining = set(partitions)
        found: dict[str, Checkpoint] = {}
        while remaining:
            message = consumer.poll(READ_TIMEOUT_SECONDS)
            if message is None:
                raise TimeoutError(f"no answer from {topic} within {READ_TIMEOUT_SECONDS} s")
            record = read(message)
            if isinstance(record, PartitionEnd):
                remaining.discard(record.partition)
            if isinstance(record, Record) and record.value is not None:
                _, millis = message.timestamp()
                checkpoint = Checkpoint.from_json(record.value, max(millis, 0) / 1000)
                found[checkpoint.key] = checkpoint
        return found
    finally:
        consumer.close()
