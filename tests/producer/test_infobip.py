"""The Infobip source against the carrier simulator, over real HTTP on loopback."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from numguard.devtools.simulator import (
    CarrierSimulator,
    Credentials,
    DirectoryDataset,
    FaultKind,
    FaultPlan,
    FaultRule,
    GeneratedDataset,
    InfobipReport,
    Kind,
    ManualClock,
)
from numguard.devtools.simulator.feeds import CarrierData
from numguard.producer.ingest import FILE_FORMATS, detect_format, file_changes
from numguard.producer.sources.base import (
    CredentialsRejected,
    Flagged,
    Rejection,
    RejectKind,
    Report,
    ReportMissing,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
)
from numguard.producer.sources.http import Pacer, RetryPolicy
from numguard.producer.sources.infobip import InfobipSource, read_records_file
from numguard.schemas.events import EventType, StateChange

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=2.0)
KEY = "infobip-test-key-51c2"
REPORTS = "/number-activation-state/1/network-reports"
NOW = datetime.now(UTC)
# Two reports a network a day over 3 days (the last is yesterday): 12 reports.
DATA = GeneratedDataset(seed=21, numbers=600, days=3, infobip_reports_per_day=2)
EVENT_OF = {
    Kind.DEACTIVATE: EventType.DEACTIVATED, Kind.SUSPEND: EventType.SUSPENDED,
    Kind.REACTIVATE: EventType.REACTIVATED, Kind.CHANGE_NUMBER: EventType.NUMBER_CHANGED,
    Kind.ACTIVATE: EventType.ACTIVATED,
}  # fmt: skip


def simulator(data: CarrierData = DATA, **options: object) -> CarrierSimulator:
    options.setdefault("clock", ManualClock(NOW))  # report expiry never depends on the run
    return CarrierSimulator(data, credentials=Credentials(infobip_api_key=KEY), **options)  # type: ignore[arg-type]


@contextmanager
def infobip(sim: CarrierSimulator, **options: object) -> Iterator[InfobipSource]:
    settings: dict[str, object] = {
        "client": httpx.Client(timeout=10), "policy": FAST, "page_size": 25,
        "pacer": Pacer(0.0), "lookback_days": 5, "clock": lambda: NOW,
    }  # fmt: skip
    source = InfobipSource(sim.base_url, str(options.pop("key", KEY)), **{**settings, **options})  # type: ignore[arg-type]
    try:
        yield source
    finally:
        source.close()


def changes(source: InfobipSource, report: Report) -> list[StateChange]:
    events = [source.normalize(row, NOW) for row in source.rows(report)]
    assert all(isinstance(e, StateChange) for e in events), events
    return [e for e in events if isinstance(e, StateChange)]


def test_every_report_and_record_arrives_page_by_page_and_normalizes_to_the_truth() -> None:
    with simulator() as sim, infobip(sim, page_size=5) as source:
        reports = list(source.reports(set()))
        by_age = sorted(DATA.infobip_reports(), key=lambda r: (r.generated_date, r.report_id))
        assert [(r.report_id, r.covers, r.expires_at) for r in reports] == [
            (t.report_id, t.date_from, t.expiry_date) for t in by_age
        ]
        seen: set[EventType] = set()
        for report in reports:
            rows = list(source.rows(report))
            count = DATA.infobip_record_count(report.report_id)
            assert [row.position for row in rows] == list(range(1, count + 1))
            served = [{k: str(v) for k, v in item.items()}
                      for item in DATA.infobip_records(report.report_id, 0, count)]  # fmt: skip
            added = ("networkName", "generatedDate")  # the report's, on every row
            assert [{k: v for k, v in row.fields.items() if k not in added}
                    for row in rows] == served  # fmt: skip
            truth = [(c.mdn, EVENT_OF[c.kind], c.at, c.new_mdn, c.carrier)
                     for c in DATA.report_changes(report.report_id)]  # fmt: skip
            events = [source.normalize(row, NOW) for row in rows]
            assert [(e.mdn, e.event_type, e.effective_at, e.new_mdn, e.carrier)
                    for e in events if isinstance(e, StateChange)] == truth  # fmt: skip
            seen |= {e.event_type for e in events if isinstance(e, StateChange)}
            # Ties between reports go to the later generated one: every event carries it.
            generated = {e.report_generated_at for e in events if isinstance(e, StateChange)}
            assert len(generated) <= 1 and None not in generated
        listing = sim.requests(REPORTS)
        records = sim.requests(f"{REPORTS}/{reports[0].report_id}/records")
    # Every type a carrier feed reports (UNDELIVERABLE comes from delivery reports).
    assert seen == set(EventType) - {EventType.UNKNOWN, EventType.UNDELIVERABLE}
    # 12 reports at 5 a page, each report's records 5 a page: paged through to the end,
    # once by the dates covered and once by the generated dates (late reports).
    since, today = f"{NOW.date() - timedelta(days=5)}", f"{NOW.date()}"
    by_dates = [r for r in listing if "dateFrom" in r.query]
    by_generated = [r for r in listing if "generatedDateFrom" in r.query]
    assert len(by_dates) + len(by_generated) == len(listing)
    for asked, prefix in ((by_dates, "date"), (by_generated, "generatedDate")):
        assert [r.query["page"] for r in asked] == ["0", "1", "2"]
        assert {(r.query[f"{prefix}From"], r.query[f"{prefix}To"], r.query["size"])
                for r in asked} == {(since, today, "5")}  # fmt: skip
    pages = -(-DATA.infobip_record_count(reports[0].report_id) // 5)
    assert [r.query["page"] for r in records] == [str(p) for p in range(pages)]


def test_network_filters_are_asked_for_and_set_the_carrier() -> None:
    with simulator() as sim:
        with infobip(sim, network_name="AT&T Mobility") as source:
            att = list(source.reports(set()))
            carriers = {e.carrier for e in changes(source, att[0])}
        with infobip(sim, network_id=1717) as source:
            verizon = list(source.reports(set()))
        queries = [r.query for r in sim.requests(REPORTS)]
    names = {r.report_id: r.network_name for r in DATA.infobip_reports()}
    assert {names[r.report_id] for r in att} == {"AT&T Mobility"} == carriers
    assert {names[r.report_id] for r in verizon} == {"Verizon Wireless"}
    assert len(att) + len(verizon) == len(names)
    assert queries[0]["networkName"] == "AT&T Mobility" and queries[-1]["networkId"] == "1717"


def test_a_report_listed_elsewhere_gets_its_carrier_from_its_metadata() -> None:
    wanted = DATA.infobip_reports()[1]
    with simulator() as sim, infobip(sim) as source:
        events = changes(source, Report("infobip", wanted.report_id))
        lookups = [r.query.get("reportId") for r in sim.requests(REPORTS)]
    assert lookups == [wanted.report_id]
    assert {e.carrier for e in events} == {wanted.network_name}


def test_pacing_avoids_throttling_and_a_429_retry_after_is_waited_out() -> None:
    # The simulator's pacing needs its real clock. Pacer 0.75 s against a 0.5 s limit
    # leaves 0.25 s for jitter; the unpaced client's first request must come within
    # 0.5 s of the last paced one, even on a loaded machine.
    with simulator(clock=time.time, infobip_min_interval=0.5) as sim:
        with infobip(sim, pacer=Pacer(0.75), page_size=1000) as paced:
            first, second, *_ = paced.reports(set())
            list(paced.rows(first))
            list(paced.rows(second))
        paced_statuses = [r.status for r in sim.requests()]
        with infobip(sim, pacer=Pacer(0.0)) as eager:
            assert list(eager.reports(set()))  # straight after: throttled, then let through
        eager_requests = sim.requests()[len(paced_statuses) :]
    assert paced_statuses == [200, 200, 200, 200]  # two listings, two reports' records
    # Each listing, unpaced, is throttled once and let through after Retry-After.
    assert [r.status for r in eager_requests] == [429, 200, 429, 200]
    # Retry-After: 1 was honoured (a lower bound: a slow machine only waits longer).
    assert eager_requests[1].at - eager_requests[0].at >= 0.95


def test_server_errors_are_retried_and_give_up_with_infobips_words() -> None:
    flaky = (FaultRule(FaultKind.ERROR, pattern=REPORTS, count=1),
             FaultRule(FaultKind.ERROR, pattern="*/records", count=2))  # fmt: skip
    with simulator(faults=FaultPlan(rules=flaky)) as sim, infobip(sim) as source:
        report = next(iter(source.reports(set())))
        assert changes(source, report)
        listings = [r.status for r in sim.requests(REPORTS)]
        records = [r.status for r in sim.requests("*/records")]
    # listings: 500 then 200, then 200; the records: 500, 500, then 200 for the first
    # page and for each further one (how many depends on the day's generated data).
    assert listings == [500, 200, 200]
    assert records[:3] == [500, 500, 200] and set(records[3:]) <= {200}

    down = FaultRule(FaultKind.ERROR, pattern="*/records", count=None)
    with simulator(faults=FaultPlan(rules=(down,))) as sim, infobip(sim) as source:
        report = next(iter(source.reports(set())))
        with pytest.raises(SourceUnavailable, match="GENERAL_ERROR: Something went wrong"):
            list(source.rows(report))
        assert len(sim.requests("*/records")) == FAST.attempts


def test_a_wrong_key_stops_at_once_with_infobips_words(caplog: pytest.LogCaptureFixture) -> None:
    with simulator() as sim, infobip(sim, key="not-the-key") as source:
        with pytest.raises(CredentialsRejected, match="UNAUTHORIZED: Invalid login details") as err:
            list(source.reports(set()))
        assert [r.status for r in sim.requests()] == [401]  # no retry storm
    assert "not-the-key" not in str(err.value) + caplog.text


def first_to_expire() -> list[InfobipReport]:
    """The reports that expire first: one per network, generated at the same hour."""
    soonest = min(r.expiry_date for r in DATA.infobip_reports())
    return sorted((r for r in DATA.infobip_reports() if r.expiry_date == soonest),
                  key=lambda r: r.report_id)  # fmt: skip


def test_expired_unpublished_reports_are_warned_about_once_and_not_yielded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lost, published = first_to_expire()
    later = lost.expiry_date + timedelta(seconds=1)  # expired by the source's clock only
    with (
        simulator() as sim,
        infobip(sim, clock=lambda: later, lookback_days=70) as source,
        caplog.at_level(logging.WARNING, logger="numguard.producer.sources.infobip"),
    ):
        yielded = {r.report_id for r in source.reports({published.report_id})}
        again = {r.report_id for r in source.reports({published.report_id})}
    everything = {r.report_id for r in DATA.infobip_reports()}
    assert yielded == again == everything - {lost.report_id, published.report_id}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once, and not for the published one
    assert (
        f"report {lost.report_id} ({lost.network_name}, covering {lost.date_from})" in (warnings[0])
    )
    assert "expired at" in warnings[0] and "can no longer be fetched" in warnings[0]


def test_a_report_that_vanishes_before_it_is_published_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(NOW)
    lost = first_to_expire()
    with simulator(clock=clock) as sim, infobip(sim) as source:
        listed = {r.report_id for r in source.reports(set())}
        clock.set(lost[0].expiry_date + timedelta(seconds=1))  # Infobip deletes them
        with caplog.at_level(logging.WARNING, logger="numguard.producer.sources.infobip"):
            again = {r.report_id for r in source.reports(set())}
    assert listed - again == {r.report_id for r in lost}
    for report in lost:
        assert f"report {report.report_id} ({report.network_name}" in caplog.text
    assert caplog.text.count("expired or was deleted before it was published") == 2


def given_reports(folder: Path) -> Path:
    """Reports whose expiry does not follow their age, and records with bad items."""
    item = {"date": "2024-03-01T11:00:00.000+0000", "destination": "15125550100",
            "type": "DEACTIVATION"}  # fmt: skip
    bad = [
        {**item, "newDestination": "15125550199"},
        {**item, "type": "PORTED"},
        {**item, "destination": "512555"},
        {**item, "date": "yesterday"},
        {**item, "newDestination": "9995550100123"},
        42,
    ]
    reports: list[dict[str, object]] = [
        {"reportId": "old-long", "generatedDate": "2024-03-02T01:00:00Z", "expiryDate":
         "2024-05-01", "records": [item, *bad]},
        {"reportId": "new-short", "generatedDate": "2024-03-05T01:00:00Z", "expiryDate":
         "2024-03-12T00:00:00Z", "records": [item]},
        {"reportId": "mid-long", "generatedDate": "2024-03-03T01:00:00Z", "expiryDate":
         "2024-05-02T00:00:00Z", "records": []},
    ]  # fmt: skip
    common = {"networkName": "AT&T Mobility", "networkId": 1733, "dateFrom": "2024-03-01",
              "dateTo": "2024-03-01"}  # fmt: skip
    (folder / "reports.json").write_text(json.dumps([{**common, **r} for r in reports]))
    return folder


def test_reports_close_to_expiry_come_first_and_bad_items_are_rejected(tmp_path: Path) -> None:
    moment = datetime(2024, 3, 8, tzinfo=UTC)
    data = DirectoryDataset(given_reports(tmp_path))
    with (
        simulator(data, clock=ManualClock(moment)) as sim,
        infobip(sim, clock=lambda: moment, lookback_days=10) as source,
    ):
        reports = list(source.reports(set()))
        results = [source.normalize(row, NOW) for row in source.rows(reports[1])]
    assert [r.report_id for r in reports] == ["new-short", "old-long", "mid-long"]
    # A bare expiryDate lasts through its day.
    assert reports[1].expires_at == datetime(2024, 5, 2, tzinfo=UTC)
    kinds = [
        r.event_type
        if isinstance(r, StateChange)
        else (r.change.event_type, r.warning.kind)
        if isinstance(r, Flagged)
        else r.kind
        if isinstance(r, Rejection)
        else r.why
        for r in results
    ]
    assert kinds == [
        EventType.DEACTIVATED, EventType.NUMBER_CHANGED, RejectKind.UNKNOWN_TYPE,
        RejectKind.BAD_NUMBER, RejectKind.BAD_TIME,
        (EventType.DEACTIVATED, RejectKind.BAD_NEW_NUMBER),  # published, with a warning
        RejectKind.BAD_SHAPE,
    ]  # fmt: skip
    for result in results[2:]:
        rejection = result.warning if isinstance(result, Flagged) else result
        assert isinstance(rejection, Rejection)
        assert not any(n in rejection.reason for n in ("5125550100", "512555", "9995550100123"))


def test_a_deleted_report_is_missing() -> None:
    with (
        simulator() as sim,
        infobip(sim) as source,
        pytest.raises(ReportMissing, match=r"gone \(expired or deleted\): NOT_FOUND"),
    ):
        list(source.rows(Report("infobip", "no-such-report")))


@pytest.mark.parametrize(
    ("rule", "error", "message"),
    [
        (FaultRule(FaultKind.ERROR, "*/records", status=200), UnreadableReport, "not the API's"),
        (FaultRule(FaultKind.TRUNCATE, "*/records"), UnreadableReport, "page 0 broke off"),
        (FaultRule(FaultKind.TRUNCATE, REPORTS), SourceUnavailable, "report list: page 0 broke"),
        (FaultRule(FaultKind.ERROR, REPORTS, status=200), SourceUnavailable, "not the API's"),
    ],
)
def test_a_page_that_is_not_the_apis_json_is_unreadable(
    rule: FaultRule, error: type[Exception], message: str
) -> None:
    report = Report("infobip", DATA.infobip_reports()[0].report_id)
    with (
        simulator(faults=FaultPlan(rules=(rule,))) as sim,
        infobip(sim) as source,
        pytest.raises(error, match=message),
    ):
        list(source.reports(set())) if rule.pattern == REPORTS else list(source.rows(report))


def row(**fields: str) -> SourceRow:
    return SourceRow("infobip", "r-1", 7, {"networkName": "AT&T Mobility", **fields})


GOOD = {"date": "2024-03-05T11:00:00.000+0000", "destination": "15125550100"}


@pytest.mark.parametrize(
    ("fields", "kind", "reason"),
    [
        ({**GOOD, "type": "PORT"}, RejectKind.UNKNOWN_TYPE, "unknown type 'PORT'"),
        ({**GOOD, "destination": "12", "type": "DEACTIVATION"}, RejectKind.BAD_NUMBER,
         "destination '**' is not a number"),
        ({**GOOD, "date": "yesterday", "type": "SUSPENSION"}, RejectKind.BAD_TIME,
         "date 'yesterday' is not an ISO 8601 time"),
        ({"_item": "42"}, RejectKind.BAD_SHAPE, "not a JSON object"),
        ({**GOOD, "date": "9999-12-31T23:00:00.000+0000", "type": "DEACTIVATION"},
         RejectKind.BAD_TIME, "later than a day after its report"),
        ({**GOOD, "date": "9999-12-31T23:00:00.000-0500", "type": "DEACTIVATION"},
         RejectKind.BAD_TIME, "is not an ISO 8601 time"),
    ],
)  # fmt: skip
def test_bad_items_become_rejections_with_reasons(
    fields: dict[str, str], kind: RejectKind, reason: str
) -> None:
    rejected = InfobipSource.normalize(row(**fields), NOW)
    assert isinstance(rejected, Rejection)
    assert (rejected.kind, rejected.row.position) == (kind, 7)
    assert reason in rejected.reason and "15125550100" not in rejected.reason


def test_item_types_map_onto_the_event_enum() -> None:
    kinds = {
        "DEACTIVATION": EventType.DEACTIVATED, "SUSPENSION": EventType.SUSPENDED,
        "REACTIVATION": EventType.REACTIVATED, "ACTIVATION": EventType.ACTIVATED,
    }  # fmt: skip
    for kind, expected in kinds.items():
        change = InfobipSource.normalize(row(**GOOD, type=kind), NOW)
        assert isinstance(change, StateChange)
        assert (change.event_type, change.mdn, change.carrier, change.raw_reason) == (
            expected, "+15125550100", "AT&T Mobility", kind
        )  # fmt: skip
        assert change.effective_at == datetime(2024, 3, 5, 11, tzinfo=UTC)
    changed = InfobipSource.normalize(
        row(**GOOD, type="DEACTIVATION", newDestination="15125550199"), NOW
    )
    assert isinstance(changed, StateChange)
    assert (changed.event_type, changed.new_mdn, changed.raw_reason) == (
        EventType.NUMBER_CHANGED, "+15125550199", "DEACTIVATION"
    )  # fmt: skip


ITEM = {"date": "2024-03-05T11:00:00.000+0000", "destination": "15125550100", "type": "SUSPENSION"}


@pytest.mark.parametrize(
    ("saved", "carrier"),
    [
        ({"results": [ITEM, 5], "paging": {"page": 0, "totalPages": 1}}, None),
        ([ITEM, 5], None),
        ({"report": {"reportId": "r", "networkName": "AT&T Mobility"}, "results": [ITEM, 5]},
         "AT&T Mobility"),
        ({"reportId": "r", "networkName": "Verizon Wireless", "records": [ITEM, 5]},
         "Verizon Wireless"),
    ],
)  # fmt: skip
def test_saved_records_files_of_each_shape_are_read(saved: object, carrier: str | None) -> None:
    rows = list(read_records_file(io.StringIO(json.dumps(saved)), "report-1.json"))
    first, second = (InfobipSource.normalize(r, NOW) for r in rows)
    assert isinstance(first, StateChange) and isinstance(second, Rejection)
    assert (first.event_type, first.carrier, first.report_position) == (
        EventType.SUSPENDED, carrier, 1
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [("MDN,REASON_CODE\n", "not JSON"), ('{"paging": {}}', "not Infobip records"),
     ('"results"', "not Infobip records"), ('{"results": {"a": 1}}', "not Infobip records")],
)  # fmt: skip
def test_a_saved_file_of_another_shape_is_rejected_whole(text: str, message: str) -> None:
    with pytest.raises(UnreadableReport, match=message):
        list(read_records_file(io.StringIO(text), "x.json"))


def test_ingest_reads_a_records_page_saved_from_the_api(tmp_path: Path) -> None:
    report = DATA.infobip_reports()[0]
    with simulator() as sim:
        page = httpx.get(
            sim.url(f"{REPORTS}/{report.report_id}/records"),
            params={"size": 1000}, headers={"Authorization": f"App {KEY}"},
        )  # fmt: skip
    saved = tmp_path / f"{report.report_id}.json"
    saved.write_bytes(page.content)
    assert detect_format(saved) == "infobip"
    events = list(file_changes(saved, FILE_FORMATS["infobip"], NOW))
    truth = [(c.mdn, EVENT_OF[c.kind], c.at) for c in DATA.report_changes(report.report_id)]
    assert [(e.mdn, e.event_type, e.effective_at) for e in events if isinstance(e, StateChange)] \
        == truth  # fmt: skip


@pytest.mark.parametrize("bad", ["9995550100123", "1", "n/a"])
def test_a_bad_new_destination_still_publishes_the_deactivation(bad: str) -> None:
    """Issue 10, case 1: the whole item was rejected, so the old number stayed allowed."""
    fields = {**GOOD, "type": "DEACTIVATION", "newDestination": bad}
    flagged = InfobipSource.normalize(row(**fields), NOW)
    assert isinstance(flagged, Flagged)
    assert (flagged.change.event_type, flagged.change.mdn) == (
        EventType.DEACTIVATED,
        "+15125550100",
    )
    assert flagged.change.new_mdn is None
    assert flagged.warning.kind is RejectKind.BAD_NEW_NUMBER
    assert "published without its new number" in flagged.warning.reason
    assert "9995550100123" not in flagged.warning.reason
