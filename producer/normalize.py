"""Source rows -> StateChange events, or a Rejection a person can understand.

Every source's codes are mapped onto the one event enum here, numbers become
E.164 and times UTC. A bad row is never an exception: it becomes a Rejection
that goes to the dead-letter topic.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import UTC, date, datetime, time, timedelta

from numguard.core.phone import InvalidNumber, mask, mask_numbers, north_american
from numguard.core.times import parse_time
from numguard.producer.sources.base import (
    BAD_ROW,
    Flagged,
    Normalized,
    Rejection,
    RejectKind,
    SourceRow,
)
from numguard.producer.sources.infobip_records import GENERATED_FIELD
from numguard.producer.sources.infobip_records import SOURCE as INFOBIP
from numguard.schemas.events import EventType, StateChange

CONVEY_REASONS = {
    "DEACTIVATE": EventType.DEACTIVATED,
    "SUSPEND": EventType.SUSPENDED,
    "REACTIVATE": EventType.REACTIVATED,
    "CHANGE_MDN": EventType.NUMBER_CHANGED,
}
# Convey puts the value 1 in NEW_MDN for every reason but CHANGE_MDN.
CONVEY_NO_NEW_MDN = "1"


# C0 and C1 control characters (line breaks included) and DEL: never part of a number,
# a date or a carrier's name. A NUL in a field stopped the PostgreSQL store for good.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(row: SourceRow) -> dict[str, str]:
    """The row's fields with each control character read as a space, ends stripped: a
    NUL inside a number must not lose the deactivation, nor reach the store."""
    # isprintable() is false for every control character: the common clean field skips
    # the regex (a tenth of a row's normalizing).
    return {
        name: value.strip() if value.isprintable() else _CONTROL.sub(" ", value).strip()
        for name, value in row.fields.items()
    }


# A change dated later than this after its report's day (or after it was read) is not
# a change that happened: a typo such as 9999-12-31 would block a number for ever.
CREDIBLE_AHEAD = timedelta(days=1)
# Feeds whose report ids carry the report's day: Convey's file names, Twilio's lists.
_REPORT_DAY = re.compile(r"([0-9]{4})[-_]?([0-9]{2})[-_]?([0-9]{2})")
_DAY_IN_REPORT_ID = frozenset({"convey", "twilio", "govdelivery", "vibes", "vonage", "aws-sms"})


def _too_far_ahead(row: SourceRow, effective_at: datetime, ingested_at: datetime) -> str | None:
    """Why `effective_at` cannot be believed, or None: not after the end of the day
    following the report's own day, nor more than a day after the row was read."""
    limit = ingested_at + CREDIBLE_AHEAD
    if (day := _report_day(row)) is not None:
        limit = min(limit, datetime.combine(day + 2 * CREDIBLE_AHEAD, time(), UTC))
    if effective_at < limit:
        return None
    return (
        f"dated {effective_at.isoformat()}, after {limit.isoformat()}: later than a day "
        "after its report, so not a change that has happened"
    )


def _report_day(row: SourceRow) -> date | None:
    return _day_in_report_id(row.source, row.report_id)


@functools.lru_cache(maxsize=1024)  # asked twice a row, of a few reports a run
def _day_in_report_id(source: str, report_id: str) -> date | None:
    if source not in _DAY_IN_REPORT_ID or not (found := _REPORT_DAY.search(report_id)):
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def _rejected(row: SourceRow, kind: RejectKind, reason: str) -> Rejection:
    """A rejection whose reason masks every number it quotes, however written: a
    shifted column can put a number in any field."""
    return Rejection(row, kind, mask_numbers(reason))


def event_id(source: str, report_id: str, content: str) -> str:
    """Same source, report and row content -> same id, so re-ingesting is harmless."""
    digest = hashlib.sha256(f"{source}\x1f{report_id}\x1f{content}".encode()).hexdigest()
    return digest[:32]


def _change(
    row: SourceRow, mdn: str, event_type: EventType, effective_at: datetime,
    new_mdn: str | None, carrier: str | None, raw_reason: str, ingested_at: datetime,
) -> StateChange:  # fmt: skip
    """The event for a row; its id comes from the source, the report and what changed."""
    content = f"{mdn}|{event_type}|{effective_at.isoformat()}|{new_mdn}|{carrier}|{raw_reason}"
    return StateChange(
        event_id=event_id(row.source, row.report_id, content),
        mdn=mdn,
        event_type=event_type,
        effective_at=effective_at,
        new_mdn=new_mdn,
        carrier=carrier,
        source=row.source,
        report_id=row.report_id,
        report_position=row.position,
        raw_reason=raw_reason,
        ingested_at=ingested_at,
        report_generated_at=_generated_at(row),
    )


def _generated_at(row: SourceRow) -> datetime | None:
    """When the row's report was generated: Infobip says so; a daily file's day stands
    for it (the file of a later day is the later report); None when unknown."""
    if row.source == INFOBIP and (text := row.fields.get(GENERATED_FIELD)):
        try:
            return parse_time(text)
        except ValueError:
            return None
    day = _report_day(row)
    return datetime.combine(day, time(), UTC) if day is not None else None


def convey_row(row: SourceRow, ingested_at: datetime) -> Normalized:
    fields = printable(row)
    if BAD_ROW in fields:
        return _rejected(row, RejectKind.BAD_SHAPE, fields[BAD_ROW])
    code = fields["REASON_CODE"].upper()
    event_type = CONVEY_REASONS.get(code)
    if event_type is None:
        known = ", ".join(CONVEY_REASONS)
        return _rejected(
            row,
            RejectKind.UNKNOWN_TYPE,
            f"unknown REASON_CODE {fields['REASON_CODE']!r} (known: {known})",
        )
    try:
        mdn = north_american(fields["MDN"])
    except InvalidNumber:
        return _rejected(
            row, RejectKind.BAD_NUMBER, f"MDN {mask(fields['MDN'])!r} is not a phone number"
        )
    try:
        effective_at = parse_time(fields["MODIFICATION_DATE"])
    except ValueError:
        return _rejected(
            row,
            RejectKind.BAD_TIME,
            f"MODIFICATION_DATE {fields['MODIFICATION_DATE']!r} is not an ISO 8601 time",
        )
    if problem := _too_far_ahead(row, effective_at, ingested_at):
        return _rejected(row, RejectKind.BAD_TIME, f"MODIFICATION_DATE {problem}")
    carrier = fields["CARRIER_NAME"] or None
    if event_type is not EventType.NUMBER_CHANGED:
        return _change(row, mdn, event_type, effective_at, None, carrier, code, ingested_at)
    try:
        new_mdn = north_american(fields["NEW_MDN"])
    except InvalidNumber:
        # The old number was deactivated for certain; only where it went is unknown.
        change = _change(row, mdn, event_type, effective_at, None, carrier, code, ingested_at)
        return _without_new_number(row, change, "CHANGE_MDN", "NEW_MDN")
    return _change(row, mdn, event_type, effective_at, new_mdn, carrier, code, ingested_at)


def _without_new_number(row: SourceRow, change: StateChange, what: str, field: str) -> Flagged:
    """The change published without its new number, and a warning saying why."""
    value = printable(row).get(field, "")
    warning = (
        f"{what} published without its new number: {field} {mask(value)!r} is not a phone "
        "number (the old number's deactivation stands)"
    )
    return Flagged(change, _rejected(row, RejectKind.BAD_NEW_NUMBER, warning))


def daily_list_line(row: SourceRow, ingested_at: datetime) -> Normalized:
    """A number on a day's list of deactivations (Twilio, GovDelivery): deactivated at the
    start of that UTC day."""
    text = printable(row)["number"]
    try:
        mdn = north_american(text)
    except InvalidNumber:
        return _rejected(row, RejectKind.BAD_NUMBER, f"{mask(text)!r} is not a phone number")
    effective_at = datetime.fromisoformat(row.fields["date"]).replace(tzinfo=UTC)
    return _change(
        row, mdn, EventType.DEACTIVATED, effective_at, None, None, "DEACTIVATION", ingested_at
    )


INFOBIP_TYPES = {
    "DEACTIVATION": EventType.DEACTIVATED,
    "SUSPENSION": EventType.SUSPENDED,
    "REACTIVATION": EventType.REACTIVATED,
    # Activated again after a deactivation: a new owner, whose consent is still to come.
    "ACTIVATION": EventType.ACTIVATED,
}


def infobip_item(row: SourceRow, ingested_at: datetime) -> Normalized:
    fields = printable(row)
    if "_item" in fields:
        return _rejected(row, RejectKind.BAD_SHAPE, "a record that is not a JSON object")
    kind = fields.get("type", "")
    event_type = INFOBIP_TYPES.get(kind.upper())
    if event_type is None:
        return _rejected(
            row,
            RejectKind.UNKNOWN_TYPE,
            f"unknown type {kind!r} (known: {', '.join(INFOBIP_TYPES)})",
        )
    try:
        mdn = north_american(fields.get("destination", ""))
    except InvalidNumber:
        return _rejected(
            row,
            RejectKind.BAD_NUMBER,
            f"destination {mask(fields.get('destination', ''))!r} is not a number",
        )
    try:
        effective_at = parse_time(fields.get("date", ""))
    except ValueError:
        return _rejected(
            row, RejectKind.BAD_TIME, f"date {fields.get('date', '')!r} is not an ISO 8601 time"
        )
    if problem := _too_far_ahead(row, effective_at, ingested_at):
        return _rejected(row, RejectKind.BAD_TIME, f"date {problem}")
    carrier = fields.get("networkName") or None
    if not fields.get("newDestination"):
        return _change(row, mdn, event_type, effective_at, None, carrier, kind, ingested_at)
    try:
        new_mdn = north_american(fields["newDestination"])
    except InvalidNumber:
        # The type stands as the carrier gave it (a deactivation stays one); only the
        # replacement number is unknown.
        change = _change(row, mdn, event_type, effective_at, None, carrier, kind, ingested_at)
        return _without_new_number(row, change, kind or "the record", "newDestination")
    if event_type is EventType.DEACTIVATED:
        event_type = EventType.NUMBER_CHANGED  # the old number was replaced by new_mdn
    return _change(row, mdn, event_type, effective_at, new_mdn, carrier, kind, ingested_at)


def vibes_row(row: SourceRow, ingested_at: datetime) -> Normalized:
    """A number in a Vibes disconnect file: disconnected at the start of the file's UTC
    day; the carrier code (opaque: Vibes' table of them is not public) is the carrier."""
    fields = printable(row)
    if BAD_ROW in fields:
        return _rejected(row, RejectKind.BAD_SHAPE, fields[BAD_ROW])
    try:
        mdn = north_american(fields["number"])
    except InvalidNumber:
        return _rejected(row, RejectKind.BAD_NUMBER,
                         f"{mask(fields['number'])!r} is not a North American number")  # fmt: skip
    effective_at = datetime.fromisoformat(fields["date"]).replace(tzinfo=UTC)
    carrier = f"carrier code {fields['carrier_code']}" if fields["carrier_code"] else None
    return _change(row, mdn, EventType.DEACTIVATED, effective_at, None, carrier, "DISCONNECT",
                   ingested_at)  # fmt: skip
