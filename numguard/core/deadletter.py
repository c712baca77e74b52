"""Dead-letter records and their writer: what could not be used, why, and where it came from.

One JSON object per record, so a person can read any dead-letter topic with a
console consumer. The producer writes rejected feed rows (inside its
transaction, see producer.publish); the store consumer writes messages it could
not decode; the CRM notifier and redrive write deliveries that failed for good,
with what the delivery came to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.records import Record

# What confluent-kafka takes as a message's headers.
Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class Delivery:
    """What a webhook delivery came to. Its four fields are always in the JSON."""

    endpoint: str | None  # None: no endpoint could be tried (undecodable message)
    status: int | None  # the last HTTP status; None after network errors
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class DeadLetter:
    reason: str  # for a person: what is wrong with it
    stage: str  # "ingest", "consume store", "consume crm", "dlq redrive"
    kind: str | None = None  # the reason in a word, for counting (bad_number, ...)
    source: str | None = None
    report_id: str | None = None
    position: int | None = None  # line or item number inside the report
    raw: Any = None  # the row, or a message's bytes as hex
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    delivery: Delivery | None = None
    event: dict[str, Any] | None = None  # the CloudEvent, as it was sent
    redriven_from_offset: int | None = None  # the dead letter a failed redrive replaces
    warning: bool | None = None  # True: the row's event was published all the same

    @classmethod
    def of_record(
        cls, record: Record, reason: str, stage: str, delivery: Delivery | None = None
    ) -> DeadLetter:
        """A consumed message that could not be used, kept as its bytes."""
        return cls(
            reason=reason, stage=stage, raw=(record.value or b"").hex(),
            original_topic=record.topic, original_partition=record.partition,
            original_offset=record.offset, delivery=delivery,
        )  # fmt: skip

    def to_json(self) -> bytes:
        fields = asdict(self)
        delivery = fields.pop("delivery")
        record = {k: v for k, v in fields.items() if v is not None}
        record.update(delivery or {})
        record["dead_lettered_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        return json.dumps(record, sort_keys=True, default=str).encode()

    def headers(self) -> Headers:
        found: Headers = [("numguard.reason", self.reason.encode()),
                          ("numguard.stage", self.stage.encode())]  # fmt: skip
        if self.delivery is not None:
            found.append(("numguard.endpoint", (self.delivery.endpoint or "").encode()))
        return found


class DeadLetterFailed(RuntimeError):
    """A dead letter could not be written: its offset must not be committed."""


class DeadLetterWriter:
    """Asynchronous writes to one dead-letter topic; `on_written` runs (from poll or
    flush) once the broker has the record. A failed write raises DeadLetterFailed at
    the next poll or flush, so nothing past it is committed."""

    def __init__(self, producer_config: KafkaConfig, topic: str) -> None:
        self.topic = topic
        self._producer = Producer(producer_config)
        self._failure: str | None = None

    def write(
        self, letter: DeadLetter, key: bytes | None, on_written: Callable[[], None] = lambda: None
    ) -> None:
        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                self._failure = self._failure or str(error)
            else:
                on_written()

        while True:
            try:
                self._producer.produce(
                    self.topic, letter.to_json(), key, headers=letter.headers(),
                    on_delivery=delivered,
                )  # fmt: skip
                return
            except BufferError:  # the local queue is full: let it drain
                self._producer.poll(0.1)

    def poll(self) -> None:
        """Serve delivery reports; raise if any write failed (the process must stop)."""
        self._producer.poll(0)
        self._raise_on_failure()

    def flush(self, timeout: float) -> None:
        if self._producer.flush(timeout):
            raise DeadLetterFailed(f"could not write to {self.topic}: timed out")
        self._raise_on_failure()

    def _raise_on_failure(self) -> None:
        if self._failure is not None:
            raise DeadLetterFailed(f"could not write to {self.topic}: {self._failure}")
