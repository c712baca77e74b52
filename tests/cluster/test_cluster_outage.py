"""The whole cluster down for a minute under the running pipeline: `produce` (in the
middle of a report), `consume store` and `consume crm` wait, say so once per interval in
their logs and in numguard_kafka_unreachable_seconds, and carry on by themselves once
the cluster is back: no crash, no restart, nothing lost, nothing published twice."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from numguard.consumer.store_consumer import DEFAULT_GROUP
from numguard.core.kafka.clients import base_config
from numguard.core.kafka.outage import PROBE_SECONDS
from numguard.core.kafka.topics import TopicNames
from numguard.devtools.localkafka.broker import LocalKafkaCluster, free_port
from numguard.producer.checkpoints import read_checkpoints
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType
from tests.builders import convey_file
from tests.consumer.crm import cli_env, receiver
from tests.support.cluster import metric_value, start_numguard, stop, stored_offsets
from tests.support.topic_reader import count_committed, end_offsets, read_committed
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.cluster]

CLUSTER_DOWN_SECONDS = 60.0  # issue 15: every node down for a minute
FIRST_ROWS, SECOND_ROWS = 2_000, 20_000
ROWS_PER_TRANSACTION = 1_000  # the second report spans many: the outage lands inside it
WAIT_SECONDS = 400.0
# The per-interval lines, beside the first and the last ("unreachable:", "reachable again").
STILL_WAITING = "unreachable for "
GAUGE = "numguard_kafka_unreachable_seconds"


def drop_report(staging: Path, drop: Path, rows: int, day: str) -> int:
    """A Convey file written aside, then moved into the watched folder whole."""
    path, accepted = convey_file(staging, rows, seed=int(day), day=day)
    path.rename(drop / path.name)
    return accepted


def crm_config(folder: Path, url: str) -> Path:
    """One endpoint for the deactivations only (a quarter of the events): webhooks to a
    test receiver are slower than the store."""
    path = folder / "crm.toml"
    path.write_text(
        f'[[endpoints]]\nname = "crm"\nurl = "{url}"\nsecret_env = "TEST_SECRET"\n'
        'event_types = ["DEACTIVATED"]\nmax_concurrency = 16\nmax_attempts = 50\n'
        "backoff = { initial_seconds = 0.01, max_seconds = 0.1 }\n"
    )
    return path


def deactivations(bootstrap: str, topic: str) -> set[str]:
    codec = EventCodec()
    changes = (codec.decode(m.value() or b"") for m in read_committed(bootstrap, topic))
    return {c.event_id for c in changes if c.event_type is EventType.DEACTIVATED}


def published(bootstrap: str, names: TopicNames, report: str) -> bool:
    marks = read_checkpoints(base_config(bootstrap), names.checkpoints)
    return any(mark.report_id == report and mark.done for mark in marks.values())


def test_the_whole_cluster_down_for_a_minute_is_waited_out_and_nothing_is_lost(
    kafka_cluster: LocalKafkaCluster, cluster_topics: TopicNames, tmp_path: Path
) -> None:
    bootstrap, events = kafka_cluster.bootstrap_servers, cluster_topics.events
    staging, drop = tmp_path / "staging", tmp_path / "drop"
    staging.mkdir()
    drop.mkdir()
    env = cli_env(bootstrap, events)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    ports = {name: free_port() for name in ("produce", "store", "crm")}
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    with receiver() as crm:
        config = str(crm_config(tmp_path, crm.url))
        commands = {
            "produce": ["produce", "--convey-dir", str(drop), "--interval", "1",
                        "--lookback-days", "1", "--rows-per-transaction",
                        str(ROWS_PER_TRANSACTION)],
            "store": ["consume", "store", "--store", url],
            "crm": ["consume", "crm", "--config", config],
        }  # fmt: skip
        processes = {
            name: start_numguard(env, logs[name], *command, "--metrics-port", str(ports[name]),
                                 out=tmp_path / f"{name}.out")
            for name, command in commands.items()
        }  # fmt: skip
        try:
            accepted = drop_report(staging, drop, FIRST_ROWS, "20240301")
            wait_for(lambda: published(bootstrap, cluster_topics, "mcdn_deact_20240301.csv"),
                     "the first report published", WAIT_SECONDS)  # fmt: skip
            before = sum(end_offsets(bootstrap, events).values())
            accepted += drop_report(staging, drop, SECOND_ROWS, "20240302")
            wait_for(lambda: sum(end_offsets(bootstrap, events).values()) > before,
                     "the second report under way", WAIT_SECONDS)  # fmt: skip

            killed = time.monotonic()
            kafka_cluster.kill_all()
            time.sleep(CLUSTER_DOWN_SECONDS)  # the outage itself, not a wait for a state
            assert [n for n, p in processes.items() if p.poll() is not None] == []
            waited = {name: metric_value(port, GAUGE) for name, port in ports.items()}
            assert all(seconds and seconds > 0 for seconds in waited.values()), waited
            kafka_cluster.start_all()

            wait_for(lambda: published(bootstrap, cluster_topics, "mcdn_deact_20240302.csv"),
                     "the second report published", WAIT_SECONDS)  # fmt: skip
            unreachable_at_most = time.monotonic() - killed  # each was back by now
            committed = count_committed(bootstrap, events)
            assert committed.count == accepted  # nothing lost, nothing published twice
            wait_for(lambda: stored_offsets(url, DEFAULT_GROUP, events) == committed.next_offsets,
                     "the store to apply every event", WAIT_SECONDS)  # fmt: skip
            wanted = deactivations(bootstrap, events)
            wait_for(lambda: crm.delivered_ids() == wanted, "every webhook delivered",
                     WAIT_SECONDS)  # fmt: skip
            back = {name: metric_value(port, GAUGE) for name, port in ports.items()}
            assert back == dict.fromkeys(ports, 0.0)  # reachable again, in the metric too
            # Never exited: no crash loop, no restart. Then a clean stop.
            assert [n for n, p in processes.items() if p.poll() is not None] == []
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for name, process in processes.items():
                assert process.wait(WAIT_SECONDS) == 0, logs[name].read_text()[-3000:]
        finally:
            for process in processes.values():
                stop(process, WAIT_SECONDS)
    for name, log in logs.items():
        text = log.read_text()
        assert "Traceback" not in text, name
        assert f"Kafka at {bootstrap} reachable again" in text, name
        # Said once per interval while it lasted: neither silent nor a flood.
        said = [line for line in text.splitlines() if STILL_WAITING in line]
        intervals = (CLUSTER_DOWN_SECONDS / PROBE_SECONDS, unreachable_at_most / PROBE_SECONDS)
        assert intervals[0] / 2 <= len(said) <= intervals[1] + 2, (name, len(said), intervals)
        assert len(text.splitlines()) < 1_000, name  # librdkafka's own lines held back too
