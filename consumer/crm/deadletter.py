"""The CRM dead-letter topic, <topic>.crm.dlq: deliveries that failed for good.

One JSON object per record, readable with any console consumer:

    {"endpoint": "salesforce", "status": 410, "attempts": 1,
     "last_error": "HTTP 410: gone", "event": {<the CloudEvent>},
     "original_topic": "numguard.number-state", "original_partition": 2,
     "original_offset": 41, "reason": "...", "stage": "consume crm",
     "dead_lettered_at": "..."}

An undecodable message has no endpoint (null) and no event, but its bytes as
hex in `raw`. `numguard dlq redrive --endpoint NAME` sends the events again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, Message, Producer

from numguard.core.deadletter import Headers
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.records import Record

if TYPE_CHECKING:
    from numguard.consumer.crm.delivery import Outcome

log = logging.getLogger(__name__)

_ALWAYS_PRESENT = ("endpoint", "status", "attempts", "last_error")


@dataclass(frozen=True)
class CrmDeadLetter:
    reason: str  # for a person: why it is here
    endpoint: str | None  # None: no endpoint could be tried (undecodable message)
    status: int | None  # the last HTTP status; None after network errors
    attempts: int
    last_error: str | None
    event: dict[str, Any] | None = None  # the CloudEvent, as it was sent
    raw: str | None = None  # an undecodable message's bytes, as hex
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    redriven_from_offset: int | None = None  # the dead letter a failed redrive replaces
    stage: str = "consume crm"

    def to_json(self) -> bytes:
        record = {k: v for k, v in asdict(self).items() if v is not None or k in _ALWAYS_PRESENT}
        record["dead_lettered_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        return json.dumps(record, sort_keys=True, default=str).encode()

    def headers(self) -> Headers:
        return [
            ("numguard.reason", self.reason.encode()),
            ("numguard.stage", self.stage.encode()),
            ("numguard.endpoint", (self.endpoint or "").encode()),
        ]


def failed_delivery(
    outcome: Outcome, endpoint: str, event: dict[str, Any], topic: str, partition: int,
    offset: int,
) -> CrmDeadLetter:  # fmt: skip
    return CrmDeadLetter(
        reason=f"{outcome.outcome}: {outcome.last_error}", endpoint=endpoint,
        status=outcome.status, attempts=outcome.attempts, last_error=outcome.last_error,
        event=event, original_topic=topic, original_partition=partition, original_offset=offset,
    )  # fmt: skip


def undecodable(record: Record, reason: str) -> CrmDeadLetter:
    return CrmDeadLetter(
        reason=f"undecodable: {reason}", endpoint=None, status=None, attempts=0,
        last_error=None, raw=(record.value or b"").hex(), original_topic=record.topic,
        original_partition=record.partition, original_offset=record.offset,
    )  # fmt: skip


class DeadLetterFailed(RuntimeError):
    """A dead letter could not be written: its offset must not be committed."""


class DeadLetterWriter:
    """Asynchronous writes; `on_written` runs (from poll/flush) once the broker has it."""

    def __init__(self, producer_config: KafkaConfig, topic: str) -> None:
        self.topic = topic
        self._producer = Producer(producer_config)
        self._failure: str | None = None

    def write(
        self, letter: CrmDeadLetter, key: bytes | None, on_written: Callable[[], None]
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
