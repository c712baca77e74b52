"""Registering the event schema with a Confluent-compatible Schema Registry.

Subjects follow TopicNameStrategy: the events' value schema lives under `<topic>-value`.
Before registering, numguard sets the subject's compatibility level (BACKWARD unless
configured otherwise), so the registry itself refuses a schema whose readers could not
read the data already on the topic; the schema is registered normalized, so an
equivalent text (another order of attributes, other spacing) is the same version.

A refusal is a configuration error, not a bad event: every event would fail alike,
so the caller stops with one line instead of publishing or dead-lettering anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast, get_args

if TYPE_CHECKING:  # the client is imported where used: most commands never need it
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

# Confluent Schema Registry's compatibility levels.
Compatibility = Literal[
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
]
COMPATIBILITY_LEVELS: tuple[str, ...] = get_args(Compatibility)
# New versions may add optional fields and enum symbols (with the enum's default):
# consumers on the new schema still read every event already on the topic.
DEFAULT_COMPATIBILITY: Compatibility = "BACKWARD"
_INCOMPATIBLE = 409
_INVALID = 422
_REASON_CHARACTERS = 400


class SchemaRejected(RuntimeError):
    """The registry refused numguard's schema (incompatible, invalid, not allowed) or
    could not be reached to register it: nothing can be published."""


def compatibility_level(value: str) -> Compatibility:
    """`value` as a compatibility level; ValueError naming the levels otherwise."""
    if value not in COMPATIBILITY_LEVELS:
        raise ValueError(f"expected one of {', '.join(COMPATIBILITY_LEVELS)}, got {value!r}")
    return cast(Compatibility, value)


def value_subject(topic: str) -> str:
    """TopicNameStrategy's subject for the values of `topic`."""
    return f"{topic}-value"


def register_value_schema(
    registry: SchemaRegistryClient,
    subject: str,
    schema_text: str,
    compatibility: Compatibility | None,
    *,
    name: str,
) -> int:
    """Set `subject`'s compatibility (unless None: left as the registry has it), then
    register `schema_text` (an Avro schema called `name` in messages) normalized; return
    its schema id. Raises SchemaRejected with the registry's reason."""
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.common._httpx_compat import httpx
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    step = f"set the compatibility of subject {subject} to {compatibility}"
    try:
        if compatibility is not None:
            registry.set_compatibility(subject, compatibility)
        step = f"register {name} for subject {subject}"
        schema = Schema(schema_text, "AVRO")
        return registry.register_schema(subject, schema, normalize_schemas=True)
    except SchemaRegistryError as error:
        raise SchemaRejected(_refusal(error, step, subject, name, compatibility)) from error
    except httpx.HTTPError as error:  # retried by the client before it gives up
        raise SchemaRejected(
            f"the schema registry could not be reached to {step}: {error}"
        ) from error


def _refusal(
    error: SchemaRegistryError, step: str, subject: str, name: str, compatibility: str | None
) -> str:
    # One line; Confluent's registry quotes the whole earlier schema after its reasons.
    reason = " ".join(str(error.error_message).split()).partition("{oldSchema")[0]
    if len(reason) > _REASON_CHARACTERS:
        reason = reason[:_REASON_CHARACTERS] + "…"
    registering = step.startswith("register")
    if registering and error.http_status_code == _INCOMPATIBLE:
        level = compatibility or "the subject's"
        what = f"refused {name} for subject {subject} as incompatible ({level} compatibility)"
    elif registering and error.http_status_code == _INVALID:
        what = f"refused {name} for subject {subject} as invalid"
    else:
        what = f"did not {step} (HTTP {error.http_status_code})"
    return f"the schema registry {what}: {reason}"
