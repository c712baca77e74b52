"""Issue 14: GovDelivery TMS's deactivated numbers, from the simulator over real HTTP
(X-AUTH-TOKEN, faults, missed days), through `numguard produce` onto the real broker,
and saved lists through `numguard ingest`."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.devtools.simulator import CarrierSimulator, FaultKind, FaultPlan, FaultRule
from numguard.devtools.simulator import GeneratedDataset as Dataset
from numguard.devtools.simulator.server import DEV_GOVDELIVERY_TOKEN
from numguard.producer.checkpoints import read_checkpoints
from numguard.producer.sources.base import CredentialsRejected, ReportMissing, UnreadableReport
from numguard.producer.sources.govdelivery import GovDeliverySource, read_list, report_id
from numguard.producer.sources.http import RetryPolicy
from numguard.schemas.events import EventType, StateChange
from tests.producer.test_produce import produce, published_numbers
from tests.support.commands import numguard

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
DATA = Dataset(seed=21, numbers=300, days=3)  # its last day is yesterday (UTC)
NOW = datetime.now(UTC)
# The window the dataset was made for, even when the run crosses midnight (UTC).
TODAY = DATA.last_date + timedelta(days=1)


def source(sim: CarrierSimulator, token: str = DEV_GOVDELIVERY_TOKEN) -> GovDeliverySource:
    return GovDeliverySource(sim.base_url, token, lookback_days=3, policy=FAST,
                             client=httpx.Client(timeout=10), today=lambda: TODAY)  # fmt: skip


def test_each_day_is_read_with_the_token_and_normalized_to_deactivations() -> None:
    with CarrierSimulator(DATA) as sim:
        feed = source(sim)
        reports = list(feed.reports(set()))
        assert [(r.report_id, r.covers) for r in reports] == [
            (report_id(day), day) for day in DATA.dates()]  # fmt: skip
        for report in reports:
            assert report.covers is not None
            events = [feed.normalize(row, NOW) for row in feed.rows(report)]
            expected = list(DATA.twilio_numbers(report.covers) or [])
            assert expected and [e.mdn for e in events if isinstance(e, StateChange)] == expected
            midnight = datetime.combine(report.covers, datetime.min.time(), UTC)
            assert {(e.event_type, e.effective_at, e.source) for e in events
                    if isinstance(e, StateChange)} == {
                (EventType.DEACTIVATED, midnight, "govdelivery")}  # fmt: skip
        sent = sim.requests("/deactivated_phone_numbers")
        assert [r.query["date"] for r in sent] == [f"{d:%Y-%m-%d}" for d in DATA.dates()]


def test_a_wrong_token_stops_the_source_and_is_never_shown() -> None:
    with CarrierSimulator(DATA) as sim:
        feed = source(sim, token="wrong-token-00000000000000000000")
        (first, *_) = feed.reports(set())
        with pytest.raises(CredentialsRejected, match="Invalid authentication token") as refused:
            list(feed.rows(first))
    assert "wrong-token" not in str(refused.value)


def test_server_errors_are_retried_a_missing_day_is_missing_a_cut_body_unreadable() -> None:
    missing = DATA.dates()[1]
    faults = FaultPlan(missing_days=frozenset({missing}), rules=(
        FaultRule(FaultKind.ERROR, "/deactivated_phone_numbers", count=2, status=503),
    ))  # fmt: skip
    with CarrierSimulator(DATA, faults=faults) as sim:
        feed = source(sim)
        first, second, third = feed.reports(set())
        assert first.covers is not None
        assert len(list(feed.rows(first))) == len(list(DATA.twilio_numbers(first.covers) or []))
        with pytest.raises(ReportMissing, match="HTTP 404"):
            list(feed.rows(second))
    cut = FaultPlan(rules=(FaultRule(FaultKind.TRUNCATE, "/deactivated_phone_numbers"),))
    with CarrierSimulator(DATA, faults=cut) as sim, pytest.raises(UnreadableReport, match="broke"):
        list(source(sim).rows(third))


def test_a_header_line_and_blank_lines_are_skipped_and_positions_kept() -> None:
    rows = list(read_list(["\ufeffphone\r\n", "15075551212\r\n", "\r\n", "2025550143\n"],
                          "govdelivery_deactivations_2024-03-05.csv"))  # fmt: skip
    assert [(r.position, r.fields["number"], r.fields["date"]) for r in rows] == [
        (2, "15075551212", "2024-03-05"),
        (4, "2025550143", "2024-03-05"),
    ]


@pytest.mark.kafka
def test_produce_publishes_each_day_once_and_records_a_missed_one(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    data = Dataset(seed=22, numbers=200, days=3)
    missing = data.dates()[0]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "NUMGUARD_TOPIC": topics.events,
           "GOVDELIVERY_AUTH_TOKEN": DEV_GOVDELIVERY_TOKEN}  # fmt: skip
    with CarrierSimulator(data, faults=FaultPlan(missing_days=frozenset({missing}))) as sim:
        args = ["--once", "--govdelivery-url", sim.base_url, "--lookback-days", "3"]
        first = produce(env, *args)
        again = produce(env, *args)
    assert first.returncode == 0, first.stderr
    # A count of 0 is left out of the summary line.
    assert (json.loads(first.stdout)["reports"], json.loads(again.stdout).get("reports", 0)) == (
        2, 0)  # fmt: skip
    assert json.loads(first.stdout)["late"] == [report_id(missing)]
    served = [day for day in data.dates() if day != missing]
    expected = Counter(n for day in served for n in data.twilio_numbers(day) or [])
    assert published_numbers(kafka_bootstrap, topics) == expected
    from numguard.core.kafka.clients import base_config

    marks = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints)
    assert marks[f"govdelivery/{report_id(missing)}"].missed is True
    unset = produce({**env, "GOVDELIVERY_AUTH_TOKEN": ""}, "--once", "--govdelivery-url",
                    "http://127.0.0.1:9")  # fmt: skip
    assert unset.returncode == 2
    assert "the environment variable GOVDELIVERY_AUTH_TOKEN is not set" in unset.stderr


@pytest.mark.kafka
def test_a_saved_list_is_ingested_by_its_name(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: pytest.TempPathFactory
) -> None:
    path = tmp_path / "govdelivery_deactivations_2024-03-05.csv"  # type: ignore[operator]
    path.write_text("15075551212\r\n12025550143\r\nnot a number\r\n")
    done = numguard("ingest", "--json", "--bootstrap-servers", kafka_bootstrap, "--topic",
                    topics.events, str(path))  # fmt: skip
    summary = json.loads(done.stdout)
    assert (done.returncode, summary["accepted"], summary["rejected"]) == (3, 2, 1)
    assert published_numbers(kafka_bootstrap, topics) == Counter(
        {"+15075551212": 1, "+12025550143": 1}
    )
    assert date(2024, 3, 5).isoformat() in path.name
