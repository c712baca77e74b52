"""Report checkpoints on the compacted `<topic>.checkpoints` topic.

A checkpoint says how far a report got: rows published, accepted, rejected, a
running checksum, the last position, and whether the report is done. It is
written in the same Kafka transaction as the events it accounts for, so a
read_committed reader never sees one without the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.records import PartitionEnd, Record, read

READ_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Checkpoint:
    source: str
    report_id: str
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    flagged: int = 0  # of the accepted: published with a warning dead letter
    checksum: str = ""
    position: int = 0  # the last row or item position covered
    done: bool = False
    # The sha256 of the report's bytes, when known (files given to `numguard ingest`):
    # a report re-issued under the same name with other content is published again.
    content_sha256: str = ""
    # When Kafka stored it (Unix seconds); read from the record, never written into it.
    committed_at: float = field(default=0.0, compare=False)

    @property
    def key(self) -> str:
        return f"{self.source}/{self.report_id}"

    def to_json(self) -> bytes:
        record = asdict(self)
        del record["committed_at"]
        return json.dumps(record, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, committed_at: float = 0.0) -> Checkpoint:
        """Fields this version does not know (a newer writer's) are ignored."""
        record = json.loads(data)
        known = {f.name for f in fields(cls)} - {"committed_at"}
        return cls(**{k: v for k, v in record.items() if k in known}, committed_at=committed_at)

    def advanced(
        self, *, position: int, accepted: int, rejected: int, checksum: str, flagged: int = 0
    ) -> Checkpoint:
        return replace(
            self,
            rows=self.rows + accepted + rejected,
            accepted=self.accepted + accepted,
            rejected=self.rejected + rejected,
            flagged=self.flagged + flagged,
            checksum=checksum,
            position=position,
        )


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
