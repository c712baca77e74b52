"""The API's Prometheus metrics."""

from __future__ import annotations

import collections

from prometheus_client import CollectorRegistry, Counter, Histogram

from numguard.consumer.store.rules import Verdict


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "numguard_api_requests", "HTTP requests answered, by route and status code",
            ["route", "code"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "numguard_api_request_duration_seconds", "Time to answer a request, by route",
            ["route"], registry=registry,
        )  # fmt: skip
        decisions = Counter(
            "numguard_api_decisions", "Decisions given, by decision", ["decision"],
            registry=registry,
        )  # fmt: skip
        # Bound once: labels() per answer costs more than the decision itself.
        self._decisions = {v.value: decisions.labels(v.value) for v in Verdict}

    def decided(self, counts: collections.Counter[str]) -> None:
        """Decisions given in one request, counted by verdict (one increment each)."""
        for decision, count in counts.items():
            self._decisions[decision].inc(count)
