"""The typed keys of the CRM configuration: parsing from TOML and the environment, checking.

Kept apart from config.py so the list of keys, their types and their bounds is
in one place, and the same checks serve a value from the file or from a variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from numguard.schemas.events import EventType


@dataclass(frozen=True)
class Backoff:
    initial_seconds: float = 1.0
    max_seconds: float = 60.0


@dataclass(frozen=True)
class Key:
    kind: str  # "str", "int", "float" or "event_types"
    minimum: float | None = None  # values must be >= minimum (> 0 when minimum is 0 and strict)
    strict: bool = False


ENDPOINT_KEYS: dict[str, Key] = {
    "url": Key("str"),
    "secret_env": Key("str"),
    "event_types": Key("event_types"),
    "timeout_seconds": Key("float", 0, strict=True),
    "max_concurrency": Key("int", 1),
    "max_attempts": Key("int", 1),
    "backoff.initial_seconds": Key("float", 0, strict=True),
    "backoff.max_seconds": Key("float", 0, strict=True),
}
NOTIFIER_KEYS: dict[str, Key] = {
    "max_pending_per_partition": Key("int", 1),
    "shutdown_grace_seconds": Key("float", 0),
}
_KNOWN_TYPES = {t.value: t for t in EventType if t is not EventType.UNKNOWN}

T = TypeVar("T")


def variable(prefix: str, key: str) -> str:
    return (prefix + key).upper().replace(".", "_").replace("-", "_")


def apply_env(
    table: dict[str, Any],
    keys: Mapping[str, Key],
    prefix: str,
    environ: Mapping[str, str],
    problems: list[str],
) -> None:
    """Put each variable that is set over the file's value, parsed to the key's type."""
    for key, spec in keys.items():
        name = variable(prefix, key)
        if name not in environ:
            continue
        text = environ[name].strip()
        try:
            if spec.kind == "int":
                table[key] = int(text)
            elif spec.kind == "float":
                table[key] = float(text)
            elif spec.kind == "event_types":
                table[key] = [part.strip() for part in text.split(",") if part.strip()]
            else:
                table[key] = text
        except ValueError:
            problems.append(f"{name}: expected {_describe(spec)}, got {text!r}")


def _describe(spec: Key) -> str:
    return {"int": "an integer", "float": "a number", "str": "a string"}.get(
        spec.kind, "a list of event types"
    )


def check(where: str, value: Any, spec: Key, problems: list[str]) -> Any:
    """The value converted to the key's type, or None after recording the problem."""
    if spec.kind == "event_types":
        return _event_types(where, value, problems)
    wanted: tuple[type, ...] = {"str": (str,), "int": (int,), "float": (int, float)}[spec.kind]
    if isinstance(value, bool) or not isinstance(value, wanted):
        problems.append(f"{where}: expected {_describe(spec)}, got {type(value).__name__}")
        return None
    return _bounded(where, value, spec, problems)


def _bounded(where: str, value: Any, spec: Key, problems: list[str]) -> Any:
    """A value already of the key's type, checked against its bounds."""
    if spec.kind == "str":
        if not value.strip():
            problems.append(f"{where}: must not be empty")
            return None
        return value.strip()
    if spec.minimum is not None:
        too_small = value <= spec.minimum if spec.strict else value < spec.minimum
        if too_small:
            bound = "greater than" if spec.strict else "at least"
            problems.append(f"{where}: must be {bound} {spec.minimum:g}, got {value}")
            return None
    return float(value) if spec.kind == "float" else value


def _event_types(where: str, value: Any, problems: list[str]) -> frozenset[EventType] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        problems.append(f"{where}: expected a non-empty list of event type names")
        return None
    unknown = [v for v in value if v.strip().upper() not in _KNOWN_TYPES]
    if unknown:
        problems.append(
            f"{where}: unknown event type(s) {', '.join(unknown)} "
            f"(known: {', '.join(_KNOWN_TYPES)})"
        )
        return None
    return frozenset(_KNOWN_TYPES[v.strip().upper()] for v in value)


def check_table(
    where: str, table: Mapping[str, Any], keys: Mapping[str, Key], problems: list[str]
) -> dict[str, Any]:
    """The valid values; each unknown key and each invalid value recorded in `problems`."""
    values: dict[str, Any] = {}
    for key in table:
        if key not in keys:
            problems.append(f"{where}.{key}: unknown key")
    for key, spec in keys.items():
        if key in table:
            value = check(f"{where}.{key}", table[key], spec, problems)
            if value is not None:  # 0 is a valid grace time
                values[key] = value
    return values


def build(cls: type[T], table: Mapping[str, Any], where: str, problems: list[str]) -> T | None:
    before = len(problems)
    values = check_table(where, table, NOTIFIER_KEYS, problems)
    return cls(**values) if len(problems) == before else None


def build_endpoint(where: str, table: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """The Endpoint's valid arguments (all but the secret); problems recorded."""
    fields = {key: value for key, value in table.items() if key != "name"}
    values = check_table(where, fields, ENDPOINT_KEYS, problems)
    default = Backoff()
    backoff = Backoff(
        values.pop("backoff.initial_seconds", default.initial_seconds),
        values.pop("backoff.max_seconds", default.max_seconds),
    )
    if backoff.max_seconds < backoff.initial_seconds:
        problems.append(f"{where}.backoff.max_seconds: must be at least initial_seconds "
                        f"({backoff.initial_seconds:g})")  # fmt: skip
    return {"name": table["name"], **values, "backoff": backoff}
