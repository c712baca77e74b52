"""Reading timestamps the same way everywhere: feeds, consent dates, the API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_time(text: str) -> datetime:
    """ISO 8601 to an aware UTC datetime; a time without an offset is read as UTC.

    Raises ValueError for anything else, including a moment that cannot be shown
    in UTC (9999-12-31T23:00:00-05:00 overflows the year): one unreadable value
    must never become an OverflowError that aborts a whole file.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(f"{text.strip()!r} is out of the range of dates") from error


def parse_date_or_time(text: str) -> date | datetime:
    """`2024-03-07` as a date; anything else as parse_time reads it.

    A consent given as a date and one given as a moment are different facts: the
    rules compare a date with the deactivation date, a moment with the start of
    the next day (see numguard.consumer.store.rules). Raises ValueError.
    """
    stripped = text.strip()
    if len(stripped) == len("yyyy-mm-dd"):
        try:
            return date.fromisoformat(stripped)
        except ValueError:
            pass  # e.g. 20240307T1: let parse_time say what it is
    return parse_time(stripped)


_OFFSET = re.compile(r"(?:UTC)?([+-])([0-9]{1,2})(?::?([0-9]{2}))?")


def parse_zone(text: str) -> tzinfo:
    """A time zone: `UTC`, a fixed offset (`UTC-11`, `-05:00`, `+0530`) or an IANA name
    (`America/New_York`). Raises ValueError naming what was given."""
    stripped = text.strip()
    if stripped.upper() in ("UTC", "Z", "GMT"):
        return UTC
    if found := _OFFSET.fullmatch(stripped.upper()):
        sign, hours, minutes = found.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset > timedelta(hours=14):
            raise ValueError(f"{text!r}: an offset beyond 14 hours")
        return timezone(-offset if sign == "-" else offset, stripped.upper())
    try:
        return ZoneInfo(stripped)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"{text!r} is not a time zone: give UTC, an offset such as UTC-11, or an IANA "
            "name such as America/New_York"
        ) from error


_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?P<fraction>\.[0-9]+)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2}))?"
)


def parse_rfc3339(text: str) -> date | datetime:
    """An RFC 3339 full-date, or date-time with its offset (what JSON Schema's `date` and
    `date-time` formats name), as a date or an aware UTC datetime; ValueError otherwise.

    The API reads consents this strictly: a moment without an offset is ambiguous by
    hours, which around midnight decides whether a consent counts.
    """
    found = _RFC3339.fullmatch(text)
    if found is None:
        raise ValueError(f"{text[:40]!r} is not an RFC 3339 date (2024-03-07) or date-time "
                         "with an offset (2024-03-07T20:00:00-05:00)")  # fmt: skip
    day = date.fromisoformat(found["date"])  # says which part of the date is impossible
    if found["hour"] is None:
        return day
    hour, minute, second = int(found["hour"]), int(found["minute"]), int(found["second"])
    micro = int((found["fraction"] or ".0")[1:7].ljust(6, "0"))
    if second == 60:  # a leap second: the last instant before the next minute
        second, micro = 59, 999_999
    offset = found["offset"].upper()
    sign = -1 if offset.startswith("-") else 1
    shift = timedelta() if offset == "Z" else sign * timedelta(
        hours=int(offset[1:3]), minutes=int(offset[4:6])
    )  # fmt: skip
    if abs(shift) >= timedelta(days=1):
        raise ValueError(f"{text[:40]!r}: the offset is not under 24 hours")
    moment = datetime.combine(day, time(hour, minute, second, micro), timezone(shift))
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # A first or last day of the calendar shifted past its end: as early or as late
        # as a UTC moment can be.
        return (datetime.min if shift > timedelta() else datetime.max).replace(tzinfo=UTC)
