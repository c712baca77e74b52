"""An endpoint slower than max.poll.interval.ms: partitions pause, the member stays in its group."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from confluent_kafka import Consumer

from numguard.core.kafka.clients import consumer_config
from numguard.core.kafka.topics import TopicNames
from tests.consumer.crm import (
    Answer,
    committed,
    crm_config,
    endpoint,
    group_name,
    history,
    make_notifier,
    numbers,
    positions,
    publish,
    receiver,
    wait_for,
)

pytestmark = pytest.mark.kafka

# librdkafka wants max.poll.interval.ms >= session.timeout.ms; the broker's minimum session
# timeout is 6 s. A consumer blocked in delivery for longer than 7 s would be thrown out.
SHORT_POLL_INTERVAL = {"session.timeout.ms": 6000, "max.poll.interval.ms": 7000}
HELD_SECONDS = 9.0  # the endpoint answers nothing for longer than max.poll.interval.ms


def test_a_slow_endpoint_pauses_partitions_and_the_consumer_stays_in_its_group(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    changes = history(numbers(10), per_number=3)
    publish(kafka_bootstrap, topics.events, changes)
    gate = threading.Event()

    def answer(_event: dict[str, Any], _attempt: int) -> Answer:
        gate.wait(60)  # every request hangs until the test opens the gate
        return 200, {}, 0.0

    group = group_name()
    with receiver(answer) as crm:
        config = crm_config(endpoint("crm", crm.url, timeout_seconds=60), max_pending=2)
        notifier = make_notifier(
            kafka_bootstrap, topics, config, group=group, overrides=SHORT_POLL_INTERVAL
        )
        stop = threading.Event()  # only for a failing test, so its thread never outlives it
        worker = threading.Thread(target=lambda: notifier.run(until_idle=True, stop=stop))
        worker.start()
        try:
            wait_for(lambda: notifier.summary.paused >= 1 and crm.in_flight >= 1,
                     "a paused partition and a request in flight")  # fmt: skip
            time.sleep(HELD_SECONDS)  # hold the endpoint past max.poll.interval.ms
            assert notifier.summary.resumed == 0  # nothing could drain while held
            gate.set()
            worker.join(60)
            assert not worker.is_alive()
        finally:
            gate.set()
            stop.set()
            worker.join(60)
        assert crm.delivered_ids() == {c.event_id for c in changes}
    summary = notifier.summary
    # One assignment, nothing revoked or abandoned: never thrown out of the group.
    assert (summary.assignments, summary.abandoned) == (1, 0)
    assert summary.paused >= 1 and summary.resumed >= 1
    assert summary.delivered == 30
    ends: dict[int, int] = {}
    for partition, offset in positions(kafka_bootstrap, topics.events).values():
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    # A member thrown out of its group could not commit: these commits prove membership.
    assert committed(kafka_bootstrap, group, topics.events) == ends


def test_partitions_paused_when_revoked_are_fetched_again_when_assigned_back(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    """Found by the replicas test: librdkafka keeps a partition paused across a rebalance,
    so a replica that got its paused partitions back never fetched them again."""
    changes = history(numbers(10), per_number=3)
    publish(kafka_bootstrap, topics.events, changes)
    gate = threading.Event()

    def answer(_event: dict[str, Any], _attempt: int) -> Answer:
        gate.wait(60)  # requests hang: partitions pause while the group changes
        return 200, {}, 0.0

    group = group_name()
    with receiver(answer) as crm:
        config = crm_config(endpoint("crm", crm.url, timeout_seconds=60), max_pending=2)
        notifier = make_notifier(kafka_bootstrap, topics, config, group=group)
        stop = threading.Event()
        worker = threading.Thread(target=lambda: notifier.run(until_idle=True, stop=stop))
        worker.start()
        try:
            wait_for(lambda: notifier.summary.paused >= 1, "a paused partition")
            other = Consumer(consumer_config(kafka_bootstrap, group))
            other.subscribe([topics.events])  # joins: the partitions are revoked and shared
            try:
                wait_for(lambda: other.poll(0.1) is None and bool(other.assignment()),
                         "the other member's partitions")  # fmt: skip
            finally:
                other.close()  # leaves: every partition comes back to the notifier
            wait_for(lambda: notifier.summary.assignments >= 3, "the partitions back")
            gate.set()
            wait_for(lambda: not worker.is_alive(), "every event delivered")
        finally:
            gate.set()
            stop.set()
            worker.join(60)
        assert crm.delivered_ids() == {c.event_id for c in changes}
