"""Issue 14: AWS End User Messaging's deactivation reports, read with the ordinary AWS
SDK from a real S3-compatible server on loopback (moto's server mode), Requester Pays;
through `numguard produce --aws-sms` and `ingest` onto the real broker."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.devtools.local_s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LocalS3
from numguard.devtools.simulator import GeneratedDataset as Dataset
from numguard.producer.sources.aws_sms import AwsSmsSource, file_name
from numguard.producer.sources.base import ReportMissing, SourceUnavailable
from numguard.schemas.events import EventType, StateChange
from tests.producer.test_produce import produce, published_numbers
from tests.support.commands import numguard
from tests.support.topic_reader import read_committed

DATA = Dataset(seed=61, numbers=300, days=3)  # its last day is yesterday (UTC)
NOW = datetime.now(UTC)
TODAY = DATA.dates()[-1] + timedelta(days=1)


def test_each_day_is_read_from_the_bucket_with_requester_pays() -> None:
    missing = DATA.dates()[1]
    with LocalS3(DATA, [d for d in DATA.dates() if d != missing]) as s3:
        feed = AwsSmsSource(lookback_days=3, client=s3.client(), today=lambda: TODAY)
        reports = list(feed.reports(set()))
        assert [(r.report_id, r.covers) for r in reports] == [
            (file_name(d), d) for d in DATA.dates()]  # fmt: skip
        first, second, third = reports
        for report in (first, third):
            assert report.covers is not None
            events = [feed.normalize(row, NOW) for row in feed.rows(report)]
            assert all(isinstance(e, StateChange) for e in events)  # the header is no row
            assert [e.mdn for e in events if isinstance(e, StateChange)] == list(
                DATA.twilio_numbers(report.covers) or []
            )
            assert {(e.event_type, e.source) for e in events if isinstance(e, StateChange)} == {
                (EventType.DEACTIVATED, "aws-sms")
            }
        with pytest.raises(ReportMissing, match="NoSuchKey"):
            list(feed.rows(second))
        elsewhere = AwsSmsSource(lookback_days=3, client=s3.client(), bucket="no-such-bucket",
                                 today=lambda: TODAY)  # fmt: skip
        with pytest.raises(SourceUnavailable, match="NoSuchBucket"):
            list(elsewhere.rows(first))
        assert len(list(AwsSmsSource(lookback_days=200, client=s3.client()).reports(set()))) == 90


@pytest.mark.kafka
def test_produce_with_the_sdks_credentials_and_ingest_of_a_saved_report(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    data = Dataset(seed=62, numbers=200, days=2)
    with LocalS3(data, data.dates()) as s3:
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
               "NUMGUARD_TOPIC": topics.events, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
               "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}  # fmt: skip
        done = produce(env, "--once", "--lookback-days", "2", "--aws-sms",
                       "--aws-endpoint-url", s3.endpoint_url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reports"] == 2
    assert SECRET_ACCESS_KEY not in done.stderr
    expected = Counter(n for day in data.dates() for n in data.twilio_numbers(day) or [])
    assert published_numbers(kafka_bootstrap, topics) == expected

    saved = tmp_path / "2024-03-05-deact-report.csv"
    saved.write_text("phone_number,extra\n12025550177,x\n555-01,x\n")
    ingested = numguard("ingest", "--json", "--bootstrap-servers", kafka_bootstrap, "--topic",
                        topics.events, str(saved))  # fmt: skip
    summary = json.loads(ingested.stdout)
    assert (ingested.returncode, summary["accepted"], summary["rejected"]) == (3, 1, 1)
    written = read_committed(kafka_bootstrap, topics.dead_letter)
    (letter,) = [json.loads(m.value() or b"") for m in written]
    assert (letter["source"], letter["position"], letter["kind"]) == ("aws-sms", 3, "bad_number")
