"""One endpoint's deliveries against a real HTTP server on 127.0.0.1 (no Kafka needed)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CollectorRegistry

from numguard.consumer.crm import signing
from numguard.consumer.crm.cloudevents import to_cloudevent
from numguard.consumer.crm.delivery import EndpointClient, Outcome
from numguard.consumer.crm.metrics import CrmMetrics
from numguard.schemas.events import EventType
from tests.builders import change
from tests.consumer.crm import SECRET, Answer, endpoint, free_port, receiver

EVENT = to_cloudevent(change(EventType.DEACTIVATED, "2024-03-05", mdn="+12025550101"))


def deliver(url: str, event: dict[str, Any] = EVENT, **settings: Any) -> tuple[Outcome, Any]:
    registry = CollectorRegistry()

    async def once() -> Outcome:
        client = EndpointClient(endpoint("crm", url, **settings), CrmMetrics(registry))
        try:
            return await client.deliver(event)
        finally:
            await client.aclose()

    return asyncio.run(once()), registry


def sample(registry: Any, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"endpoint": "crm", **labels}) or 0.0


def test_a_signed_cloudevent_with_its_idempotency_key() -> None:
    with receiver() as crm:
        outcome, _ = deliver(crm.url)
        (request,) = crm.requests
    assert outcome == Outcome("delivered", 200, 1)
    assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert request.headers["idempotency-key"] == EVENT["id"]
    assert signing.verify(SECRET, request.headers["numguard-signature"], request.body)
    assert not signing.verify("wrong", request.headers["numguard-signature"], request.body)
    assert request.event == EVENT


def test_500_then_200_is_retried_and_delivered_once() -> None:
    def answer(_event: dict[str, Any], attempt: int) -> Answer:
        return (500 if attempt == 1 else 200), {}, 0.0

    with receiver(answer) as crm:
        outcome, registry = deliver(crm.url)
        assert [r.status for r in crm.requests] == [500, 200]
        assert len(crm.delivered()) == 1
    assert (outcome.outcome, outcome.attempts) == ("delivered", 2)
    assert sample(registry, "numguard_crm_delivery_attempts_total") == 2
    assert sample(registry, "numguard_crm_deliveries_total", outcome="delivered") == 1
    assert sample(registry, "numguard_crm_delivery_duration_seconds_count") == 2


def test_a_4xx_is_permanent_and_its_error_text_is_masked() -> None:
    def answer(event: dict[str, Any], _attempt: int) -> Answer:
        return 410, {"X-Test-Body": f"unknown subscriber {event['subject']}"}, 0.0

    with receiver(answer) as crm:
        outcome, registry = deliver(crm.url)
        assert len(crm.requests) == 1
    assert (outcome.outcome, outcome.status, outcome.attempts) == ("rejected", 410, 1)
    assert outcome.last_error == "HTTP 410: unknown subscriber +1202555****"
    assert sample(registry, "numguard_crm_deliveries_total", outcome="rejected") == 1


def test_429_waits_for_retry_after() -> None:
    def answer(_event: dict[str, Any], attempt: int) -> Answer:
        return (429, {"Retry-After": "1"}, 0.0) if attempt == 1 else (200, {}, 0.0)

    with receiver(answer) as crm:
        started = time.monotonic()
        outcome, _ = deliver(crm.url)
        waited = time.monotonic() - started
    assert (outcome.outcome, outcome.attempts) == ("delivered", 2)
    # The backoff is 0.01s: only Retry-After explains a wait of a second (a lower bound only).
    assert waited >= 0.9


def test_retries_are_bounded_by_max_attempts() -> None:
    def answer(_event: dict[str, Any], _attempt: int) -> Answer:
        return 503, {}, 0.0

    with receiver(answer) as crm:
        outcome, registry = deliver(crm.url, max_attempts=3)
        assert len(crm.requests) == 3
    assert (outcome.outcome, outcome.status, outcome.attempts) == ("exhausted", 503, 3)
    assert outcome.last_error == "HTTP 503: no"
    assert sample(registry, "numguard_crm_deliveries_total", outcome="exhausted") == 1


def test_network_errors_are_retried_then_reported() -> None:
    closed = f"http://127.0.0.1:{free_port()}/hook"
    outcome, registry = deliver(closed, max_attempts=2)
    assert (outcome.outcome, outcome.status, outcome.attempts) == ("exhausted", None, 2)
    assert outcome.last_error is not None and "ConnectError" in outcome.last_error
    assert sample(registry, "numguard_crm_delivery_attempts_total") == 2


def test_the_concurrency_limit_holds() -> None:
    def answer(_event: dict[str, Any], _attempt: int) -> Answer:
        return 200, {}, 0.05

    events = [
        to_cloudevent(change(EventType.SUSPENDED, "2024-03-05", mdn=f"+1202555{i:04d}"))
        for i in range(20)
    ]

    async def many(url: str) -> list[Outcome]:
        client = EndpointClient(endpoint("crm", url, max_concurrency=3))
        try:
            return list(await asyncio.gather(*(client.deliver(e) for e in events)))
        finally:
            await client.aclose()

    with receiver(answer) as crm:
        outcomes = asyncio.run(many(crm.url))
        assert len(crm.delivered_ids()) == 20
        assert 1 < crm.max_in_flight <= 3
    assert all(o.delivered for o in outcomes)
