"""Small builders for test events."""

from __future__ import annotations

from datetime import UTC, datetime

from numguard.producer.normalize import event_id
from numguard.schemas.events import EventType, StateChange

NUMBER = "+12025550100"


def at(text: str) -> datetime:
    """`2024-03-05` or `2024-03-05T11:00` as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def change(
    event_type: EventType,
    when: str,
    *,
    mdn: str = NUMBER,
    new_mdn: str | None = None,
    report_id: str = "report-1",
    position: int = 1,
    source: str = "convey",
    generated: str | None = None,
) -> StateChange:
    content = f"{mdn}|{event_type}|{when}|{new_mdn}|{position}"
    return StateChange(
        event_id=event_id(source, report_id, content),
        mdn=mdn,
        event_type=event_type,
        effective_at=at(when),
        new_mdn=new_mdn,
        carrier="Verizon Wireless",
        source=source,
        report_id=report_id,
        report_position=position,
        raw_reason=event_type.value,
        ingested_at=at("2024-06-01"),
        report_generated_at=at(generated) if generated else None,
    )
