"""Convey daily files: reading rows, normalizing them, rejecting bad ones with reasons."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from numguard.producer.normalize import convey_row
from numguard.producer.sources import convey
from numguard.producer.sources.base import Rejection, UnreadableReport
from numguard.schemas.events import EventType, StateChange

HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def rows(text: str) -> list[StateChange | Rejection]:
    stream = io.StringIO(text)
    return [convey_row(row, NOW) for row in convey.read_rows(stream, "mcdn_deact_20230610.csv")]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("DEACTIVATE", EventType.DEACTIVATED),
        ("SUSPEND", EventType.SUSPENDED),
        ("REACTIVATE", EventType.REACTIVATED),
    ],
)
def test_reason_codes_map_onto_event_types(code: str, expected: EventType) -> None:
    (event,) = rows(HEADER + f"12223334444,{code},2023-06-10T00:00Z,1,Verizon Wireless\n")
    assert isinstance(event, StateChange)
    assert event.event_type is expected
    assert event.mdn == "+12223334444"
    assert event.new_mdn is None
    assert event.effective_at == datetime(2023, 6, 10, tzinfo=UTC)
    assert (event.source, event.report_id, event.report_position) == (
        "convey", "mcdn_deact_20230610.csv", 2
    )  # fmt: skip
    assert (event.raw_reason, event.carrier) == (code, "Verizon Wireless")


def test_change_mdn_carries_the_new_number() -> None:
    (event,) = rows(HEADER + "12223334444,CHANGE_MDN,2023-06-10T00:00Z,12225556666,Cingular\n")
    assert isinstance(event, StateChange)
    assert (event.event_type, event.new_mdn) == (EventType.NUMBER_CHANGED, "+12225556666")


def test_columns_may_come_in_another_order_and_case() -> None:
    text = (
        "carrier_name, MDN,NEW_MDN,REASON_CODE,MODIFICATION_DATE\n"
        "T-Mobile,12223334444,1,SUSPEND,2023-06-10T00:00Z\n"
    )
    (event,) = rows(text)
    assert isinstance(event, StateChange)
    assert (event.carrier, event.event_type) == ("T-Mobile", EventType.SUSPENDED)


def test_the_same_row_always_yields_the_same_event_id() -> None:
    line = "12223334444,DEACTIVATE,2023-06-10T00:00Z,1,Cingular\n"
    first, second = rows(HEADER + line + line)
    assert isinstance(first, StateChange) and isinstance(second, StateChange)
    assert first.event_id == second.event_id
    (other,) = rows(HEADER + line.replace("10T", "11T"))
    assert isinstance(other, StateChange) and other.event_id != first.event_id


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("12223334444,PORT_OUT,2023-06-10T00:00Z,1,Cingular", "unknown REASON_CODE 'PORT_OUT'"),
        ("1234,DEACTIVATE,2023-06-10T00:00Z,1,Cingular", "MDN '****' is not a phone number"),
        ("12223334444,DEACTIVATE,yesterday,1,Cingular", "MODIFICATION_DATE 'yesterday'"),
        (
            "12223334444,CHANGE_MDN,2023-06-10T00:00Z,1,Cingular",
            "CHANGE_MDN without a valid NEW_MDN",
        ),
        ("12223334444,DEACTIVATE,2023-06-10T00:00Z", "expected 5 columns"),
    ],
)
def test_bad_rows_become_rejections_with_a_reason(line: str, reason: str) -> None:
    good = "12223334444,DEACTIVATE,2023-06-10T00:00Z,1,Cingular"
    first, bad, last = rows(HEADER + f"{good}\n{line}\n{good}\n")
    assert isinstance(first, StateChange) and isinstance(last, StateChange)
    assert isinstance(bad, Rejection)
    assert reason in bad.reason
    assert bad.row.position == 3


def test_rejection_reasons_never_show_a_whole_number() -> None:
    (bad,) = rows(HEADER + "22233344445,DEACTIVATE,2023-06-10T00:00Z,1,Cingular\n")
    assert isinstance(bad, Rejection)
    assert "22233344445" not in bad.reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("number,status\n12223334444,gone\n", "not a Convey deactivation file"),
        # An unterminated quote swallows the rest of the file: not a CSV row any more.
        (HEADER + '"12223334444,DEACTIVATE' + "x" * 200_000, "not readable as CSV"),
    ],
)
def test_unreadable_files_are_rejected_whole(text: str, message: str) -> None:
    with pytest.raises(UnreadableReport, match=message):
        rows(text)


def test_blank_lines_are_not_rows() -> None:
    text = HEADER + "12223334444,DEACTIVATE,2023-06-10T00:00Z,1,Cingular\n\n"
    assert len(rows(text)) == 1


def test_a_date_beyond_the_calendar_is_one_rejected_row_and_the_rest_are_kept() -> None:
    """Issue 10, case 4: 9999-12-31T23:00:00-05:00 raised OverflowError and aborted the file."""
    found = rows(
        HEADER
        + "2025550143,DEACTIVATE,9999-12-31T23:00:00-05:00,,Verizon\n"
        + "2025550144,DEACTIVATE,2023-06-10T08:00:00-05:00,,Verizon\n"
    )
    assert isinstance(found[0], Rejection) and "MODIFICATION_DATE" in found[0].reason
    assert isinstance(found[1], StateChange) and found[1].event_type is EventType.DEACTIVATED


def test_a_number_in_non_ascii_digits_is_a_rejected_row() -> None:
    """Issue 10, case 6: accepted, it would be a key no lookup ever matches."""
    (found,) = rows(HEADER + "202555\uff10\uff11\uff19\uff19,DEACTIVATE,2023-06-10T00:00Z,1,V\n")
    assert isinstance(found, Rejection) and found.kind.value == "bad_number"
    assert "\uff19\uff19" not in found.reason  # masked like any number
