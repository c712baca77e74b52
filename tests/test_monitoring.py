"""A real Prometheus scraping a running producer and store consumer on loopback.

The producer polls the simulated carrier, which publishes nothing new after its
last day; with a short expected cadence the stale-source alert from
monitoring/alerts.yml (unchanged) must go from inactive to firing.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.devtools.localkafka.broker import free_port
from numguard.devtools.simulator import CarrierSimulator, GeneratedDataset
from tests.support.waiting import wait_for as wait_until

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[1]
CADENCE_HOURS = 0.003  # 10.8 s: the rule fires 1.5 x that after the last report
WAIT_SECONDS = 90
wait_for = functools.partial(wait_until, timeout=WAIT_SECONDS, interval=0.5)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def start(processes: list[subprocess.Popen[str]], args: list[str], env: dict[str, str],
          log: Path) -> None:  # fmt: skip
    processes.append(subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True,
    ))  # fmt: skip


def prometheus_config(folder: Path, targets: dict[str, int]) -> Path:
    shutil.copy(ROOT / "monitoring" / "alerts.yml", folder / "alerts.yml")
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        for job, port in targets.items()
    )
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "rule_files:\n  - alerts.yml\nscrape_configs:\n" + jobs
    )
    return config


def answers(api: httpx.Client, path: str) -> bool | None:
    try:
        return api.get(path).is_success or None
    except httpx.TransportError:
        return None  # not listening yet


def first_time(api: httpx.Client, query: str) -> float:
    """When `query` first had a sample, from Prometheus's stored history."""
    now = time.time()
    found = api.get("/api/v1/query_range", params={
        "query": f"timestamp({query})", "start": now - 300, "end": now, "step": "1s",
    }).json()["data"]["result"]  # fmt: skip
    return min(float(v) for series in found for _, v in series["values"])


def first_value(api: httpx.Client, query: str) -> float:
    (series,) = api.get("/api/v1/query", params={"query": query}).json()["data"]["result"]
    return float(series["value"][1])


def rule_state(api: httpx.Client, name: str) -> str | None:
    groups = api.get("/api/v1/rules").json()["data"]["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        if rule["name"] == name:
            return str(rule["state"])
    return None


def test_stale_source_alert_fires_when_the_carrier_stops_publishing(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path,
    processes: list[subprocess.Popen[str]],
) -> None:  # fmt: skip
    data = GeneratedDataset(seed=5, numbers=60, days=2)
    producer_port, consumer_port, prometheus_port = free_port(), free_port(), free_port()
    env = {
        **os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "NUMGUARD_TOPIC": topics.events,
        "NUMGUARD_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
    }  # fmt: skip
    numguard = [sys.executable, "-m", "numguard", "--log-level", "debug"]
    with CarrierSimulator(data) as carrier:
        start(
            processes,
            [
                *numguard,
                "produce",
                "--interval",
                "1",
                "--lookback-days",
                "3",
                "--convey-url",
                carrier.base_url + "/convey/mcdn_deact_{date:%Y%m%d}.csv",
                "--expected-cadence-hours",
                str(CADENCE_HOURS),
                "--metrics-port",
                str(producer_port),
            ],
            env,
            tmp_path / "produce.log",
        )
        start(processes, [*numguard, "consume", "store", "--metrics-port", str(consumer_port)],
              env, tmp_path / "consume.log")  # fmt: skip
        config = prometheus_config(
            tmp_path, {"numguard-producer": producer_port, "numguard-store-consumer": consumer_port}
        )
        start(processes, ["prometheus", f"--config.file={config}",
                          f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{prometheus_port}"],
              env, tmp_path / "prometheus.log")  # fmt: skip
        with httpx.Client(base_url=f"http://127.0.0.1:{prometheus_port}", timeout=5) as api:
            wait_for(lambda: answers(api, "/-/ready"), "Prometheus to be ready")

            def scraped_fresh_report() -> bool | None:
                found = api.get("/api/v1/query", params={
                    "query": "numguard_source_last_report_published_timestamp_seconds"
                }).json()["data"]["result"]  # fmt: skip
                return True if found else None

            wait_for(scraped_fresh_report, "a published report in Prometheus")
            targets = api.get("/api/v1/targets").json()["data"]["activeTargets"]
            wait_for(lambda: all(t["health"] == "up" for t in
                                 api.get("/api/v1/targets").json()["data"]["activeTargets"])
                     or None, "both targets up")  # fmt: skip
            assert {t["labels"]["job"] for t in targets} == {
                "numguard-producer", "numguard-store-consumer"
            }  # fmt: skip
            wait_for(lambda: rule_state(api, "NumguardSourceStale") == "firing" or None,
                     "the stale-source alert to fire")  # fmt: skip
            # Prometheus's own history: the rule saw fresh data (inactive), then fired no
            # earlier than 1.5 x the cadence after the last report.
            published = first_value(api, "numguard_source_last_report_published_timestamp_seconds")
            first_scrape = first_time(
                api, "numguard_source_last_report_published_timestamp_seconds"
            )
            fired = first_time(api, 'ALERTS{alertname="NumguardSourceStale",alertstate="firing"}')
            assert first_scrape < fired
            assert fired >= published + 1.5 * CADENCE_HOURS * 3600 - 1
            lag = api.get("/api/v1/query", params={"query": "numguard_store_numbers"}).json()
            assert lag["data"]["result"], "the store consumer's metrics were scraped"

    logs = (tmp_path / "produce.log").read_text() + (tmp_path / "consume.log").read_text()
    assert "published" in logs or "committed" in logs
    for day in data.dates():
        for row in data.convey_rows(day) or []:
            assert row["MDN"][1:] not in logs, "a whole phone number in a log line"
