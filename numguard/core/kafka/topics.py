"""The topics numguard owns, created with explicit settings.

The events topic keeps every event forever and is never compacted: a replay
must see every deactivation, and compaction by number would let a later event
erase an earlier deactivation. Dead-letter topics are kept the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from numguard.core.kafka.clients import KafkaConfig

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
    crm_dead_letter: str
    state: str

    @classmethod
    def for_events_topic(cls, events: str) -> TopicNames:
        return cls(
            events=events,
            dead_letter=f"{events}.dlq",
            checkpoints=f"{events}.checkpoints",
            crm_dead_letter=f"{events}.crm.dlq",
            state=f"{events}.state",
        )


class TopicSetupError(RuntimeError):
    """The topics could not be created or have unsafe settings."""


def ensure_topics(
    admin_config: KafkaConfig, names: TopicNames, partitions: int = DEFAULT_PARTITIONS
) -> None:
    """Create the pipeline's topics if missing; refuse an events topic that is compacted."""
    admin = AdminClient(admin_config)
    existing = _create_missing(admin, {
        names.events: (partitions, _KEEP_FOREVER),
        names.dead_letter: (1, _KEEP_FOREVER),
        # Latest checkpoint per report is all that matters: compact.
        names.checkpoints: (1, {"cleanup.policy": "compact"}),
        # Each number's latest state is all a bootstrapping reader needs: compact, keyed
        # by number, partitioned like the events (a number's records stay in order).
        names.state: (partitions, {"cleanup.policy": "compact"}),
    })  # fmt: skip
    if names.events in existing:
        # Created elsewhere, perhaps by hand: make sure it is safe to replay.
        _refuse_compacted_events_topic(admin, names.events)


def ensure_crm_dead_letter_topic(admin_config: KafkaConfig, names: TopicNames) -> str:
    """Create <topic>.crm.dlq if missing: one partition (redrive reads it in order)."""
    _create_missing(AdminClient(admin_config), {names.crm_dead_letter: (1, _KEEP_FOREVER)})
    return names.crm_dead_letter


def _create_missing(admin: AdminClient, wanted: dict[str, tuple[int, dict[str, str]]]) -> set[str]:
    """Create each missing topic (name -> partitions, config), replicated as the cluster
    allows: up to 3 copies, one fewer in sync. Returns the topics that existed before."""
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS)
    replication = min(3, len(metadata.brokers))
    min_isr = {"min.insync.replicas": str(max(1, replication - 1))}
    existing = set(metadata.topics)
    missing = [
        NewTopic(name, num_partitions=count, replication_factor=replication,
                 config={**config, **min_isr})
        for name, (count, config) in wanted.items()
        if name not in existing
    ]  # fmt: skip
    for name, future in (admin.create_topics(missing) if missing else {}).items():
        try:
            future.result(ADMIN_TIMEOUT_SECONDS)
            log.info("created topic %s", name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicSetupError(f"could not create topic {name}: {error}") from error
    return existing


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


def assign_whole_topic(consumer: Consumer, topic: str, timeout: float) -> dict[int, int]:
    """Assign every partition of `topic` from the group's committed offset (librdkafka's
    default: else the earliest), and return each partition's end offset at start, for
    the partitions with anything to read (a redrive reads up to there, then stops)."""
    found = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if found is None or found.error is not None:
        return {}
    partitions = [TopicPartition(topic, number) for number in found.partitions]
    ends = {p.partition: consumer.get_watermark_offsets(p, timeout=timeout)[1] for p in partitions}
    consumer.assign(partitions)
    return {number: high for number, high in ends.items() if high > 0}
