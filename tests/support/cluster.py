"""Helpers for the tests on a local 3-node cluster: whom to kill, and when the pipeline
has caught up."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from numguard.consumer.store import open_store
from numguard.devtools.localkafka.broker import LocalKafkaCluster
from numguard.schemas.events import EventType, StateChange
from tests.builders import change


def busiest_leader(cluster: LocalKafkaCluster, topic: str, partitions: int) -> int:
    """The node that leads most of the topic's partitions now."""
    leaders = Counter(cluster.leader(topic, p) for p in range(partitions))
    return leaders.most_common(1)[0][0]


def stored_offsets(url: str, group: str, topic: str) -> dict[int, int]:
    """The offsets the store holds for `group` (nothing yet: {})."""
    try:
        store = open_store(url, create=False)
    except LookupError:
        return {}
    try:
        return store.offsets(group, topic)
    except Exception:
        return {}  # its tables not created yet
    finally:
        store.close()


def start_numguard(
    env: dict[str, str], log: Path, *args: str, out: Path | None = None
) -> subprocess.Popen[str]:
    """`numguard ARGS` in the background: its JSON on a pipe (one line, at the end), or in
    `out` (a command that prints a line a poll); its log in a file (a full pipe would
    stall it)."""
    with log.open("a") as stderr, (out or Path(os.devnull)).open("a") as lines:
        return subprocess.Popen([sys.executable, "-m", "numguard", *args], env=env,
                                stdout=lines if out else subprocess.PIPE, stderr=stderr,
                                text=True)  # fmt: skip


def stop(process: subprocess.Popen[str], timeout: float) -> None:
    """A process a failed test left running: killed."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout)


def spread_changes(count: int, *, seed: int, numbers: int) -> list[StateChange]:
    """`count` events of every kind over `numbers` numbers (a number changes several
    times), in a random order."""
    chance = random.Random(seed)
    kinds = [t for t in EventType if t is not EventType.UNKNOWN]
    changes = []
    for position in range(count):
        index, kind = chance.randrange(numbers), chance.choice(kinds)
        changes.append(change(
            kind, f"2024-{chance.randint(1, 12):02d}-{chance.randint(1, 28):02d}",
            mdn=f"+1{202 + index // 10_000 % 700}555{index % 10_000:04d}",
            new_mdn="+13035550199" if kind is EventType.NUMBER_CHANGED else None,
            report_id=f"mcdn_deact_2024{chance.randint(1, 12):02d}01.csv", position=position,
        ))  # fmt: skip
    return changes


def scrape_lag(port: int, topic: str) -> dict[int, float] | None:
    """numguard_consumer_lag_messages of `topic` on a replica's /metrics, by partition
    (None: not answering)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return None
    return {
        int(sample.labels["partition"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "numguard_consumer_lag_messages"
        for sample in family.samples
        if sample.labels["topic"] == topic
    }


def metric_value(port: int, name: str) -> float | None:
    """A metric without labels on a process's /metrics (None: not answering, or absent)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return None
    found = [sample.value for family in text_string_to_metric_families(text)
             for sample in family.samples if sample.name == name]  # fmt: skip
    return found[0] if found else None
