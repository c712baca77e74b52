"""parse_time: one reading of timestamps, and never an exception but ValueError."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from numguard.core.times import parse_date_or_time, parse_time, parse_zone


def test_a_time_without_an_offset_is_read_as_utc() -> None:
    assert parse_time(" 2024-03-07T20:00:00 ") == datetime(2024, 3, 7, 20, tzinfo=UTC)


def test_an_offset_is_converted_to_utc() -> None:
    assert parse_time("2024-03-07T20:00:00-05:00") == datetime(2024, 3, 8, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "yesterday", ""]
)
def test_a_moment_outside_the_calendar_is_a_value_error_not_an_overflow(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "offset_hours"),
    [("UTC", 0), ("utc", 0), ("UTC-11", -11), ("-11:00", -11), ("+0530", 5.5), ("UTC+14", 14)],
)
def test_zones_by_offset(text: str, offset_hours: float) -> None:
    zone = parse_zone(text)
    assert zone.utcoffset(datetime(2024, 1, 1)) == timedelta(hours=offset_hours)


def test_zones_by_iana_name_follow_daylight_saving() -> None:
    zone = parse_zone("America/New_York")
    assert zone.utcoffset(datetime(2024, 1, 1)) == timedelta(hours=-5)
    assert zone.utcoffset(datetime(2024, 7, 1)) == timedelta(hours=-4)


@pytest.mark.parametrize("text", ["", "Mars/Olympus", "UTC-15", "../etc/passwd", "11"])
def test_a_zone_that_is_not_one_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_zone(text)


def test_a_date_only_consent_is_a_date_and_a_moment_is_a_moment() -> None:
    assert parse_date_or_time("2024-03-07") == date(2024, 3, 7)
    assert not isinstance(parse_date_or_time("2024-03-07"), datetime)
    assert parse_date_or_time("2024-03-07T20:00-05:00") == datetime(2024, 3, 8, 1, tzinfo=UTC)
