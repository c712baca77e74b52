"""The malformed-data corpus through `ingest` on a real broker: no crash, every good row
published, every bad row a dead letter with its position and a reason, the counts add
up to what was counted by hand (tests/producer/corpus.py)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.schemas.codec import EventCodec
from tests.producer.corpus import CASES
from tests.producer.test_ingest import ingest
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka


def test_every_case_of_the_corpus_adds_up(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    paths = []
    for case in CASES:
        path = tmp_path / case.file_name
        path.write_bytes(case.content())
        paths.append(path)
    summary = ingest(kafka_bootstrap, topics, paths)

    events: Counter[str] = Counter()
    codec = EventCodec()
    for message in read_committed(kafka_bootstrap, topics.events):
        events[codec.decode(message.value()).report_id] += 1
    letters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in read_committed(kafka_bootstrap, topics.dead_letter):
        letter = json.loads(message.value() or b"")
        letters[letter["report_id"]].append(letter)

    assert sorted(summary.unreadable) == sorted(c.file_name for c in CASES if c.unreadable)
    for case in CASES:
        mine = letters[case.file_name]
        warned = sorted(x["position"] for x in mine if x.get("warning"))
        rejected = sorted(x["position"] for x in mine if not x.get("warning"))
        got = (events[case.file_name], rejected, warned)
        assert got == (case.good, case.bad, case.flagged), case.name
        for letter in mine:
            assert letter["reason"] and letter["stage"] == "ingest", case.name
            assert "0101" not in letter["reason"] and "0103" not in letter["reason"], case.name
    counted = [c for c in CASES if not c.unreadable]
    assert summary.accepted == sum(c.good for c in counted)
    assert summary.rejected == sum(len(c.bad) for c in counted)
    assert summary.flagged == sum(len(c.flagged) for c in counted)
    assert summary.rows == summary.accepted + summary.rejected
