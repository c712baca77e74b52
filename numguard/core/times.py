"""Reading timestamps the same way everywhere: feeds, consent dates, the API."""

from __future__ import annotations

from datetime import UTC, datetime


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
