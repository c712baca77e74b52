"""The notifier against a real broker and real webhook receivers on 127.0.0.1."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from numguard.consumer.crm import signing
from numguard.consumer.crm.cloudevents import to_cloudevent
from numguard.core.kafka.topics import TopicNames
from numguard.schemas.events import EventType
from tests.consumer.crm import (
    SECRET,
    Answer,
    WebhookReceiver,
    committed,
    crm_config,
    dead_letters,
    endpoint,
    free_port,
    group_name,
    history,
    make_notifier,
    numbers,
    positions,
    publish,
    receiver,
    wait_for,
)
from tests.support.events import publish_raw

pytestmark = pytest.mark.kafka


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition, offset in positions(bootstrap, topic).values():
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_every_endpoint_gets_its_event_types_signed_as_cloudevents(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    changes = history(numbers(4), per_number=5)  # every event type, four numbers
    publish(kafka_bootstrap, topics.events, changes)
    group = group_name()
    with receiver() as everything, receiver() as deactivations:
        config = crm_config(
            endpoint("all", everything.url),
            endpoint("deact", deactivations.url, event_types=frozenset({EventType.DEACTIVATED})),
        )
        summary = make_notifier(kafka_bootstrap, topics, config, group=group).run(until_idle=True)
        assert len(everything.requests) == 20
        assert {r.event_id for r in deactivations.requests} == {
            c.event_id for c in changes if c.event_type is EventType.DEACTIVATED
        }
        by_id = {c.event_id: c for c in changes}
        for request in everything.requests + deactivations.requests:
            assert signing.verify(SECRET, request.headers["numguard-signature"], request.body)
            assert request.headers["idempotency-key"] == request.event_id
            assert request.event == to_cloudevent(by_id[request.event_id])
    assert (summary.consumed, summary.delivered, summary.dead_lettered) == (20, 24, 0)
    assert committed(kafka_bootstrap, group, topics.events) == end_offsets(
        kafka_bootstrap, topics.events
    )


def test_each_numbers_events_arrive_in_offset_order_under_concurrency(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Many numbers at once, random delays, random retryable failures: per number, the
    accepted deliveries are exactly the topic's order."""
    changes = history(numbers(40), per_number=5)
    publish(kafka_bootstrap, topics.events, changes)
    chance = random.Random(7)
    lock = threading.Lock()

    def answer(_event: dict[str, Any], attempt: int) -> Answer:
        with lock:
            delay, fail = chance.uniform(0, 0.02), chance.random() < 0.15
        return (503 if fail and attempt == 1 else 200), {}, delay

    with receiver(answer) as crm:
        config = crm_config(endpoint("crm", crm.url, max_concurrency=16), max_pending=30)
        notifier = make_notifier(kafka_bootstrap, topics, config)
        summary = notifier.run(until_idle=True)
        arrived: dict[str, list[str]] = defaultdict(list)
        for request in crm.delivered():
            arrived[request.mdn].append(request.event_id)
        assert crm.max_in_flight > 1
        assert any(r.status == 503 for r in crm.requests)
    expected: dict[str, list[str]] = defaultdict(list)
    for item in changes:  # published in this order, each number to one partition
        expected[item.mdn].append(item.event_id)
    assert arrived == expected
    assert (summary.delivered, summary.dead_lettered) == (200, 0)
    assert summary.paused >= 1 and summary.resumed >= 1


def test_500_then_200_is_delivered_once_and_counted(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    changes = history(numbers(5), per_number=2)
    publish(kafka_bootstrap, topics.events, changes)
    registry = CollectorRegistry()
    group = group_name()

    def answer(_event: dict[str, Any], attempt: int) -> Answer:
        return (500 if attempt == 1 else 200), {}, 0.0

    with receiver(answer) as crm:
        notifier = make_notifier(
            kafka_bootstrap, topics, crm_config(endpoint("crm", crm.url)), group=group,
            registry=registry,
        )  # fmt: skip
        notifier.run(until_idle=True)
        assert sorted(r.event_id for r in crm.delivered()) == sorted(c.event_id for c in changes)
        assert len(crm.requests) == 20
    assert dead_letters(kafka_bootstrap, topics.events) == []
    assert committed(kafka_bootstrap, group, topics.events) == end_offsets(
        kafka_bootstrap, topics.events
    )
    assert metric(registry, "numguard_crm_deliveries_total", endpoint="crm",
                  outcome="delivered") == 10  # fmt: skip
    assert metric(registry, "numguard_crm_delivery_attempts_total", endpoint="crm") == 20
    assert metric(registry, "numguard_crm_delivery_duration_seconds_count", endpoint="crm") == 20
    assert metric(registry, "numguard_crm_dead_lettered_total", endpoint="crm") == 0
    assert metric(registry, "numguard_crm_oldest_undelivered_event_age_seconds",
                  endpoint="crm") == 0  # fmt: skip


def test_410_and_exhausted_retries_go_to_the_dead_letter_topic(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    gone, flaky = "+12025550001", "+12025550002"
    changes = history([gone, flaky, "+12025550003"], per_number=2)
    publish(kafka_bootstrap, topics.events, changes)
    registry = CollectorRegistry()
    group = group_name()

    def answer(event: dict[str, Any], _attempt: int) -> Answer:
        status = {gone: 410, flaky: 503}.get(event["subject"], 200)
        return status, {}, 0.0

    with receiver(answer) as crm, receiver() as other:
        config = crm_config(endpoint("crm", crm.url, max_attempts=3), endpoint("other", other.url))
        summary = make_notifier(
            kafka_bootstrap, topics, config, group=group, registry=registry
        ).run(until_idle=True)
        assert len(other.delivered()) == 6  # one endpoint's failures never hold back another's
        assert len(crm.attempts(changes[0].event_id)) == 1  # 410: no retry
        assert len(crm.attempts(changes[1].event_id)) == 3  # 503: max_attempts
    letters = sorted(dead_letters(kafka_bootstrap, topics.events), key=lambda x: x["event"]["id"])
    where = positions(kafka_bootstrap, topics.events)
    failed = sorted((c for c in changes if c.mdn in (gone, flaky)), key=lambda c: c.event_id)
    assert [x["event"] for x in letters] == [to_cloudevent(c) for c in failed]
    for letter, item in zip(letters, failed, strict=True):
        assert letter["endpoint"] == "crm"
        expected = (410, 1, "HTTP 410: no") if item.mdn == gone else (503, 3, "HTTP 503: no")
        assert (letter["status"], letter["attempts"], letter["last_error"]) == expected
        assert (letter["original_partition"], letter["original_offset"]) == where[item.event_id]
        assert letter["original_topic"] == topics.events
    assert (summary.delivered, summary.dead_lettered) == (8, 4)
    assert committed(kafka_bootstrap, group, topics.events) == end_offsets(
        kafka_bootstrap, topics.events
    )
    assert metric(registry, "numguard_crm_dead_lettered_total", endpoint="crm") == 4
    for outcome, count in (("delivered", 2), ("rejected", 2), ("exhausted", 2)):
        assert metric(registry, "numguard_crm_deliveries_total", endpoint="crm",
                      outcome=outcome) == count  # fmt: skip


def test_undecodable_messages_are_dead_lettered_and_the_rest_delivered(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    good = history(["+12025550101"], per_number=1)
    publish_raw(kafka_bootstrap, topics.events, [(b"+12025550101", b"\xc3\x01 not avro")])
    publish(kafka_bootstrap, topics.events, good)
    with receiver() as crm:
        notifier = make_notifier(kafka_bootstrap, topics, crm_config(endpoint("crm", crm.url)))
        summary = notifier.run(until_idle=True)
        assert crm.delivered_ids() == {good[0].event_id}
    (letter,) = dead_letters(kafka_bootstrap, topics.events)
    assert letter["endpoint"] is None
    assert letter["reason"].startswith("undecodable: ")
    assert letter["raw"] == b"\xc3\x01 not avro".hex()
    assert (summary.delivered, summary.dead_lettered) == (1, 1)


def test_an_endpoint_down_then_back_loses_nothing(kafka_bootstrap: str, topics: TopicNames) -> None:
    changes = history(numbers(10), per_number=3)
    publish(kafka_bootstrap, topics.events, changes)
    registry = CollectorRegistry()
    group = group_name()
    crm = WebhookReceiver(port=free_port())  # not started: the port refuses connections
    config = crm_config(endpoint("crm", crm.url, max_attempts=10_000))
    notifier = make_notifier(kafka_bootstrap, topics, config, group=group, registry=registry)
    result: list[Any] = []
    stop = threading.Event()  # only for a failing test, so its thread never outlives it
    worker = threading.Thread(
        target=lambda: result.append(notifier.run(until_idle=True, stop=stop))
    )
    worker.start()
    try:

        def failing_and_reported() -> bool:
            attempts = metric(registry, "numguard_crm_delivery_attempts_total", endpoint="crm")
            age = metric(registry, "numguard_crm_oldest_undelivered_event_age_seconds",
                         endpoint="crm")  # fmt: skip
            return attempts >= 50 and age > 0

        wait_for(failing_and_reported, "failed attempts and an undelivered age")
        assert committed(kafka_bootstrap, group, topics.events) in ({}, {0: 0, 1: 0, 2: 0})
        crm.start()
        worker.join(60)
        assert not worker.is_alive()
        arrived: dict[str, list[str]] = defaultdict(list)
        for request in crm.delivered():
            arrived[request.mdn].append(request.event_id)
    finally:
        stop.set()
        worker.join(60)
        crm.stop()
    expected: dict[str, list[str]] = defaultdict(list)
    for item in changes:
        expected[item.mdn].append(item.event_id)
    assert arrived == expected
    assert (result[0].delivered, result[0].dead_lettered) == (30, 0)
    assert dead_letters(kafka_bootstrap, topics.events) == []
    assert committed(kafka_bootstrap, group, topics.events) == end_offsets(
        kafka_bootstrap, topics.events
    )
