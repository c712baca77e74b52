"""No text in an event stops the store: NUL, control characters, 64 KB, non-BMP, on both
backends (issue 11, case 1: one NUL stopped the PostgreSQL store for good)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from numguard.consumer.store import Consumed, SqlStore
from numguard.consumer.store.rules import decide
from numguard.schemas.events import EventType
from tests.builders import NUMBER, change

HOSTILE = {
    "nul": "Veri\x00zon",
    "controls": "".join(chr(c) for c in range(1, 32)) + "\x7f\x85",
    "64 KB": "x" * 65_536,
    "non-BMP": "Carrier \U0001f4f5 \U00010348",
    "lone surrogate": "bad \ud800 text",
}
TEXT_FIELDS = ("carrier", "raw_reason", "report_id", "source", "event_id", "new_mdn")


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_in_any_field_is_stored_and_the_number_still_blocks(
    store: SqlStore, field: str, text: str
) -> None:
    fields: dict[str, Any] = {field: text}
    event = replace(change(EventType.NUMBER_CHANGED, "2024-03-05", new_mdn="+12025550199"),
                    **fields)  # fmt: skip
    store.apply_batch([Consumed(event, "t", 0, 0)], {("t", 0): 1}, "g")
    later = change(EventType.DEACTIVATED, "2024-04-01", position=2)  # the store goes on
    store.apply_batch([Consumed(later, "t", 0, 1)], {("t", 0): 2}, "g")
    decision = decide(NUMBER, store.state(NUMBER), None)
    assert (decision.verdict, decision.reason) == ("block", "deactivated")
    assert store.offsets("g", "t") == {0: 2}
