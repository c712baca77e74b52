"""Generated carrier data: deterministic, realistic, and the truth matches what is served."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, timedelta

import pytest

from numguard.core.phone import normalize
from numguard.devtools.simulator import Change, Feed, GeneratedDataset, Kind
from numguard.devtools.simulator.synthesis import MAX_REACTIVATION_LAG_DAYS
from numguard.producer.sources import convey

START = date(2024, 3, 1)


def everything(data: GeneratedDataset) -> list[tuple[Feed, date, Change]]:
    return [
        (feed, day, change)
        for day in data.dates()
        for feed in Feed
        for change in data.changes(feed, day)
    ]


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    first = GeneratedDataset(seed=11, numbers=400, days=4, start_date=START)
    again = GeneratedDataset(seed=11, numbers=400, days=4, start_date=START)
    other = GeneratedDataset(seed=12, numbers=400, days=4, start_date=START)
    assert everything(first) == everything(again)
    assert [r.report_id for r in first.infobip_reports()] == [
        r.report_id for r in again.infobip_reports()
    ]
    assert first.convey_file(START).read() == again.convey_file(START).read()  # type: ignore[union-attr]
    assert everything(first) != everything(other)


def test_numbers_are_valid_distinct_nanp_numbers_on_the_555_exchange() -> None:
    data = GeneratedDataset(seed=3, numbers=2000, days=3, start_date=START)
    primaries = [
        change.mdn for _, _, change in everything(data) if change.kind is not Kind.REACTIVATE
    ]
    assert len(primaries) == 2000 == len(set(primaries))
    for number in primaries:
        assert normalize(number) == number
        assert number[5:8] == "555"


def test_a_realistic_mix_with_every_kind_and_each_feed_its_share() -> None:
    data = GeneratedDataset(seed=5, numbers=3000, days=5, start_date=START)
    kinds = {feed: Counter[Kind]() for feed in Feed}
    for feed, _, change in everything(data):
        kinds[feed][change.kind] += 1
    assert set(kinds[Feed.CONVEY]) == {
        Kind.DEACTIVATE, Kind.SUSPEND, Kind.REACTIVATE, Kind.CHANGE_NUMBER
    }  # fmt: skip
    assert set(kinds[Feed.INFOBIP]) == set(Kind)
    assert set(kinds[Feed.TWILIO]) == {Kind.DEACTIVATE}
    for counts in (kinds[Feed.CONVEY], kinds[Feed.INFOBIP]):
        assert counts[Kind.DEACTIVATE] > sum(counts.values()) / 2  # mostly deactivations
    primaries = {
        feed: sum(c for k, c in kinds[feed].items() if k is not Kind.REACTIVATE) for feed in Feed
    }
    assert primaries == {Feed.CONVEY: 1500, Feed.INFOBIP: 900, Feed.TWILIO: 600}


def test_every_reactivation_lifts_an_earlier_suspension_of_the_same_number_and_feed() -> None:
    data = GeneratedDataset(seed=8, numbers=2000, days=6, start_date=START)
    for feed in (Feed.CONVEY, Feed.INFOBIP):
        suspended: dict[str, date] = {}
        reactivations = 0
        for day in data.dates():
            for change in data.changes(feed, day):
                if change.kind is Kind.SUSPEND:
                    suspended[change.mdn] = day
                elif change.kind is Kind.REACTIVATE:
                    reactivations += 1
                    since = suspended.pop(change.mdn)
                    assert 1 <= (day - since).days <= MAX_REACTIVATION_LAG_DAYS
                    assert change.at.date() == day
        assert reactivations > 0
        last = data.last_date
        assert all((last - since).days < MAX_REACTIVATION_LAG_DAYS for since in suspended.values())


def test_convey_rows_follow_the_spec_and_read_back_through_the_producer_reader() -> None:
    data = GeneratedDataset(seed=2, numbers=600, days=2, start_date=START)
    day = START + timedelta(days=1)
    body = data.convey_file(day)
    assert body is not None
    text = body.read().decode()
    assert len(body.read()) == body.length
    assert text.startswith("MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\r\n")
    truth = list(data.convey_rows(day) or ())
    read = [row.fields for row in convey.read_rows(io.StringIO(text, newline=""), "f.csv")]
    assert read == truth
    for row in truth:
        assert row["MODIFICATION_DATE"] == "2024-03-02T00:00Z"
        assert row["REASON_CODE"] in {"DEACTIVATE", "SUSPEND", "REACTIVATE", "CHANGE_MDN"}
        if row["REASON_CODE"] == "CHANGE_MDN":
            assert normalize(row["NEW_MDN"]) != normalize(row["MDN"])
        else:
            assert row["NEW_MDN"] == "1"
        if row["REASON_CODE"] in {"SUSPEND", "REACTIVATE"}:
            assert row["CARRIER_NAME"] == "Verizon Wireless"
    assert data.convey_file(START - timedelta(days=1)) is None


@pytest.mark.parametrize("reports_per_day", [1, 2])
def test_infobip_reports_hold_exactly_each_networks_day(reports_per_day: int) -> None:
    data = GeneratedDataset(
        seed=4, numbers=900, days=3, start_date=START, infobip_reports_per_day=reports_per_day
    )
    reports = data.infobip_reports()
    assert len(reports) == 3 * 2 * reports_per_day
    assert {(r.network_name, r.network_id) for r in reports} == {
        ("Verizon Wireless", 1717), ("AT&T Mobility", 1733)
    }  # fmt: skip
    for day in data.dates():
        served = [
            change
            for report in reports
            if report.date_from == day
            for change in data.report_changes(report.report_id)
        ]
        assert sorted(served) == sorted(data.changes(Feed.INFOBIP, day))
    for report in reports:
        assert (report.expiry_date - report.generated_date).days == 60
        records = data.infobip_records(
            report.report_id, 0, data.infobip_record_count(report.report_id)
        )
        paged = [
            record
            for start in range(0, len(records), 7)
            for record in data.infobip_records(report.report_id, start, start + 7)
        ]
        assert paged == records


def test_twilio_lists_deactivated_numbers_with_crlf_and_a_blank_line_at_the_end() -> None:
    data = GeneratedDataset(seed=6, numbers=500, days=2, start_date=START)
    numbers = list(data.twilio_numbers(START) or ())
    body = data.twilio_file(START)
    assert body is not None
    assert body.read().decode() == "".join(f"{n}\r\n" for n in numbers) + "\r\n"
    assert len(numbers) == 50
    assert data.twilio_numbers(data.last_date + timedelta(days=1)) is None
    assert list(data.twilio_numbers(START - timedelta(days=30)) or ["x"]) == []


def test_a_day_of_many_rows_is_streamed_in_chunks() -> None:
    data = GeneratedDataset(seed=1, numbers=40_000, days=1, start_date=START)
    body = data.convey_file(START)
    assert body is not None
    chunks = list(body.chunks())
    assert len(chunks) > 5
    assert sum(len(chunk) for chunk in chunks) == body.length


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"days": 0}, "days must be at least 1"),
        ({"numbers": -1}, "numbers must be between"),
        ({"numbers": 1 << 22}, "numbers must be between"),
        ({"infobip_reports_per_day": 3}, "1 or 2"),
    ],
)
def test_impossible_sizes_are_refused(arguments: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeneratedDataset(**arguments)  # type: ignore[arg-type]
