"""The store consumer against a real broker and both store backends."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from numguard.consumer.metrics import StoreConsumerMetrics
from numguard.consumer.store import Consumed, SqlStore, Unreadable, open_store
from numguard.consumer.store.rules import decide
from numguard.consumer.store_consumer import REDRIVEN_FROM_HEADER, ConsumeSummary, StoreConsumer
from numguard.core.kafka.clients import consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import TopicNames
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType, StateChange
from tests.builders import at, change
from tests.support.commands import numguard
from tests.support.events import publish, publish_raw
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka


def events(bootstrap: str, names: TopicNames, changes: list[StateChange]) -> None:
    publish(bootstrap, names.events, changes)


def consume(bootstrap: str, names: TopicNames, store: SqlStore, group: str) -> ConsumeSummary:
    consumer = StoreConsumer(
        consumer_config(bootstrap, group), idempotent_producer_config(bootstrap), names, store,
        EventCodec(), batch_size=4,
    )  # fmt: skip
    return consumer.run(until_idle=True)


SAMPLE = [
    change(EventType.SUSPENDED, "2024-03-04", mdn="+12025550101"),
    change(EventType.DEACTIVATED, "2024-03-05", mdn="+12025550101", position=2),
    change(EventType.SUSPENDED, "2024-03-05", mdn="+12025550102", position=3),
    change(EventType.NUMBER_CHANGED, "2024-03-05", mdn="+12025550103", new_mdn="+12025550199",
           position=4),
]  # fmt: skip


def test_consumes_until_idle_and_the_store_answers(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    events(kafka_bootstrap, topics, SAMPLE)
    summary = consume(kafka_bootstrap, topics, store, f"g-{uuid.uuid4().hex[:6]}")
    assert (summary.consumed, summary.applied, summary.dead_lettered) == (4, 4, 0)
    consent = at("2024-01-01")
    assert decide("+12025550101", store.state("+12025550101"), consent).verdict == "block"
    assert decide("+12025550102", store.state("+12025550102"), consent).verdict == "hold"
    changed = decide("+12025550103", store.state("+12025550103"), consent)
    assert (changed.verdict, changed.new_mdn) == ("block", "+12025550199")
    assert [row["event_type"] for row in store.history("+12025550101")] == [
        "SUSPENDED", "DEACTIVATED"
    ]  # fmt: skip


def test_a_restart_resumes_from_the_offsets_in_the_store(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    events(kafka_bootstrap, topics, SAMPLE[:2])
    assert consume(kafka_bootstrap, topics, store, group).consumed == 2
    events(kafka_bootstrap, topics, SAMPLE[2:])
    assert consume(kafka_bootstrap, topics, store, group).consumed == 2
    assert consume(kafka_bootstrap, topics, store, group).consumed == 0
    assert sum(store.offsets(group, topics.events).values()) == 4


def test_a_fresh_store_in_the_same_group_rebuilds_from_the_beginning(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore, tmp_path: Path
) -> None:
    """The store's offsets are the truth, not the group's offsets in Kafka."""
    group = f"g-{uuid.uuid4().hex[:6]}"
    events(kafka_bootstrap, topics, SAMPLE)
    consume(kafka_bootstrap, topics, store, group)
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        assert consume(kafka_bootstrap, topics, fresh, group).applied == 4
        assert fresh.digest() == store.digest()
    finally:
        fresh.close()


def test_a_poison_message_is_dead_lettered_with_its_origin_and_the_rest_applied(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    codec = EventCodec()
    good = SAMPLE[1]
    mismatched = SAMPLE[2]
    publish_raw(kafka_bootstrap, topics.events, [
        (good.mdn.encode(), b"\xc3\x01" + b"\xff" * 8 + b"not avro"),
        (good.mdn.encode(), codec.encode(good)),
        (b"+19999999999", codec.encode(mismatched)),
    ])  # fmt: skip
    summary = consume(kafka_bootstrap, topics, store, f"g-{uuid.uuid4().hex[:6]}")
    assert (summary.applied, summary.dead_lettered) == (1, 2)
    assert store.state(good.mdn) is not None
    assert store.state(mismatched.mdn) is None

    letters = [
        json.loads(m.value() or b"") for m in read_committed(kafka_bootstrap, topics.dead_letter)
    ]
    reasons = sorted(letter["reason"] for letter in letters)
    assert "message key is not the event's number" in reasons
    assert any("unknown schema fingerprint" in reason for reason in reasons)
    for letter in letters:
        assert letter["original_topic"] == topics.events
        assert {"original_partition", "original_offset", "raw"} <= set(letter)
        assert letter["stage"] == "consume store"


def test_an_unreadable_event_holds_its_number_until_it_is_redriven_and_applied(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    """Issue 11, case 2: the number silently kept its old answer (here: no_record, allow)."""
    number = "+12025550177"
    publish_raw(kafka_bootstrap, topics.events, [
        (number.encode(), b"\xc3\x01 truncated"),  # keyed by a readable number
        (b"not a number", b"\xc3\x01 truncated"),  # nothing to hold
    ])  # fmt: skip
    registry = CollectorRegistry()
    group = f"g-{uuid.uuid4().hex[:6]}"
    consumer = StoreConsumer(
        consumer_config(kafka_bootstrap, group), idempotent_producer_config(kafka_bootstrap),
        topics, store, EventCodec(), metrics=StoreConsumerMetrics(registry),
    )  # fmt: skip
    assert consumer.run(until_idle=True).dead_lettered == 2
    held = decide(number, store.state(number), at("2024-01-01"))
    assert (held.verdict, held.reason) == ("hold", "unreadable_event")
    assert registry.get_sample_value("numguard_store_unreadable_events_total") == 1
    assert store.numbers_by_state()["unreadable"] == 1

    # The event, readable now, comes back marked with where it failed: the hold ends.
    written = read_committed(kafka_bootstrap, topics.dead_letter)
    (letter,) = [json.loads(m.value() or b"") for m in written if m.key() == number.encode()]
    origin = (
        f"{letter['original_topic']}/{letter['original_partition']}/{letter['original_offset']}"
    )
    fixed = change(EventType.REACTIVATED, "2024-03-05", mdn=number)
    producer = Producer(idempotent_producer_config(kafka_bootstrap))
    producer.produce(topics.events, EventCodec().encode(fixed), number.encode(),
                     headers=[(REDRIVEN_FROM_HEADER, origin.encode())])  # fmt: skip
    assert producer.flush(30) == 0
    consume(kafka_bootstrap, topics, store, group)
    released = decide(number, store.state(number), at("2024-01-01"))
    assert (released.verdict, released.reason) == ("allow", "active")
    assert store.numbers_by_state()["unreadable"] == 0


def test_a_deactivated_number_with_an_unreadable_event_stays_blocked(store: SqlStore) -> None:
    number = "+12025550178"
    deactivated = change(EventType.DEACTIVATED, "2024-03-05", mdn=number)
    store.apply_batch([Consumed(deactivated, "t", 0, 0)], {("t", 0): 2}, "g",
                      [Unreadable(number, "t", 0, 1, "corrupt")])  # fmt: skip
    decision = decide(number, store.state(number), None)
    assert (decision.verdict, decision.reason) == ("block", "deactivated")
    consent_after = decide(number, store.state(number), at("2024-04-01"))
    assert (consent_after.verdict, consent_after.reason) == ("hold", "unreadable_event")


def test_dlq_redrive_events_ends_the_hold_once_the_event_can_be_read(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    number = "+12025550179"
    publish(kafka_bootstrap, topics.events, [change(EventType.DEACTIVATED, "2024-03-05",
                                                    mdn=number)])  # fmt: skip
    group = f"g-{uuid.uuid4().hex[:6]}"
    older = EventCodec()
    older._by_fingerprint = {}  # as a numguard that does not know the writer's schema yet

    def consume_with(codec: EventCodec) -> ConsumeSummary:
        return StoreConsumer(consumer_config(kafka_bootstrap, group),
                             idempotent_producer_config(kafka_bootstrap), topics, store,
                             codec).run(until_idle=True)  # fmt: skip

    def redrive() -> dict[str, int]:
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "NUMGUARD_TOPIC": topics.events}
        result = numguard("dlq", "redrive", "--events", env=env)
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    assert consume_with(older).dead_lettered == 1
    assert decide(number, store.state(number), None).reason == "unreadable_event"
    assert redrive()["redriven"] == 1
    # Still unreadable by this reader: the hold moves to the copy, one hold, not two.
    assert consume_with(older).dead_lettered == 1
    state = store.state(number)
    assert state is not None and state.unreadable == 1
    assert redrive()["redriven"] == 1  # the copy's dead letter; the first is done
    assert consume_with(EventCodec()).applied == 1  # the upgraded reader
    decision = decide(number, store.state(number), None)
    assert (decision.verdict, decision.reason) == ("block", "deactivated")
    assert store.numbers_by_state()["unreadable"] == 0
    assert redrive()["redriven"] == 0  # nothing new


def test_the_metrics_count_by_type_and_the_lag_falls_to_zero(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted per batch, lag from the watermarks the fetches saw (no round trip)."""
    from numguard.consumer import store_consumer

    monkeypatch.setattr(store_consumer, "METRICS_REFRESH_SECONDS", 0.0)
    events(kafka_bootstrap, topics, SAMPLE)
    registry = CollectorRegistry()
    group = f"g-{uuid.uuid4().hex[:6]}"
    consumer = StoreConsumer(
        consumer_config(kafka_bootstrap, group), idempotent_producer_config(kafka_bootstrap),
        topics, store, EventCodec(), batch_size=2, metrics=StoreConsumerMetrics(registry),
    )  # fmt: skip
    consumer.run(until_idle=True)
    applied = {kind: registry.get_sample_value("numguard_store_events_applied_total",
                                               {"event_type": kind})
               for kind in ("SUSPENDED", "DEACTIVATED", "NUMBER_CHANGED")}  # fmt: skip
    assert applied == {"SUSPENDED": 2, "DEACTIVATED": 1, "NUMBER_CHANGED": 1}
    lags = [registry.get_sample_value("numguard_consumer_lag_messages",
                                      {"group": group, "topic": topics.events,
                                       "partition": str(p)}) for p in range(3)]  # fmt: skip
    known = [lag for lag in lags if lag is not None]  # partitions a fetch has seen
    assert known and set(known) == {0.0}
    assert registry.get_sample_value("numguard_store_numbers", {"state": "deactivated"}) == 2
