"""The store consumer's Prometheus metrics: is the store keeping up?"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from numguard.core.kafka.outage import unreachable_gauge


class StoreConsumerMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.consumed = Counter(
            "numguard_store_events_consumed", "Events read from the topic, by event type "
            "(UNDECODABLE for poison messages)", ["event_type"], registry=registry,
        )  # fmt: skip
        self.applied = Counter(
            "numguard_store_events_applied", "Events applied to the store, by event type",
            ["event_type"], registry=registry,
        )  # fmt: skip
        self.dead_lettered = Counter(
            "numguard_store_events_dead_lettered", "Messages sent to the dead-letter topic",
            registry=registry,
        )  # fmt: skip
        self.unreadable_held = Counter(
            "numguard_store_unreadable_events", "Undecodable messages keyed by a number: the "
            "number answers hold (unreadable_event) until the message is redriven and applied",
            registry=registry,
        )  # fmt: skip
        self.fenced = Counter(
            "numguard_store_batches_fenced", "Batches not applied because another replica "
            "had applied their partitions since (this one lost them in a rebalance it had not "
            "seen yet); read again from the store's offsets", registry=registry,
        )  # fmt: skip
        self.batch_duration = Histogram(
            "numguard_store_batch_duration_seconds", "Time to apply and commit one batch",
            registry=registry,
        )  # fmt: skip
        self.lag = Gauge(
            "numguard_consumer_lag_messages", "End offset minus the store's committed offset",
            ["group", "topic", "partition"], registry=registry,
        )  # fmt: skip
        self.kafka_unreachable = unreachable_gauge(registry)
        self.numbers = Gauge(
            "numguard_store_numbers", "Numbers in the store by state with no consent date "
            "(deactivated, suspended, active; unreadable: held for an unreadable event)",
            ["state"], registry=registry,
        )  # fmt: skip
