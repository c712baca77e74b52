from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from numguard.consumer.store import SqlStore, open_store
from numguard.core.kafka.clients import base_config
from numguard.core.kafka.topics import TopicNames, ensure_topics
from numguard.devtools.localkafka.broker import LocalKafka
from tests.support.docker import docker_engine_answers
from tests.support.kafka import kafka_for_tests, secured_kafka_for_tests
from tests.support.postgres import fresh_postgres_database, local_postgres
from tests.support.registry import registry_for_tests


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Kafka broker for the whole session (see tests/support/kafka.py)."""
    with kafka_for_tests(tmp_path_factory.mktemp("kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A local broker with a TLS + SCRAM client listener, for the whole session."""
    with secured_kafka_for_tests(tmp_path_factory.mktemp("secured-kafka")) as broker:
        yield broker


@pytest.fixture(scope="session")
def schema_registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Confluent-compatible Schema Registry for the whole session: SCHEMA_REGISTRY_URL,
    testcontainers, or a local Apicurio Registry (see tests/support/registry.py). Tests
    share it: each uses subjects of its own (fresh topics)."""
    with registry_for_tests(tmp_path_factory.mktemp("registry")) as url:
        yield url


@pytest.fixture
def topics(kafka_bootstrap: str) -> TopicNames:
    """Fresh, created topics for one test, so tests never see each other's events."""
    names = TopicNames.for_events_topic(f"test-{uuid.uuid4().hex[:12]}")
    ensure_topics(base_config(kafka_bootstrap), names, partitions=3)
    return names


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server: NUMGUARD_TEST_POSTGRES_URL, testcontainers, or Debian's package."""
    if existing := os.environ.get("NUMGUARD_TEST_POSTGRES_URL"):
        yield existing
    elif docker_engine_answers():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as container:
            yield container.get_connection_url()
    else:
        with local_postgres() as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty store, once per backend: every store test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.sqlite3'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: nothing may pass by not running."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if reporter and os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
