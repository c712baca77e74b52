"""The Twilio-style source against the carrier simulator, over real HTTP on loopback."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from numguard.devtools.simulator import (
    CarrierSimulator,
    FaultKind,
    FaultPlan,
    FaultRule,
    GeneratedDataset,
    ManualClock,
)
from numguard.devtools.simulator.server import DEV_TWILIO_ACCOUNT_SID, DEV_TWILIO_AUTH_TOKEN
from numguard.producer.ingest import FILE_FORMATS, detect_format, file_changes
from numguard.producer.sources.base import (
    CredentialsRejected,
    Rejection,
    RejectKind,
    Report,
    ReportMissing,
    SourceUnavailable,
    UnreadableReport,
)
from numguard.producer.sources.http import RetryPolicy
from numguard.producer.sources.twilio import FIRST_DAY, TwilioSource, read_list_file, report_id
from numguard.schemas.events import EventType, StateChange

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
DATA = GeneratedDataset(seed=11, numbers=400, days=3)  # the last day is yesterday (UTC)
NOW = datetime.now(UTC)
LIST = "/twilio/deactivations/*"
Hook = Callable[[httpx.Request], None]


@contextmanager
def twilio(
    sim: CarrierSimulator, *, token: str = DEV_TWILIO_AUTH_TOKEN, lookback: int = 3,
    clock: Callable[[], datetime] = lambda: NOW, on_request: Hook | None = None,
    first_day: date = FIRST_DAY,
) -> Iterator[TwilioSource]:  # fmt: skip
    hooks = {"request": [on_request]} if on_request else {}
    client = httpx.Client(timeout=10, event_hooks=hooks)
    source = TwilioSource(sim.base_url, DEV_TWILIO_ACCOUNT_SID, token, client=client,
                          policy=FAST, lookback_days=lookback, clock=clock,
                          first_day=first_day)  # fmt: skip
    try:
        yield source
    finally:
        source.close()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def test_every_day_is_fetched_through_its_signed_link_and_normalized() -> None:
    sent: list[httpx.Request] = []
    with CarrierSimulator(DATA) as sim, twilio(sim, on_request=sent.append) as source:
        reports = list(source.reports(set()))
        assert [(r.report_id, r.covers) for r in reports] == [
            (f"twilio-deactivations-{day:%Y-%m-%d}", day) for day in DATA.dates()
        ]
        for report in reports:
            assert report.covers is not None
            rows = list(source.rows(report))
            expected = list(DATA.twilio_numbers(report.covers) or [])
            assert expected and [r.fields["number"] for r in rows] == expected
            assert [r.position for r in rows] == list(range(1, len(rows) + 1))
            events = [source.normalize(row, NOW) for row in rows]
            assert [(e.mdn, e.event_type, e.effective_at, e.carrier, e.raw_reason)
                    for e in events if isinstance(e, StateChange)] == [
                (number, EventType.DEACTIVATED, midnight(report.covers), None, "DEACTIVATION")
                for number in expected
            ]  # fmt: skip
        assert list(source.reports({r.report_id for r in reports[:2]})) == reports[2:]
        statuses = [(r.path.split("/")[1], r.status) for r in sim.requests()]
    assert statuses == [("v1", 307), ("twilio", 200)] * len(reports)
    # Credentials go to the API only, never to the signed link's host.
    assert [("Authorization" in r.headers, r.url.path.startswith("/v1/")) for r in sent] == [
        (True, True), (False, False)
    ] * len(reports)  # fmt: skip


def test_an_expired_link_is_asked_for_again_a_bounded_number_of_times() -> None:
    clock = ManualClock(NOW)

    def stall_first_download(request: httpx.Request) -> None:
        if request.url.path.startswith("/twilio/") and not stalled:
            stalled.append(request)
            clock.advance(121)  # the two-minute link runs out on its way to the server

    stalled: list[httpx.Request] = []
    with (
        CarrierSimulator(DATA, clock=clock) as sim,
        twilio(sim, on_request=stall_first_download) as source,
    ):
        report = next(iter(source.reports(set())))
        assert report.covers is not None
        assert len(list(source.rows(report))) == len(list(DATA.twilio_numbers(report.covers) or []))
        assert [r.status for r in sim.requests(LIST)] == [403, 200]
        assert [r.status for r in sim.requests("/v1/Deactivations")] == [307, 307]

    def always_stall(request: httpx.Request) -> None:
        if request.url.path.startswith("/twilio/"):
            clock.advance(121)

    with CarrierSimulator(DATA, clock=clock) as sim, twilio(sim, on_request=always_stall) as source:
        with pytest.raises(
            SourceUnavailable, match=r"3 signed links in a row were refused \(last: HTTP 403\)"
        ):
            list(source.rows(report))
        assert [r.status for r in sim.requests(LIST)] == [403, 403, 403]


def test_a_day_not_available_yet_is_missing_not_a_failure() -> None:
    tomorrow = NOW + timedelta(days=1)  # so yesterday is today: not published yet
    with CarrierSimulator(DATA) as sim, twilio(sim, lookback=1, clock=lambda: tomorrow) as source:
        (report,) = source.reports(set())
        assert report.covers == NOW.date()
        with pytest.raises(ReportMissing, match=r"not available yet \(Twilio 30114\)"):
            list(source.rows(report))


def test_a_day_too_old_is_missing_with_a_clear_message() -> None:
    day = date(2020, 8, 26)
    with (
        CarrierSimulator(DATA) as sim,
        twilio(sim) as source,
        pytest.raises(ReportMissing, match=r"no longer serves this day \(30113") as missing,
    ):
        list(source.rows(Report("twilio", report_id(day), covers=day)))
    assert "2020-08-27" in str(missing.value) and "look-back window" in str(missing.value)


def test_server_errors_are_retried_on_both_requests() -> None:
    flaky = (FaultRule(FaultKind.ERROR, "/v1/Deactivations", count=2),
             FaultRule(FaultKind.ERROR, LIST, count=1, status=503))  # fmt: skip
    with CarrierSimulator(DATA, faults=FaultPlan(rules=flaky)) as sim, twilio(sim) as source:
        report = next(iter(source.reports(set())))
        assert list(source.rows(report))
        assert [r.status for r in sim.requests()] == [500, 500, 307, 503, 200]


def test_wrong_credentials_stop_at_once(caplog: pytest.LogCaptureFixture) -> None:
    with CarrierSimulator(DATA) as sim, twilio(sim, token="wrong-token") as source:
        report = next(iter(source.reports(set())))
        with pytest.raises(CredentialsRejected, match="20003 Authenticate") as refused:
            list(source.rows(report))
        assert [r.status for r in sim.requests()] == [401]  # no retry storm
    assert "wrong-token" not in str(refused.value) + caplog.text


def test_a_truncated_list_is_unreadable() -> None:
    cut = FaultRule(FaultKind.TRUNCATE, pattern=LIST, count=1)
    with CarrierSimulator(DATA, faults=FaultPlan(rules=(cut,))) as sim, twilio(sim) as source:
        report = next(iter(source.reports(set())))
        with pytest.raises(UnreadableReport, match=r"the download broke off \(RemoteProtocolError"):
            list(source.rows(report))


def test_a_client_that_follows_redirects_is_refused() -> None:
    with pytest.raises(ValueError, match="does not follow redirects"):
        TwilioSource("http://127.0.0.1:9", "AC1", "t", lookback_days=1,
                     client=httpx.Client(follow_redirects=True))  # fmt: skip


def test_saved_lists_accept_every_number_form_and_need_a_date_in_the_name() -> None:
    text = "\ufeff+12025550101\r\n12025550102\r\n2025550103\n\r\n555-0199\r\n\r\n"
    rows = list(
        read_list_file(io.StringIO(text, newline=""), "twilio_deactivations_2024-03-05.txt")
    )
    assert [r.position for r in rows] == [1, 2, 3, 5]
    results = [TwilioSource.normalize(row, NOW) for row in rows]
    assert [(c.mdn, c.effective_at) for c in results if isinstance(c, StateChange)] == [
        (f"+1202555010{n}", datetime(2024, 3, 5, tzinfo=UTC)) for n in (1, 2, 3)
    ]
    (bad,) = [c for c in results if isinstance(c, Rejection)]
    assert (bad.kind, bad.row.position) == (RejectKind.BAD_NUMBER, 5)
    assert "is not a phone number" in bad.reason and "555-0199" not in bad.reason
    for name in ("deactivations.txt", "twilio_deactivations_2024-02-30.txt"):
        with pytest.raises(UnreadableReport, match="name a saved Twilio list with its day"):
            list(read_list_file(io.StringIO(text), name))


def test_ingest_reads_a_list_saved_from_the_signed_link(tmp_path: Path) -> None:
    day = DATA.dates()[1]
    auth = (DEV_TWILIO_ACCOUNT_SID, DEV_TWILIO_AUTH_TOKEN)
    with CarrierSimulator(DATA) as sim:
        link = httpx.get(sim.url("/v1/Deactivations"), params={"Date": str(day)}, auth=auth)
        saved = tmp_path / f"twilio_deactivations_{day}.txt"
        saved.write_bytes(httpx.get(link.json()["redirect_to"]).content)
    assert detect_format(saved) == "twilio"
    events = list(file_changes(saved, FILE_FORMATS["twilio"], NOW))
    assert [(e.mdn, e.effective_at) for e in events if isinstance(e, StateChange)] == [
        (number, midnight(day)) for number in DATA.twilio_numbers(day) or []
    ]


def test_a_day_answered_too_old_is_said_once_and_never_asked_for_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 10, case 11: 30113 was logged and counted as a missed day on every poll."""
    now = datetime(2020, 8, 28, 12, tzinfo=UTC)
    earlier = date(2020, 8, 1)  # as if Twilio's lists started earlier than documented
    with (
        CarrierSimulator(DATA) as sim,
        twilio(sim, lookback=5, clock=lambda: now, first_day=earlier) as source,
    ):
        asked = [r.covers for r in source.reports(set())]
        assert asked == [date(2020, 8, d) for d in (23, 24, 25, 26, 27)]
        with pytest.raises(ReportMissing, match="not asked for again"):
            list(source.rows(Report("twilio", report_id(date(2020, 8, 26)),
                                    covers=date(2020, 8, 26))))  # fmt: skip
        with caplog.at_level("WARNING", logger="numguard.producer.sources.twilio"):
            again = [r.covers for r in source.reports(set())]
            once_more = [r.covers for r in source.reports(set())]
    assert again == once_more == [date(2020, 8, 27)]
    said = [r for r in caplog.records if "are not asked for" in r.getMessage()]
    assert len(said) == 1
    queried = [r.query.get("Date") for r in sim.requests("/v1/Deactivations")]
    assert queried == ["2020-08-26"]


def test_days_before_twilios_first_list_are_never_asked_for() -> None:
    now = datetime(2020, 8, 29, tzinfo=UTC)
    with CarrierSimulator(DATA) as sim, twilio(sim, lookback=5, clock=lambda: now) as source:
        assert [r.covers for r in source.reports(set())] == [date(2020, 8, 27), date(2020, 8, 28)]
        assert sim.requests() == []
