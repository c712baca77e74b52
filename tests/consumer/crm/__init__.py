"""Shared by the CRM notifier tests: a real webhook receiver on 127.0.0.1, a real Kafka
broker's topics, and the `numguard` command as a subprocess."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as KafkaPartition
from prometheus_client import CollectorRegistry

from numguard.consumer.crm.config import Backoff, CrmConfig, Endpoint, NotifierSettings
from numguard.consumer.crm.metrics import CrmMetrics
from numguard.consumer.crm.notifier import CrmNotifier
from numguard.core.kafka.clients import base_config, consumer_config, idempotent_producer_config
from numguard.core.kafka.records import Record, read
from numguard.core.kafka.topics import TopicNames, ensure_crm_dead_letter_topic
from numguard.devtools.localkafka.broker import free_port as free_port
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType, StateChange
from tests.builders import change
from tests.support.events import publish as publish
from tests.support.topic_reader import read_committed
from tests.support.waiting import wait_for as wait_for

SECRET = "whsec_test_0123456789abcdef"
WAIT_SECONDS = 60.0
TINY_BACKOFF = Backoff(initial_seconds=0.01, max_seconds=0.05)

# What the receiver answers: (status, extra headers, seconds to wait before answering).
Answer = tuple[int, dict[str, str], float]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the receiver answered
    attempt: int  # 1 for the first request carrying this event id

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return str(self.event["id"])

    @property
    def mdn(self) -> str:
        return str(self.event["subject"])


@dataclass
class WebhookReceiver:
    """A real HTTP server in a thread. `respond(event, attempt)` decides each answer;
    requests are recorded, in order, just before their answer is sent."""

    respond: Callable[[dict[str, Any], int], Answer] = lambda _event, _attempt: (200, {}, 0.0)
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrivals: dict[str, int] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/numguard"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._handle(self, body)

            def log_message(self, *_args: object) -> None:  # quiet test output
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the port: connections are refused until start() again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        event = json.loads(body)
        with self._lock:
            attempt = self._arrivals[event["id"]] = self._arrivals.get(event["id"], 0) + 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            status, headers, delay = self.respond(event, attempt)
            if delay:
                time.sleep(delay)
            names = {k.lower(): v for k, v in handler.headers.items()}
            with self._lock:
                self.requests.append(Received(names, body, status, attempt))
            # An answer's body is "ok" or "no", or the X-Test-Body header's text.
            text = headers.get("X-Test-Body", "no" if status >= 300 else "ok").encode()
            handler.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(text))}.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(text)
        finally:
            with self._lock:
                self.in_flight -= 1

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def delivered_ids(self) -> set[str]:
        return {r.event_id for r in self.delivered()}

    def attempts(self, event_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.event_id == event_id]


@contextmanager
def receiver(
    respond: Callable[[dict[str, Any], int], Answer] | None = None,
) -> Iterator[WebhookReceiver]:
    started = WebhookReceiver(respond) if respond else WebhookReceiver()
    started.start()
    try:
        yield started
    finally:
        started.stop()


def endpoint(name: str, url: str, **overrides: Any) -> Endpoint:
    settings: dict[str, Any] = {
        "secret_env": "TEST_SECRET", "timeout_seconds": 10.0, "max_concurrency": 8,
        "max_attempts": 5, "backoff": TINY_BACKOFF,
    }  # fmt: skip
    return Endpoint(name=name, url=url, secret=SECRET, **{**settings, **overrides})


def crm_config(*endpoints: Endpoint, max_pending: int = 100, grace: float = 5.0) -> CrmConfig:
    return CrmConfig(
        endpoints=tuple(endpoints),
        notifier=NotifierSettings(
            max_pending_per_partition=max_pending, shutdown_grace_seconds=grace
        ),
    )


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+1202555{index:04d}" for index in range(start, start + count)]


def history(mdns: list[str], per_number: int) -> list[StateChange]:
    """Several events per number, interleaved across numbers as a report would list them."""
    cycle = [EventType.SUSPENDED, EventType.REACTIVATED, EventType.DEACTIVATED,
             EventType.ACTIVATED, EventType.NUMBER_CHANGED]  # fmt: skip
    changes = []
    for round_ in range(per_number):
        for index, mdn in enumerate(mdns):
            kind = cycle[round_ % len(cycle)]
            changes.append(change(
                kind, f"2024-03-{round_ + 1:02d}", mdn=mdn, position=round_ * 10_000 + index,
                new_mdn="+12025559999" if kind is EventType.NUMBER_CHANGED else None,
            ))  # fmt: skip
    return changes


def positions(bootstrap: str, topic: str) -> dict[str, tuple[int, int]]:
    """event id -> (partition, offset), read back from the topic."""
    codec = EventCodec()
    return {
        codec.decode(r.value).event_id: (r.partition, r.offset)
        for m in read_committed(bootstrap, topic)
        if isinstance(r := read(m), Record)
    }


def committed(bootstrap: str, group: str, topic: str, partitions: int = 3) -> dict[int, int]:
    """The group's committed offset per partition (absent: never committed)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        found = reader.committed([KafkaPartition(topic, p) for p in range(partitions)], timeout=20)
        return {p.partition: p.offset for p in found if p.offset >= 0}
    finally:
        reader.close()


def dead_letters(bootstrap: str, events_topic: str) -> list[dict[str, Any]]:
    return [
        json.loads(m.value() or b"") for m in read_committed(bootstrap, f"{events_topic}.crm.dlq")
    ]


def make_notifier(
    bootstrap: str,
    names: TopicNames,
    config: CrmConfig,
    *,
    group: str | None = None,
    registry: CollectorRegistry | None = None,
    overrides: dict[str, Any] | None = None,
    from_state: bool = False,
) -> CrmNotifier:
    ensure_crm_dead_letter_topic(base_config(bootstrap), names)
    return CrmNotifier(
        {**consumer_config(bootstrap, group or group_name()), **(overrides or {})},
        idempotent_producer_config(bootstrap), names, config, EventCodec(),
        CrmMetrics(registry or CollectorRegistry()), from_state=from_state,
    )  # fmt: skip


def group_name() -> str:
    return f"crm-test-{uuid.uuid4().hex[:8]}"


def with_settings(config: CrmConfig, **notifier: Any) -> CrmConfig:
    notifier_settings = config.notifier.model_copy(update=notifier)
    return config.model_copy(update={"notifier": notifier_settings})


def write_config(folder: Path, url: str, **notifier: Any) -> Path:
    """A TOML file for the CLI with one endpoint, "crm", whose secret is in TEST_SECRET."""
    lines = ["[notifier]"] + [f"{key} = {value}" for key, value in notifier.items()]
    lines += [
        "[[endpoints]]", 'name = "crm"', f'url = "{url}"', 'secret_env = "TEST_SECRET"',
        "max_concurrency = 4", "max_attempts = 50",
        "backoff = { initial_seconds = 0.01, max_seconds = 0.1 }",
    ]  # fmt: skip
    path = folder / "crm.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# The command a user runs: `numguard consume crm`, `numguard dlq redrive`.
CLI = [sys.executable, "-m", "numguard"]


def cli_env(bootstrap: str, topic: str) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "NUMGUARD_TOPIC": topic,
            "TEST_SECRET": SECRET}  # fmt: skip
