"""Ingest against a real broker: events, dead letters, checkpoints, exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from numguard.core.kafka.clients import base_config, transactional_producer_config
from numguard.core.kafka.topics import TopicNames
from numguard.producer import ingest as ingest_module
from numguard.producer.checkpoints import read_checkpoints
from numguard.producer.ingest import IngestSummary, ingest_files
from numguard.producer.publish import ReportPublisher
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka

HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"


def write(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines))
    return path


def ingest(
    bootstrap: str, names: TopicNames, paths: list[Path], *, force: bool = False, rows: int = 1000
) -> IngestSummary:
    publisher = ReportPublisher(
        transactional_producer_config(bootstrap, f"test-{names.events}"), names, EventCodec(),
        rows_per_transaction=rows,
    )  # fmt: skip
    try:
        done = read_checkpoints(base_config(bootstrap), names.checkpoints)
        return ingest_files(paths, publisher, done, force=force)
    finally:
        publisher.close()


def test_rows_arrive_as_keyed_events_and_bad_rows_as_dead_letters(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    path = write(tmp_path, "mcdn_deact_20240305.csv", [
        "12025550101,DEACTIVATE,2024-03-05T00:00Z,1,Verizon Wireless",
        "12025550102,CHANGE_MDN,2024-03-05T00:00Z,12025550199,T-Mobile",
        "12025550103,EXPLODE,2024-03-05T00:00Z,1,T-Mobile",
    ])  # fmt: skip
    summary = ingest(kafka_bootstrap, topics, [path])
    assert (summary.files, summary.rows, summary.accepted, summary.rejected) == (1, 3, 2, 1)

    codec = EventCodec()
    events = {
        m.key(): codec.decode(m.value()) for m in read_committed(kafka_bootstrap, topics.events)
    }
    assert set(events) == {b"+12025550101", b"+12025550102"}
    changed = events[b"+12025550102"]
    assert (changed.event_type, changed.new_mdn, changed.carrier) == (
        EventType.NUMBER_CHANGED, "+12025550199", "T-Mobile"
    )  # fmt: skip
    assert (changed.report_id, changed.report_position) == ("mcdn_deact_20240305.csv", 3)

    (letter,) = read_committed(kafka_bootstrap, topics.dead_letter)
    record = json.loads(letter.value() or b"")
    assert record["reason"].startswith("unknown REASON_CODE 'EXPLODE'")
    assert (record["source"], record["report_id"], record["position"]) == (
        "convey", "mcdn_deact_20240305.csv", 4
    )  # fmt: skip
    assert record["raw"]["REASON_CODE"] == "EXPLODE"

    (checkpoint,) = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints).values()
    assert (checkpoint.done, checkpoint.rows, checkpoint.accepted, checkpoint.rejected) == (
        True, 3, 2, 1
    )  # fmt: skip
    assert checkpoint.covers == "2024-03-05"  # the day the store counts as covered (issue 11)


def test_a_file_published_before_is_skipped_and_force_republishes_the_same_ids(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    path = write(tmp_path, "mcdn_deact_20240306.csv", ["12025550101,SUSPEND,2024-03-06T00:00Z,1,V"])
    ingest(kafka_bootstrap, topics, [path])
    again = ingest(kafka_bootstrap, topics, [path])
    assert (again.files, again.rows, again.already_done) == (0, 0, ["mcdn_deact_20240306.csv"])
    assert len(read_committed(kafka_bootstrap, topics.events)) == 1

    forced = ingest(kafka_bootstrap, topics, [path], force=True)
    assert forced.accepted == 1
    ids = {
        EventCodec().decode(m.value()).event_id
        for m in read_committed(kafka_bootstrap, topics.events)
    }
    assert len(ids) == 1  # two messages, one event id: harmless downstream


def test_an_unreadable_file_is_rejected_whole_and_not_marked_done(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    broken = tmp_path / "mcdn_deact_20240307.csv"
    broken.write_text("phone;status\n12025550101;gone\n")
    good = write(tmp_path, "mcdn_deact_20240308.csv", ["12025550101,SUSPEND,2024-03-08T00:00Z,1,V"])
    summary = ingest(kafka_bootstrap, topics, [broken, good])
    assert summary.unreadable == ["mcdn_deact_20240307.csv"]
    assert summary.files == 1
    checkpoints = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints)
    assert set(checkpoints) == {"convey/mcdn_deact_20240308.csv"}


def test_a_report_interrupted_mid_way_resumes_and_publishes_each_row_exactly_once(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [f"1202555{n:04d},DEACTIVATE,2024-03-09T00:00Z,1,V" for n in range(200, 211)]
    path = write(tmp_path, "mcdn_deact_20240309.csv", lines)
    real_changes = ingest_module.file_changes

    def crashing_changes(*args: object) -> Iterator[object]:
        for index, item in enumerate(real_changes(*args)):  # type: ignore[arg-type]
            if index == 7:
                raise OSError("disk went away")  # mid-way through the fourth transaction
            yield item

    monkeypatch.setattr(ingest_module, "file_changes", crashing_changes)
    first = ingest(kafka_bootstrap, topics, [path], rows=2)
    assert first.unreadable == ["mcdn_deact_20240309.csv"]
    (partial,) = read_checkpoints(base_config(kafka_bootstrap), topics.checkpoints).values()
    assert (partial.done, partial.rows, partial.position) == (False, 6, 7)
    assert len(read_committed(kafka_bootstrap, topics.events)) == 6  # the aborted 7th is invisible

    monkeypatch.setattr(ingest_module, "file_changes", real_changes)
    second = ingest(kafka_bootstrap, topics, [path], rows=2)
    assert (second.files, second.rows) == (1, 5)
    keys = sorted(m.key() or b"" for m in read_committed(kafka_bootstrap, topics.events))
    assert keys == sorted(f"+1202555{n:04d}".encode() for n in range(200, 211))


def java_murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2, as the Java client computes it, written out independently."""
    mask = 0xFFFFFFFF
    seed, m, r = 0x9747B28C, 0x5BD1E995, 24
    length = len(data)
    h = (seed ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length % 4
    end = length - tail
    if tail == 3:
        h ^= data[end + 2] << 16
    if tail >= 2:
        h ^= data[end + 1] << 8
    if tail >= 1:
        h ^= data[end]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def test_a_number_lands_in_the_partition_java_clients_would_pick(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    lines = [f"1202555{n:04d},DEACTIVATE,2024-03-10T00:00Z,1,V" for n in range(300, 340)]
    ingest(kafka_bootstrap, topics, [write(tmp_path, "mcdn_deact_20240310.csv", lines)])
    messages = read_committed(kafka_bootstrap, topics.events)
    assert len(messages) == 40
    partitions = {m.partition() for m in messages}
    assert len(partitions) == 3  # the test topics have three partitions; all are used
    for message in messages:
        assert message.partition() == (java_murmur2(message.key() or b"") & 0x7FFFFFFF) % 3


def test_a_file_reissued_with_other_content_is_published_again_not_skipped(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    """Issue 10, case 9: the carrier re-issues a day's file with a row it had missed."""
    path = write(tmp_path, "mcdn_deact_20240309.csv", ["12025550101,SUSPEND,2024-03-09T00:00Z,1,V"])
    ingest(kafka_bootstrap, topics, [path])
    path.write_text(path.read_text() + "\n12025550102,DEACTIVATE,2024-03-09T00:00Z,1,V\n")
    again = ingest(kafka_bootstrap, topics, [path])
    assert (again.reissued, again.already_done, again.accepted) == (
        ["mcdn_deact_20240309.csv"], [], 2,
    )  # fmt: skip
    numbers = sorted(m.key() or b"" for m in read_committed(kafka_bootstrap, topics.events))
    assert numbers == [b"+12025550101", b"+12025550101", b"+12025550102"]
    same = ingest(kafka_bootstrap, topics, [path])  # the same content again: skipped
    assert (same.already_done, same.reissued) == (["mcdn_deact_20240309.csv"], [])
