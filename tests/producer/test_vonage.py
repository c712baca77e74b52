"""Issue 14: Vonage's daily zips of deactivated numbers, unzipped from a spooled download,
from the simulator over real HTTP (Basic auth, RFC 7807 errors, faults, broken zips),
through `numguard produce` and `numguard ingest` onto the real broker."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.devtools.simulator import CarrierSimulator, FaultKind, FaultPlan, FaultRule
from numguard.devtools.simulator import GeneratedDataset as Dataset
from numguard.devtools.simulator.server import DEV_VONAGE_API_KEY, DEV_VONAGE_API_SECRET
from numguard.producer.sources.archives import MAX_EXPANSION, unzip_lines
from numguard.producer.sources.base import CredentialsRejected, ReportMissing, UnreadableReport
from numguard.producer.sources.http import RetryPolicy
from numguard.producer.sources.vonage import VonageSource, report_id
from numguard.schemas.events import EventType, StateChange
from tests.producer.test_produce import produce, published_numbers
from tests.support.commands import numguard
from tests.support.topic_reader import read_committed

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
DATA = Dataset(seed=41, numbers=300, days=3)  # its last day is yesterday (UTC)
NOW = datetime.now(UTC)
# The window the dataset was made for, even when the run crosses midnight (UTC).
TODAY = DATA.last_date + timedelta(days=1)


def source(sim: CarrierSimulator, secret: str = DEV_VONAGE_API_SECRET,
           lookback: int = 3) -> VonageSource:  # fmt: skip
    return VonageSource(
        sim.base_url,
        api_key=DEV_VONAGE_API_KEY,
        api_secret=secret,
        lookback_days=lookback,
        policy=FAST,
        client=httpx.Client(timeout=10),
        today=lambda: TODAY,
    )


def test_each_day_is_unzipped_into_deactivations() -> None:
    with CarrierSimulator(DATA) as sim:
        feed = source(sim)
        reports = list(feed.reports(set()))
        assert [(r.report_id, r.covers) for r in reports] == [
            (report_id(day), day) for day in DATA.dates()]  # fmt: skip
        for report in reports:
            assert report.covers is not None
            events = [feed.normalize(row, NOW) for row in feed.rows(report)]
            assert all(isinstance(e, StateChange) for e in events)  # the header is no row
            assert [e.mdn for e in events if isinstance(e, StateChange)] == list(
                DATA.twilio_numbers(report.covers) or []
            )
            assert {e.event_type for e in events if isinstance(e, StateChange)} == {
                EventType.DEACTIVATED
            }


def test_refusals_windows_missing_days_and_broken_zips() -> None:
    with CarrierSimulator(DATA) as sim:
        wrong = source(sim, secret="wrong-secret")
        with pytest.raises(CredentialsRejected, match="Unauthorized"):
            list(wrong.rows(next(iter(wrong.reports(set())))))
        assert len(list(source(sim, lookback=60).reports(set()))) == 31  # Vonage keeps 31 days
    missing = DATA.dates()[0]
    faults = FaultPlan(missing_days=frozenset({missing}), rules=(
        FaultRule(FaultKind.ERROR, "/v1/numbers/deactivations", count=2, status=500),))  # fmt: skip
    with CarrierSimulator(DATA, faults=faults) as sim:
        feed = source(sim)
        first, second, _ = feed.reports(set())
        with pytest.raises(ReportMissing, match="HTTP 404"):
            list(feed.rows(first))
        assert list(feed.rows(second))
    cut = FaultPlan(rules=(FaultRule(FaultKind.TRUNCATE, "/v1/numbers/deactivations"),))
    with CarrierSimulator(DATA, faults=cut) as sim:
        feed = source(sim)
        with pytest.raises(UnreadableReport, match=r"zip|broke off"):
            list(feed.rows(next(iter(feed.reports(set())))))


def test_a_zip_bomb_and_a_zip_without_a_data_file_are_refused() -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as written:
        written.writestr("numbers.csv", "0" * (MAX_EXPANSION * 4096 + 1))
    with pytest.raises(UnreadableReport, match="zip bomb"):
        list(unzip_lines([bomb.getvalue()], "bomb.zip"))
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as written:
        written.writestr("notes.pdf", b"%PDF")
    with pytest.raises(UnreadableReport, match=r"no \.csv, \.txt or \.tsv"):
        list(unzip_lines([empty.getvalue()], "empty.zip"))


@pytest.mark.kafka
def test_produce_and_ingest_publish_vonage_days_once(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    data = Dataset(seed=42, numbers=200, days=2)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "NUMGUARD_TOPIC": topics.events, "VONAGE_API_KEY": DEV_VONAGE_API_KEY,
           "VONAGE_API_SECRET": DEV_VONAGE_API_SECRET}  # fmt: skip
    with CarrierSimulator(data) as sim:
        done = produce(env, "--once", "--lookback-days", "2", "--vonage-url", sim.base_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reports"] == 2
    assert DEV_VONAGE_API_SECRET not in done.stderr
    expected = Counter(n for day in data.dates() for n in data.twilio_numbers(day) or [])
    assert published_numbers(kafka_bootstrap, topics) == expected

    day = (NOW - timedelta(days=40)).date()
    saved = tmp_path / report_id(day)
    with zipfile.ZipFile(saved, "w", zipfile.ZIP_DEFLATED) as written:
        written.writestr("deactivations.txt", "12025550143\n2025550144\n+4412345\n")
    ingested = numguard("ingest", "--json", "--bootstrap-servers", kafka_bootstrap, "--topic",
                        topics.events, str(saved))  # fmt: skip
    assert ingested.returncode == 3, ingested.stderr  # published, one row a dead letter
    assert (json.loads(ingested.stdout)["accepted"], json.loads(ingested.stdout)["rejected"]) == (
        2, 1)  # fmt: skip
    letters = read_committed(kafka_bootstrap, topics.dead_letter)
    (letter,) = [json.loads(m.value() or b"") for m in letters]
    assert (letter["source"], letter["position"], letter["kind"]) == ("vonage", 3, "bad_number")
