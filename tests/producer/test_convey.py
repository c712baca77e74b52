"""Convey daily files: reading rows, normalizing them, rejecting bad ones with reasons."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numguard.producer.normalize import convey_row
from numguard.producer.sources import convey
from numguard.producer.sources.base import Flagged, Normalized, Rejection, UnreadableReport
from numguard.schemas.events import EventType, StateChange

HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def rows(text: str) -> list[Normalized]:
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
        ("MDN,MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN\n", "not a Convey deactivation file"),
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


GOOD = "2025550144,DEACTIVATE,2023-06-10T00:00Z,1,Verizon\n"


def test_a_field_over_the_csv_limit_is_one_rejected_row_and_the_rest_are_kept() -> None:
    """Issue 10, case 8: it used to reject the whole file, losing the good rows after it."""
    found = rows(HEADER + "2025550143,DEACTIVATE,2023-06-10T00:00Z,1," + "x" * 200_000 + "\n"
                 + GOOD)  # fmt: skip
    assert isinstance(found[0], Rejection) and "field limit" in found[0].reason
    assert isinstance(found[1], StateChange) and found[1].event_type is EventType.DEACTIVATED


def test_an_unterminated_quote_never_swallows_rows_quietly() -> None:
    """Issue 10, case 2: the rows after the quote became one field of an accepted row."""
    text = HEADER + '2025550143,DEACTIVATE,2023-06-10T00:00Z,1,"Verizon\n' + GOOD + GOOD
    (found,) = rows(text)
    assert isinstance(found, Rejection) and found.kind.value == "bad_shape"
    assert "unterminated quote" in found.reason and "line 2 to line 4" in found.reason


def test_a_quoted_line_break_that_holds_no_rows_is_read_as_a_space() -> None:
    (found,) = rows(HEADER + '2025550143,DEACTIVATE,2023-06-10T00:00Z,1,"AT&T\nMobility"\n')
    assert isinstance(found, StateChange) and found.carrier == "AT&T Mobility"


def test_a_byte_order_mark_before_the_header_is_accepted() -> None:
    """Issue 10, case 5: Excel writes one; the whole file used to be rejected."""
    (found,) = rows("\ufeff" + HEADER + GOOD)
    assert isinstance(found, StateChange)


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1b", "\x7f", "\x85"])
def test_control_characters_never_reach_an_event(control: str) -> None:
    """Issue 10, case 7: a NUL in a field later stopped the PostgreSQL store for good."""
    (found,) = rows(
        HEADER + f"20255501{control}43,DEACTIVATE,2023-06-10T00:00Z,1,Ver{control}izon\n"
    )
    assert isinstance(found, StateChange)
    assert found.mdn == "+12025550143"
    assert found.carrier is not None and control not in found.carrier


@st.composite
def chunked_files(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A Convey file with LF or CRLF endings (blank lines and quoted line breaks among
    its rows), and the same text cut into chunks at random places."""
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [HEADER.strip()]
    for index in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["row", "row", "blank", "quoted"]))
        number = f"20255501{index:02d}"
        if kind == "blank":
            lines.append("")
        elif kind == "quoted":
            lines.append(f'{number},DEACTIVATE,2023-06-10T00:00Z,1,"AT&T{ending}Mobility"')
        else:
            lines.append(f"{number},SUSPEND,2023-06-10T00:00Z,1,Verizon")
    text = ending.join(lines) + ending
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=40)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return text, chunks


@given(chunked_files())
def test_row_positions_do_not_depend_on_how_the_download_was_chunked(
    file: tuple[str, list[str]],
) -> None:
    """Issue 10, case 3: a CRLF cut between two chunks counted as two lines, so positions
    drifted and a resumed report skipped rows."""
    text, chunks = file
    whole = list(convey.read_rows(io.StringIO(text, newline=""), "mcdn_deact_20230610.csv"))
    chunked = list(convey.read_rows(convey.lines_of(iter(chunks)), "mcdn_deact_20230610.csv"))
    assert [(r.position, r.fields) for r in chunked] == [(r.position, r.fields) for r in whole]
    assert all(convey.BAD_ROW not in r.fields for r in whole)
    # Numbered as records: 2, 3, ... with blank lines counted, whatever the line breaks.
    assert [r.position for r in whole] == sorted({r.position for r in whole})


@pytest.mark.parametrize("when", ["9999-12-30T00:00Z", "2023-06-12T00:00Z", "2024-07-01T00:00Z"])
def test_a_date_later_than_a_day_after_the_report_is_a_rejected_row(when: str) -> None:
    """Issue 10, case 4: a far-future deactivation would block a number for ever."""
    found = rows(HEADER + f"2025550143,DEACTIVATE,{when},1,Verizon\n" + GOOD)
    assert isinstance(found[0], Rejection) and found[0].kind.value == "bad_time"
    assert "later than a day after its report" in found[0].reason
    assert isinstance(found[1], StateChange)


def test_a_date_within_a_day_after_the_report_is_kept() -> None:
    (found,) = rows(HEADER + "2025550143,DEACTIVATE,2023-06-11T23:00Z,1,Verizon\n")
    assert isinstance(found, StateChange)


@pytest.mark.parametrize("new_mdn", ["1", "", "12345", "202555O100"])
def test_a_change_mdn_with_an_unusable_new_number_still_blocks_the_old_one(new_mdn: str) -> None:
    """Issue 10, case 1: the row was rejected whole, so the old number stayed allowed."""
    (found,) = rows(HEADER + f"2025550143,CHANGE_MDN,2023-06-10T00:00Z,{new_mdn},Verizon\n")
    assert isinstance(found, Flagged)
    assert (found.change.event_type, found.change.mdn) == (
        EventType.NUMBER_CHANGED, "+12025550143",
    )  # fmt: skip
    assert found.change.new_mdn is None
    assert found.warning.kind.value == "bad_new_number"
    assert "the old number's deactivation stands" in found.warning.reason


@pytest.mark.parametrize(
    "line",
    [
        "2025550143,DEACTIVATE,+1 (202) 555-0144,1,V",  # a shifted column: a number as the date
        "2025550143,+1 (202) 555-0144,2023-06-10T00:00Z,1,V",
        "2025550143,CHANGE_MDN,2023-06-10T00:00Z,1-202-555-O144,V",
    ],
)
def test_a_rejection_never_shows_a_number_in_any_format(line: str) -> None:
    (found,) = rows(HEADER + line + "\n")
    reason = found.warning.reason if isinstance(found, Flagged) else found.reason  # type: ignore[union-attr]
    assert "0144" not in reason and "0143" not in reason
