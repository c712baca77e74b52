"""Reading timestamps the same way everywhere: feeds, consent dates, the API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
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
