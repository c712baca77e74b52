"""Helpers for the tests on a local 3-node cluster: whom to kill, and when the pipeline
has caught up."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from numguard.consumer.store import open_store
from numguard.devtools.localkafka.broker import LocalKafkaCluster


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


def start_numguard(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[str]:
    """`numguard ARGS` in the background: its JSON on a pipe (one line, at the end), its
    log in a file (a full pipe would stall it)."""
    with log.open("a") as stderr:
        return subprocess.Popen([sys.executable, "-m", "numguard", *args], env=env,
                                stdout=subprocess.PIPE, stderr=stderr, text=True)  # fmt: skip


def stop(process: subprocess.Popen[str], timeout: float) -> None:
    """A process a failed test left running: killed."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout)
