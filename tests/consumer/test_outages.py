"""The store consumer rides out PostgreSQL being unreachable for a while, and past its
budget stops with one line saying what is unreachable: never a traceback, nothing lost.

The outage is real: the database refuses connections (ALLOW_CONNECTIONS false) and
its sessions are terminated, as a restart or a failover does to a client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from numguard.consumer.store import open_store
from numguard.core.kafka.topics import TopicNames
from numguard.schemas.events import EventType, StateChange
from tests.builders import change
from tests.support.events import publish
from tests.support.postgres import fresh_postgres_database
from tests.support.serve import client, running_api
from tests.support.store import numbers_applied
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

APPLY_TIMEOUT_SECONDS = 60


@contextmanager
def outage(server_url: str, database: str) -> Iterator[None]:
    """`database` refuses connections and loses its sessions until the block ends."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))  # fmt: skip
        try:
            yield
        finally:
            admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")


def consume(
    bootstrap: str, names: TopicNames, url: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """The consumer, its log to a file (a full pipe would stall it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "numguard", "consume", "store", "--bootstrap-servers", bootstrap,
         "--topic", names.events, "--store", url, "--group", f"outage-{names.events}", *extra],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )  # fmt: skip


def numbers(start: int, count: int) -> list[str]:
    return [f"+1202555{i:04d}" for i in range(start, start + count)]


def empty_store(server_url: str) -> tuple[str, str]:
    """A new database with numguard's tables: its URL and its name."""
    url = fresh_postgres_database(server_url)
    open_store(url).close()
    return url, url.rsplit("/", 1)[1]


def deactivations(mdns: list[str]) -> list[StateChange]:
    return [change(EventType.DEACTIVATED, "2024-03-05", mdn=mdn) for mdn in mdns]


def test_a_database_outage_is_waited_out_and_nothing_is_lost(
    kafka_bootstrap: str, topics: TopicNames, postgres_url: str, tmp_path: Path
) -> None:
    url, database = empty_store(postgres_url)
    publish(kafka_bootstrap, topics.events, deactivations(numbers(0, 20)))
    log = tmp_path / "consume.log"
    process = consume(kafka_bootstrap, topics, url, log, "--outage-seconds", "60")
    try:
        wait_for(
            lambda: numbers_applied(url) == 20, "the first events applied", APPLY_TIMEOUT_SECONDS
        )
        with outage(postgres_url, database):
            publish(kafka_bootstrap, topics.events, deactivations(numbers(20, 30)))
            time.sleep(4)  # the consumer meets the outage and retries
            assert process.poll() is None, "the consumer gave up inside its budget"
        wait_for(lambda: numbers_applied(url) == 50, "the events of the outage applied",
                 APPLY_TIMEOUT_SECONDS)  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    stderr = log.read_text()
    assert process.returncode == 0, stderr[-3000:]
    assert "unreachable (attempt" in stderr
    assert "Traceback" not in stderr


def test_past_its_budget_the_consumer_stops_with_one_line(
    kafka_bootstrap: str, topics: TopicNames, postgres_url: str, tmp_path: Path
) -> None:
    url, database = empty_store(postgres_url)
    log = tmp_path / "consume.log"
    process = consume(kafka_bootstrap, topics, url, log, "--outage-seconds", "3")
    try:
        time.sleep(3)  # assigned, idle
        with outage(postgres_url, database):
            publish(kafka_bootstrap, topics.events, deactivations(numbers(0, 5)))
            process.wait(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = log.read_text()
    assert process.returncode == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("numguard: error: PostgreSQL at 127.0.0.1:"), stderr[-2000:]
    assert f"/{database} unreachable for 3 s: " in last
    assert "Traceback" not in stderr
    assert numbers_applied(url) == 0  # nothing half-applied; a restart applies all five


def test_serve_answers_503_while_the_database_is_unreachable_and_recovers(
    postgres_url: str,
) -> None:
    url = fresh_postgres_database(postgres_url)
    open_store(url).close()
    with running_api(url) as (base, _process), client(base) as http:
        assert http.get("/v1/numbers/2025550101").status_code == 200
        with outage(postgres_url, url.rsplit("/", 1)[1]):
            refused = http.get("/v1/numbers/2025550101")
            assert (refused.status_code, refused.headers["Retry-After"]) == (503, "5")
            assert refused.json() == {"error": "the store is unreachable; try again"}
            assert http.get("/healthz").status_code == 503
        assert http.get("/v1/numbers/2025550101").json()["decision"] == "allow"
        assert http.get("/healthz").status_code == 200


PARTITIONS = 3  # the topics fixture's


def replayed_partitions(url: str, topic: str) -> dict[int, int]:
    store = open_store(url, create=False)
    try:
        return store.offsets("numguard-replay", topic)
    finally:
        store.close()


def test_replay_with_jobs_rides_out_a_database_outage(
    kafka_bootstrap: str, topics: TopicNames, postgres_url: str, tmp_path: Path
) -> None:
    """The processes wait the outage out; the command's own progress reads wait with
    them: it finishes with every event, and no traceback."""
    publish(kafka_bootstrap, topics.events, deactivations(numbers(0, 3000)))
    url, database = empty_store(postgres_url)
    log = tmp_path / "replay.log"
    replay = subprocess.Popen(
        [sys.executable, "-m", "numguard", "replay", "--bootstrap-servers", kafka_bootstrap,
         "--topic", topics.events, "--store", url, "--jobs", "2", "--batch-size", "20"],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
    )  # fmt: skip
    # Every process past its start (a process that cannot open the store at start exits
    # at once, as any command does) and under way: each partition has a batch stored.
    wait_for(lambda: len(replayed_partitions(url, topics.events)) == PARTITIONS,
             "a batch of every partition applied", APPLY_TIMEOUT_SECONDS)  # fmt: skip
    with outage(postgres_url, database):
        time.sleep(4)  # every process meets the outage
    stdout, _ = replay.communicate(timeout=APPLY_TIMEOUT_SECONDS * 2)
    stderr = log.read_text()
    assert replay.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "unreachable (attempt" in stderr  # the outage was met, and waited out
    assert numbers_applied(url) == 3000
    assert '"consumed": 3000' in stdout
