"""close_within: a consumer's close is given up after its bound, so a command past its
outage budget exits (librdkafka's close can wait for ever on an unreachable group
coordinator: seen in the outage test, tests/consumer/test_kafka_outage.py)."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest
from confluent_kafka import Consumer

from numguard.core.kafka.outage import close_within


class _Closing:
    def __init__(self, close: Any) -> None:
        self.close = close


def test_a_close_that_never_returns_is_left_behind_after_the_bound() -> None:
    never = threading.Event()
    started = time.monotonic()
    assert close_within(cast(Consumer, _Closing(never.wait)), 0.5) is False
    assert time.monotonic() - started < 5
    never.set()


def test_a_close_that_fails_raises_in_the_callers_thread() -> None:
    def fail() -> None:
        raise RuntimeError("closed twice")

    with pytest.raises(RuntimeError, match="closed twice"):
        close_within(cast(Consumer, _Closing(fail)), 5)


def test_a_consumer_that_never_reached_kafka_closes_within_the_bound() -> None:
    consumer = Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "close-within"})
    assert close_within(consumer, 10) is True
