"""`consume store` end to end against a real broker, beside a plain consumer reading the
same topic (the Kafka ceiling) and one executemany of the same rows (the database's)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer

from numguard.consumer.store import open_store
from numguard.consumer.store_consumer import StoreConsumer
from numguard.core.kafka.clients import (
    base_config,
    consumer_config,
    idempotent_producer_config,
)
from numguard.core.kafka.topics import TopicNames, ensure_topics
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import StateChange

PARTITIONS = 6


def publish_encoded(bootstrap: str, topic: str, changes: list[StateChange]) -> None:
    codec = EventCodec()
    producer = Producer({**base_config(bootstrap), "linger.ms": 50, "batch.size": 1_000_000})
    for change in changes:
        while True:
            try:
                producer.produce(topic, codec.encode(change), change.mdn.encode())
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)


def plain_read_rate(bootstrap: str, topic: str, count: int) -> float:
    consumer = Consumer({**base_config(bootstrap), "group.id": f"plain-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([topic])
    read, started = 0, time.perf_counter()
    while read < count:
        read += sum(1 for m in consumer.consume(10_000, 1.0) if m.error() is None)
    consumer.close()
    return count / (time.perf_counter() - started)


def bench_consume_store(
    bootstrap: str, folder: Path, changes: list[StateChange], store_url: str | None = None
) -> dict[str, float]:
    names = TopicNames.for_events_topic(f"bench-{uuid.uuid4().hex[:8]}")
    ensure_topics(base_config(bootstrap), names, partitions=PARTITIONS)
    publish_encoded(bootstrap, names.events, changes)
    url = store_url or f"sqlite:///{folder / f'consume-{uuid.uuid4().hex[:6]}.sqlite3'}"
    store = open_store(url)
    try:
        consumer = StoreConsumer(
            consumer_config(bootstrap, f"bench-{uuid.uuid4().hex[:8]}"),
            idempotent_producer_config(bootstrap), names, store, EventCodec(),
        )  # fmt: skip
        started = time.perf_counter()
        summary = consumer.run(until_idle=True)
        seconds = time.perf_counter() - started
    finally:
        backend = store.backend
        store.close()
    assert summary.applied == len(changes), summary
    plain = plain_read_rate(bootstrap, names.events, len(changes))
    rate = len(changes) / seconds
    return {
        f"consume store, {backend} (events/s)": rate,
        "plain consumer read of the same topic (msgs/s)": plain,
        f"consume store, {backend} / plain read": rate / plain,
    }
