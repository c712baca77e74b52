"""Issue 11, case 7, end to end on the real broker and both stores: the producer records
the days its reports covered and the days a feed missed; the store consumer learns them
from the checkpoint topic; check, serve, scrub and `store freshness` answer `no_data`
for a number with no record whose consent is not covered, and a replay rebuilds it."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from numguard.consumer.store import SqlStore
from numguard.consumer.store_consumer import ConsumeSummary, StoreConsumer
from numguard.core.checkpoints import Checkpoint
from numguard.core.kafka.clients import (
    base_config,
    consumer_config,
    idempotent_producer_config,
    transactional_producer_config,
)
from numguard.core.kafka.topics import TopicNames
from numguard.producer.checkpoints import read_checkpoints
from numguard.producer.metrics import ProducerMetrics
from numguard.producer.poller import Poller, PollOutcome
from numguard.producer.publish import ReportPublisher
from numguard.producer.sources.convey import ConveyDirectorySource, file_name
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType
from tests.builders import change
from tests.support.commands import numguard
from tests.support.events import publish, publish_raw
from tests.support.postgres import fresh_postgres_database
from tests.support.serve import client, running_api

pytestmark = pytest.mark.kafka

HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"
TODAY = date(2024, 3, 6)
UNKNOWN = "+12025550177"  # never in any feed


def drop(folder: Path, day: date, mdn: str) -> None:
    (folder / file_name(day)).write_text(
        HEADER + f"{mdn.removeprefix('+')},DEACTIVATE,{day:%Y-%m-%d} 10:00:00,1,Verizon\n"
    )


def poll(bootstrap: str, names: TopicNames, folder: Path) -> PollOutcome:
    """The producer as `produce --convey-dir` runs it, on TODAY at 13:00 UTC: the days
    from 03-02 to 03-05 are due."""
    metrics = ProducerMetrics(CollectorRegistry())
    publisher = ReportPublisher(
        transactional_producer_config(bootstrap, f"test-{names.events}"), names, EventCodec(),
        metrics=metrics,
    )  # fmt: skip
    now = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=13)
    poller = Poller(publisher, read_checkpoints(base_config(bootstrap), names.checkpoints),
                    metrics, now=lambda: now)  # fmt: skip
    try:
        return poller.poll(ConveyDirectorySource(folder, lookback_days=4, today=lambda: TODAY))
    finally:
        publisher.close()


def consume(bootstrap: str, names: TopicNames, store_url: str) -> None:
    done = numguard("consume", "store", "--until-idle", "--bootstrap-servers", bootstrap,
                    "--topic", names.events, "--store", store_url)  # fmt: skip
    assert done.returncode == 0, done.stderr


def check(store_url: str, consent: str, *flags: str, env: dict[str, str] | None = None) -> dict:
    answered = numguard("check", UNKNOWN, "--consented-at", consent, "--store", store_url,
                        *flags, env=env)  # fmt: skip
    assert answered.returncode == 0, answered.stderr
    return json.loads(answered.stdout)


def test_missed_days_and_days_before_the_feeds_make_no_data_everywhere(
    kafka_bootstrap: str, topics: TopicNames, store_url: str, tmp_path: Path
) -> None:
    feed = tmp_path / "convey"
    feed.mkdir()
    drop(feed, date(2024, 3, 2), "+12025550102")
    drop(feed, date(2024, 3, 4), "+12025550104")
    first = poll(kafka_bootstrap, topics, feed)
    assert (first.reports, first.late) == (2, [file_name(date(2024, 3, 3)),
                                               file_name(date(2024, 3, 5))])  # fmt: skip
    consume(kafka_bootstrap, topics, store_url)

    before = check(store_url, "2024-03-01")
    assert before == {"mdn": UNKNOWN, "decision": "allow", "reason": "no_data",
                      "uncovered_days": ["2024-03-01", "2024-03-03", "2024-03-05"]}  # fmt: skip
    assert check(store_url, "2024-03-04T12:00:00Z")["uncovered_days"] == ["2024-03-05"]
    assert check(store_url, "2024-03-06")["reason"] == "no_record"
    assert check(store_url, "2024-03-01", "--no-data", "hold")["decision"] == "hold"
    assert check(store_url, "2024-03-01", env={"NUMGUARD_NO_DATA": "hold"})["decision"] == "hold"
    refused = numguard("check", UNKNOWN, "--store", store_url, env={"NUMGUARD_NO_DATA": "maybe"})
    assert (refused.returncode, refused.stderr.count("\n")) == (2, 1)
    assert "--no-data: expected allow or hold, got 'maybe'" in refused.stderr

    freshness = numguard("store", "freshness", "--store", store_url, "--stale-after-hours", "0")
    (convey,) = json.loads(freshness.stdout)["sources"]
    assert (convey["first_day"], convey["latest_day"], convey["missed_days"]) == (
        "2024-03-02", "2024-03-04", ["2024-03-03", "2024-03-05"])  # fmt: skip
    assert "source convey missed days: 2024-03-03 2024-03-05" in freshness.stderr

    flags = ("--no-data", "hold", "--stale-after-hours", "0")
    with running_api(store_url, *flags) as (base, _), client(base) as http:
        one = http.get(f"/v1/numbers/{UNKNOWN}", params={"consented_at": "2024-03-01"})
        assert one.json() == {**before, "decision": "hold"}
        batch = http.post("/v1/check", json={"items": [
            {"number": UNKNOWN, "consented_at": "2024-03-04"},
            {"number": UNKNOWN}, {"number": "+12025550102", "consented_at": "2024-03-01"},
        ]}).json()["results"]  # fmt: skip
        assert [(r["decision"], r["reason"]) for r in batch] == [
            ("hold", "no_data"),
            ("allow", "no_record"),
            ("block", "deactivated"),
        ]
        assert batch[0]["uncovered_days"] == ["2024-03-05"]
        (source,) = http.get("/healthz").json()["sources"]
        assert source["missed_days"] == ["2024-03-03", "2024-03-05"]

    contacts = tmp_path / "contacts.csv"
    contacts.write_text(f"phone,opted_in\n{UNKNOWN},03/01/2024\n{UNKNOWN},2024-03-06\n")
    scrubbed = tmp_path / "scrubbed.csv"
    done = numguard("scrub", str(contacts), "--number-column", "phone", "--consent-column",
                    "opted_in", "--store", store_url, "--stale-after-hours", "0",
                    "-o", str(scrubbed))  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(scrubbed.open()))
    assert [(r["numguard_reason"], r["numguard_uncovered_days"]) for r in rows] == [
        ("no_data", "2024-03-01 2024-03-03 2024-03-05"),
        ("no_record", ""),
    ]

    # The carrier delivers 03-03 late: the day is covered from then on.
    drop(feed, date(2024, 3, 3), "+12025550103")
    assert poll(kafka_bootstrap, topics, feed).reports == 1
    consume(kafka_bootstrap, topics, store_url)
    assert check(store_url, "2024-03-01")["uncovered_days"] == ["2024-03-01", "2024-03-05"]

    # A replay into a new store learns the same coverage from the same topics.
    rebuilt = (f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}" if store_url.startswith("sqlite")
               else fresh_postgres_database(store_url.rsplit("/", 1)[0] + "/postgres"))  # fmt: skip
    replayed = numguard("replay", "--bootstrap-servers", kafka_bootstrap, "--topic",
                        topics.events, "--store", rebuilt)  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    assert check(rebuilt, "2024-03-01")["uncovered_days"] == ["2024-03-01", "2024-03-05"]


def test_a_day_counts_as_covered_only_once_its_events_are_applied(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    """Found in review: the small checkpoints topic was applied ahead of the events it
    accounts for (on a rebuild, at once), so a day looked covered while its deactivations
    were still unapplied: a confident no_record."""
    events = [
        change(
            EventType.DEACTIVATED,
            "2024-03-05T10:00",
            mdn=f"+1202555{n:04d}",
            report_id="mcdn_deact_20240305.csv",
            position=n + 2,
        )
        for n in range(300)
    ]
    publish(kafka_bootstrap, topics.events, events)
    done = Checkpoint("convey", "mcdn_deact_20240305.csv", rows=300, accepted=300,
                      position=301, done=True, covers="2024-03-05")  # fmt: skip
    publish_raw(kafka_bootstrap, topics.checkpoints, [(done.key.encode(), done.to_json())])
    seen: list[tuple[int, bool]] = []

    def after_batch(summary: ConsumeSummary) -> None:
        seen.append((summary.applied, bool(store.coverage().sources)))

    StoreConsumer(consumer_config(kafka_bootstrap, "g-coverage"),
                  idempotent_producer_config(kafka_bootstrap), topics, store, EventCodec(),
                  batch_size=40, on_batch=after_batch).run(until_idle=True)  # fmt: skip
    assert seen[-1] == (300, True)
    assert all(applied == 300 for applied, covered in seen if covered), seen
