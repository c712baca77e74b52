"""A real Kafka broker for tests, in order of preference:
KAFKA_BOOTSTRAP_SERVERS -> testcontainers (if a Docker engine answers) -> local jars."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from numguard.devtools.localkafka.broker import LocalKafka
from tests.support.docker import docker_engine_answers

# testcontainers' own default image, the one its readiness check is written for.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"


@contextmanager
def kafka_for_tests(workdir: Path) -> Iterator[str]:
    if existing := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield existing
    elif docker_engine_answers():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        with LocalKafka(workdir) as broker:
            yield broker.bootstrap_servers


# The secured broker's one SCRAM user (a test credential, never a real one).
SECURED_USER = "numguard-test"
SECURED_PASSWORD = "scram-test-password-7f3a"
# Small: other JVMs share the machine.
SECURED_HEAP = "-Xmx384m"


@contextmanager
def secured_kafka_for_tests(workdir: Path) -> Iterator[LocalKafka]:
    """A local broker whose client listener is SASL_SSL (SCRAM-SHA-512): always from the
    jars, since the certificates and the user are made here."""
    users = {SECURED_USER: SECURED_PASSWORD}
    with LocalKafka(workdir, scram_users=users, heap=SECURED_HEAP) as broker:
        yield broker
