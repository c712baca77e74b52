"""The API's Prometheus metrics, one set for all workers.

With several worker processes each counts in its own files under a directory they
share (prometheus_client's multiprocess mode), and /metrics sums them: whichever
worker answers a scrape, it shows every worker's counts.
"""

from __future__ import annotations

import collections
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from numguard.consumer.store.rules import Verdict

# prometheus_client's own variable: the directory the workers' counts are written in.
SHARED_DIRECTORY_ENV = "PROMETHEUS_MULTIPROC_DIR"


def count_in_shared_directory() -> None:
    """Make the metrics created from now on in this process count in the shared
    directory. A worker forked from the command line inherited a client set up before
    the directory was named, so it is switched here, before any metric exists."""
    values.ValueClass = values.MultiProcessValue()


def exposition(registry: CollectorRegistry) -> bytes:
    """What /metrics answers: `registry`'s metrics, summed over the workers if shared."""
    if directory := os.environ.get(SHARED_DIRECTORY_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)
    return generate_latest(registry)


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
