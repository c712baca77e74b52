"""The `<topic>.state` topic: every number's state after each change the store applied,
keyed by the number and compacted, so its latest record per number is the store's
answer. A CRM bootstraps from it (read from the start) and then follows it.

Published by `consume store` inside its batch: the records are flushed to Kafka
before the database commits, so a state is never missing for an applied change.
A crash between the two publishes the same states again on restart (a repeat is
harmless: the record carries the event id, and a number's latest record stands).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Message, Producer

from numguard.consumer.store import Consumed
from numguard.consumer.store.rules import NumberState, decide
from numguard.core.kafka.clients import KafkaConfig

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_SECONDS = 30.0


class StateNotPublished(RuntimeError):
    """Kafka did not take every state record of a batch: the batch is not committed."""


def state_record(item: Consumed, state: NumberState) -> dict[str, object]:
    """The number's answer with no consent date after `item`, and the change that led to it."""
    change = item.change
    return {
        "mdn": change.mdn,
        "state": decide(change.mdn, state, None).as_json(),
        "after": {
            "event_id": change.event_id,
            "event_type": change.event_type.value,
            "effective_at": _iso(change.effective_at),
            "source": change.source,
        },
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StatePublisher:
    def __init__(self, producer_config: KafkaConfig, topic: str) -> None:
        self._producer = Producer(producer_config)
        self._topic = topic
        self._failed: list[KafkaError] = []

    def publish(self, applied: Sequence[tuple[Consumed, NumberState]]) -> None:
        """Every record produced and acknowledged, or StateNotPublished."""
        self._failed.clear()
        for item, state in applied:
            value = json.dumps(state_record(item, state), separators=(",", ":")).encode()
            while True:
                try:
                    self._producer.produce(self._topic, value, item.change.mdn.encode(),
                                           on_delivery=self._delivered)  # fmt: skip
                    break
                except BufferError:  # the local queue is full: let it drain
                    self._producer.poll(0.1)
        left = self._producer.flush(FLUSH_TIMEOUT_SECONDS)
        if left or self._failed:
            problem = self._failed[0].str() if self._failed else f"{left} not acknowledged"
            raise StateNotPublished(f"state records not published to {self._topic}: {problem}")

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._failed.append(error)
