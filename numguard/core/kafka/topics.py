"""The topics numguard owns, created with explicit settings.

The events topic keeps every event forever and is never compacted: a replay
must see every deactivation, and compaction by number would let a later event
erase an earlier deactivation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 6
ADMIN_TIMEOUT_SECONDS = 30.0
_METADATA_RETRY_SECONDS = 0.2
_KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicNames:
    events: str
    dead_letter: str
    checkpoints: str

    @classmethod
    def for_events_topic(cls, events: str) -> TopicNames:
        return cls(events=events, dead_letter=f"{events}.dlq", checkpoints=f"{events}.checkpoints")


class TopicSetupError(RuntimeError):
    """The topics could not be created or have unsafe settings."""


def ensure_topics(
    admin_config: dict[str, object], names: TopicNames, partitions: int = DEFAULT_PARTITIONS
) -> None:
    """Create any missing topic; refuse an events topic that is compacted."""
    admin = AdminClient(admin_config)
    brokers = len(admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS).brokers)
    replication = min(3, brokers)
    min_isr = str(max(1, replication - 1))
    wanted = {
        names.events: (partitions, {**_KEEP_FOREVER, "min.insync.replicas": min_isr}),
        names.dead_letter: (1, {**_KEEP_FOREVER, "min.insync.replicas": min_isr}),
        # Latest checkpoint per report is all that matters: compact.
        names.checkpoints: (1, {"cleanup.policy": "compact", "min.insync.replicas": min_isr}),
    }
    existing = set(admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS).topics)
    missing = [
        NewTopic(name, num_partitions=count, replication_factor=replication, config=config)
        for name, (count, config) in wanted.items()
        if name not in existing
    ]
    if missing:
        for name, future in admin.create_topics(missing).items():
            try:
                future.result(ADMIN_TIMEOUT_SECONDS)
                log.info("created topic %s", name)
            except KafkaException as error:
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TopicSetupError(f"could not create topic {name}: {error}") from error
    if names.events in existing:
        # Created elsewhere, perhaps by hand: make sure it is safe to replay.
        _refuse_compacted_events_topic(admin, names.events)


def topic_config(admin: AdminClient, topic: str) -> dict[str, str]:
    """The topic's effective configuration, by name."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    deadline = time.monotonic() + ADMIN_TIMEOUT_SECONDS
    while True:
        try:
            found = admin.describe_configs([resource])[resource].result(ADMIN_TIMEOUT_SECONDS)
            return {name: entry.value for name, entry in found.items()}
        except KafkaException as error:
            # A topic created a moment ago may not be known to every broker yet.
            unknown = error.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
            if not unknown or time.monotonic() > deadline:
                raise
            time.sleep(_METADATA_RETRY_SECONDS)


def _refuse_compacted_events_topic(admin: AdminClient, topic: str) -> None:
    policy = topic_config(admin, topic)["cleanup.policy"] or ""
    if "compact" in policy:
        raise TopicSetupError(
            f"topic {topic} has cleanup.policy={policy}: compaction would erase earlier "
            "deactivations on replay. Use a topic with cleanup.policy=delete and retention.ms=-1."
        )
