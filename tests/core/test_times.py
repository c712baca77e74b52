"""parse_time: one reading of timestamps, and never an exception but ValueError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from numguard.core.times import parse_time


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
