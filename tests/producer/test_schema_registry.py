"""The registry path end to end, against a real broker and a real schema registry:
numguard produce -> Kafka (Confluent framing) -> numguard consume store, and a schema
the registry refuses stopping the producer before anything is published."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from numguard.core.kafka.topics import TopicNames
from numguard.devtools.simulator import CarrierSimulator, GeneratedDataset
from numguard.schemas.codec import current_schema
from numguard.schemas.registry import value_subject
from tests.support.commands import numguard
from tests.support.topic_reader import read_committed

pytestmark = [pytest.mark.kafka, pytest.mark.registry]

TEMPLATE = "/convey/mcdn_deact_{date:%Y%m%d}.csv"
HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"


def environment(bootstrap: str, topics: TopicNames, registry_url: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NUMGUARD_TOPIC": topics.events,
        "NUMGUARD_SCHEMA_REGISTRY_URL": registry_url,
    }


def test_produced_events_reach_the_store_through_the_registry(
    kafka_bootstrap: str, topics: TopicNames, schema_registry_url: str, tmp_path: Path
) -> None:
    env = environment(kafka_bootstrap, topics, schema_registry_url)
    data = GeneratedDataset(seed=11, numbers=60, days=1)  # the day is yesterday
    with CarrierSimulator(data) as simulator:
        produced = numguard("produce", "--once", "--convey-url", simulator.base_url + TEMPLATE,
                            "--lookback-days", "1", env=env, clean=True)  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    accepted = json.loads(produced.stdout.splitlines()[0])["accepted"]
    assert accepted > 0

    registry = SchemaRegistryClient({"url": schema_registry_url})
    subject = value_subject(topics.events)
    latest = registry.get_latest_version(subject)
    assert registry.get_compatibility(subject) == "BACKWARD"
    events = read_committed(kafka_bootstrap, topics.events)
    assert len(events) == accepted
    framing = {(m.value() or b"")[:5] for m in events}
    assert framing == {b"\x00" + struct.pack(">I", latest.schema_id)}

    store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    consumed = numguard("consume", "store", "--until-idle", "--store", store, env=env, clean=True)
    assert consumed.returncode == 0, consumed.stderr
    summary = json.loads(consumed.stdout)
    assert (summary["applied"], summary["dead_lettered"]) == (accepted, 0)


def incompatible_with_numguards() -> str:
    """Numguard's schema with report_position a string: numguard's (a long) cannot read
    the data this one writes, so BACKWARD refuses numguard's after it."""
    schema = json.loads(current_schema().text)
    (position,) = [f for f in schema["fields"] if f["name"] == "report_position"]
    position["type"] = "string"
    return json.dumps(schema)


def refusing_registry(url: str, topics: TopicNames) -> SchemaRegistryClient:
    registry = SchemaRegistryClient({"url": url})
    subject = value_subject(topics.events)
    registry.set_compatibility(subject, "NONE")
    registry.register_schema(subject, Schema(incompatible_with_numguards(), "AVRO"))
    return registry


def assert_stopped_with_one_line(result: subprocess.CompletedProcess[str], subject: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "HTTP Request" not in result.stderr  # the registry client's requests: debug only
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr
    assert errors[0] == result.stderr.strip().splitlines()[-1]
    assert errors[0].startswith(
        "numguard: error: the schema registry refused number_state_change.v3.avsc for "
        f"subject {subject} as incompatible (BACKWARD compatibility): "
    )


def assert_nothing_published(bootstrap: str, topics: TopicNames) -> None:
    for topic in (topics.events, topics.dead_letter, topics.checkpoints):
        assert read_committed(bootstrap, topic) == [], topic


def test_a_schema_the_registry_refuses_stops_the_producer_with_one_line(
    kafka_bootstrap: str, topics: TopicNames, schema_registry_url: str
) -> None:
    registry = refusing_registry(schema_registry_url, topics)
    env = environment(kafka_bootstrap, topics, schema_registry_url)
    with CarrierSimulator(GeneratedDataset(seed=12, numbers=40, days=1)) as simulator:
        result = numguard("produce", "--once", "--convey-url", simulator.base_url + TEMPLATE,
                          "--lookback-days", "1", env=env, clean=True)  # fmt: skip
        assert simulator.requests() == []  # refused before any feed was read
    assert_stopped_with_one_line(result, value_subject(topics.events))
    assert_nothing_published(kafka_bootstrap, topics)
    assert registry.get_versions(value_subject(topics.events)) == [1]


def test_a_schema_the_registry_refuses_stops_ingest_with_one_line(
    kafka_bootstrap: str, topics: TopicNames, schema_registry_url: str, tmp_path: Path
) -> None:
    refusing_registry(schema_registry_url, topics)
    path = tmp_path / "mcdn_deact_20240305.csv"
    path.write_text(HEADER + "12025550101,DEACTIVATE,2024-03-05T00:00Z,,Verizon Wireless\n")
    env = environment(kafka_bootstrap, topics, schema_registry_url)
    result = numguard("ingest", str(path), env=env, clean=True)
    assert_stopped_with_one_line(result, value_subject(topics.events))
    assert_nothing_published(kafka_bootstrap, topics)


def test_a_schema_the_registry_refuses_stops_receive_before_it_listens(
    kafka_bootstrap: str, topics: TopicNames, schema_registry_url: str
) -> None:
    refusing_registry(schema_registry_url, topics)
    env = {**environment(kafka_bootstrap, topics, schema_registry_url), "TWILIO_AUTH_TOKEN": "t"}
    result = numguard("receive", "--port", "0", env=env, clean=True)
    assert_stopped_with_one_line(result, value_subject(topics.events))
    assert "listening on" not in result.stdout
