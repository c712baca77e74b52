"""Topic set-up against a real broker."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from numguard.core.kafka.clients import base_config
from numguard.core.kafka.topics import TopicNames, TopicSetupError, ensure_topics, topic_config

pytestmark = pytest.mark.kafka


def test_events_and_dead_letters_are_kept_forever_and_checkpoints_compacted(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for topic in (topics.events, topics.dead_letter):
        config = topic_config(admin, topic)
        assert (config["cleanup.policy"], config["retention.ms"]) == ("delete", "-1")
        assert config["retention.bytes"] == "-1"
    assert topic_config(admin, topics.checkpoints)["cleanup.policy"] == "compact"


def test_a_compacted_events_topic_is_refused(kafka_bootstrap: str) -> None:
    """Compaction by number would erase earlier deactivations from a replay."""
    names = TopicNames.for_events_topic(f"compacted-{uuid.uuid4().hex[:8]}")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic = NewTopic(names.events, 1, 1, config={"cleanup.policy": "compact"})
    admin.create_topics([topic])[names.events].result(30)
    with pytest.raises(TopicSetupError, match=r"cleanup\.policy=compact"):
        ensure_topics(base_config(kafka_bootstrap), names)
