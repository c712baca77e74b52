"""A local 3-node cluster: every topic replicated as in production, and one node's
SIGKILL survived without losing a committed record."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from numguard.core.kafka.clients import consumer_config, transactional_producer_config
from numguard.core.kafka.topics import TopicNames, topic_config
from numguard.devtools.localkafka.broker import LocalKafkaCluster
from tests.support.topic_reader import read_committed

pytestmark = [pytest.mark.kafka, pytest.mark.cluster]

TRANSACTION_SECONDS = 60.0
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")


def publish_in_a_transaction(bootstrap: str, topic: str, keys: range) -> None:
    producer = Producer(transactional_producer_config(bootstrap, f"test-{uuid.uuid4().hex}"))
    producer.init_transactions(TRANSACTION_SECONDS)
    producer.begin_transaction()
    for key in keys:
        producer.produce(topic, b"value", str(key).encode())
    producer.commit_transaction(TRANSACTION_SECONDS)


def commit_as_a_group(bootstrap: str, topic: str) -> None:
    """A group commit: the broker creates the group offsets topic on first use."""
    consumer = Consumer(consumer_config(bootstrap, f"test-{uuid.uuid4().hex[:8]}"))
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        consumer.close()


def replication(admin: AdminClient, topic: str) -> tuple[set[int], str]:
    """How many copies each partition has (as a set), and the topic's min ISR."""
    partitions = admin.list_topics(topic, timeout=30).topics[topic].partitions.values()
    return {len(p.replicas) for p in partitions}, topic_config(admin, topic)["min.insync.replicas"]


def test_three_nodes_replicate_every_topic_and_survive_a_node_killed(
    kafka_cluster: LocalKafkaCluster, cluster_topics: TopicNames
) -> None:
    bootstrap = kafka_cluster.bootstrap_servers
    events = cluster_topics.events
    publish_in_a_transaction(bootstrap, events, range(100))
    commit_as_a_group(bootstrap, events)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    assert sorted(admin.list_topics(timeout=30).brokers) == [1, 2, 3]
    for topic in (events, cluster_topics.checkpoints, cluster_topics.state, *INTERNAL_TOPICS):
        assert replication(admin, topic) == ({3}, "2"), topic

    killed = kafka_cluster.leader(events, 0)
    kafka_cluster.kill(killed)
    # Two copies of three are still in sync: transactions, groups and reads go on.
    publish_in_a_transaction(bootstrap, events, range(100, 200))
    commit_as_a_group(bootstrap, events)
    assert len(read_committed(bootstrap, events)) == 200
    assert kafka_cluster.leader(events, 0) != killed

    kafka_cluster.restart(killed)  # the same ports and data
    kafka_cluster.wait_in_sync()
    partitions = admin.list_topics(events, timeout=30).topics[events].partitions.values()
    assert all(killed in p.isrs for p in partitions)
    assert len(read_committed(bootstrap, events)) == 200
