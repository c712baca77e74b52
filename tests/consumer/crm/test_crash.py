"""`numguard consume crm` as a process: kill -9 mid-flight, SIGTERM, restart."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from numguard.core.kafka.topics import TopicNames
from tests.consumer.crm import (
    CLI,
    SECRET,
    WAIT_SECONDS,
    Answer,
    cli_env,
    committed,
    free_port,
    history,
    numbers,
    positions,
    publish,
    receiver,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.kafka


def start(env: dict[str, str], config: Path, group: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "consume", "crm", "--config", str(config), "--group", group, *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return ""  # not listening yet


def undelivered_below_commit(
    committed_offsets: dict[int, int], where: dict[str, tuple[int, int]], delivered: set[str]
) -> list[tuple[int, int]]:
    """Offsets the group committed past although their event never reached the endpoint."""
    return sorted(
        (partition, offset)
        for event_id, (partition, offset) in where.items()
        if offset < committed_offsets.get(partition, 0) and event_id not in delivered
    )


def test_kill_9_mid_flight_then_restart_delivers_everything_and_commits_nothing_unsent(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    changes = history(numbers(80), per_number=5)
    publish(kafka_bootstrap, topics.events, changes)
    where = positions(kafka_bootstrap, topics.events)
    chance, lock = random.Random(3), threading.Lock()

    def answer(_event: dict[str, Any], _attempt: int) -> Answer:
        with lock:
            return 200, {}, chance.uniform(0.005, 0.03)

    group = f"crash-{topics.events}"
    env = cli_env(kafka_bootstrap, topics.events)
    with receiver(answer) as crm:
        config = write_config(tmp_path, crm.url, max_pending_per_partition=20)
        # Static membership: the restarted process takes the partitions back at once,
        # instead of waiting out the killed one's session.
        process = start(env, config, group, "--instance-id", group)
        try:
            wait_for(
                lambda: (
                    len(crm.delivered_ids()) >= 120
                    and sum(committed(kafka_bootstrap, group, topics.events).values()) > 0
                    and crm.in_flight > 0
                ),
                "deliveries, a commit, and requests in flight",
            )
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=WAIT_SECONDS)
        at_kill = committed(kafka_bootstrap, group, topics.events)
        assert sum(at_kill.values()) < len(changes)  # killed mid-way, not after the end
        assert undelivered_below_commit(at_kill, where, crm.delivered_ids()) == []

        restarted = start(env, config, group, "--instance-id", group, "--until-idle")
        stdout, stderr = restarted.communicate(timeout=WAIT_SECONDS)
        assert restarted.returncode == 0, stderr
        assert crm.delivered_ids() == {c.event_id for c in changes}  # each at least once
        summary = json.loads(stdout)
        assert summary["dead_lettered"] == 0
        assert summary["consumed"] == len(changes) - sum(at_kill.values())
    ends = {p: 0 for p in range(3)}
    for partition, offset in where.values():
        ends[partition] = max(ends[partition], offset + 1)
    assert committed(kafka_bootstrap, group, topics.events) == ends


def test_sigterm_abandons_unfinished_deliveries_uncommitted_and_exits_cleanly(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    changes = history(numbers(6), per_number=3)
    publish(kafka_bootstrap, topics.events, changes)
    where = positions(kafka_bootstrap, topics.events)
    gate = threading.Event()
    first = changes[0].mdn

    def answer(event: dict[str, Any], _attempt: int) -> Answer:
        if event["subject"] == first:
            gate.wait(60)  # this number's first delivery hangs past the grace time
        return 200, {}, 0.0

    group = f"sigterm-{topics.events}"
    env = cli_env(kafka_bootstrap, topics.events)
    with receiver(answer) as crm:
        config = write_config(tmp_path, crm.url, shutdown_grace_seconds=1)
        port = free_port()
        process = start(env, config, group, "--metrics-port", str(port))
        try:
            others = {c.event_id for c in changes if c.mdn != first}
            wait_for(lambda: crm.in_flight == 1 and crm.delivered_ids() == others,
                     "every other number delivered, one request hanging")  # fmt: skip
            delivered = 'numguard_crm_deliveries_total{endpoint="crm",outcome="delivered"} 15.0'
            wait_for(lambda: delivered in scrape(port), "the delivered count on /metrics")
            assert "numguard_crm_paused_partitions 0.0" in scrape(port)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, stderr
        assert "SIGTERM received" in stderr
        assert SECRET not in stderr and first not in stderr
        summary = json.loads(stdout)
        assert summary["abandoned"] == 3  # the hanging event and the two queued behind it
        at_stop = committed(kafka_bootstrap, group, topics.events)
        hanging = where[changes[0].event_id]
        assert at_stop[hanging[0]] == hanging[1]  # up to, not past, the unfinished event
        gate.set()
        assert undelivered_below_commit(at_stop, where, crm.delivered_ids()) == []

        restarted = start(env, config, group, "--until-idle")
        _, stderr = restarted.communicate(timeout=WAIT_SECONDS)
        assert restarted.returncode == 0, stderr
        assert crm.delivered_ids() == {c.event_id for c in changes}
