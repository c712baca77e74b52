"""The Twilio-style source against the carrier simulator, over real HTTP."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from numguard.simulator import CarrierSimulator, GeneratedDataset
from numguard.simulator.faults import FaultKind, FaultPlan, FaultRule
from numguard.simulator.server import DEV_TWILIO_ACCOUNT_SID, DEV_TWILIO_AUTH_TOKEN
from producer.sources.base import (
    CredentialsRejected,
    Rejection,
    ReportMissing,
    SourceRow,
    UnreadableReport,
)
from producer.sources.http import RetryPolicy
from producer.sources.twilio import TwilioSource, read_list_file
from schemas.events import EventType, StateChange

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
DATA = GeneratedDataset(seed=11, numbers=400, days=3)
NOW = datetime.now(UTC)


def source(sim: CarrierSimulator, *, token: str = DEV_TWILIO_AUTH_TOKEN, days_after: int = 1,
           lookback: int = 3) -> TwilioSource:  # fmt: skip
    return TwilioSource(
        sim.base_url, DEV_TWILIO_ACCOUNT_SID, token, client=httpx.Client(timeout=10),
        policy=FAST, lookback_days=lookback,
        today=lambda: DATA.last_date + timedelta(days=days_after),
    )  # fmt: skip


def test_every_day_is_listed_read_and_normalized_to_deactivations() -> None:
    with CarrierSimulator(DATA) as sim:
        twilio = source(sim)
        reports = list(twilio.reports(set()))
        assert [r.covers for r in reports] == DATA.dates()
        for report in reports:
            assert report.covers is not None
            rows = list(twilio.rows(report))
            expected = list(DATA.twilio_numbers(report.covers) or [])
            assert expected and [r.fields["number"] for r in rows] == expected
            changes = [twilio.normalize(row, NOW) for row in rows]
            assert all(isinstance(c, StateChange) for c in changes)
            first = changes[0]
            assert isinstance(first, StateChange)
            assert first.event_type is EventType.DEACTIVATED
            assert first.effective_at == datetime.combine(report.covers, datetime.min.time(), UTC)
            assert first.mdn == "+" + expected[0].lstrip("+")
        assert list(twilio.reports({r.report_id for r in reports})) == []


def test_an_expired_link_is_asked_for_again() -> None:
    # Links expire on whole seconds: a 2.1 s stall outlives a 0.5 s link for certain.
    slow_first_download = FaultRule(
        FaultKind.DELAY, pattern="/twilio/deactivations/*", count=1, seconds=2.1
    )
    with CarrierSimulator(DATA, faults=FaultPlan(rules=(slow_first_download,)),
                          twilio_link_ttl=0.5) as sim:  # fmt: skip
        twilio = source(sim)
        report = next(iter(twilio.reports(set())))
        assert report.covers is not None
        rows = list(twilio.rows(report))
        assert len(rows) == len(list(DATA.twilio_numbers(report.covers) or []))
        downloads = [r.status for r in sim.requests("/twilio/deactivations/*")]
        assert downloads == [403, 200]
        assert len(sim.requests("/v1/Deactivations")) == 2


def test_a_day_not_available_yet_is_missing_not_a_failure() -> None:
    with CarrierSimulator(DATA) as sim:
        twilio = source(sim, days_after=2, lookback=1)  # yesterday is after the last day
        (report,) = twilio.reports(set())
        with pytest.raises(ReportMissing, match="30114"):
            list(twilio.rows(report))


def test_wrong_credentials_stop_at_once() -> None:
    with CarrierSimulator(DATA) as sim:
        twilio = source(sim, token="wrong-token")
        report = next(iter(twilio.reports(set())))
        with pytest.raises(CredentialsRejected) as refused:
            list(twilio.rows(report))
        assert len(sim.requests("/v1/Deactivations")) == 1
        assert "wrong-token" not in str(refused.value)


def test_a_truncated_list_is_unreadable() -> None:
    cut = FaultRule(FaultKind.TRUNCATE, pattern="/twilio/deactivations/*", count=1)
    with CarrierSimulator(DATA, faults=FaultPlan(rules=(cut,))) as sim:
        twilio = source(sim)
        report = next(iter(twilio.reports(set())))
        with pytest.raises(UnreadableReport, match="broke off"):
            list(twilio.rows(report))


def test_saved_lists_accept_every_number_form_and_need_a_date_in_the_name() -> None:
    text = "+12025550101\r\n12025550102\r\n2025550103\r\n\r\nnot-a-number\r\n\r\n"
    rows = list(read_list_file(io.StringIO(text), "twilio_deactivations_2024-03-05.txt"))
    assert [r.position for r in rows] == [1, 2, 3, 5]
    changes = [TwilioSource.normalize(row, NOW) for row in rows]
    assert [c.mdn for c in changes if isinstance(c, StateChange)] == [
        "+12025550101", "+12025550102", "+12025550103"
    ]  # fmt: skip
    (bad,) = [c for c in changes if isinstance(c, Rejection)]
    assert "is not a phone number" in bad.reason
    with pytest.raises(UnreadableReport, match="no date in the name"):
        list(read_list_file(io.StringIO(text), "deactivations.txt"))
    assert isinstance(rows[0], SourceRow)
