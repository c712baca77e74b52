"""The one codec for the event contract: StateChange <-> Avro bytes.

Two wire framings, both decoded transparently:

* Avro single-object encoding (the default): 0xC3 0x01, the 8-byte little-endian
  CRC-64-AVRO fingerprint of the writer schema, then the Avro body. Any Avro
  reader holding the schema files in this package can decode it, no server needed.
* Confluent Schema Registry framing: 0x00, a 4-byte big-endian schema id, then
  the body. Used when a registry URL is configured; the schema is registered under
  `<topic>-value` with the subject's compatibility set first (see registry.py).

The bodies are written and read with fastavro directly: confluent-kafka's own
AvroSerializer/AvroDeserializer are several times slower on this workload.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from numguard.schemas.events import E164, EventType, StateChange
from numguard.schemas.registry import (
    DEFAULT_COMPATIBILITY,
    Compatibility,
    register_value_schema,
    value_subject,
)

if TYPE_CHECKING:  # imported where used: a registry is optional, and its client heavy
    from confluent_kafka.schema_registry import SchemaRegistryClient

SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
_SCHEMA_PREFIX = "number_state_change.v"


class CodecMisconfigured(RuntimeError):
    """The data is framed for a setting this reader lacks (a schema registry): a
    configuration error, not a bad message. Every message would fail the same way,
    so the reader must stop, not dead-letter them one by one."""


class UndecodableEvent(ValueError):
    """The bytes are not a NumberStateChange any known schema can read."""


@dataclass(frozen=True)
class SchemaVersion:
    version: int
    text: str
    parsed: Any
    fingerprint: bytes


def _load_version(version: int, text: str) -> SchemaVersion:
    parsed = fastavro.parse_schema(json.loads(text))
    canonical = to_parsing_canonical_form(parsed)
    # fastavro returns the fingerprint's little-endian bytes as hex, as the spec frames it.
    return SchemaVersion(
        version, text, parsed, bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    )


@cache
def schema_versions() -> tuple[SchemaVersion, ...]:
    """Every committed version of the event schema, oldest first."""
    folder = resources.files("numguard.schemas") / "avro"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith(_SCHEMA_PREFIX) and name.endswith(".avsc"):
            version = int(name.removeprefix(_SCHEMA_PREFIX).removesuffix(".avsc"))
            found.append(_load_version(version, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda v: v.version))


def current_schema() -> SchemaVersion:
    return schema_versions()[-1]


def to_record(change: StateChange) -> dict[str, Any]:
    return {
        "event_id": change.event_id,
        "mdn": change.mdn,
        "event_type": change.event_type.value,
        "effective_at": change.effective_at,
        "new_mdn": change.new_mdn,
        "carrier": change.carrier,
        "source": change.source,
        "report_id": change.report_id,
        "report_position": change.report_position,
        "raw_reason": change.raw_reason,
        "ingested_at": change.ingested_at,
        "report_generated_at": change.report_generated_at,
    }


# A dict lookup: EventType(symbol) costs as much as the rest of the conversion.
_EVENT_TYPES = {t.value: t for t in EventType}


def from_record(record: dict[str, Any]) -> StateChange:
    return StateChange(
        event_id=record["event_id"],
        mdn=record["mdn"],
        event_type=_EVENT_TYPES.get(record["event_type"]) or EventType(record["event_type"]),
        effective_at=record["effective_at"],
        new_mdn=record["new_mdn"],
        carrier=record["carrier"],
        source=record["source"],
        report_id=record["report_id"],
        report_position=record["report_position"],
        raw_reason=record["raw_reason"],
        ingested_at=record["ingested_at"],
        report_generated_at=record.get("report_generated_at"),  # absent before v2
    )


class EventCodec:
    """Encode with the current schema; decode anything written with a known one.

    With `registry` set, the current schema is registered under `subject` once (by
    `register()`, or the first encode), after setting the subject's `compatibility`
    (None: left as the registry has it), and encode writes Confluent framing; decode
    still reads single-object bytes.
    """

    def __init__(
        self,
        registry: SchemaRegistryClient | None = None,
        subject: str = "",
        compatibility: Compatibility | None = DEFAULT_COMPATIBILITY,
    ) -> None:
        self._writer = current_schema()
        self._by_fingerprint = {v.fingerprint: v.parsed for v in schema_versions()}
        self._registry = registry
        self._subject = subject
        self._compatibility = compatibility
        self._registered_prefix: bytes | None = None
        self._by_registry_id: dict[int, Any] = {}

    @classmethod
    def from_registry_url(
        cls,
        url: str | None,
        topic: str,
        compatibility: Compatibility | None = DEFAULT_COMPATIBILITY,
    ) -> EventCodec:
        """A codec for `topic`: registry framing when `url` is set, single-object otherwise."""
        if not url:
            return cls()
        # new_client() also understands confluent-kafka's in-process "mock://" registry
        # (which cannot set a compatibility level: pass None with it).
        from confluent_kafka.schema_registry import SchemaRegistryClient

        client = SchemaRegistryClient.new_client({"url": url})
        return cls(client, value_subject(topic), compatibility)

    def register(self) -> None:
        """With a registry, register the current schema now: a command that publishes
        calls this first, so a registry's refusal (registry.SchemaRejected) stops it
        before it reads or publishes anything. Without one, nothing to do."""
        self._prefix()

    def encode(self, change: StateChange) -> bytes:
        out = io.BytesIO()
        out.write(self._prefix())
        fastavro.schemaless_writer(out, self._writer.parsed, to_record(change))
        return out.getvalue()

    def decode(self, data: bytes | None) -> StateChange:
        if not data:
            raise UndecodableEvent("empty message value")
        writer, body_start = self._writer_schema(data)
        try:
            record = fastavro.schemaless_reader(
                io.BytesIO(data[body_start:]), writer, self._writer.parsed
            )
        except Exception as error:  # fastavro raises many types for corrupt bodies
            raise UndecodableEvent(f"corrupt Avro body: {error}") from error
        return from_record(record)  # type: ignore[arg-type]

    def decode_record(self, key: bytes | None, value: bytes | None) -> StateChange:
        """A consumed record's event, checked as every consumer needs it: a type this
        version knows, and the record's key equal to the event's number (the key
        decides the partition, so per-number order depends on it).
        Raises UndecodableEvent otherwise."""
        change = self.decode(value)
        if change.event_type is EventType.UNKNOWN:
            raise UndecodableEvent("event type unknown to this version of numguard")
        if not E164.fullmatch(change.mdn):
            raise UndecodableEvent("the event's number is not E.164 (+ and 8 to 15 digits)")
        if key != change.mdn.encode():
            raise UndecodableEvent("message key is not the event's number")
        return change

    def _prefix(self) -> bytes:
        if self._registry is None:
            return SINGLE_OBJECT_MARKER + self._writer.fingerprint
        if self._registered_prefix is None:
            schema_id = register_value_schema(
                self._registry, self._subject, self._writer.text, self._compatibility,
                name=f"{_SCHEMA_PREFIX}{self._writer.version}.avsc",
            )  # fmt: skip
            self._by_registry_id[schema_id] = self._writer.parsed
            self._registered_prefix = CONFLUENT_MAGIC + struct.pack(">I", schema_id)
        return self._registered_prefix

    def _writer_schema(self, data: bytes) -> tuple[Any, int]:
        if data.startswith(SINGLE_OBJECT_MARKER):
            found = self._by_fingerprint.get(data[2:10])
            if found is None:
                raise UndecodableEvent(f"unknown schema fingerprint {data[2:10].hex()}")
            return found, 10
        if data.startswith(CONFLUENT_MAGIC) and len(data) >= 5:
            (schema_id,) = struct.unpack(">I", data[1:5])
            return self._registry_schema(schema_id), 5
        raise UndecodableEvent("not Avro single-object or Confluent-framed data")

    def _registry_schema(self, schema_id: int) -> Any:
        if schema_id not in self._by_registry_id:
            if self._registry is None:
                raise CodecMisconfigured(
                    f"the topic holds Confluent Schema Registry framing (schema id {schema_id}) "
                    "but no schema registry is configured: set --schema-registry-url or "
                    "NUMGUARD_SCHEMA_REGISTRY_URL"
                )
            from confluent_kafka.schema_registry.error import SchemaRegistryError

            try:
                text = self._registry.get_schema(schema_id).schema_str
            except SchemaRegistryError as error:
                if error.http_status_code != 404:
                    raise  # the registry is unwell: retry later, the message is not at fault
                raise UndecodableEvent(
                    f"schema id {schema_id} is unknown to the registry"
                ) from error
            if not text:
                raise UndecodableEvent(f"schema id {schema_id}: the registry gave no schema text")
            self._by_registry_id[schema_id] = fastavro.parse_schema(json.loads(text))
        return self._by_registry_id[schema_id]
