"""The event the whole pipeline carries: one state change of one number."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

# The contract's form of a number: E.164, `+` and 8 to 15 ASCII digits.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")


class EventType(enum.StrEnum):
    DEACTIVATED = "DEACTIVATED"
    # The number was activated again, for a new owner: voids consents like a deactivation.
    ACTIVATED = "ACTIVATED"
    SUSPENDED = "SUSPENDED"
    REACTIVATED = "REACTIVATED"
    NUMBER_CHANGED = "NUMBER_CHANGED"
    # What a reader sees for a symbol a newer schema added (the Avro enum default).
    UNKNOWN = "UNKNOWN"
    # A message to the number failed permanently with a code meaning the number is gone
    # (the sender's own delivery reports, schema v3); raw_reason holds the code.
    UNDELIVERABLE = "UNDELIVERABLE"


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
    # When the report was generated (or its day, for daily files); None: unknown. It breaks
    # ties between changes of one number at the same effective time: the later report wins.
    report_generated_at: datetime | None = None
