"""Issue 11, case 7: a number with no record is only "never reported" for the days the
feeds covered. The rules of `no_data`, each named, and the coverage the store keeps
from the report checkpoints (both backends)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numguard.consumer.store import Consumed, SqlStore
from numguard.consumer.store.coverage import COVERED, MISSED, Coverage, from_rows, row, spans
from numguard.consumer.store.rules import NoData, Verdict, decide
from numguard.core.checkpoints import Checkpoint
from numguard.core.times import parse_date_or_time
from numguard.schemas.events import EventType
from tests.builders import NUMBER, change

TODAY = date(2024, 3, 20)


def covering(*days: str, missed: tuple[str, ...] = (), source: str = "convey") -> Coverage:
    return from_rows([(source, d, COVERED) for d in days] + [(source, d, MISSED) for d in missed])


def ask(coverage: Coverage, consent: str | None, verdict: Verdict = Verdict.ALLOW) -> dict:
    consented = parse_date_or_time(consent) if consent else None
    no_data = NoData(coverage, verdict, today=TODAY)
    return decide(NUMBER, None, consented, no_data=no_data).as_json()


def test_no_record_with_a_consent_before_the_first_covered_day_is_no_data() -> None:
    answer = ask(covering("2024-03-10", "2024-03-11"), "2024-03-01")
    assert answer == {"mdn": NUMBER, "decision": "allow", "reason": "no_data",
                      "uncovered_days": ["2024-03-01/2024-03-09"]}  # fmt: skip


def test_no_record_with_a_consent_on_or_after_the_first_covered_day_is_no_record() -> None:
    days = covering("2024-03-10", "2024-03-11")
    assert ask(days, "2024-03-10")["reason"] == "no_record"
    assert ask(days, "2024-03-15")["reason"] == "no_record"  # after the latest: not a gap


def test_no_record_with_a_missed_day_after_the_consent_is_no_data_listing_it() -> None:
    answer = ask(covering("2024-03-10", "2024-03-12", missed=("2024-03-14",)), "2024-03-11")
    assert answer["reason"] == "no_data"
    # 03-11 is a day between two covered days that no report covered: missed too.
    assert answer["uncovered_days"] == ["2024-03-11", "2024-03-14"]


def test_a_missed_day_before_the_consent_does_not_matter() -> None:
    days = covering("2024-03-10", "2024-03-12", missed=("2024-03-11",))
    assert ask(days, "2024-03-12")["reason"] == "no_record"


def test_a_missed_day_delivered_later_is_covered() -> None:
    # The checkpoint of a late report replaces its missed one; another source's
    # report of the same day does not cover this source's gap.
    days = from_rows([("convey", "2024-03-10", COVERED), ("convey", "2024-03-11", COVERED),
                      ("twilio", "2024-03-10", COVERED), ("twilio", "2024-03-11", MISSED),
                      ("twilio", "2024-03-12", COVERED)])  # fmt: skip
    assert ask(days, "2024-03-10")["uncovered_days"] == ["2024-03-11"]


def test_a_missed_report_is_not_hidden_by_another_report_of_the_same_day(
    store: SqlStore,
) -> None:
    """Found in review: Telesign's AT&T file of a day missed while its T-Mobile file was
    published counted the day as covered. A missed report stays missed until the same
    report is published (its row then turns covered)."""
    store.apply_batch([], {}, "g", coverage_rows=[
        ("telesign", "att-deacts_20240310.zip", "2024-03-10", MISSED),
        ("telesign", "tmobile-deacts_20240310.zip", "2024-03-10", COVERED),
        ("telesign", "att-deacts_20240309.zip", "2024-03-09", COVERED),
    ])  # fmt: skip
    assert ask(store.coverage(), "2024-03-09")["uncovered_days"] == ["2024-03-10"]
    store.apply_batch([], {}, "g", coverage_rows=[
        ("telesign", "att-deacts_20240310.zip", "2024-03-10", COVERED)])  # fmt: skip
    assert ask(store.coverage(), "2024-03-09")["reason"] == "no_record"


def test_no_data_holds_when_the_sender_chooses_hold() -> None:
    answer = ask(covering("2024-03-10"), "2024-03-01", Verdict.HOLD)
    assert (answer["decision"], answer["reason"]) == ("hold", "no_data")


def test_a_store_that_covered_nothing_is_no_data_from_the_consent_to_today() -> None:
    answer = ask(Coverage(), "2024-03-18")
    assert answer["uncovered_days"] == ["2024-03-18/2024-03-20"]


def test_a_consent_moment_starts_on_its_day_in_the_consent_day_zone() -> None:
    days = covering("2024-03-10", "2024-03-11")
    # 05:00 UTC on the 10th is still the 9th in UTC-11: a deactivation on the 9th,
    # a day no feed covered, would void it.
    assert ask(days, "2024-03-10T05:00:00Z")["uncovered_days"] == ["2024-03-09"]
    assert ask(days, "2024-03-10T12:00:00Z")["reason"] == "no_record"


def test_without_a_consent_no_record_stays_no_record() -> None:
    assert ask(Coverage(), None)["reason"] == "no_record"


def test_a_number_with_a_record_is_never_no_data(store: SqlStore) -> None:
    event = change(EventType.REACTIVATED, "2024-03-10T09:00")
    store.apply_batch([Consumed(event, "t", 0, 0)], {}, "g")
    no_data = NoData(Coverage(), Verdict.HOLD, today=TODAY)
    decision = decide(NUMBER, store.state(NUMBER), date(2024, 1, 1), no_data=no_data)
    assert (decision.verdict, decision.reason) == ("allow", "active")


def test_a_consent_in_the_future_has_no_uncovered_days() -> None:
    assert ask(covering("2024-03-10"), "2024-04-01")["reason"] == "no_record"


def test_only_finished_or_missed_reports_with_a_day_make_coverage() -> None:
    assert row(Checkpoint("convey", "f.csv", position=9, covers="2024-03-10")) is None
    assert row(Checkpoint("infobip", "r-1", done=True)) is None
    assert row(Checkpoint("convey", "f.csv", done=True, covers="not a day")) is None
    assert row(Checkpoint("convey", "f.csv", done=True, covers="2024-03-10")) == (
        "convey", "f.csv", "2024-03-10", COVERED)  # fmt: skip
    assert row(Checkpoint("convey", "f.csv", missed=True, covers="2024-03-10")) == (
        "convey", "f.csv", "2024-03-10", MISSED)  # fmt: skip


def test_the_store_keeps_the_latest_coverage_row_of_each_report(store: SqlStore) -> None:
    rows = [("convey", "a.csv", "2024-03-10", COVERED), ("convey", "b.csv", "2024-03-11", MISSED),
            ("convey", "c.csv", "2024-03-12", COVERED), ("convey", "b.csv", "2024-03-11", COVERED),
            ("twilio", "t\x00-1", "2024-03-13", MISSED)]  # fmt: skip
    store.apply_batch([], {("c", 0): 5}, "g", coverage_rows=rows)
    coverage = store.coverage()
    assert coverage.sources["convey"].missed == frozenset()
    assert coverage.sources["convey"].first_day == date(2024, 3, 10)
    assert coverage.sources["twilio"].as_json() == {
        "first_day": None, "latest_day": None, "missed_days": ["2024-03-13"]}  # fmt: skip
    assert store.offsets("g", "c") == {0: 5}
    assert coverage.uncovered(date(2024, 3, 1), TODAY) == [
        (date(2024, 3, 1), date(2024, 3, 9)), (date(2024, 3, 13), date(2024, 3, 13))]  # fmt: skip


def test_days_are_listed_as_dates_and_iso_ranges() -> None:
    days = [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3), date(2024, 3, 5)]
    assert spans(days) == ["2024-03-01/2024-03-03", "2024-03-05"]


ROWS = st.lists(
    st.tuples(st.sampled_from(["convey", "twilio", "infobip"]),
              st.integers(0, 40), st.sampled_from([COVERED, MISSED])),
    max_size=30,
)  # fmt: skip


@given(ROWS, st.integers(0, 45), st.integers(0, 45))
def test_uncovered_days_are_exactly_the_days_some_source_left_open(
    rows: list[tuple[str, int, str]], since: int, until: int
) -> None:
    """Against a day-by-day reading of the rule: a day is uncovered when it is before the
    first covered day of any source, when a report of it is missed (each row here is a
    report of its own), or when it is a gap inside a source's covered span."""
    base = date(2024, 1, 1)
    coverage = from_rows([(s, (base + timedelta(days=d)).isoformat(), k) for s, d, k in rows])
    covered = {s: {d for t, d, k in rows if t == s and k == COVERED} for s, _, _ in rows}
    missed = {s: {d for t, d, k in rows if t == s and k == MISSED} for s, _, _ in rows}
    first = min((min(days) for days in covered.values() if days), default=None)

    def open_day(day: int) -> bool:
        if first is None or day < first:
            return True
        for source, days in covered.items():
            span_gap = bool(days) and min(days) < day < max(days) and day not in days
            if day in missed[source] or span_gap:
                return True
        return False

    expected = [base + timedelta(days=d) for d in range(since, until + 1) if open_day(d)]
    found = coverage.uncovered(base + timedelta(days=since), base + timedelta(days=until))
    listed = [start + timedelta(days=n) for start, end in found
              for n in range((end - start).days + 1)]  # fmt: skip
    assert listed == expected
    # Merged: no two ranges touch.
    assert all(b[0] - a[1] > timedelta(days=1) for a, b in itertools.pairwise(found))


@pytest.mark.parametrize("value", [b"[1]", b"null", b'"text"', b'{"source": 5, "report_id": "r",'
                                   b' "done": true, "covers": "2024-03-10"}',
                                   b'{"source": "s", "report_id": "r", "done": "false", '
                                   b'"covers": "2024-03-10"}'])  # fmt: skip
def test_a_checkpoint_that_is_not_ours_makes_no_coverage_and_no_crash(value: bytes) -> None:
    """Found in review: `[1]` or `null` raised AttributeError in the store consumer (every
    later deactivation stopped), and `"done": "false"` counted as done."""
    from numguard.consumer.store_consumer import coverage_row
    from numguard.core.kafka.records import Record

    record = Record("t.checkpoints", 0, 7, b"k", value, None)  # type: ignore[arg-type]
    assert coverage_row(record) is None
