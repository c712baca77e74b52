"""The Infobip source against the carrier simulator, over real HTTP."""

from __future__ import annotations

import io
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from numguard.simulator import CarrierSimulator, GeneratedDataset
from numguard.simulator.clock import ManualClock
from numguard.simulator.faults import FaultKind, FaultPlan, FaultRule
from numguard.simulator.server import Credentials
from producer.sources.base import CredentialsRejected, Rejection, SourceRow, UnreadableReport
from producer.sources.http import Pacer, RetryPolicy
from producer.sources.infobip import InfobipSource, read_records_file
from schemas.events import EventType, StateChange

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=2.0)
DATA = GeneratedDataset(seed=21, numbers=600, days=3)
KEY = "infobip-test-key-51c2"
NOW = datetime.now(UTC)


def simulator(**options: object) -> CarrierSimulator:
    return CarrierSimulator(DATA, credentials=Credentials(infobip_api_key=KEY), **options)  # type: ignore[arg-type]


def source(sim: CarrierSimulator, *, key: str = KEY, page_size: int = 25,
           pacer: Pacer | None = None, now: datetime = NOW) -> InfobipSource:  # fmt: skip
    return InfobipSource(
        sim.base_url, key, client=httpx.Client(timeout=10), policy=FAST, lookback_days=5,
        today=lambda: DATA.last_date + timedelta(days=1), now=lambda: now,
        pacer=pacer or Pacer(0.0), page_size=page_size,
    )  # fmt: skip


def test_every_report_and_record_arrives_page_by_page_and_normalizes() -> None:
    with simulator() as sim:
        infobip = source(sim)
        reports = list(infobip.reports(set()))
        assert {r.report_id for r in reports} == {r.report_id for r in DATA.infobip_reports()}
        changes: list[StateChange] = []
        for report in reports:
            rows = list(infobip.rows(report))
            expected = DATA.infobip_records(
                report.report_id, 0, DATA.infobip_record_count(report.report_id)
            )
            assert [r.fields["destination"] for r in rows] == [e["destination"] for e in expected]
            assert [r.position for r in rows] == list(range(1, len(rows) + 1))
            normalized = [infobip.normalize(row, NOW) for row in rows]
            assert all(isinstance(c, StateChange) for c in normalized)
            changes += [c for c in normalized if isinstance(c, StateChange)]
        pages = [r.query.get("page") for r in sim.requests("*/records")]
        assert "1" in pages  # records came in several pages of 25
    kinds = Counter(c.event_type for c in changes)
    assert kinds[EventType.DEACTIVATED] and kinds[EventType.NUMBER_CHANGED]
    changed = next(c for c in changes if c.event_type is EventType.NUMBER_CHANGED)
    assert changed.new_mdn and changed.raw_reason == "DEACTIVATION"
    assert {c.carrier for c in changes} <= {"Verizon Wireless", "AT&T Mobility"}


def test_pacing_avoids_throttling_and_a_429_is_waited_out() -> None:
    with simulator(infobip_min_interval=0.2) as sim:
        paced = source(sim, pacer=Pacer(0.25))
        report = next(iter(paced.reports(set())))
        list(paced.rows(report))
        assert [r.status for r in sim.requests("/number-activation-state/*")].count(429) == 0

        eager = source(sim, pacer=Pacer(0.0))
        list(eager.rows(report))  # right after the paced ones: the first is throttled
        statuses = [r.status for r in sim.requests("*/records")]
        assert 429 in statuses and statuses[-1] == 200


def test_server_errors_are_retried() -> None:
    flaky = FaultRule(FaultKind.ERROR, pattern="*/records", count=2)
    with simulator(faults=FaultPlan(rules=(flaky,))) as sim:
        infobip = source(sim)
        report = next(iter(infobip.reports(set())))
        assert list(infobip.rows(report))
        assert [r.status for r in sim.requests("*/records")][:3] == [500, 500, 200]


def test_a_wrong_key_stops_at_once_with_infobips_words() -> None:
    with simulator() as sim:
        with pytest.raises(CredentialsRejected, match="UNAUTHORIZED: Invalid login details") as err:
            list(source(sim, key="not-the-key").reports(set()))
        assert len(sim.requests("/number-activation-state/*")) == 1
        assert "not-the-key" not in str(err.value)


def test_a_report_that_expires_before_it_is_published_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(NOW)
    with simulator(clock=clock) as sim:
        infobip = source(sim)
        listed = list(infobip.reports(set()))
        oldest = min(DATA.infobip_reports(), key=lambda r: r.expiry_date)
        clock.set(oldest.expiry_date + timedelta(seconds=1))
        with caplog.at_level(logging.WARNING):
            again = list(infobip.reports(set()))
    assert oldest.report_id in {r.report_id for r in listed} - {r.report_id for r in again}
    assert (
        f"report {oldest.report_id} expired or was deleted before it was published" in caplog.text
    )


def test_reports_close_to_expiry_come_first() -> None:
    with simulator() as sim:
        newest = max(DATA.infobip_reports(), key=lambda r: r.generated_date)
        near_expiry = newest.expiry_date - timedelta(days=3)  # every report is within 7 days
        infobip = source(sim, now=near_expiry)
        order = [r.report_id for r in infobip.reports(set())]
    by_age = sorted(DATA.infobip_reports(), key=lambda r: (r.generated_date, r.report_id))
    assert order[0] == by_age[0].report_id


def row(**fields: str) -> SourceRow:
    return SourceRow("infobip", "r-1", 7, {"networkName": "AT&T Mobility", **fields})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"date": "2024-03-05T11:00:00.000+0000", "destination": "15125550100", "type": "PORT"},
         "unknown type 'PORT'"),
        ({"date": "2024-03-05T11:00:00.000+0000", "destination": "12", "type": "DEACTIVATION"},
         "destination '**' is not a number"),
        ({"date": "yesterday", "destination": "15125550100", "type": "SUSPENSION"},
         "date 'yesterday' is not an ISO 8601 time"),
        ({"date": "2024-03-05T11:00:00.000+0000", "destination": "15125550100",
          "type": "DEACTIVATION", "newDestination": "999"}, "newDestination '***' is not a number"),
    ],
)  # fmt: skip
def test_bad_items_become_rejections_with_reasons(fields: dict[str, str], reason: str) -> None:
    rejected = InfobipSource.normalize(row(**fields), NOW)
    assert isinstance(rejected, Rejection)
    assert reason in rejected.reason


def test_item_types_map_onto_the_event_enum() -> None:
    base = {"date": "2024-03-05T11:00:00.000+0000", "destination": "15125550100"}
    kinds = {
        "DEACTIVATION": EventType.DEACTIVATED, "SUSPENSION": EventType.SUSPENDED,
        "REACTIVATION": EventType.REACTIVATED, "ACTIVATION": EventType.ACTIVATED,
    }  # fmt: skip
    for kind, expected in kinds.items():
        change = InfobipSource.normalize(row(**base, type=kind), NOW)
        assert isinstance(change, StateChange)
        assert (change.event_type, change.mdn, change.carrier) == (
            expected,
            "+15125550100",
            "AT&T Mobility",
        )
        assert change.effective_at == datetime(2024, 3, 5, 11, tzinfo=UTC)


def test_saved_records_files_are_read_and_junk_is_rejected_whole() -> None:
    item = '{"date": "2024-03-05T11:00:00.000+0000", "destination": "15125550100", "type": "S"}'
    saved = '{"results": [' + item.replace('"S"', '"DEACTIVATION"') + ", 5]}"
    rows = list(read_records_file(io.StringIO(saved), "report-1.json"))
    assert [InfobipSource.normalize(r, NOW).__class__.__name__ for r in rows] == [
        "StateChange", "Rejection"
    ]  # fmt: skip
    with pytest.raises(UnreadableReport, match="not JSON"):
        list(read_records_file(io.StringIO("MDN,REASON_CODE\n"), "x.json"))
    with pytest.raises(UnreadableReport, match="expected"):
        list(read_records_file(io.StringIO('{"paging": {}}'), "x.json"))
