"""The event the whole pipeline carries: one state change of one number."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class EventType(enum.StrEnum):
    DEACTIVATED = "DEACTIVATED"
    # The number was activated again, for a new owner: voids consents like a deactivation.
    ACTIVATED = "ACTIVATED"
    SUSPENDED = "SUSPENDED"
    REACTIVATED = "REACTIVATED"
    NUMBER_CHANGED = "NUMBER_CHANGED"
    # What a reader sees for a symbol a newer schema added (the Avro enum default).
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class StateChange:
    event_id: str
    mdn: str
    event_type: EventType
    effective_at: datetime
    new_mdn: str | None
    carrier: str | None
    source: str
    report_id: str
    report_position: int
    raw_reason: str
    ingested_at: datetime

    @property
    def order_key(self) -> tuple[datetime, str, int, str]:
        """Total order of changes to one number: effective time, then report, then
        position in it; the event id only breaks ties between identical rows."""
        return (self.effective_at, self.report_id, self.report_position, self.event_id)
