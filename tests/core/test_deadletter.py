"""The one dead-letter record: the same JSON shape for every stage that writes one."""

from __future__ import annotations

import json

from numguard.core.deadletter import DeadLetter, Delivery


def test_a_rejected_row_carries_only_what_it_has() -> None:
    letter = DeadLetter(reason="bad number", stage="ingest", kind="bad_number", position=7)
    record = json.loads(letter.to_json())
    assert {"reason", "stage", "kind", "position", "dead_lettered_at"} == set(record)
    assert dict(letter.headers()) == {"numguard.reason": b"bad number",
                                      "numguard.stage": b"ingest"}  # fmt: skip


def test_a_failed_delivery_always_shows_its_four_delivery_fields() -> None:
    letter = DeadLetter(reason="undecodable: x", stage="consume crm", raw="c301",
                        delivery=Delivery(None, None, 0, None))  # fmt: skip
    record = json.loads(letter.to_json())
    assert (record["endpoint"], record["status"], record["attempts"], record["last_error"]) == (
        None, None, 0, None,
    )  # fmt: skip
    assert "event" not in record and record["raw"] == "c301"
    assert dict(letter.headers())["numguard.endpoint"] == b""
