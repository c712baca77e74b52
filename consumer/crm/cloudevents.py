"""A state change as a CloudEvents 1.0 event in structured JSON mode.

    {"specversion": "1.0", "id": "<event_id>", "source": "numguard/convey",
     "type": "io.numguard.number.deactivated", "time": "2024-03-05T00:00:00Z",
     "subject": "+12025550101", "datacontenttype": "application/json",
     "data": {"mdn": ..., "event_type": "DEACTIVATED", "effective_at": ..., "new_mdn": ...,
              "carrier": ..., "source": "convey", "report_id": ..., "event_id": ...}}

The id is the event id, stable across redeliveries, so a receiver drops repeats
by id (it is also the Idempotency-Key header). `time` is when the change took
effect, which is how a receiver orders a redriven event against later ones.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from numguard.schemas.events import EventType, StateChange

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
TYPE_PREFIX = "io.numguard.number."
TYPES = {
    EventType.DEACTIVATED: TYPE_PREFIX + "deactivated",
    EventType.ACTIVATED: TYPE_PREFIX + "activated",
    EventType.SUSPENDED: TYPE_PREFIX + "suspended",
    EventType.REACTIVATED: TYPE_PREFIX + "reactivated",
    EventType.NUMBER_CHANGED: TYPE_PREFIX + "changed",
    EventType.UNDELIVERABLE: TYPE_PREFIX + "undeliverable",
}
HELD_TYPE = TYPE_PREFIX + "held"


def rfc3339(moment: datetime) -> str:
    """UTC with a Z, as CloudEvents' `time` and most JSON readers expect."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_cloudevent(change: StateChange) -> dict[str, Any]:
    """Only for event types in TYPES (the notifier dead-letters UNKNOWN ones)."""
    return {
        "specversion": SPEC_VERSION,
        "id": change.event_id,
        "source": f"numguard/{change.source}",
        "type": TYPES[change.event_type],
        "time": rfc3339(change.effective_at),
        "subject": change.mdn,
        "datacontenttype": "application/json",
        "data": {
            "mdn": change.mdn,
            "event_type": change.event_type.value,
            "effective_at": rfc3339(change.effective_at),
            "new_mdn": change.new_mdn,
            "carrier": change.carrier,
            "source": change.source,
            "report_id": change.report_id,
            "event_id": change.event_id,
        },
    }


def held_cloudevent(mdn: str, origin: str, noticed_at: datetime) -> dict[str, Any]:
    """A message of `mdn` could not be read (`consume crm --from-state` only): it may be a
    deactivation, so the store holds the number until the message is redriven. Its id is
    stable for the message; `time` is when the store saw it."""
    return {
        "specversion": SPEC_VERSION,
        "id": "unreadable:" + origin,
        "source": "numguard/store",
        "type": HELD_TYPE,
        "time": rfc3339(noticed_at),
        "subject": mdn,
        "datacontenttype": "application/json",
        "data": {"mdn": mdn, "reason": "unreadable_event", "origin": origin},
    }


def body(event: dict[str, Any]) -> bytes:
    """The request body: compact UTF-8 JSON. The signature covers exactly these bytes."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
