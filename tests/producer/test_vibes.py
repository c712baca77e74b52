"""Issue 14: Vibes carrier disconnect files (gzip'd TSV), decompressed as they stream,
from the simulator over real HTTP (Basic auth, faults, cut-off and corrupt archives),
from a folder, through `numguard produce` and `numguard ingest` onto the real broker."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.devtools.simulator import CarrierSimulator, FaultKind, FaultPlan, FaultRule
from numguard.devtools.simulator import GeneratedDataset as Dataset
from numguard.devtools.simulator.server import DEV_VIBES_PASSWORD, DEV_VIBES_USERNAME
from numguard.producer.sources.base import (
    CredentialsRejected,
    Rejection,
    ReportMissing,
    UnreadableReport,
)
from numguard.producer.sources.http import RetryPolicy
from numguard.producer.sources.vibes import VibesDirectorySource, VibesHttpSource, file_name
from numguard.schemas.events import EventType, StateChange
from tests.producer.test_produce import produce, published_numbers
from tests.support.commands import numguard

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
DATA = Dataset(seed=31, numbers=300, days=3)  # its last day is yesterday (UTC)
NOW = datetime.now(UTC)
TEMPLATE = "/vibes/disconnect_{date:%Y_%m_%d}.tsv.gz"


def source(sim: CarrierSimulator, password: str = DEV_VIBES_PASSWORD) -> VibesHttpSource:
    return VibesHttpSource(
        sim.base_url + TEMPLATE, username=DEV_VIBES_USERNAME, password=password,
        client=httpx.Client(timeout=10), policy=FAST, lookback_days=3,
        today=lambda: DATA.dates()[-1].fromordinal(DATA.dates()[-1].toordinal() + 1),
    )  # fmt: skip


def test_each_day_streams_through_gunzip_into_deactivations_with_the_carrier_code() -> None:
    with CarrierSimulator(DATA) as sim:
        feed = source(sim)
        reports = list(feed.reports(set()))
        assert [r.report_id for r in reports] == [file_name(day) for day in DATA.dates()]
        for report in reports:
            assert report.covers is not None
            events = [feed.normalize(row, NOW) for row in feed.rows(report)]
            changes = [e for e in events if isinstance(e, StateChange)]
            assert len(changes) == len(events)  # the header line is not a row
            assert [e.mdn for e in changes] == list(DATA.twilio_numbers(report.covers) or [])
            assert {(e.event_type, e.source, e.raw_reason) for e in changes} == {
                (EventType.DEACTIVATED, "vibes", "DISCONNECT")
            }
            assert all((e.carrier or "").startswith("carrier code 1") for e in changes)


def test_refused_credentials_server_errors_missing_days_and_broken_archives() -> None:
    with CarrierSimulator(DATA) as sim:
        first = next(iter(source(sim, password="wrong").reports(set())))
        with pytest.raises(CredentialsRejected, match="HTTP 401"):
            list(source(sim, password="wrong").rows(first))
    missing = DATA.dates()[1]
    faults = FaultPlan(missing_days=frozenset({missing}), rules=(
        FaultRule(FaultKind.ERROR, "/vibes/*", count=2, status=502),))  # fmt: skip
    with CarrierSimulator(DATA, faults=faults) as sim:
        feed = source(sim)
        first, second, _ = feed.reports(set())
        assert list(feed.rows(first))
        with pytest.raises(ReportMissing, match="HTTP 404"):
            list(feed.rows(second))
    cut = FaultPlan(rules=(FaultRule(FaultKind.TRUNCATE, "/vibes/*"),))
    with CarrierSimulator(DATA, faults=cut) as sim:
        feed = source(sim)
        with pytest.raises(UnreadableReport, match=r"cut off|broke off"):
            list(feed.rows(next(iter(feed.reports(set())))))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_bytes(gzip.compress(text.encode()))
    return path


def test_a_folder_of_files_a_bad_row_and_a_corrupt_archive(tmp_path: Path) -> None:
    day = DATA.dates()[0]
    write(tmp_path, file_name(day), "8475551212\t104\r\n847555121\t104\r\n8475551213\r\n")
    (tmp_path / file_name(DATA.dates()[1])).write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    write(tmp_path, f"disconnect_intl_{day:%Y_%m_%d}.tsv.gz", "+447700900123\t900\r\n")
    feed = VibesDirectorySource(tmp_path, lookback_days=3,
                                today=lambda: DATA.dates()[-1].fromordinal(
                                    DATA.dates()[-1].toordinal() + 1))  # fmt: skip
    reports = list(feed.reports(set()))
    assert [r.report_id for r in reports] == [file_name(d) for d in DATA.dates()]
    results = [feed.normalize(row, NOW) for row in feed.rows(reports[0])]
    assert isinstance(results[0], StateChange) and results[0].mdn == "+18475551212"
    assert [(r.kind.value, r.row.position) for r in results if isinstance(r, Rejection)] == [
        ("bad_number", 2), ("bad_shape", 3)]  # fmt: skip
    with pytest.raises(UnreadableReport, match="gzip"):
        list(feed.rows(reports[1]))
    with pytest.raises(ReportMissing):
        list(feed.rows(reports[2]))


@pytest.mark.kafka
def test_produce_and_ingest_publish_vibes_files_once(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    data = Dataset(seed=32, numbers=200, days=2)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "NUMGUARD_TOPIC": topics.events, "VIBES_USERNAME": DEV_VIBES_USERNAME,
           "VIBES_PASSWORD": DEV_VIBES_PASSWORD}  # fmt: skip
    with CarrierSimulator(data) as sim:
        done = produce(env, "--once", "--lookback-days", "2", "--vibes-url",
                       sim.base_url + TEMPLATE)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reports"] == 2
    assert DEV_VIBES_PASSWORD not in done.stderr
    expected = Counter(n for day in data.dates() for n in data.twilio_numbers(day) or [])
    assert published_numbers(kafka_bootstrap, topics) == expected

    saved = write(tmp_path, "disconnect_2024_03_05.tsv.gz", "MDN\tCarrier Code\n2025550143\t7\n")
    ingested = numguard("ingest", "--json", "--bootstrap-servers", kafka_bootstrap, "--topic",
                        topics.events, str(saved))  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["accepted"] == 1
    assert published_numbers(kafka_bootstrap, topics)["+12025550143"] == 1


def test_a_decompressed_line_without_end_is_unreadable_not_held_in_memory() -> None:
    """Found in review: a small gzip of one huge line (no line break) was read whole."""
    from numguard.producer.sources.archives import MAX_LINE_CHARS, gunzip_lines

    bomb = gzip.compress(b"1" * (MAX_LINE_CHARS * 3))
    with pytest.raises(UnreadableReport, match="a line over"):
        list(gunzip_lines([bomb], "disconnect_2024_03_05.tsv.gz"))
    assert len(list(gunzip_lines([gzip.compress(b"1\n" * 1000)], "x"))) == 1000
