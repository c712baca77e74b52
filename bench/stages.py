"""Each stage as a user runs it (the numguard command line, in a child process), its
reference measured in the same run, and its target from issue 13."""

from __future__ import annotations

import statistics
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from bench import references
from bench.api import bench_api, free_port, running
from bench.data import sample_changes, write_contacts, write_convey_file
from bench.measure import Measured, median, numguard
from bench.report import Results, Row
from numguard.core.kafka.clients import base_config
from numguard.core.kafka.topics import TopicNames, ensure_topics
from numguard.devtools.localpostgres import fresh_postgres_database

PARTITIONS = 6
BATCH_ROWS = 10_000
SCRUB_ADDED_COLUMNS = 5
REPLAY_TARGET_EVENTS, REPLAY_TARGET_SECONDS = 10_000_000, 180
CRM_SECRET = "bench-secret"
RunArguments = tuple[list[str], dict[str, str]]  # a run's own arguments and environment


@dataclass
class Bench:
    folder: Path
    bootstrap: str
    postgres: str  # a server URL: each run gets a fresh database on it
    events: int
    crm_events: int
    api_numbers: int
    repeat: int
    results: Results

    def kafka_env(self, topic: str) -> dict[str, str]:
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "NUMGUARD_TOPIC": topic}

    def fresh_topic(self, prefix: str) -> TopicNames:
        names = TopicNames.for_events_topic(f"bench-{prefix}-{uuid.uuid4().hex[:8]}")
        ensure_topics(base_config(self.bootstrap), names, partitions=PARTITIONS)
        return names

    def runs(
        self,
        command: list[str],
        env: dict[str, str],
        fresh: Callable[[], RunArguments],
        profiled_with: tuple[str, ...] = (),
    ) -> tuple[float, float, str]:
        """Median seconds and peak RSS of `repeat` runs, and one profiled run's frames;
        `fresh()` gives the extra arguments and environment of a run (a new store...),
        `profiled_with` more arguments for the profiled run (one process: --jobs 1)."""
        measured: list[Measured] = []
        for _ in range(self.repeat):
            args, extra = fresh()
            measured.append(numguard(*command, *args, env={**env, **extra}))
        args, extra = fresh()
        profile = numguard(*command, *args, *profiled_with, env={**env, **extra},
                           profile=True).stdout  # fmt: skip
        seconds = statistics.median(m.seconds for m in measured)
        return seconds, max(m.peak_rss_mb for m in measured), profile


def ingest(bench: Bench) -> None:
    path = bench.folder / "mcdn_deact_20240305.csv"
    write_convey_file(path, bench.events)

    def fresh() -> RunArguments:
        return [], bench.kafka_env(bench.fresh_topic("ingest").events)

    seconds, rss, profile = bench.runs(["ingest", str(path)], {}, fresh)
    messages = references.encoded(sample_changes(bench.events))
    record_size = round(statistics.mean(len(value) for _, value in messages))
    librdkafka = median(bench.repeat, lambda: references.librdkafka_produce_rate(
        bench.bootstrap, bench.fresh_topic("produce").events, messages))  # fmt: skip
    bench.results.references |= {
        f"Kafka ProducerPerformance, {record_size}-byte records (msg/s)":
            references.java_produce_rate(bench.bootstrap, bench.fresh_topic("java").events,
                                         bench.events, record_size),
        "fastavro schemaless encode (records/s)":
            references.fastavro_encode_rate(sample_changes(min(bench.events, 200_000))),
    }  # fmt: skip
    rate = bench.events / seconds
    bench.results.rows.append(Row(
        f"`ingest` {bench.events:,} Convey rows", "ingest", rate, "events/s",
        "librdkafka producing the pre-encoded values", librdkafka, "≥ 100,000 events/s",
        rate >= 100_000, f"{seconds:.1f} s", rss, profile,
    ))  # fmt: skip


def events_topic(bench: Bench, count: int) -> str:
    topic = bench.fresh_topic("events").events
    producer_messages = references.encoded(sample_changes(count))
    references.publish(Producer({**base_config(bench.bootstrap), **references.PRODUCE_SETTINGS}),
                       topic, producer_messages)  # fmt: skip
    return topic


def consume_store(bench: Bench, topic: str, backend: str) -> str:
    """`consume store` into a new store a run; returns the last store's URL."""
    stores: list[str] = []

    def fresh() -> RunArguments:
        if backend == "sqlite":
            stores.append(f"sqlite:///{bench.folder / f'store-{uuid.uuid4().hex[:6]}.sqlite3'}")
        else:
            stores.append(fresh_postgres_database(bench.postgres))
        return ["--store", stores[-1], "--group", f"bench-{uuid.uuid4().hex[:8]}"], {}

    seconds, rss, profile = bench.runs(["consume", "store", "--until-idle"],
                                       bench.kafka_env(topic), fresh)  # fmt: skip
    plain = median(bench.repeat, lambda: references.plain_read_rate(bench.bootstrap, topic,
                                                                    bench.events))  # fmt: skip
    if backend == "sqlite":
        database = references.sqlite_upsert_rate(bench.folder, bench.events, BATCH_ROWS)
        bench.results.references |= {
            "Kafka ConsumerPerformance (msg/s)":
                references.java_consume_rate(bench.bootstrap, topic, bench.events),
            f"SQLite executemany upserts, {BATCH_ROWS:,} a transaction (rows/s)": database,
        }  # fmt: skip
        target = 100_000
    else:
        database = references.postgres_copy_rate(fresh_postgres_database(bench.postgres),
                                                 bench.events)  # fmt: skip
        bench.results.references["PostgreSQL COPY (rows/s)"] = database
        target = 50_000
    rate = bench.events / seconds
    bench.results.rows.append(Row(
        f"`consume store` {bench.events:,} events, {backend}", f"consume_{backend}", rate,
        "events/s", "a plain consumer reading the topic", plain, f"≥ {target:,} events/s",
        rate >= target, f"{seconds:.1f} s; {rate / database:.2f} of the database's own rate",
        rss, profile,
    ))  # fmt: skip
    return stores[-1]


def replay(bench: Bench, topic: str) -> None:
    def fresh() -> RunArguments:
        store = bench.folder / f"replay-{uuid.uuid4().hex[:6]}.sqlite3"
        return ["--store", f"sqlite:///{store}"], {}

    # The profile is of one process: with --jobs, the command's own only waits.
    seconds, rss, profile = bench.runs(["replay"], bench.kafka_env(topic), fresh,
                                       profiled_with=("--jobs", "1"))  # fmt: skip
    plain = median(bench.repeat, lambda: references.plain_read_rate(bench.bootstrap, topic,
                                                                    bench.events))  # fmt: skip
    rate = bench.events / seconds
    estimate = REPLAY_TARGET_EVENTS / rate
    bench.results.rows.append(Row(
        f"`replay` {bench.events:,} events into SQLite", "replay", rate, "events/s",
        "a plain consumer reading the topic", plain,
        f"10 M under {REPLAY_TARGET_SECONDS} s", estimate < REPLAY_TARGET_SECONDS,
        f"10 M in about {estimate:,.0f} s", rss, profile,
    ))  # fmt: skip


def scrub(bench: Bench, store_url: str) -> None:
    contacts = bench.folder / "contacts.csv"
    write_contacts(contacts, bench.events)
    out = bench.folder / "scrubbed.csv"
    command = ["scrub", str(contacts), "--number-column", "phone", "--consent-column",
               "consented_at", "-o", str(out), "--store", store_url]  # fmt: skip
    seconds, rss, profile = bench.runs(command, {}, lambda: ([], {}))
    copy = median(bench.repeat, lambda: references.csv_copy_rate(
        contacts, bench.folder / "copied.csv", SCRUB_ADDED_COLUMNS))  # fmt: skip
    rate = bench.events / seconds
    bench.results.rows.append(Row(
        f"`scrub` {bench.events:,} contacts", "scrub", rate, "rows/s",
        f"csv read and write of the file with {SCRUB_ADDED_COLUMNS} columns added", copy,
        "1 M under 10 s", rate >= 100_000, f"{seconds:.1f} s", rss, profile,
    ))  # fmt: skip


def consume_crm(bench: Bench) -> None:
    topic = events_topic(bench, bench.crm_events)
    port = free_port()
    receiver = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "asyncio",
                "--port", str(port), "--log-level", "error", "bench.trivial_app:app"]  # fmt: skip
    config = bench.folder / "crm.toml"
    config.write_text(
        f'[[endpoints]]\nname = "bench"\nurl = "http://127.0.0.1:{port}/hook"\n'
        'secret_env = "BENCH_CRM_SECRET"\n'
    )

    def fresh() -> RunArguments:
        return ["--config", str(config), "--group", f"bench-{uuid.uuid4().hex[:8]}"], {}

    env = {**bench.kafka_env(topic), "BENCH_CRM_SECRET": CRM_SECRET}
    with running(receiver, port, {}):
        seconds, rss, profile = bench.runs(["consume", "crm", "--until-idle"], env, fresh)
        body = b'{"specversion": "1.0", "data": {"event_type": "DEACTIVATED"}}' * 8
        direct = median(bench.repeat, lambda: references.webhook_post_rate(
            f"http://127.0.0.1:{port}/hook", bench.crm_events, body))  # fmt: skip
    rate = bench.crm_events / seconds
    bench.results.rows.append(Row(
        f"`consume crm` {bench.crm_events:,} events to a fast receiver", "crm", rate,
        "deliveries/s", "httpx async client, 8 in flight, same receiver", direct,
        "≥ 3,000 deliveries/s", rate >= 3_000, f"{seconds:.1f} s", rss, profile,
    ))  # fmt: skip


def serve(bench: Bench, workers: int) -> None:
    for backend in ("sqlite", "postgresql"):
        url = (f"sqlite:///{bench.folder / 'api.sqlite3'}" if backend == "sqlite"
               else fresh_postgres_database(bench.postgres))  # fmt: skip
        found = bench_api(bench.folder, bench.api_numbers, workers, url)
        ceiling, in_process = found["api_http_ceiling_rps"], found["api_in_process_lookups_per_s"]
        bench.results.references[f"in-process lookups, {backend} (lookups/s)"] = in_process
        rps, p50, p99 = (
            found["api_single_rps"],
            found["api_single_p50_ms"],
            found["api_single_p99_ms"],
        )
        bench.results.rows.append(Row(
            f"`serve` single lookups, {backend}, {bench.api_numbers:,} numbers",
            f"serve_single_{backend}", rps, "lookups/s",
            "the same stack answering a constant", ceiling, "≥ 5,000/s, p99 < 5 ms",
            rps >= 5_000 and p99 < 5, f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
            f"{rps / in_process:.2f} of in-process",
        ))  # fmt: skip
        batch = found["api_batch10000_p50_ms"]
        rate, inline = found["api_batch10000_numbers_per_s"], found["api_in_process_batch_per_s"]
        bench.results.rows.append(Row(
            f"`serve` batches of 10,000, {backend}", f"serve_batch_{backend}", rate,
            "numbers/s", "the same decisions in-process", inline, "p50 < 100 ms", batch < 100,
            f"p50 {batch:.0f} ms, p99 {found['api_batch10000_p99_ms']:.0f} ms",
        ))  # fmt: skip
        bench.results.references[f"serve batches of 100, {backend} (numbers/s)"] = found[
            "api_batch100_numbers_per_s"
        ]


def kafka_tools_ready() -> None:
    """Fetch the jars (with Kafka's perf tools) before anything is timed."""
    subprocess.run([sys.executable, "-m", "numguard.devtools.localkafka.jars"], check=True,
                   capture_output=True)  # fmt: skip
