"""The event contract: Avro single-object encoding, Confluent framing, evolution."""

from __future__ import annotations

import io
import json
import struct
import uuid
from dataclasses import replace

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from numguard.schemas.codec import (
    SINGLE_OBJECT_MARKER,
    CodecMisconfigured,
    EventCodec,
    SchemaVersion,
    UndecodableEvent,
    current_schema,
    schema_versions,
)
from numguard.schemas.events import EventType, StateChange
from tests.builders import change


def crc64_avro(data: bytes) -> int:
    """The Avro specification's reference fingerprint algorithm, written out independently."""
    empty = 0xC15D213AA4D7A795
    table = []
    for index in range(256):
        value = index
        for _ in range(8):
            value = (value >> 1) ^ (empty if value & 1 else 0)
        table.append(value)
    fingerprint = empty
    for byte in data:
        fingerprint = (fingerprint >> 8) ^ table[(fingerprint ^ byte) & 0xFF]
    return fingerprint


def sample() -> StateChange:
    return change(EventType.NUMBER_CHANGED, "2024-03-05T11:00", new_mdn="+12025550199")


def test_single_object_encoding_round_trips() -> None:
    codec = EventCodec()
    assert codec.decode(codec.encode(sample())) == sample()


def test_single_object_header_is_marker_then_little_endian_crc64_fingerprint() -> None:
    data = EventCodec().encode(sample())
    canonical = fastavro.schema.to_parsing_canonical_form(current_schema().parsed)
    assert data[:2] == SINGLE_OBJECT_MARKER == b"\xc3\x01"
    assert data[2:10] == struct.pack("<Q", crc64_avro(canonical.encode()))


def test_any_avro_reader_with_the_schema_file_decodes_the_body() -> None:
    data = EventCodec().encode(sample())
    schema = fastavro.parse_schema(json.loads(current_schema().text))
    record = fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, None)
    assert isinstance(record, dict)
    assert record["mdn"] == "+12025550100"
    assert record["event_type"] == "NUMBER_CHANGED"
    assert record["new_mdn"] == "+12025550199"


def mock_registry(name: str) -> SchemaRegistryClient:
    """confluent-kafka's in-process mock, for the framing bytes alone: the registry path
    itself is tested against a real registry (test_registry.py). The mock cannot set a
    compatibility level, so codecs on it leave the level alone (None)."""
    return SchemaRegistryClient.new_client({"url": f"mock://{name}"})


def test_confluent_framing_is_zero_then_the_big_endian_schema_id_then_the_body() -> None:
    registry = mock_registry("numguard-codec-test")
    codec = EventCodec(registry, subject="events-value", compatibility=None)
    data = codec.encode(sample())
    (schema_id,) = struct.unpack(">I", data[1:5])
    assert data[0] == 0
    assert json.loads(registry.get_schema(schema_id).schema_str or "") == json.loads(
        current_schema().text
    )
    body = fastavro.schemaless_reader(io.BytesIO(data[5:]), current_schema().parsed, None)
    assert isinstance(body, dict) and body["mdn"] == sample().mdn
    assert codec.decode(data) == sample()


@pytest.mark.registry
def test_a_registry_codec_still_decodes_single_object_data(schema_registry_url: str) -> None:
    codec = EventCodec.from_registry_url(schema_registry_url, "mixed-framing")
    assert codec.decode(EventCodec().encode(sample())) == sample()


def test_confluent_framed_data_without_a_registry_is_a_configuration_error() -> None:
    """Not a poison message: every message would fail alike (issue 11, case 3)."""
    registry = mock_registry("numguard-codec-noreg")
    data = EventCodec(registry, "s-value", compatibility=None).encode(sample())
    with pytest.raises(CodecMisconfigured, match="set --schema-registry-url"):
        EventCodec().decode(data)
    assert not issubclass(CodecMisconfigured, UndecodableEvent)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b'{"mdn": 1}', "not Avro"),
        (SINGLE_OBJECT_MARKER + b"\x00" * 8 + b"\x02", "unknown schema fingerprint"),
    ],
)
def test_undecodable_bytes_raise_a_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(UndecodableEvent, match=reason):
        EventCodec().decode(data)


def test_truncated_body_is_undecodable() -> None:
    data = EventCodec().encode(sample())
    with pytest.raises(UndecodableEvent, match="corrupt"):
        EventCodec().decode(data[:20])


@pytest.mark.parametrize("version", schema_versions(), ids=lambda v: f"v{v.version}")
def test_data_written_with_each_committed_schema_version_is_read_by_the_current_one(
    version: SchemaVersion,
) -> None:
    """Write with an old version's schema file exactly as committed; decode with today's codec."""
    old = fastavro.parse_schema(json.loads(version.text))
    record = {
        "event_id": "e-1", "mdn": "+12025550100", "event_type": "SUSPENDED",
        "effective_at": 1709636400000, "new_mdn": None, "carrier": "Verizon Wireless",
        "source": "convey", "report_id": "mcdn_deact_20240305.csv", "report_position": 2,
        "raw_reason": "SUSPEND", "ingested_at": 1709640000000,
    }  # fmt: skip
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old, record)
    decoded = EventCodec().decode(SINGLE_OBJECT_MARKER + version.fingerprint + body.getvalue())
    assert decoded.event_type is EventType.SUSPENDED
    assert decoded.mdn == "+12025550100"
    assert decoded.report_position == 2
    assert decoded.report_generated_at is None  # not written: unknown


def test_an_enum_symbol_from_a_newer_writer_reads_as_unknown() -> None:
    newer = json.loads(current_schema().text)
    newer["fields"][2]["type"]["symbols"].append("PORTED_OUT")
    parsed = fastavro.parse_schema(newer)
    record = {
        "event_id": "e-2", "mdn": "+12025550100", "event_type": "PORTED_OUT",
        "effective_at": 0, "new_mdn": None, "carrier": None, "source": "x",
        "report_id": "r", "report_position": 1, "raw_reason": "PORT", "ingested_at": 0,
    }  # fmt: skip
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, record)
    reader = current_schema().parsed
    decoded = fastavro.schemaless_reader(io.BytesIO(body.getvalue()), parsed, reader)
    assert isinstance(decoded, dict)
    assert decoded["event_type"] == "UNKNOWN"


@pytest.mark.parametrize("mdn", ["2025550100", "+1202555\x000100", "+1202555\uff10100", "+0123"])
def test_a_record_whose_number_is_not_e164_is_undecodable(mdn: str) -> None:
    codec = EventCodec()
    data = codec.encode(replace(sample(), mdn=mdn))
    with pytest.raises(UndecodableEvent, match=r"not E\.164"):
        codec.decode_record(mdn.encode(), data)
    assert codec.decode_record(b"+12025550100", codec.encode(sample())) == sample()


def test_the_report_generated_time_round_trips() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    generated = datetime(2024, 3, 6, 1, 0, tzinfo=UTC)
    change = replace(sample(), report_generated_at=generated)
    assert EventCodec().decode(EventCodec().encode(change)).report_generated_at == generated


@pytest.mark.parametrize("older", schema_versions()[:-1], ids=lambda v: f"v{v.version}")
@pytest.mark.parametrize("framing", ["single-object", "registry"])
def test_an_undeliverable_reads_as_unknown_to_a_reader_of_an_older_version(
    older: SchemaVersion, framing: str, request: pytest.FixtureRequest
) -> None:
    """Schema v3 adds UNDELIVERABLE (issue 14). A reader still on v1 or v2 resolves it to
    the enum's default, UNKNOWN (which numguard's store consumer holds, fail closed);
    through a real registry too: the reader gets the writer's schema by its id."""
    failed = change(EventType.UNDELIVERABLE, "2024-03-05T11:00", source="twilio-dlr")
    failed = replace(failed, raw_reason="30005")
    if framing == "registry":
        url = request.getfixturevalue("schema_registry_url")
        registry = SchemaRegistryClient({"url": url})
        codec = EventCodec.from_registry_url(url, f"evolution-{uuid.uuid4().hex[:12]}")
        data = codec.encode(failed)
        (schema_id,) = struct.unpack(">I", data[1:5])
        writer = fastavro.parse_schema(json.loads(registry.get_schema(schema_id).schema_str or ""))
        body = data[5:]
    else:
        codec = EventCodec()
        data = codec.encode(failed)
        assert data[2:10] == current_schema().fingerprint
        writer, body = current_schema().parsed, data[10:]
    record = fastavro.schemaless_reader(io.BytesIO(body), writer, older.parsed)
    assert isinstance(record, dict)
    assert (record["event_type"], record["raw_reason"]) == ("UNKNOWN", "30005")
    assert codec.decode(data).event_type is EventType.UNDELIVERABLE
