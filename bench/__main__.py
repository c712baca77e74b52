"""numguard benchmarks: rates and ratios, never pass/fail.

    python -m bench                 # codec, normalize, store (fast: about a minute)
    python -m bench --rows 5000000  # streaming memory with a 5M-row file too
    python -m bench --kafka         # ingest into Kafka and consume store from it (local broker,
                                    # or KAFKA_BOOTSTRAP_SERVERS), beside a plain consumer
    python -m bench --api           # the check API under load (bombardier), beside its ceilings

Each line: what was measured, its rate, and a ratio where one explains it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from bench.api import bench_api
from bench.consume import bench_consume_store
from numguard.consumer.store import Consumed, open_store
from numguard.producer.normalize import convey_row
from numguard.producer.sources import convey
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType, StateChange

REASONS = ["DEACTIVATE", "SUSPEND", "REACTIVATE", "CHANGE_MDN"]


T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    count = work()
    return count, time.perf_counter() - started


def sample_changes(count: int) -> list[StateChange]:
    generator = random.Random(1)
    now = datetime.now(UTC)
    return [
        StateChange(
            event_id=f"{i:032x}", mdn=f"+1202{generator.randint(2000000, 9999999)}",
            event_type=generator.choice(list(EventType)[:5]),
            effective_at=datetime(2024, 3, generator.randint(1, 28), tzinfo=UTC),
            new_mdn=None, carrier="Verizon Wireless", source="convey",
            report_id="mcdn_deact_20240305.csv", report_position=i, raw_reason="DEACTIVATE",
            ingested_at=now,
        )
        for i in range(count)
    ]  # fmt: skip


def bench_codec(count: int) -> dict[str, float]:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from numguard.schemas.codec import current_schema, to_record

    changes = sample_changes(count)
    codec = EventCodec()
    encoded: list[bytes] = []
    _, encode_s = timed(lambda: encoded.extend(codec.encode(c) for c in changes))
    _, decode_s = timed(lambda: len([codec.decode(b) for b in encoded]))

    registry = SchemaRegistryClient.new_client({"url": "mock://bench"})
    context = SerializationContext("bench", MessageField.VALUE)
    serializer = AvroSerializer(registry, current_schema().text, lambda c, _: to_record(c))
    deserializer = AvroDeserializer(registry)
    framed: list[bytes] = []
    _, c_encode_s = timed(lambda: framed.extend(serializer(c, context) or b"" for c in changes))
    _, c_decode_s = timed(lambda: len([deserializer(b, context) for b in framed]))
    return {
        "codec encode (records/s)": count / encode_s,
        "codec decode (records/s)": count / decode_s,
        "confluent AvroSerializer (records/s)": count / c_encode_s,
        "confluent AvroDeserializer (records/s)": count / c_decode_s,
        "encode speed-up over confluent (x)": c_encode_s / encode_s,
        "decode speed-up over confluent (x)": c_decode_s / decode_s,
    }


def write_convey_file(path: Path, rows: int) -> None:
    generator = random.Random(2)
    with path.open("w") as out:
        out.write(",".join(convey.COLUMNS) + "\n")
        for _ in range(rows):
            reason = generator.choice(REASONS)
            new = f"1303{generator.randint(2000000, 9999999)}" if reason == "CHANGE_MDN" else "1"
            out.write(f"1202{generator.randint(2000000, 9999999)},{reason},"
                      f"2024-03-05T00:00Z,{new},Verizon Wireless\n")  # fmt: skip


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not getrusage: Linux carries
    ru_maxrss over from the parent across exec, VmHWM starts afresh."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def normalize_file(path: Path) -> int:
    now = datetime.now(UTC)
    with path.open(newline="") as stream:
        return sum(
            1 for row in convey.read_rows(stream, path.name) if convey_row(row, now) is not None
        )


def bench_normalize(folder: Path, rows: int) -> dict[str, float]:
    """Rows/s, and the peak memory of a child process streaming 1/5 of the rows vs all of them."""
    results: dict[str, float] = {}
    peaks = []
    for count in (rows // 5, rows):
        path = folder / f"mcdn_deact_{count}.csv"
        write_convey_file(path, count)
        child = subprocess.run(
            [sys.executable, "-m", "bench", "--normalize-only", str(path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        measured = json.loads(child.stdout)
        peaks.append(measured["peak_rss_mb"])
        results[f"read + normalize {count:,} rows (rows/s)"] = measured["rows_per_s"]
        results[f"peak memory, {count:,} rows (MB)"] = measured["peak_rss_mb"]
        path.unlink()
    results["peak memory ratio, 5x the rows (x; 1.0 = bounded)"] = peaks[1] / peaks[0]
    return results


def bench_store(url: str, count: int, batch: int) -> dict[str, float]:
    changes = sample_changes(count)
    store = open_store(url)
    try:

        def apply() -> int:
            for start in range(0, count, batch):
                chunk = changes[start : start + batch]
                store.apply_batch([Consumed(c, "t", 0, start + i) for i, c in enumerate(chunk)],
                                  {("t", 0): start + len(chunk)}, "bench")  # fmt: skip
            return count

        _, apply_s = timed(apply)
        numbers = [c.mdn for c in changes[:batch]]
        _, lookup_s = timed(lambda: len(store.states(numbers)) or 1)
    finally:
        store.close()
    return {
        f"store apply, {store.backend}, batches of {batch} (events/s)": count / apply_s,
        f"store lookup, {store.backend}, {batch} numbers at once (numbers/s)": batch / lookup_s,
    }


def bench_kafka_ingest(folder: Path, rows: int) -> dict[str, float]:
    from numguard.devtools.localkafka.broker import LocalKafka

    path = folder / "mcdn_deact_20240305.csv"
    write_convey_file(path, rows)

    def ingest(bootstrap: str) -> dict[str, float]:
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
               "NUMGUARD_TOPIC": f"bench-{time.time_ns()}"}  # fmt: skip
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "numguard", "--log-level", "warning", "ingest",
                        str(path)], env=env, check=True, capture_output=True)  # fmt: skip
        return {f"ingest {rows:,} rows into Kafka (rows/s)": rows / (time.perf_counter() - started)}

    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return ingest(bootstrap)
    with LocalKafka(folder / "kafka") as broker:
        return ingest(broker.bootstrap_servers)


def with_broker(folder: Path, work: Callable[[str], dict[str, float]]) -> dict[str, float]:
    """`work` against KAFKA_BOOTSTRAP_SERVERS, or a local broker of its own."""
    from numguard.devtools.localkafka.broker import LocalKafka

    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return work(bootstrap)
    with LocalKafka(folder / "kafka-consume") as broker:
        return work(broker.bootstrap_servers)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=500_000, help="rows in the streaming test")
    parser.add_argument("--events", type=int, default=50_000, help="events for codec and store")
    parser.add_argument("--store", default=None, help="also a PostgreSQL store URL")
    parser.add_argument("--kafka", action="store_true", help="also ingest into Kafka")
    parser.add_argument("--api", action="store_true", help="also the check API under load")
    parser.add_argument("--api-numbers", type=int, default=1_000_000, help="numbers in its store")
    parser.add_argument("--api-workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--api-store", help="an empty store for --api (default: SQLite)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--normalize-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.normalize_only:
        count, seconds = timed(lambda: normalize_file(args.normalize_only))
        print(json.dumps({"rows_per_s": count / seconds, "peak_rss_mb": peak_rss_mb()}))
        return
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="numguard-bench-") as scratch:
        folder = Path(scratch)
        results |= bench_codec(args.events)
        results |= bench_normalize(folder, args.rows)
        results |= bench_store(f"sqlite:///{folder / 'bench.sqlite3'}", args.events, 2000)
        if args.store:
            results |= bench_store(args.store, args.events, 2000)
        if args.kafka:
            results |= bench_kafka_ingest(folder, args.rows)
            results |= with_broker(folder, lambda bootstrap: bench_consume_store(
                bootstrap, folder, sample_changes(args.events * 4), args.store))  # fmt: skip
        if args.api:
            results |= bench_api(folder, args.api_numbers, args.api_workers, args.api_store)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:>14,.1f}")


if __name__ == "__main__":
    main()
