"""The event schema in a real Confluent-compatible Schema Registry (see the
schema_registry_url fixture): registration, compatibility and evolution."""

from __future__ import annotations

import io
import json
import struct
import uuid
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.schema import to_parsing_canonical_form

from numguard.devtools.processes import free_port
from numguard.schemas.codec import EventCodec, SchemaVersion, current_schema, schema_versions
from numguard.schemas.events import EventType
from numguard.schemas.registry import (
    COMPATIBILITY_LEVELS,
    SchemaRejected,
    register_value_schema,
    value_subject,
)
from tests.builders import change

pytestmark = pytest.mark.registry


@pytest.fixture
def registry(schema_registry_url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": schema_registry_url})


@pytest.fixture
def topic() -> str:
    """A topic name of this test's own: its subject is new to the shared registry."""
    return f"test-{uuid.uuid4().hex[:12]}"


def version(number: int) -> SchemaVersion:
    (found,) = [v for v in schema_versions() if v.version == number]
    return found


def canonical(schema_text: str) -> str:
    return to_parsing_canonical_form(fastavro.parse_schema(json.loads(schema_text)))


def framed(schema_id: int, schema: SchemaVersion, record: dict[str, Any]) -> bytes:
    """Confluent framing, as any producer holding `schema` writes it."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema.parsed, record)
    return b"\x00" + struct.pack(">I", schema_id) + body.getvalue()


def read(data: bytes, registry: SchemaRegistryClient, reader: SchemaVersion) -> dict[str, Any]:
    """What a consumer holding `reader` makes of `data`: the writer's schema comes from
    the registry, by the id in the framing."""
    (schema_id,) = struct.unpack(">I", data[1:5])
    writer = fastavro.parse_schema(json.loads(registry.get_schema(schema_id).schema_str or ""))
    record = fastavro.schemaless_reader(io.BytesIO(data[5:]), writer, reader.parsed)
    assert isinstance(record, dict)
    return record


RECORD_V1 = {
    "event_id": "e-1", "mdn": "+12025550100", "event_type": "DEACTIVATED",
    "effective_at": datetime(2024, 3, 5, tzinfo=UTC), "new_mdn": None,
    "carrier": "Verizon Wireless", "source": "convey", "report_id": "mcdn_deact_20240305.csv",
    "report_position": 2, "raw_reason": "DEACTIVATE",
    "ingested_at": datetime(2024, 3, 5, 12, tzinfo=UTC),
}  # fmt: skip
GENERATED = datetime(2024, 3, 6, 1, tzinfo=UTC)


def test_events_round_trip_through_the_registry(
    schema_registry_url: str, registry: SchemaRegistryClient, topic: str
) -> None:
    sample = change(EventType.NUMBER_CHANGED, "2024-03-05T11:00", new_mdn="+12025550199")
    data = EventCodec.from_registry_url(schema_registry_url, topic).encode(sample)
    (schema_id,) = struct.unpack(">I", data[1:5])
    assert data[0] == 0
    registered = registry.get_latest_version(value_subject(topic))
    assert registered.schema_id == schema_id
    assert canonical(registered.schema.schema_str or "") == canonical(current_schema().text)
    # Another process, knowing nothing of the id yet, reads it through the registry.
    assert EventCodec.from_registry_url(schema_registry_url, topic).decode(data) == sample


def test_the_subject_is_the_topics_value_subject_and_backward_after_the_first_registration(
    schema_registry_url: str, registry: SchemaRegistryClient, topic: str
) -> None:
    EventCodec.from_registry_url(schema_registry_url, topic).register()
    assert value_subject(topic) == f"{topic}-value"  # TopicNameStrategy
    assert value_subject(topic) in registry.get_subjects()
    assert registry.get_versions(value_subject(topic)) == [1]
    assert registry.get_compatibility(value_subject(topic)) == "BACKWARD"


@pytest.mark.parametrize("level", ["FULL_TRANSITIVE", "NONE"])
def test_a_configured_compatibility_level_is_the_subjects(
    schema_registry_url: str, registry: SchemaRegistryClient, topic: str, level: str
) -> None:
    assert level in COMPATIBILITY_LEVELS
    EventCodec.from_registry_url(schema_registry_url, topic, level).register()  # type: ignore[arg-type]
    assert registry.get_compatibility(value_subject(topic)) == level


def test_an_equivalent_text_of_the_schema_is_the_same_version(
    schema_registry_url: str, registry: SchemaRegistryClient, topic: str
) -> None:
    """Registered normalized: other spacing and another order of attributes are no new
    version (nor a refusal)."""
    subject = value_subject(topic)
    text = current_schema().text
    first = register_value_schema(registry, subject, text, "BACKWARD", name="v3")
    reordered = json.loads(text)
    reordered = dict(reversed(reordered.items()))
    reordered["fields"] = [dict(reversed(field.items())) for field in reordered["fields"]]
    another = SchemaRegistryClient({"url": schema_registry_url})  # no cache of the first
    again = register_value_schema(
        another, subject, json.dumps(reordered, indent=4), "BACKWARD", name="v3 reordered"
    )
    assert again == first
    assert registry.get_versions(subject) == [1]


def test_v2_adds_an_optional_field_under_backward_and_v1_and_v2_read_each_others_data(
    schema_registry_url: str, registry: SchemaRegistryClient, topic: str
) -> None:
    subject = value_subject(topic)
    v1, v2 = version(1), version(2)
    id1 = register_value_schema(registry, subject, v1.text, "BACKWARD", name="v1")
    old_data = framed(id1, v1, RECORD_V1)
    id2 = register_value_schema(registry, subject, v2.text, "BACKWARD", name="v2")
    assert id2 != id1
    assert registry.get_versions(subject) == [1, 2]
    new_data = framed(id2, v2, {**RECORD_V1, "report_generated_at": GENERATED})

    # v2 readers read v1 data: the new field takes its default.
    assert read(old_data, registry, v2) == {**RECORD_V1, "report_generated_at": None}
    # v1 readers read v2 data: the field they do not know is skipped.
    assert read(new_data, registry, v1) == RECORD_V1
    # And numguard itself (v3) reads both, whatever their writer was.
    codec = EventCodec.from_registry_url(schema_registry_url, topic)
    assert codec.decode(old_data).report_generated_at is None
    assert codec.decode(new_data).report_generated_at == GENERATED


def test_an_incompatible_schema_is_refused_with_a_clear_error(
    registry: SchemaRegistryClient, topic: str
) -> None:
    subject = value_subject(topic)
    register_value_schema(registry, subject, current_schema().text, "BACKWARD", name="v3")
    breaking = json.loads(current_schema().text)
    breaking["fields"].append({"name": "required_new", "type": "string"})  # no default
    with pytest.raises(SchemaRejected) as refused:
        register_value_schema(registry, subject, json.dumps(breaking), "BACKWARD", name="v4")
    message = str(refused.value)
    assert message.startswith(
        f"the schema registry refused v4 for subject {subject} as incompatible "
        "(BACKWARD compatibility): "
    )
    assert "\n" not in message
    assert registry.get_versions(subject) == [1]


def test_an_unreachable_registry_is_a_refusal_naming_it(topic: str) -> None:
    closed = SchemaRegistryClient({"url": f"http://127.0.0.1:{free_port()}", "max.retries": 0})
    with pytest.raises(SchemaRejected, match=r"could not be reached to set the compatibility"):
        register_value_schema(closed, value_subject(topic), current_schema().text, "BACKWARD",
                              name="v3")  # fmt: skip


class _Recording(SchemaRegistryClient):
    """No server: records what numguard asks of a registry, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, object]] = []

    def set_compatibility(self, subject_name: str | None = None, level: str | None = None) -> str:
        self.calls.append(("set_compatibility", subject_name, level))
        return str(level)

    def register_schema(
        self, subject_name: str, schema: Schema, normalize_schemas: bool = False
    ) -> int:
        self.calls.append(("register_schema", subject_name, normalize_schemas))
        return 7


def test_the_level_is_set_before_the_schema_is_registered_normalized() -> None:
    """Apicurio normalizes every Avro schema itself, so the real registry above cannot
    show that numguard asks for it (Confluent's stores the text as sent unless asked)."""
    recording = _Recording()
    assert register_value_schema(recording, "t-value", "{}", "FULL", name="v3") == 7
    assert recording.calls == [
        ("set_compatibility", "t-value", "FULL"),
        ("register_schema", "t-value", True),
    ]


class _Forbidding(_Recording):
    """A registry whose credentials may register schemas but not change a subject's
    configuration (Confluent's role-based access can be set so)."""

    def set_compatibility(self, subject_name: str | None = None, level: str | None = None) -> str:
        raise SchemaRegistryError(403, 40301, "User is denied operation Write on Subject")


def test_a_level_the_registry_will_not_set_stops_registration_naming_that_step() -> None:
    forbidding = _Forbidding()
    with pytest.raises(SchemaRejected) as refused:
        register_value_schema(forbidding, "t-value", "{}", "BACKWARD", name="v3")
    assert str(refused.value) == (
        "the schema registry did not set the compatibility of subject t-value to BACKWARD "
        "(HTTP 403): User is denied operation Write on Subject"
    )
    assert forbidding.calls == []  # nothing registered under a level it could not set
