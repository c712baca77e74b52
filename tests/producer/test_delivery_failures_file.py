"""Issue 14: a CSV of the sender's delivery failures through `numguard ingest` on the real
broker: permanent failures become UNDELIVERABLE events, temporary ones are ignored, bad
rows are dead letters, and the file is published once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType
from tests.support.commands import numguard
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka

ROWS = """\
Number,Provider,Code,Failed_At,Message_Id,Campaign
+12025550101,twilio,30005,2024-03-05T15:30:00Z,SM1,spring
2025550102,OpenMarket,3041,2024-03-05,,spring
+12025550103,twilio,30003,2024-03-05T15:30:00Z,SM3,spring
+12025550104,acme,1,2024-03-05,,spring
nonsense,twilio,30005,,SM5,spring
+12025550106,twilio,30006,yesterday,SM6,spring
+12025550107,twilio,30005
"""


def ingest(bootstrap: str, names: TopicNames, *args: str) -> dict:
    done = numguard("ingest", "--json", "--bootstrap-servers", bootstrap, "--topic",
                    names.events, *args)  # fmt: skip
    return {"exit": done.returncode, **json.loads(done.stdout or "{}")}


def test_permanent_failures_are_published_temporary_ignored_bad_rows_dead_lettered(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    path = tmp_path / "delivery-failures-2024-03-05.csv"
    path.write_text(ROWS)
    first = ingest(kafka_bootstrap, topics, str(path))
    assert (first["exit"], first["accepted"], first["rejected"], first["ignored"]) == (3, 2, 4, 1)
    codec = EventCodec()
    events = [codec.decode_record(m.key(), m.value())
              for m in read_committed(kafka_bootstrap, topics.events)]  # fmt: skip
    found = sorted((e.mdn, e.event_type, e.source, e.raw_reason, e.report_position)
                   for e in events)  # fmt: skip
    assert found == [
        ("+12025550101", EventType.UNDELIVERABLE, "twilio-dlr", "30005", 2),
        ("+12025550102", EventType.UNDELIVERABLE, "openmarket-dlr", "3041", 3),
    ]
    written = read_committed(kafka_bootstrap, topics.dead_letter)
    letters = [json.loads(m.value() or b"") for m in written]
    assert sorted((letter["position"], letter["kind"]) for letter in letters) == [
        (5, "unknown_type"),
        (6, "bad_number"),
        (7, "bad_time"),
        (8, "bad_shape"),
    ]
    assert all("+1202555" not in json.dumps(letter["reason"]) for letter in letters)

    again = ingest(kafka_bootstrap, topics, str(path))
    assert (again["exit"], again["already_published"]) == (0, [path.name])

    widened = tmp_path / "more_delivery_failures.csv"
    widened.write_text("number,provider,code\n+12025550103,twilio,30003\n")
    assert ingest(kafka_bootstrap, topics, str(widened), "--codes", "twilio=30003")["accepted"] == 1

    headless = tmp_path / "delivery-failures-broken.csv"
    headless.write_text("phone,code\n+12025550101,30005\n")
    broken = numguard("ingest", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.events,
                      str(headless))  # fmt: skip
    assert broken.returncode == 1
    assert "not a delivery-failures file: no column number, provider" in broken.stderr
