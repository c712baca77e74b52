"""Polling the Convey feed from the simulator into a real broker: every row once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from numguard.core.checkpoints import Checkpoint
from numguard.core.kafka.clients import base_config, transactional_producer_config
from numguard.core.kafka.topics import TopicNames
from numguard.devtools.simulator import CarrierSimulator, GeneratedDataset
from numguard.devtools.simulator.faults import FaultKind, FaultPlan, FaultRule
from numguard.producer.checkpoints import read_checkpoints
from numguard.producer.metrics import ProducerMetrics
from numguard.producer.poller import Poller
from numguard.producer.publish import ReportPublisher
from numguard.producer.sources.convey import ConveyDirectorySource, ConveyHttpSource
from numguard.producer.sources.http import RetryPolicy
from numguard.schemas.codec import EventCodec
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka

FAST_RETRIES = RetryPolicy(attempts=4, initial_seconds=0.01, max_seconds=0.05)
DAYS = 4
START = date(2024, 3, 1)
TODAY = START + timedelta(days=DAYS)  # the simulator's last day is yesterday
TEMPLATE = "/convey/mcdn_deact_{date:%Y%m%d}.csv"


def dataset() -> GeneratedDataset:
    return GeneratedDataset(seed=7, numbers=240, days=DAYS, start_date=START)


def expected_numbers(data: GeneratedDataset, days: list[date]) -> Counter[str]:
    found: Counter[str] = Counter()
    for day in days:
        for row in data.convey_rows(day) or []:
            found["+" + row["MDN"]] += 1
    return found


def poller(bootstrap: str, names: TopicNames, registry: CollectorRegistry) -> Poller:
    metrics = ProducerMetrics(registry)
    publisher = ReportPublisher(
        transactional_producer_config(bootstrap, f"test-produce-{names.events}"), names,
        EventCodec(), rows_per_transaction=25, metrics=metrics,
    )  # fmt: skip
    return Poller(
        publisher, read_checkpoints(base_config(bootstrap), names.checkpoints),
        metrics, now=lambda: datetime.combine(TODAY, datetime.min.time(), UTC)
        + timedelta(hours=13),
    )  # fmt: skip


def http_source(simulator: CarrierSimulator) -> ConveyHttpSource:
    return ConveyHttpSource(
        simulator.base_url + TEMPLATE, client=httpx.Client(timeout=10), policy=FAST_RETRIES,
        lookback_days=DAYS + 2, today=lambda: TODAY,
    )  # fmt: skip


def published_numbers(bootstrap: str, names: TopicNames) -> Counter[str]:
    return Counter((m.key() or b"").decode() for m in read_committed(bootstrap, names.events))


def test_every_day_of_the_window_is_published_once_and_a_missed_day_is_backfilled(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    data = dataset()
    missing = START + timedelta(days=1)
    registry = CollectorRegistry()
    with CarrierSimulator(data, faults=FaultPlan(missing_days=frozenset({missing}))) as sim:
        first = poller(kafka_bootstrap, topics, registry).poll(http_source(sim))
    # Two days before START have no files either: the window is wider than the data.
    assert first.late == [
        f"mcdn_deact_{d:%Y%m%d}.csv"
        for d in (START - timedelta(days=2), START - timedelta(days=1), missing)
    ]
    assert (first.reports, first.failed) == (DAYS - 1, False)
    assert registry.get_sample_value("numguard_reports_missing_total", {"source": "convey"}) == 3
    # Issue 10, case 13: a missed day opens no transaction, so none is aborted.
    transactions = "numguard_producer_transactions_total"
    assert registry.get_sample_value(transactions, {"outcome": "aborted"}) in (None, 0)
    served = [
        START + timedelta(days=i) for i in range(DAYS) if START + timedelta(days=i) != missing
    ]
    assert published_numbers(kafka_bootstrap, topics) == expected_numbers(data, served)
    # Issue 11, case 7: each report's checkpoint names its day, and a missed day is
    # recorded as such (the store answers no_data for it), once however often polled.
    marks = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints)
    key = f"convey/mcdn_deact_{missing:%Y%m%d}.csv"
    assert (marks[key].missed, marks[key].done, marks[key].covers) == (
        True, False, missing.isoformat())  # fmt: skip
    assert sorted(c.covers for c in marks.values() if c.done) == [d.isoformat() for d in served]
    again = CollectorRegistry()
    with CarrierSimulator(data, faults=FaultPlan(missing_days=frozenset({missing}))) as sim:
        assert poller(kafka_bootstrap, topics, again).poll(http_source(sim)).reports == 0
    assert again.get_sample_value(transactions, {"outcome": "committed"}) in (None, 0)

    with CarrierSimulator(data) as sim:  # the carrier delivers the missed day late
        second = poller(kafka_bootstrap, topics, CollectorRegistry()).poll(http_source(sim))
        listed = [r.path for r in sim.requests("/convey/*")]
    assert second.reports == 1
    assert listed == [f"/convey/mcdn_deact_{d:%Y%m%d}.csv" for d in
                      (START - timedelta(days=2), START - timedelta(days=1), missing)]  # fmt: skip
    all_days = [START + timedelta(days=i) for i in range(DAYS)]
    assert published_numbers(kafka_bootstrap, topics) == expected_numbers(data, all_days)
    delivered = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints)[key]
    assert (delivered.missed, delivered.done) == (False, True)


def test_server_errors_are_retried_and_a_truncated_file_is_not_marked_done(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    data = dataset()
    faults = FaultPlan(rules=(
        FaultRule(FaultKind.ERROR, pattern="/convey/*0301.csv", count=2),
        FaultRule(FaultKind.TRUNCATE, pattern="/convey/*0302.csv", count=1),
    ))  # fmt: skip
    registry = CollectorRegistry()
    with CarrierSimulator(data, faults=faults) as sim:
        outcome = poller(kafka_bootstrap, topics, registry).poll(http_source(sim))
        statuses = [r.status for r in sim.requests("/convey/*0301.csv")]
    transactions = "numguard_producer_transactions_total"
    assert (registry.get_sample_value(transactions, {"outcome": "aborted"}) or 0) >= 1
    assert (registry.get_sample_value(transactions, {"outcome": "committed"}) or 0) >= 2
    assert statuses == [500, 500, 200]
    assert outcome.unreadable == ["mcdn_deact_20240302.csv"]
    assert outcome.failed
    with CarrierSimulator(data) as sim:
        again = poller(kafka_bootstrap, topics, CollectorRegistry()).poll(http_source(sim))
    assert again.reports == 1
    all_days = [START + timedelta(days=i) for i in range(DAYS)]
    assert published_numbers(kafka_bootstrap, topics) == expected_numbers(data, all_days)


def test_files_dropped_in_a_directory_are_published_once(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    data = dataset()
    for i in range(DAYS):
        day = START + timedelta(days=i)
        body = data.convey_file(day)
        assert body is not None
        (tmp_path / f"mcdn_deact_{day:%Y%m%d}.csv").write_bytes(b"".join(body.chunks()))
    source = ConveyDirectorySource(tmp_path, lookback_days=DAYS, today=lambda: TODAY)
    first = poller(kafka_bootstrap, topics, CollectorRegistry()).poll(source)
    second = poller(kafka_bootstrap, topics, CollectorRegistry()).poll(source)
    assert (first.reports, second.reports) == (DAYS, 0)
    all_days = [START + timedelta(days=i) for i in range(DAYS)]
    assert published_numbers(kafka_bootstrap, topics) == expected_numbers(data, all_days)


def produce(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "numguard", "produce", *args], env=env, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip


def test_once_exit_codes(kafka_bootstrap: str, topics: TopicNames, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NUMGUARD_TOPIC": topics.events,
    }
    with CarrierSimulator(dataset()) as sim:
        url = sim.base_url + TEMPLATE
        ok = produce(env, "--once", "--convey-url", url, "--lookback-days", "2")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.splitlines()[0])["source"] == "convey"

    unreachable = produce(env, "--once", "--convey-url", url, "--lookback-days", "1",
                          "--retry-attempts", "2", "--retry-initial-seconds", "0.01")  # fmt: skip
    assert unreachable.returncode == 1
    assert "ConnectError after 2 attempts" in unreachable.stderr

    no_source = produce(env, "--once")
    assert no_source.returncode == 2
    assert "no source configured" in no_source.stderr


def first_partial_checkpoint(bootstrap: str, topic: str, producer: subprocess.Popen[bytes]) -> None:
    """Return as soon as a read_committed reader sees a report committed part-way."""
    reader = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "probe",
         "isolation.level": "read_committed", "enable.auto.commit": False}
    )  # fmt: skip
    reader.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert producer.poll() is None, "the producer finished before it was killed"
            message = reader.poll(0.01)
            if message is not None and message.error() is None and message.value():
                mark = Checkpoint.from_json(message.value() or b"")
                if not mark.done and mark.rows > 0:
                    return
        raise AssertionError("no partial checkpoint appeared")
    finally:
        reader.close()


def test_a_producer_killed_mid_report_publishes_each_row_exactly_once_after_restart(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    big = GeneratedDataset(seed=3, numbers=160_000, days=1)  # the day is yesterday
    rows = sum(1 for _ in big.convey_rows(big.dates()[0]) or [])
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NUMGUARD_TOPIC": topics.events,
    }
    with CarrierSimulator(big) as sim:
        # Many small transactions: a wide window to kill the producer mid-report.
        args = ["--once", "--convey-url", sim.base_url + TEMPLATE, "--lookback-days", "1",
                "--rows-per-transaction", "200"]  # fmt: skip
        producer = subprocess.Popen(
            [sys.executable, "-m", "numguard", "produce", *args], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        first_partial_checkpoint(kafka_bootstrap, topics.checkpoints, producer)
        producer.send_signal(signal.SIGKILL)
        producer.wait()
        partial = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints)
        assert [c.done for c in partial.values()] == [False]
        resumed = produce(env, *args)
    assert resumed.returncode == 0, resumed.stderr
    numbers = [m.key() for m in read_committed(kafka_bootstrap, topics.events)]
    assert len(numbers) == rows
    marks = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints)
    assert [(c.done, c.rows) for c in marks.values()] == [(True, rows)]


def test_twilio_lists_are_published_and_refused_credentials_stop_the_source(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    from numguard.devtools.simulator.server import DEV_TWILIO_ACCOUNT_SID, DEV_TWILIO_AUTH_TOKEN

    data = GeneratedDataset(seed=9, numbers=300, days=2)  # its last day is yesterday
    base = {
        **os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "NUMGUARD_TOPIC": topics.events,
        "TWILIO_ACCOUNT_SID": DEV_TWILIO_ACCOUNT_SID,
    }  # fmt: skip
    with CarrierSimulator(data) as sim:
        args = ["--once", "--twilio-url", sim.base_url, "--lookback-days", "2"]
        refused = produce({**base, "TWILIO_AUTH_TOKEN": "expired-token-123"}, *args)
        assert refused.returncode == 1
        assert "twilio: the credentials were refused (HTTP 401)" in refused.stderr
        assert "expired-token-123" not in refused.stderr + refused.stdout
        assert len(sim.requests("/v1/Deactivations")) == 1  # no retry storm

        done = produce({**base, "TWILIO_AUTH_TOKEN": DEV_TWILIO_AUTH_TOKEN}, *args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reports"] == 2
    expected = Counter(
        "+" + n.lstrip("+") for day in data.dates() for n in data.twilio_numbers(day) or []
    )
    assert published_numbers(kafka_bootstrap, topics) == expected


def test_infobip_reports_are_published_once_each_at_its_pace(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    from numguard.devtools.simulator.server import Credentials

    data = GeneratedDataset(seed=13, numbers=300, days=2)
    env = {
        **os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "NUMGUARD_TOPIC": topics.events,
        "INFOBIP_API_KEY": "infobip-key-for-produce-test",
    }  # fmt: skip
    credentials = Credentials(infobip_api_key="infobip-key-for-produce-test")
    with CarrierSimulator(data, credentials=credentials, infobip_min_interval=1.0) as sim:
        args = ["--once", "--infobip-url", sim.base_url, "--lookback-days", "3"]
        first = produce(env, *args)
        again = produce(env, *args)
        throttled = [r for r in sim.requests("/number-activation-state/*") if r.status == 429]
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["reports"] == len(data.infobip_reports())
    assert json.loads(again.stdout).get("reports", 0) == 0  # published before: nothing twice
    assert throttled == []  # paced at Infobip's one request a second
    expected: Counter[str] = Counter()
    for report in data.infobip_reports():
        count = data.infobip_record_count(report.report_id)
        for record in data.infobip_records(report.report_id, 0, count):
            expected["+" + record["destination"]] += 1
    assert published_numbers(kafka_bootstrap, topics) == expected


def test_rejected_rows_are_counted_by_what_was_wrong(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    (tmp_path / "mcdn_deact_20240301.csv").write_text(
        "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"
        "12025550101,DEACTIVATE,2024-03-01T00:00Z,1,V\n"
        "1234,DEACTIVATE,2024-03-01T00:00Z,1,V\n"
        "12025550102,PORT_OUT,2024-03-01T00:00Z,1,V\n"
        "12025550103,CHANGE_MDN,2024-03-01T00:00Z,1,V\n"
    )
    registry = CollectorRegistry()
    source = ConveyDirectorySource(tmp_path, lookback_days=1, today=lambda: date(2024, 3, 2))
    outcome = poller(kafka_bootstrap, topics, registry).poll(source)
    # The CHANGE_MDN is published (its old number is deactivated), with a warning.
    assert (outcome.accepted, outcome.rejected) == (2, 2)
    for reason in ("bad_number", "unknown_type"):
        labels = {"source": "convey", "reason": reason}
        assert registry.get_sample_value("numguard_rows_rejected_total", labels) == 1
    flagged = {"source": "convey", "reason": "bad_new_number"}
    assert registry.get_sample_value("numguard_rows_flagged_total", flagged) == 1
    assert registry.get_sample_value("numguard_rows_rejected_total", flagged) is None
    letters = [json.loads(m.value() or b"") for m in
               read_committed(kafka_bootstrap, topics.dead_letter)]  # fmt: skip
    kinds = sorted((letter["kind"], letter.get("warning", False)) for letter in letters)
    assert kinds == [("bad_new_number", True), ("bad_number", False), ("unknown_type", False)]
    assert published_numbers(kafka_bootstrap, topics) == Counter(
        {"+12025550101": 1, "+12025550103": 1}
    )
