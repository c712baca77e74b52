"""A 300,000-row ingest with `consume store` running, on 3 nodes: one node killed with
SIGKILL and restarted, then the leader of most events partitions killed and restarted.
Every accepted row is on the topic exactly once, applied exactly once, and the store
equals a fresh replay."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from numguard.consumer.store_consumer import DEFAULT_GROUP
from numguard.core.kafka.topics import DEFAULT_PARTITIONS, TopicNames
from numguard.devtools.localkafka.broker import LocalKafkaCluster
from tests.builders import convey_file
from tests.consumer.test_replay_and_crash import digest, numguard_env
from tests.support.cluster import busiest_leader, start_numguard, stop, stored_offsets
from tests.support.commands import numguard
from tests.support.topic_reader import count_committed, end_offsets
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.cluster]

ROWS = 300_000
# Generous: the ingest, the consumer and three Kafka nodes share two cores here.
WAIT_SECONDS = 400.0
EXIT_ROWS_REJECTED = 3  # `ingest`: every file published, some rows dead-lettered


def leads_none(cluster: LocalKafkaCluster, node: int, topic: str) -> bool:
    """Whether the cluster moved the leadership of every partition of `topic` off `node`."""
    return all(cluster.leader(topic, p) != node for p in range(DEFAULT_PARTITIONS))


def crash_and_revive(cluster: LocalKafkaCluster, node: int, topic: str) -> None:
    """SIGKILL, until the cluster has moved its leaderships (clients fail over), then the
    same node again on its ports and data, until every replica is back in sync."""
    cluster.kill(node)
    wait_for(lambda: leads_none(cluster, node, topic), f"leaders to move off node {node}",
             WAIT_SECONDS)  # fmt: skip
    cluster.restart(node)
    cluster.wait_in_sync(WAIT_SECONDS)


def test_a_node_and_then_the_leader_killed_under_ingest_lose_and_double_nothing(
    kafka_cluster: LocalKafkaCluster, cluster_topics: TopicNames, tmp_path: Path
) -> None:
    path, accepted = convey_file(tmp_path, ROWS, seed=5)
    bootstrap, events = kafka_cluster.bootstrap_servers, cluster_topics.events
    env = numguard_env(bootstrap, cluster_topics)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    consumer = start_numguard(env, tmp_path / "consume.log", "consume", "store", "--store", url)
    ingest = start_numguard(env, tmp_path / "ingest.log", "ingest", "--json", str(path))
    try:
        wait_for(lambda: sum(end_offsets(bootstrap, events).values()) > 0,
                 "the ingest to write", WAIT_SECONDS)  # fmt: skip
        crash_and_revive(kafka_cluster, 3, events)
        crash_and_revive(kafka_cluster, busiest_leader(kafka_cluster, events,
                                                       DEFAULT_PARTITIONS), events)  # fmt: skip
        published, _ = ingest.communicate(timeout=WAIT_SECONDS)
        assert ingest.returncode == EXIT_ROWS_REJECTED, (tmp_path / "ingest.log").read_text()
        assert json.loads(published)["accepted"] == accepted

        committed = count_committed(bootstrap, events)
        assert committed.count == accepted  # no row lost, none written twice
        wait_for(lambda: stored_offsets(url, DEFAULT_GROUP, events) == committed.next_offsets,
                 "the store to apply every event", WAIT_SECONDS)  # fmt: skip
        consumer.send_signal(signal.SIGTERM)
        summary, _ = consumer.communicate(timeout=WAIT_SECONDS)
    finally:
        stop(ingest, WAIT_SECONDS)
        stop(consumer, WAIT_SECONDS)
    assert consumer.returncode == 0, (tmp_path / "consume.log").read_text()[-3000:]
    assert json.loads(summary)["applied"] == accepted  # each exactly once

    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    replayed = numguard("replay", "--store", rebuilt, env=env, timeout=WAIT_SECONDS)
    assert replayed.returncode == 0, replayed.stderr
    assert digest(url) == digest(rebuilt)
