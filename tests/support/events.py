"""Writing events onto a real topic, as the producer would."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Producer

from numguard.core.kafka.clients import idempotent_producer_config
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import StateChange

FLUSH_SECONDS = 60.0


def publish_raw(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> None:
    """(key, value) pairs as they are, for poison messages too; all acknowledged."""
    producer = Producer(idempotent_producer_config(bootstrap))
    for key, value in messages:
        producer.produce(topic, value, key)
        producer.poll(0)
    assert producer.flush(FLUSH_SECONDS) == 0


def publish(bootstrap: str, topic: str, changes: Iterable[StateChange]) -> None:
    """Events encoded and keyed by their number, in the order given."""
    codec = EventCodec()
    publish_raw(bootstrap, topic, ((c.mdn.encode(), codec.encode(c)) for c in changes))
