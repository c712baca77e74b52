"""Kafka stopped under a running store consumer: a short outage is waited out and the
consumer carries on by itself; a longer one than its budget ends in exit 1 and one line.

A broker of its own (the session's is shared), stopped and started on the same port
and data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numguard.consumer.store import open_store
from numguard.core.kafka.clients import base_config
from numguard.core.kafka.topics import TopicNames, ensure_topics
from numguard.devtools.localkafka.broker import LocalKafka
from numguard.schemas.events import EventType
from tests.builders import change
from tests.support.events import publish
from tests.support.store import numbers_applied
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

# Long enough for the broker's restart on a loaded machine (a JVM start: seen over 14 s).
BUDGET_SECONDS = 40
SHORT_OUTAGE_SECONDS = 6
APPLY_TIMEOUT_SECONDS = 90


def deactivations(start: int, count: int) -> list:
    return [change(EventType.DEACTIVATED, "2024-03-05", mdn=f"+1202555{i:04d}")
            for i in range(start, start + count)]  # fmt: skip


def test_kafka_stopped_is_waited_out_within_the_budget_and_ends_the_run_past_it(
    tmp_path: Path,
) -> None:
    broker = LocalKafka(tmp_path / "kafka").start()
    try:
        bootstrap = broker.bootstrap_servers
        names = TopicNames.for_events_topic("outage")
        ensure_topics(base_config(bootstrap), names, partitions=1)
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        open_store(url).close()
        publish(bootstrap, names.events, deactivations(0, 10))
        log = tmp_path / "consume.log"  # a file: a full pipe would stall the consumer
        process = subprocess.Popen(
            [sys.executable, "-m", "numguard", "consume", "store", "--bootstrap-servers",
             bootstrap, "--topic", names.events, "--store", url,
             "--outage-seconds", str(BUDGET_SECONDS)],
            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=log.open("w"),
        )  # fmt: skip
        try:
            wait_for(lambda: numbers_applied(url) == 10, "the first events", APPLY_TIMEOUT_SECONDS)
            broker.stop()
            time.sleep(SHORT_OUTAGE_SECONDS)
            assert process.poll() is None, "gave up inside its budget"
            broker.start()
            publish(bootstrap, names.events, deactivations(10, 10))
            wait_for(lambda: numbers_applied(url) == 20, "the events after the outage",
                     APPLY_TIMEOUT_SECONDS)  # fmt: skip
            broker.stop()
            started = time.monotonic()
            process.wait(timeout=BUDGET_SECONDS + 60)
            waited = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    finally:
        broker.stop()
    stderr = log.read_text()
    assert process.returncode == 1, stderr[-3000:]
    assert waited >= BUDGET_SECONDS
    assert f"Kafka at {bootstrap} reachable again" in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"numguard: error: Kafka at {bootstrap} unreachable for "
                           f"{BUDGET_SECONDS} s"), stderr[-3000:]  # fmt: skip
    assert "Traceback" not in stderr
