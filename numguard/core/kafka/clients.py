"""Client configurations, in one place, for every Kafka client numguard makes."""

from __future__ import annotations

import logging
from typing import Any

from numguard.core.kafka.credentials import check_credentials, is_secured

KafkaConfig = dict[str, Any]

# librdkafka's own log lines go through Python logging under this name.
_RDKAFKA_LOGGER = logging.getLogger("numguard.rdkafka")


# Security and tuning settings from the configuration file (kafka.client), for every client.
_client_settings: KafkaConfig = {}
# The clusters whose acceptance of those settings was checked (once per process).
_checked: set[str] = set()


def set_client_settings(settings: KafkaConfig) -> None:
    """Once at start-up: e.g. security.protocol, sasl.*, ssl.* for every client made later."""
    _client_settings.clear()
    _client_settings.update(settings)
    _checked.clear()


def base_config(bootstrap_servers: str) -> KafkaConfig:
    """Every client's settings. On a secured connection, the first call for a cluster
    checks that it accepts them (credentials.py): a refusal fails the command at once."""
    if is_secured(_client_settings) and bootstrap_servers not in _checked:
        check_credentials(bootstrap_servers, _client_settings)
        _checked.add(bootstrap_servers)
    return {**_client_settings, "bootstrap.servers": bootstrap_servers, "logger": _RDKAFKA_LOGGER}


def transactional_producer_config(bootstrap_servers: str, transactional_id: str) -> KafkaConfig:
    return {
        **base_config(bootstrap_servers),
        "transactional.id": transactional_id,
        "enable.idempotence": True,
        "acks": "all",
        # Same partition for a number as Java clients and Kafka Streams would pick.
        "partitioner": "murmur2_random",
        "linger.ms": 20,
        "compression.type": "zstd",
    }


def idempotent_producer_config(bootstrap_servers: str) -> KafkaConfig:
    """For dead-letter writes from consumers: durable, no transaction needed."""
    return {
        **base_config(bootstrap_servers),
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
    }


def consumer_config(
    bootstrap_servers: str, group_id: str, instance_id: str | None = None
) -> KafkaConfig:
    """A read_committed group member. With `instance_id` (static membership) a
    restarted member takes its partitions back at once instead of waiting out
    the session timeout of its previous incarnation."""
    static = {"group.instance.id": instance_id} if instance_id else {}
    return {
        **base_config(bootstrap_servers),
        **static,
        "group.id": group_id,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        # Offsets are committed by the code, only after the work is durable.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
    }
