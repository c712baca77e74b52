"""A pydantic ValidationError as numguard's problem lines: `key.path: what is wrong`.

One wording for every setting, from the file or the environment:
    produce.lookback_days: expected an integer, got str '7'
    notifier.max_pending_per_partition: must be at least 1, got 0
    endpoints.b.timeout_seconds: must be greater than 0, got -1
    kafka.topik: unknown key
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "string_type": "a string",
    "bool_type": "true or false", "bool_parsing": "true or false", "dict_type": "a table",
    "model_type": "a table", "list_type": "a list", "tuple_type": "a list",
    "frozen_set_type": "a list",
}  # fmt: skip

Label = Callable[[Sequence[int | str]], str]


def lines(error: ValidationError, label: Label | None = None) -> list[str]:
    """Each problem once, in the order found; `label` names a location (default: dotted)."""
    name = label or dotted
    return list(dict.fromkeys(f"{name(e['loc'])}: {describe(e)}" for e in error.errors()))


def dotted(loc: Sequence[int | str]) -> str:
    return (
        ".".join(f"[{part}]" if isinstance(part, int) else part for part in loc).replace(".[", "[")
        or "(top)"
    )


def describe(error: ErrorDetails) -> str:
    kind, given, context = error["type"], error["input"], error.get("ctx", {})
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {type(given).__name__} {given!r}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"must be {_BOUNDS[kind]} {_number(context)}, got {given!r}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(context.get("error", error["msg"]))
    return f"{error['msg']}, got {_short(given)}"


_BOUNDS = {"greater_than_equal": "at least", "greater_than": "greater than",
           "less_than_equal": "at most", "less_than": "less than"}  # fmt: skip


def _number(context: dict[str, Any]) -> str:
    bound = next(iter(context.values()))
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
