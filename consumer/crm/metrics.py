"""The CRM notifier's Prometheus metrics, per endpoint: is every CRM hearing of every change?"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from numguard.core.kafka.outage import unreachable_gauge

# Outcomes of one delivery (all its attempts): delivered; rejected (a permanent 4xx);
# exhausted (retryable failures until max_attempts). Both failures are dead-lettered.
OUTCOMES = ("delivered", "rejected", "exhausted")
# The endpoint label of a dead letter that no endpoint caused (an undecodable message).
NO_ENDPOINT = "-"


class CrmMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.deliveries = Counter(
            "numguard_crm_deliveries", "Deliveries finished, by endpoint and outcome "
            "(delivered, rejected: permanent 4xx, exhausted: retries used up)",
            ["endpoint", "outcome"], registry=registry,
        )  # fmt: skip
        self.attempts = Counter(
            "numguard_crm_delivery_attempts", "HTTP requests sent, retries included",
            ["endpoint"], registry=registry,
        )  # fmt: skip
        self.duration = Histogram(
            "numguard_crm_delivery_duration_seconds", "Time of one HTTP attempt, to the answer",
            ["endpoint"], registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.dead_lettered = Counter(
            "numguard_crm_dead_lettered", "Events written to <topic>.crm.dlq, by endpoint "
            f"({NO_ENDPOINT}: undecodable messages)", ["endpoint"], registry=registry,
        )  # fmt: skip
        self.oldest_undelivered_age = Gauge(
            "numguard_crm_oldest_undelivered_event_age_seconds", "Age (since it was published "
            "to Kafka) of the oldest event not yet delivered or dead-lettered; 0 when none",
            ["endpoint"], registry=registry,
        )  # fmt: skip
        self.kafka_unreachable = unreachable_gauge(registry)
        self.paused_partitions = Gauge(
            "numguard_crm_paused_partitions", "Partitions paused because their backlog of "
            "undelivered events reached max_pending_per_partition", registry=registry,
        )  # fmt: skip

    def register_endpoint(self, endpoint: str) -> None:
        """Series exist from the start at 0, so rate() and alerts see the first event."""
        for outcome in OUTCOMES:
            self.deliveries.labels(endpoint, outcome)
        self.attempts.labels(endpoint)
        self.dead_lettered.labels(endpoint)
        self.oldest_undelivered_age.labels(endpoint).set(0)
