"""The references each stage is compared with: the same work done by the tool made for
it, with nothing of numguard's in the way (rates a second)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import fastavro
import httpx
import psycopg
from confluent_kafka import Consumer, Producer

from numguard.core.kafka.clients import base_config
from numguard.devtools.localkafka.jars import ensure_kafka_jars
from numguard.schemas.codec import EventCodec, current_schema, to_record
from numguard.schemas.events import StateChange

JAVA_HEAP = "-Xmx512m"
PRODUCE_SETTINGS = {"linger.ms": 50, "batch.size": 1_000_000, "compression.type": "none"}


def encoded(changes: list[StateChange]) -> list[tuple[bytes, bytes]]:
    codec = EventCodec()
    return [(change.mdn.encode(), codec.encode(change)) for change in changes]


def fastavro_encode_rate(changes: list[StateChange]) -> float:
    """fastavro's schemaless writer alone, the records already built."""
    records = [to_record(change) for change in changes]
    schema, out = current_schema().parsed, io.BytesIO()
    started = time.perf_counter()
    for record in records:
        fastavro.schemaless_writer(out, schema, record)
    return len(records) / (time.perf_counter() - started)


def fastavro_decode_rate(changes: list[StateChange]) -> float:
    schema, bodies = current_schema().parsed, []
    for change in changes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, to_record(change))
        bodies.append(out.getvalue())
    started = time.perf_counter()
    for body in bodies:
        fastavro.schemaless_reader(io.BytesIO(body), schema, schema)
    return len(bodies) / (time.perf_counter() - started)


def librdkafka_produce_rate(
    bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]
) -> float:
    """confluent-kafka producing the pre-encoded values, acknowledged by all replicas."""
    producer = Producer({**base_config(bootstrap), **PRODUCE_SETTINGS, "acks": "all"})
    started = time.perf_counter()
    publish(producer, topic, messages)
    return len(messages) / (time.perf_counter() - started)


def publish(producer: Producer, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("messages still undelivered after 120 s")


def plain_read_rate(bootstrap: str, topic: str, count: int) -> float:
    """A consumer that reads every message and does nothing with it."""
    consumer = Consumer({**base_config(bootstrap), "group.id": f"plain-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([topic])
    read, started = 0, time.perf_counter()
    while read < count:
        read += sum(1 for m in consumer.consume(10_000, 1.0) if m.error() is None)
    rate = count / (time.perf_counter() - started)
    consumer.close()
    return rate


def _kafka_tool(tool: str, *args: str) -> str:
    libs = ensure_kafka_jars()
    return subprocess.run(
        ["java", JAVA_HEAP, "-cp", f"{libs}/*", f"org.apache.kafka.tools.{tool}", *args],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout  # fmt: skip


def java_produce_rate(bootstrap: str, topic: str, records: int, record_size: int) -> float:
    """Kafka's own ProducerPerformance into `topic` (made beforehand: the broker creates
    none), at numguard's record size."""
    output = _kafka_tool(
        "ProducerPerformance", "--topic", topic, "--num-records", str(records),
        "--record-size", str(record_size), "--throughput", "-1", "--producer-props",
        f"bootstrap.servers={bootstrap}", "acks=all", "linger.ms=50", "batch.size=1000000",
    )  # fmt: skip
    found = re.findall(r"([0-9.]+) records/sec", output)
    return float(found[-1])


def java_consume_rate(bootstrap: str, topic: str, count: int) -> float:
    """Kafka's own ConsumerPerformance reading the topic."""
    output = _kafka_tool(
        "ConsumerPerformance", "--bootstrap-server", bootstrap, "--topic", topic,
        "--messages", str(count), "--group", f"bench-java-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    header, values = [line for line in output.splitlines() if line.strip()][-2:]
    row = dict(zip([h.strip() for h in header.split(",")], values.split(","), strict=False))
    return float(row["nMsg.sec"])


def _state_rows(count: int) -> list[tuple[str, int, str, int]]:
    return [(f"+1202{2_000_000 + i:07d}", 1_709_596_800_000 + i, "DEACTIVATED", i)
            for i in range(count)]  # fmt: skip


def sqlite_upsert_rate(folder: Path, count: int, batch: int) -> float:
    """executemany of `count` upserts in transactions of `batch` rows (WAL, NORMAL)."""
    database = sqlite3.connect(folder / f"reference-{uuid.uuid4().hex[:6]}.sqlite3",
                               isolation_level=None)  # fmt: skip
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=NORMAL")
    database.execute("CREATE TABLE state (mdn TEXT PRIMARY KEY, voided INTEGER, type TEXT, "
                     "position INTEGER)")  # fmt: skip
    rows = _state_rows(count)
    started = time.perf_counter()
    for start in range(0, count, batch):
        database.execute("BEGIN")
        database.executemany(
            "INSERT INTO state VALUES (?, ?, ?, ?) ON CONFLICT (mdn) DO UPDATE SET "
            "voided = excluded.voided, type = excluded.type, position = excluded.position",
            rows[start : start + batch],
        )
        database.execute("COMMIT")
    rate = count / (time.perf_counter() - started)
    database.close()
    return rate


def postgres_copy_rate(url: str, count: int) -> float:
    """COPY of the same rows into PostgreSQL, one transaction."""
    rows = _state_rows(count)
    with psycopg.connect(url) as connection:
        table = f"reference_{uuid.uuid4().hex[:6]}"
        connection.execute(f"CREATE TABLE {table} (mdn TEXT PRIMARY KEY, voided BIGINT, "
                           "type TEXT, position BIGINT)")  # fmt: skip
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        connection.commit()
        rate = count / (time.perf_counter() - started)
        connection.execute(f"DROP TABLE {table}")
    return rate


def csv_copy_rate(source: Path, target: Path, added: int) -> float:
    """Python's csv module reading the contacts file and writing it back with `added`
    empty columns: what scrub does, without the store and the rules."""
    started = time.perf_counter()
    count = 0
    with source.open(newline="") as reading, target.open("w", newline="") as writing:
        rows, out = csv.reader(reading), csv.writer(writing)
        out.writerow([*next(rows), *(f"added_{i}" for i in range(added))])
        blanks = [""] * added
        for row in rows:
            out.writerow(row + blanks)
            count += 1
    return count / (time.perf_counter() - started)


def webhook_post_rate(url: str, count: int, body: bytes, in_flight: int = 8) -> float:
    """httpx's async client posting `count` bodies, `in_flight` at once, keep-alive."""

    async def post_all() -> None:
        sent = iter(range(count))
        async with httpx.AsyncClient(timeout=10) as client:

            async def worker() -> None:
                for _ in sent:
                    (await client.post(url, content=body)).raise_for_status()

            await asyncio.gather(*(worker() for _ in range(in_flight)))

    started = time.perf_counter()
    asyncio.run(post_all())
    return count / (time.perf_counter() - started)
