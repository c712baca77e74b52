"""The 3-node cluster the tests of this package share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from numguard.core.kafka.clients import base_config
from numguard.core.kafka.topics import TopicNames, ensure_topics
from numguard.devtools.localkafka.broker import LocalKafkaCluster


@pytest.fixture(scope="package")
def kafka_cluster_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    """A 3-node cluster from the cached jars, started once for this package's tests and
    gone after them: the rest of the suite does not share the cores with three JVMs.
    Always local (never KAFKA_BOOTSTRAP_SERVERS): the tests kill and restart its nodes."""
    with LocalKafkaCluster(tmp_path_factory.mktemp("kafka-cluster"), size=3) as cluster:
        yield cluster
        cluster.kill_all()  # its data is thrown away: no clean shutdown to wait for


@pytest.fixture
def kafka_cluster(kafka_cluster_session: LocalKafkaCluster) -> LocalKafkaCluster:
    """The cluster with every node up and every replica in sync, whatever the test
    before it killed."""
    kafka_cluster_session.start_all()
    kafka_cluster_session.wait_in_sync()
    return kafka_cluster_session


@pytest.fixture
def cluster_topics(kafka_cluster: LocalKafkaCluster) -> TopicNames:
    """Fresh topics on the cluster: 6 partitions (the default), 3 replicas, 2 in sync."""
    names = TopicNames.for_events_topic(f"test-{uuid.uuid4().hex[:12]}")
    ensure_topics(base_config(kafka_cluster.bootstrap_servers), names)
    return names
