"""Replay rebuilds the live store exactly; kill -9 mid-batch loses and doubles nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numguard.consumer.store import open_store
from numguard.core.kafka.topics import TopicNames
from numguard.schemas.events import EventType, StateChange
from tests.builders import change
from tests.support.commands import numguard as run_numguard
from tests.support.events import publish, publish_raw
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka

TYPES = [t for t in EventType if t is not EventType.UNKNOWN]
WAIT_SECONDS = 120


def random_changes(count: int, seed: int) -> list[StateChange]:
    generator = random.Random(seed)
    changes = []
    for position in range(count):
        event_type = generator.choice(TYPES)
        changes.append(change(
            event_type, f"2024-{generator.randint(1, 12):02d}-{generator.randint(1, 28):02d}",
            mdn=f"+1202555{generator.randint(0, count // 4):04d}",
            new_mdn="+12025559999" if event_type is EventType.NUMBER_CHANGED else None,
            report_id=f"mcdn_deact_2024{generator.randint(1, 12):02d}01.csv", position=position,
        ))  # fmt: skip
    return changes


def numguard_env(bootstrap: str, names: TopicNames) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "NUMGUARD_TOPIC": names.events}


def numguard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_numguard(*args, env=env, timeout=WAIT_SECONDS)


def digest(url: str) -> str:
    store = open_store(url, create=False)
    try:
        return store.digest()
    finally:
        store.close()


@pytest.mark.parametrize("jobs", ["1", "2", "5"])  # 5: more processes than partitions
def test_replay_digest_equals_the_live_digest_with_events_out_of_order_and_duplicated(
    kafka_bootstrap: str, topics: TopicNames, store_url: str, tmp_path: Path, jobs: str
) -> None:
    changes = random_changes(400, seed=11)
    shuffled = changes + random.Random(3).sample(changes, 100)
    random.Random(5).shuffle(shuffled)
    publish(kafka_bootstrap, topics.events, shuffled)
    env = numguard_env(kafka_bootstrap, topics)

    live = numguard(env, "consume", "store", "--until-idle", "--store", store_url)
    assert live.returncode == 0, live.stderr

    rebuilt_url = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    replayed = numguard(env, "replay", "--store", rebuilt_url, "--batch-size", "37",
                        "--jobs", jobs)  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    summary = json.loads(replayed.stdout)
    assert summary["consumed"] == 500
    assert summary["events"] == len({c.event_id for c in changes})
    assert summary["digest"] == digest(store_url) == digest(rebuilt_url)

    printed = numguard(env, "store", "digest", "--store", store_url)
    assert printed.stdout.strip() == summary["digest"]


def test_replay_refuses_a_live_store(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    env = numguard_env(kafka_bootstrap, topics)
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    publish(kafka_bootstrap, topics.events, random_changes(5, seed=1))
    assert numguard(env, "consume", "store", "--until-idle", "--store", url).returncode == 0
    refused = numguard(env, "replay", "--store", url)
    assert refused.returncode == 2
    assert "live store" in refused.stderr


def applied_so_far(url: str, group: str, topic: str) -> int:
    try:
        store = open_store(url, create=False)
    except LookupError:
        return 0
    try:
        return sum(store.offsets(group, topic).values())
    except Exception:
        return 0  # tables not created yet
    finally:
        store.close()


def test_kill_9_mid_batch_then_restart_gives_the_digest_of_an_uninterrupted_run(
    kafka_bootstrap: str, topics: TopicNames, store_url: str, tmp_path: Path
) -> None:
    total = 6000
    publish(kafka_bootstrap, topics.events, random_changes(total, seed=29))
    env = numguard_env(kafka_bootstrap, topics)
    # Static members do not leave their group on close: a group of its own per run.
    group = f"crash-test-{topics.events}"
    for kill_after in (800, 2500, 4200):
        consumer = subprocess.Popen(
            [sys.executable, "-m", "numguard", "--log-level", "warning", "consume", "store",
             "--group", group, "--instance-id", f"{group}-1", "--batch-size", "25",
             "--store", store_url],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + WAIT_SECONDS
        while applied_so_far(store_url, group, topics.events) < kill_after:
            assert time.monotonic() < deadline, "the consumer made no progress"
            assert consumer.poll() is None, "the consumer exited on its own"
            time.sleep(0.02)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        assert applied_so_far(store_url, group, topics.events) < total

    finished = numguard(env, "consume", "store", "--until-idle", "--group", group,
                        "--instance-id", f"{group}-1", "--store", store_url)  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert applied_so_far(store_url, group, topics.events) == total

    uninterrupted = f"sqlite:///{tmp_path / 'uninterrupted.sqlite3'}"
    assert numguard(env, "replay", "--store", uninterrupted).returncode == 0
    assert digest(store_url) == digest(uninterrupted)


def test_sigterm_finishes_the_batch_commits_and_exits_cleanly(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    """SIGTERM while batches are still arriving: the batch in hand is applied whole with
    its offsets, the process exits 0, and a restart applies exactly the rest."""
    total = 20_000  # far more than a first batch: the signal lands mid-run
    publish(kafka_bootstrap, topics.events, random_changes(total, seed=41))
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    command = [sys.executable, "-m", "numguard", "consume", "store", "--group", "sigterm",
               "--batch-size", "50", "--store", url]  # fmt: skip
    env = numguard_env(kafka_bootstrap, topics)
    consumer = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + WAIT_SECONDS
    while applied_so_far(url, "sigterm", topics.events) == 0:
        assert time.monotonic() < deadline and consumer.poll() is None
        time.sleep(0.01)
    consumer.send_signal(signal.SIGTERM)
    stdout, stderr = consumer.communicate(timeout=WAIT_SECONDS)
    assert consumer.returncode == 0, stderr
    assert "SIGTERM received" in stderr
    applied = json.loads(stdout)["applied"]
    assert 0 < applied < total, "the signal must arrive while events remain"
    # What the process says it applied is exactly what the store holds offsets for:
    # no batch was cut short between its state and its offsets.
    assert applied_so_far(url, "sigterm", topics.events) == applied
    rest = numguard(env, "consume", "store", "--group", "sigterm", "--store", url, "--until-idle")
    assert rest.returncode == 0, rest.stderr
    assert json.loads(rest.stdout)["applied"] == total - applied


def test_registry_framed_events_without_a_registry_stop_the_consumer_with_one_line(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    """Issue 11, case 3: every message was dead-lettered (85 of 85) and the run went on."""
    framed = b"\x00" + struct.pack(">I", 7) + b"\x02body"
    publish_raw(kafka_bootstrap, topics.events, [(b"+12025550101", framed)] * 3)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    env = numguard_env(kafka_bootstrap, topics)
    env.pop("NUMGUARD_SCHEMA_REGISTRY_URL", None)
    result = numguard(env, "consume", "store", "--group", "misconfigured", "--store", url,
                      "--until-idle")  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("numguard: error: ") and "--schema-registry-url" in last
    assert applied_so_far(url, "misconfigured", topics.events) == 0  # nothing committed
    assert read_committed(kafka_bootstrap, topics.dead_letter) == []  # not poison


def _share_processes(replay: subprocess.Popen[str]) -> list[int]:
    """The pids of the --jobs processes `replay` started (its children with --share)."""
    found = []
    for child in Path(f"/proc/{replay.pid}/task/{replay.pid}/children").read_text().split():
        if "--share" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
            found.append(int(child))
    return found


REPLAY_EVENTS = 20_000  # at 50 a batch: the replay is still running when the test acts


def _replay_under_way(
    bootstrap: str, topics: TopicNames, live_url: str, rebuilt_url: str, jobs: str, seed: int
) -> tuple[dict[str, str], subprocess.Popen[str]]:
    """The live store consumed, then `replay --jobs` into `rebuilt_url` running, some of it
    applied already: the environment and the replay's process."""
    publish(bootstrap, topics.events, random_changes(REPLAY_EVENTS, seed=seed))
    env = numguard_env(bootstrap, topics)
    assert numguard(env, "consume", "store", "--until-idle", "--store", live_url).returncode == 0
    replay = subprocess.Popen(
        [sys.executable, "-m", "numguard", "replay", "--jobs", jobs, "--batch-size", "50",
         "--store", rebuilt_url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + WAIT_SECONDS
    while applied_so_far(rebuilt_url, "numguard-replay", topics.events) == 0:
        assert time.monotonic() < deadline and replay.poll() is None
        time.sleep(0.01)
    return env, replay


def test_a_replay_process_killed_fails_the_replay_in_one_line_and_a_rerun_finishes_it(
    kafka_bootstrap: str, topics: TopicNames, store_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    env, replay = _replay_under_way(kafka_bootstrap, topics, store_url, url, "2", seed=43)
    os.kill(_share_processes(replay)[0], signal.SIGKILL)
    stdout, stderr = replay.communicate(timeout=WAIT_SECONDS)
    assert replay.returncode == 1
    assert stdout == ""
    assert stderr.strip().splitlines()[-1].startswith("numguard: error: replay process ")
    assert applied_so_far(url, "numguard-replay", topics.events) < REPLAY_EVENTS

    again = numguard(env, "replay", "--jobs", "2", "--store", url)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["digest"] == digest(store_url)


def test_sigterm_stops_every_replay_process_after_its_batch_and_a_rerun_finishes(
    kafka_bootstrap: str, topics: TopicNames, store_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    env, replay = _replay_under_way(kafka_bootstrap, topics, store_url, url, "3", seed=47)
    replay.send_signal(signal.SIGTERM)  # to the command only, as a service manager does
    stdout, stderr = replay.communicate(timeout=WAIT_SECONDS)
    assert replay.returncode == 0, stderr
    stopped = json.loads(stdout)
    assert 0 < stopped["consumed"] < REPLAY_EVENTS
    # Every process stored the batch it had in hand, whole, and said so.
    assert applied_so_far(url, "numguard-replay", topics.events) == stopped["consumed"]

    again = numguard(env, "replay", "--jobs", "3", "--store", url)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["consumed"] == REPLAY_EVENTS - stopped["consumed"]
    assert json.loads(again.stdout)["digest"] == digest(store_url)
