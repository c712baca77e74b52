"""Replicas of the consumers in one group, partitions moving between them mid-run.

`consume store`: three replicas on one PostgreSQL store, 300,000 events, a replica
started, one SIGKILLed, one stopped with SIGTERM, one started again: every event is
applied exactly once (an audit trigger counts every committed application of every
offset), the store equals a replay, and the replicas' lag metrics add up to the
group's. `consume crm`: two replicas across rebalances deliver every event at least
once, in order per number."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest

from numguard.consumer.store import open_store
from numguard.core.kafka.topics import DEFAULT_PARTITIONS, TopicNames
from numguard.devtools.localkafka.broker import LocalKafkaCluster, free_port
from tests.consumer.crm import Answer, cli_env, history, numbers, receiver, write_config
from tests.consumer.test_replay_and_crash import digest, numguard_env
from tests.support.cluster import (
    scrape_lag,
    spread_changes,
    start_numguard,
    stop,
    stored_offsets,
)
from tests.support.commands import numguard
from tests.support.events import publish
from tests.support.postgres import fresh_postgres_database
from tests.support.topic_reader import count_committed, end_offsets
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.cluster, pytest.mark.postgres]

EVENTS = 300_000
CHUNKS = 6  # published one at a time, a change of replicas after each
WAIT_SECONDS = 400.0
# A SIGKILLed member's partitions move once its session expires: the broker's shortest.
CONFIG = '[kafka.client]\n"session.timeout.ms" = 6000\n'

# Every committed application of an event, counted by the database itself: a batch that
# is rolled back (fenced) leaves no row, one applied twice leaves two.
AUDIT = (
    "CREATE TABLE applications (kafka_partition INTEGER, kafka_offset BIGINT)",
    "CREATE FUNCTION count_application() RETURNS trigger AS $$ BEGIN "
    "INSERT INTO applications VALUES (NEW.kafka_partition, NEW.kafka_offset); "
    "RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER counted BEFORE INSERT ON event_history FOR EACH ROW "
    "EXECUTE FUNCTION count_application()",
)


class Replicas:
    """`consume store` processes of one group, each with its log and metrics port."""

    def __init__(self, env: dict[str, str], folder: Path, url: str, group: str) -> None:
        self.env, self.folder, self.url, self.group = env, folder, url, group
        self.running: dict[str, tuple[subprocess.Popen[str], int]] = {}

    def start(self, name: str) -> subprocess.Popen[str]:
        port = free_port()
        process = start_numguard(
            self.env, self.log(name), "consume", "store", "--store", self.url,
            "--group", self.group, "--metrics-port", str(port),
        )  # fmt: skip
        self.running[name] = (process, port)
        return process

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def assigned(self, name: str, topic: str) -> bool:
        return any("assigned partitions" in line and topic in line
                   for line in self.log(name).read_text().splitlines())  # fmt: skip

    def kill(self, name: str) -> None:
        process, _ = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT_SECONDS)

    def terminate(self, name: str) -> dict[str, int]:
        """SIGTERM: the batch in hand is finished, the group left; its summary."""
        process, _ = self.running.pop(name)
        process.send_signal(signal.SIGTERM)
        summary, _ = process.communicate(timeout=WAIT_SECONDS)
        assert process.returncode == 0, self.log(name).read_text()[-3000:]
        return dict(json.loads(summary))

    def lags(self, topic: str) -> list[dict[int, float] | None]:
        return [scrape_lag(port, topic) for _, port in self.running.values()]

    def stop_all(self) -> None:
        for process, _ in self.running.values():
            stop(process, WAIT_SECONDS)


def lags_add_up(replicas: Replicas, bootstrap: str, url: str, group: str, topic: str) -> bool:
    """Each events partition's lag reported by exactly one live replica, and their sum the
    group's lag (end offsets minus the store's offsets)."""
    seen = replicas.lags(topic)
    if any(lag is None for lag in seen):
        return False
    reported = [p for lag in seen if lag for p in lag]
    if sorted(reported) != list(range(DEFAULT_PARTITIONS)):
        return False
    stored = stored_offsets(url, group, topic)
    group_lag = sum(end - stored.get(p, 0) for p, end in end_offsets(bootstrap, topic).items())
    return sum(sum(lag.values()) for lag in seen if lag) == group_lag


def test_three_store_replicas_apply_every_event_exactly_once_as_partitions_move(
    kafka_cluster: LocalKafkaCluster, cluster_topics: TopicNames, postgres_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    bootstrap, events = kafka_cluster.bootstrap_servers, cluster_topics.events
    url = fresh_postgres_database(postgres_url)
    open_store(url).close()  # the tables, for the audit trigger
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in AUDIT:
            connection.execute(statement)
    config = tmp_path / "numguard.toml"
    config.write_text(CONFIG)
    env = {**numguard_env(bootstrap, cluster_topics), "NUMGUARD_CONFIG": str(config)}
    group = f"replicas-{events}"
    replicas = Replicas(env, tmp_path, url, group)
    changes = spread_changes(EVENTS, seed=23, numbers=EVENTS // 4)
    chunk = EVENTS // CHUNKS
    # After each chunk is published, while its events are being applied, the group
    # changes: partitions move.
    steps = [
        lambda: (replicas.start("a"), replicas.start("b")),
        lambda: replicas.start("c"),
        lambda: wait_for(lambda: replicas.assigned("c", events), "c to get partitions"),
        lambda: replicas.kill("a"),
        lambda: replicas.terminate("b"),
        lambda: replicas.start("a-again"),
    ]
    try:
        for number, step in enumerate(steps):
            step()
            publish(bootstrap, events, changes[number * chunk : (number + 1) * chunk])
        committed = count_committed(bootstrap, events)
        assert committed.count == EVENTS
        wait_for(lambda: stored_offsets(url, group, events) == committed.next_offsets,
                 "the replicas to apply every event", WAIT_SECONDS)  # fmt: skip
        wait_for(lambda: lags_add_up(replicas, bootstrap, url, group, events),
                 "the replicas' lag metrics to add up to the group's", WAIT_SECONDS)  # fmt: skip
        for name in ("c", "a-again"):
            replicas.terminate(name)
    finally:
        replicas.stop_all()

    with psycopg.connect(url) as connection:
        applied = connection.execute(
            "SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM applications"
        ).fetchone()
    assert applied == (EVENTS, EVENTS)  # each applied once: none twice, none skipped
    assert any(replicas.log(n).read_text().count("assigned partitions") > 1 for n in ("b", "c"))
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    replayed = numguard("replay", "--store", rebuilt, env=env, timeout=WAIT_SECONDS)
    assert replayed.returncode == 0, replayed.stderr
    assert digest(url) == digest(rebuilt)


def test_two_crm_replicas_deliver_every_event_in_order_per_number_across_rebalances(
    kafka_cluster: LocalKafkaCluster, cluster_topics: TopicNames, tmp_path: Path
) -> None:
    bootstrap, events = kafka_cluster.bootstrap_servers, cluster_topics.events
    changes = history(numbers(400), per_number=5)
    half = len(changes) // 2
    chance, lock = random.Random(11), threading.Lock()

    def answer(_event: dict[str, Any], _attempt: int) -> Answer:
        with lock:
            return 200, {}, chance.uniform(0, 0.01)

    group = f"crm-replicas-{events}"
    env = cli_env(bootstrap, events)
    with receiver(answer) as crm:
        config = str(write_config(tmp_path, crm.url, max_pending_per_partition=50))
        crm_args = ("consume", "crm", "--config", config, "--group", group)
        first = start_numguard(env, tmp_path / "first.log", *crm_args)
        second: subprocess.Popen[str] | None = None
        try:
            publish(bootstrap, events, changes[:half])
            wait_for(lambda: len(crm.delivered_ids()) >= half // 4, "the first deliveries",
                     WAIT_SECONDS)  # fmt: skip
            # A second replica joins mid-flight: partitions move to it.
            second = start_numguard(env, tmp_path / "second.log", *crm_args)
            publish(bootstrap, events, changes[half:])
            wait_for(lambda: "assigned partitions [" in (tmp_path / "second.log").read_text()
                     and "assigned partitions []" not in (tmp_path / "second.log").read_text(),
                     "the second replica to get partitions", WAIT_SECONDS)  # fmt: skip
            # The first leaves while events are still arriving: its partitions move again.
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=WAIT_SECONDS)
            assert first.returncode == 0, (tmp_path / "first.log").read_text()[-3000:]
            everything = {c.event_id for c in changes}
            wait_for(lambda: crm.delivered_ids() == everything, "every event delivered",
                     WAIT_SECONDS)  # fmt: skip
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=WAIT_SECONDS)
            assert second.returncode == 0, (tmp_path / "second.log").read_text()[-3000:]
        finally:
            for process in (first, second):
                if process is not None:
                    stop(process, WAIT_SECONDS)
        arrived: dict[str, list[str]] = defaultdict(list)
        for request in crm.delivered():
            arrived[request.mdn].append(request.event_id)
    expected: dict[str, list[str]] = defaultdict(list)
    for item in changes:  # each number's events, in topic order
        expected[item.mdn].append(item.event_id)
    for mdn, delivered in arrived.items():
        # At least once: an event may come again after a rebalance, but never before an
        # earlier event of its number, and a number's last webhook is its latest event.
        assert list(dict.fromkeys(delivered)) == expected[mdn]
        assert delivered[-1] == expected[mdn][-1]
    assert sorted(arrived) == sorted(expected)
