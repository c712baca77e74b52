"""Issue 14: Telesign's per-carrier daily zips, listed then downloaded, from the simulator
over real HTTP (Basic auth, the file list, faults, a file deleted after it was listed),
Verizon's non-deactivated rows skipped, through `produce` and `ingest` on the real broker."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.devtools.simulator import CarrierSimulator, FaultKind, FaultPlan, FaultRule
from numguard.devtools.simulator import GeneratedDataset as Dataset
from numguard.devtools.simulator.server import DEV_TELESIGN_API_KEY, DEV_TELESIGN_CUSTOMER_ID
from numguard.devtools.simulator.telesign_api import carrier_of
from numguard.producer.sources.base import (
    CredentialsRejected,
    Ignored,
    Rejection,
    SourceUnavailable,
    UnreadableReport,
)
from numguard.producer.sources.http import RetryPolicy
from numguard.producer.sources.telesign import TelesignSource, read_rows
from numguard.schemas.events import EventType, StateChange
from tests.producer.test_produce import produce, published_numbers
from tests.support.commands import numguard

FAST = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)
DATA = Dataset(seed=51, numbers=300, days=2)
NOW = datetime.now(UTC)


def source(sim: CarrierSimulator, key: str = DEV_TELESIGN_API_KEY) -> TelesignSource:
    return TelesignSource(sim.base_url, DEV_TELESIGN_CUSTOMER_ID, key, policy=FAST,
                          client=httpx.Client(timeout=10))  # fmt: skip


def test_every_listed_file_is_read_and_verizons_other_statuses_are_ignored() -> None:
    with CarrierSimulator(DATA) as sim:
        feed = source(sim)
        reports = list(feed.reports(set()))
        assert [r.report_id for r in reports] == [
            f"{c}-deacts_{d:%Y%m%d}.zip" for d in DATA.dates() for c in ("att", "verizon")
        ]
        assert [r.report_id for r in feed.reports({reports[0].report_id})] == [
            r.report_id for r in reports[1:]]  # fmt: skip
        for report in reports:
            assert report.covers is not None
            results = [feed.normalize(row, NOW) for row in feed.rows(report)]
            carrier = report.report_id.split("-")[0]
            deactivated = [n for n in DATA.twilio_numbers(report.covers) or []
                           if carrier_of(n) == carrier]  # fmt: skip
            changes = [r for r in results if isinstance(r, StateChange)]
            assert [c.mdn for c in changes] == deactivated
            assert {(c.event_type, c.carrier) for c in changes} <= {
                (EventType.DEACTIVATED, carrier)
            }
            ignored = [r for r in results if isinstance(r, Ignored)]
            assert len(ignored) == (len(deactivated) if carrier == "verizon" else 0)


def test_refused_credentials_a_broken_list_and_a_cut_zip() -> None:
    with CarrierSimulator(DATA) as sim, pytest.raises(CredentialsRejected, match="2201"):
        list(source(sim, key="wrong").reports(set()))
    broken = FaultPlan(rules=(FaultRule(FaultKind.ERROR, "/files", count=None, status=500),))
    with CarrierSimulator(DATA, faults=broken) as sim, pytest.raises(SourceUnavailable):
        list(source(sim).reports(set()))
    cut = FaultPlan(rules=(FaultRule(FaultKind.TRUNCATE, "/download/*", count=None),))
    with CarrierSimulator(DATA, faults=cut) as sim:
        feed = source(sim)
        with pytest.raises(UnreadableReport, match=r"zip|broke off"):
            list(feed.rows(next(iter(feed.reports(set())))))


def test_the_columns_are_found_by_name_and_a_headerless_file_is_a_list() -> None:
    lines = ["Status,MSISDN,Deact_Date\n", "deactivated,12025550143,2024-03-05T10:00Z\n",
             "deactivated\n"]  # fmt: skip
    rows = list(read_rows(lines, "verizon-deacts_20240305.zip"))
    assert rows[0].fields["number"] == "12025550143" and rows[0].fields["date"].startswith("2024")
    assert "_problem" in rows[1].fields
    plain = list(read_rows(["12025550143\n"], "att-deacts_20240305.zip"))
    assert plain[0].fields == {"carrier": "att", "file_day": "2024-03-05", "number": "12025550143"}
    with pytest.raises(UnreadableReport, match="no phone-number column"):
        list(read_rows(["name,city\n"], "att-deacts_20240305.zip"))
    feed = TelesignSource("http://127.0.0.1:9", "c", "k")
    assert isinstance(feed.normalize(rows[1], NOW), Rejection)


@pytest.mark.kafka
def test_produce_and_ingest_publish_each_file_once(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "NUMGUARD_TOPIC": topics.events, "TELESIGN_CUSTOMER_ID": DEV_TELESIGN_CUSTOMER_ID,
           "TELESIGN_API_KEY": DEV_TELESIGN_API_KEY}  # fmt: skip
    with CarrierSimulator(DATA) as sim:
        first = produce(env, "--once", "--telesign-url", sim.base_url)
        again = produce(env, "--once", "--telesign-url", sim.base_url)
    assert first.returncode == 0, first.stderr
    assert (json.loads(first.stdout)["reports"], json.loads(again.stdout).get("reports", 0)) == (
        4, 0)  # fmt: skip
    assert DEV_TELESIGN_API_KEY not in first.stderr
    expected = Counter(n for day in DATA.dates() for n in DATA.twilio_numbers(day) or [])
    assert published_numbers(kafka_bootstrap, topics) == expected

    saved = tmp_path / "tmobile-deacts_20240305.zip"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as written:
        written.writestr("tmobile-deacts_20240305.csv", "phone_number\n12025550177\n")
    saved.write_bytes(archive.getvalue())
    ingested = numguard("ingest", "--json", "--bootstrap-servers", kafka_bootstrap, "--topic",
                        topics.events, str(saved))  # fmt: skip
    assert (ingested.returncode, json.loads(ingested.stdout)["accepted"]) == (0, 1)
