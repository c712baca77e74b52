"""The check API under load (bombardier), beside its two ceilings: the same HTTP stack
answering a constant, and the store's lookups in-process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from numguard.consumer.store import Consumed, open_store
from numguard.consumer.store.rules import decide
from numguard.schemas.events import EventType, StateChange

LOAD_GENERATOR = "github.com/codesenberg/bombardier@v1.2.6"
TOKEN = "bench-token"
START_SECONDS = 60
FILL_BATCH = 20_000


def load_generator() -> str:
    gopath = os.environ.get("GOPATH", str(Path.home() / "go"))
    found = shutil.which("bombardier") or shutil.which("bombardier", path=f"{gopath}/bin")
    if found is None:
        sys.exit(f"bench --api needs bombardier: go install {LOAD_GENERATOR}")
    return found


def fill_store(url: str, count: int) -> list[str]:
    """`count` numbers, a third deactivated, a third suspended, a third changed."""
    store = open_store(url)
    kinds = [EventType.DEACTIVATED, EventType.SUSPENDED, EventType.REACTIVATED]
    moment, now = datetime(2024, 3, 5, tzinfo=UTC), datetime.now(UTC)
    numbers = [f"+1202{2_000_000 + i:07d}" for i in range(count)]  # valid NANP exchanges
    for start in range(0, count, FILL_BATCH):
        batch = [
            Consumed(StateChange(
                event_id=f"{i:032x}", mdn=numbers[i], event_type=kinds[i % 3],
                effective_at=moment, new_mdn=None, carrier="bench", source="bench",
                report_id="bench", report_position=i, raw_reason="", ingested_at=now,
            ), "bench", 0, i)
            for i in range(start, min(start + FILL_BATCH, count))
        ]  # fmt: skip
        store.apply_batch(batch, {}, "bench")
    store.close()
    return numbers


def in_process_lookups(url: str, numbers: list[str], seconds: float = 3.0) -> float:
    """The store ceiling: one-number lookups and decisions a second, no HTTP."""
    store = open_store(url, create=False)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        mdn = numbers[done % len(numbers)]
        decide(mdn, store.states([mdn]).get(mdn), None)
        done += 1
    store.close()
    return done / (time.perf_counter() - started)


def in_process_batch(url: str, numbers: list[str], size: int, seconds: float = 3.0) -> float:
    """Numbers a second decided in batches of `size`, no HTTP: the batch ceiling."""
    store = open_store(url, create=False)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch = [numbers[(done + i) * 37 % len(numbers)] for i in range(size)]
        states = store.states(sorted(set(batch)))
        for mdn in batch:
            decide(mdn, states.get(mdn), None)
        done += size
    store.close()
    return done / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(command: list[str], port: int, env: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + START_SECONDS
    try:
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def load(url: str, *, seconds: int, connections: int, body: Path | None = None) -> dict:
    command = [load_generator(), "-c", str(connections), "-d", f"{seconds}s", "-l",
               "-o", "json", "-p", "r", "-H", f"Authorization: Bearer {TOKEN}"]  # fmt: skip
    if body is not None:
        command += ["-m", "POST", "-f", str(body), "-H", "Content-Type: application/json"]
    result = json.loads(subprocess.run([*command, url], capture_output=True, text=True,
                                       check=True).stdout)["result"]  # fmt: skip
    latency = result["latency"]["percentiles"]  # microseconds
    return {
        "rps": result["req2xx"] / result["timeTakenSeconds"],
        "p50_ms": latency["50"] / 1000, "p99_ms": latency["99"] / 1000,
        "failed": result["req4xx"] + result["req5xx"] + result["others"],
    }  # fmt: skip


def bench_api(
    folder: Path, numbers: int, workers: int, url: str | None = None, seconds: int = 10
) -> dict[str, float]:
    """`url`: an empty store to fill (default: a SQLite file in `folder`)."""
    url = url or f"sqlite:///{folder / 'api.sqlite3'}"
    mdns = fill_store(url, numbers)
    results: dict[str, float] = {"api_store_numbers": numbers, "api_workers": workers}
    results["api_in_process_lookups_per_s"] = in_process_lookups(url, mdns)
    results["api_in_process_batch_per_s"] = in_process_batch(url, mdns, 10_000)
    port = free_port()
    trivial = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "asyncio",
               "--workers", str(workers), "--port", str(port), "--log-level", "error",
               "bench.trivial_app:app"]  # fmt: skip
    with running(trivial, port, {}) as base:
        ceiling = load(f"{base}/ping", seconds=seconds, connections=16)
    results["api_http_ceiling_rps"] = ceiling["rps"]
    port = free_port()
    serve = [sys.executable, "-m", "numguard", "--log-level", "warning", "serve", "--port",
             str(port), "--store", url, "--workers", str(workers)]  # fmt: skip
    with running(serve, port, {"NUMGUARD_API_TOKEN": TOKEN}) as base:
        single = load(f"{base}/v1/numbers/{mdns[len(mdns) // 2]}", seconds=seconds,
                      connections=16)  # fmt: skip
        results |= {f"api_single_{k}": v for k, v in single.items()}
        for size, connections in ((100, 8), (10_000, 1)):
            body = folder / f"batch-{size}.json"
            items = [{"number": mdns[i * 37 % len(mdns)]} for i in range(size)]
            body.write_text(json.dumps({"items": items}))
            batch = load(f"{base}/v1/check", seconds=seconds, connections=connections,
                         body=body)  # fmt: skip
            results |= {f"api_batch{size}_{k}": v for k, v in batch.items()}
            results[f"api_batch{size}_numbers_per_s"] = batch["rps"] * size
    results["api_single_vs_http_ceiling"] = results["api_single_rps"] / ceiling["rps"]
    results["api_single_vs_in_process"] = (
        results["api_single_rps"] / results["api_in_process_lookups_per_s"]
    )
    return results
