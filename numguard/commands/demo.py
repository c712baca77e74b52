"""numguard demo: the whole flow on an embedded default, no setup needed."""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from consumer.store import open_store
from consumer.store.rules import decide
from consumer.store_consumer import StoreConsumer
from numguard.kafka.clients import (
    base_config,
    consumer_config,
    idempotent_producer_config,
    transactional_producer_config,
)
from numguard.kafka.topics import TopicNames, ensure_topics
from numguard.localkafka.broker import LocalKafka
from numguard.localkafka.jars import kafka_version
from numguard.options import DEFAULT_TOPIC
from producer.checkpoints import read_checkpoints
from producer.ingest import ingest_files
from producer.publish import ReportPublisher
from schemas.codec import EventCodec

DESCRIPTION = """\
Run the whole flow once on an embedded default and show the result:

  1. start a local Apache Kafka broker (KRaft, loopback only; the first run
     fetches the pinned jars from Maven Central with Maven and caches them)
  2. write three days of sample Convey files (mcdn_deact_YYYYMMDD.csv),
     one of them with a bad row
  3. ingest them, exactly once, onto the events topic
  4. consume the topic into a SQLite suppression store until caught up
  5. check each sample number for a consent given on 2024-01-01
  6. stop the broker

Nothing outside --workdir is touched."""

CONSENT = "2024-01-01T00:00:00Z"
_HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"
SAMPLE_FILES = {
    "mcdn_deact_20240304.csv": (
        "12025550101,DEACTIVATE,2024-03-04T00:00Z,1,Verizon Wireless\n"
        "12025550102,SUSPEND,2024-03-04T00:00Z,1,Verizon Wireless\n"
        "12025550103,SUSPEND,2024-03-04T00:00Z,1,Verizon Wireless\n"
    ),
    "mcdn_deact_20240305.csv": (
        "12025550103,REACTIVATE,2024-03-05T00:00Z,1,Verizon Wireless\n"
        "12025550104,CHANGE_MDN,2024-03-05T00:00Z,12025550199,T-Mobile\n"
        "1234,DEACTIVATE,2024-03-05T00:00Z,1,Cingular\n"
    ),
    "mcdn_deact_20240306.csv": "12025550105,DEACTIVATE,2024-03-06T00:00Z,1,Cingular\n",
}
SAMPLE_NUMBERS = [f"+1202555010{i}" for i in range(1, 7)]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow on a local Kafka with sample data",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workdir", type=Path, help="where the broker, files and store live (default: a temp dir)"
    )
    parser.set_defaults(handler=run)


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="numguard-demo-") as scratch:
            return run_in(Path(scratch))
    return run_in(args.workdir)


def run_in(workdir: Path) -> int:
    reports = workdir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in SAMPLE_FILES.items():
        (reports / name).write_text(_HEADER + rows)
        paths.append(reports / name)
    step(f"starting Apache Kafka {kafka_version()} on loopback (first run fetches its jars)")
    with LocalKafka(workdir / "kafka") as kafka:
        bootstrap = kafka.bootstrap_servers
        print(f"    broker at {bootstrap}, log {kafka.log_file}")
        names = TopicNames.for_events_topic(DEFAULT_TOPIC)
        ensure_topics(base_config(bootstrap), names)
        codec = EventCodec()

        step(f"ingesting {len(paths)} sample Convey files")
        publisher = ReportPublisher(
            transactional_producer_config(bootstrap, f"numguard-demo-{socket.gethostname()}"),
            names,
            codec,
        )
        try:
            ingested = ingest_files(
                paths, publisher, read_checkpoints(base_config(bootstrap), names.checkpoints)
            )
        finally:
            publisher.close()
        print(f"    {json.dumps(ingested.as_json())}")

        store_url = f"sqlite:///{workdir / 'store.sqlite3'}"
        step(f"consuming into {store_url}")
        store = open_store(store_url)
        try:
            consumed = StoreConsumer(
                consumer_config(bootstrap, "numguard-demo-store"),
                idempotent_producer_config(bootstrap),
                names,
                store,
                codec,
            ).run(until_idle=True)
            print(f"    {json.dumps(consumed.as_json())}")

            step(f"checking the sample numbers, consent given {CONSENT}")
            consent = datetime(2024, 1, 1, tzinfo=UTC)
            counts: dict[str, int] = {}
            for mdn in SAMPLE_NUMBERS:
                answer = decide(mdn, store.state(mdn), consent).as_json()
                counts[answer["decision"]] = counts.get(answer["decision"], 0) + 1
                print(f"    {json.dumps(answer)}")
        finally:
            store.close()
        step("stopping the broker")
    print(
        f"done: {ingested.accepted} events published, {ingested.rejected} bad row(s) "
        f"dead-lettered to {names.dead_letter}; decisions "
        + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    )
    return 0
