"""The producer's Prometheus metrics: is every feed fetched, and how fresh is it?"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from numguard.core.kafka.outage import unreachable_gauge


class ProducerMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.polls = Counter(
            "numguard_source_polls", "Polls of a source, by outcome (ok, failed, "
            "credentials_rejected)", ["source", "outcome"], registry=registry,
        )  # fmt: skip
        self.reports_published = Counter(
            "numguard_reports_published", "Reports published to the events topic",
            ["source"], registry=registry,
        )  # fmt: skip
        self.rows = Counter(
            "numguard_rows_ingested", "Report rows published, by result (accepted: an event; "
            "rejected: a dead letter)", ["source", "result"], registry=registry,
        )  # fmt: skip
        self.rejected = Counter(
            "numguard_rows_rejected", "Rows sent to the dead-letter topic, by what was wrong "
            "(bad_shape, unknown_type, bad_number, bad_new_number, bad_time)",
            ["source", "reason"], registry=registry,
        )  # fmt: skip
        self.flagged = Counter(
            "numguard_rows_flagged", "Rows published as events with a warning on the "
            "dead-letter topic, by what was unusable (bad_new_number)",
            ["source", "reason"], registry=registry,
        )  # fmt: skip
        self.transactions = Counter(
            "numguard_producer_transactions", "Kafka transactions, by outcome (committed, aborted)",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.reports_missing = Counter(
            "numguard_reports_missing", "Polls that found an expected report absent past "
            "its expected time", ["source"], registry=registry,
        )  # fmt: skip
        self.reports_unreadable = Counter(
            "numguard_reports_unreadable", "Reports rejected whole (not marked done)",
            ["source"], registry=registry,
        )  # fmt: skip
        self.kafka_unreachable = unreachable_gauge(registry)
        self.expected_cadence = Gauge(
            "numguard_source_expected_cadence_seconds", "How often the source is expected "
            "to publish a new report (daily feeds: 86400)", ["source"], registry=registry,
        )  # fmt: skip
        self.last_published = Gauge(
            "numguard_source_last_report_published_timestamp_seconds",
            "When the newest report of the source was published (Unix time): "
            "time() minus this is the feed's staleness", ["source"], registry=registry,
        )  # fmt: skip
