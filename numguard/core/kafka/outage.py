"""Noticing that Kafka is unreachable, and for how long, from the client's error events.

librdkafka reconnects by itself; a consumer only has to wait. But it cannot wait
for ever: past the outage budget the command exits 1 with one line (Unreachable).
Whether Kafka is back is asked with a metadata request every PROBE_SECONDS, since an
idle, healthy consumer receives nothing that would say so.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaError, KafkaException

from numguard.core.outages import Unreachable

log = logging.getLogger(__name__)

# Every broker down: one lost connection in a cluster is librdkafka's to route around.
OUTAGE_CODES = frozenset({KafkaError._ALL_BROKERS_DOWN})
PROBE_SECONDS = 5.0


class KafkaOutage:
    def __init__(self, bootstrap_servers: str, budget_seconds: float) -> None:
        self.what = f"Kafka at {bootstrap_servers}"
        self.budget_seconds = budget_seconds
        self.since: float | None = None
        self._probed = 0.0
        self._last_error = ""

    def on_error(self, error: KafkaError) -> None:
        """The client's `error_cb`: the start of an outage, maybe (other errors are
        logged, as librdkafka would have)."""
        if error.code() not in OUTAGE_CODES:
            log.warning("Kafka: %s", error.str())
            return
        self._last_error = error.str()
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s unreachable: %s; waiting up to %g s", self.what, self._last_error,
                        self.budget_seconds)  # fmt: skip

    def check(self, consumer: Consumer) -> None:
        """During an outage: is Kafka back? Raises Unreachable past the budget."""
        now = time.monotonic()
        if self.since is None or now - self._probed < PROBE_SECONDS:
            return
        self._probed = now
        try:
            consumer.list_topics(timeout=PROBE_SECONDS)
        except KafkaException as error:
            self._last_error = str(error.args[0])
            if now - self.since > self.budget_seconds:
                raise Unreachable(f"{self.what} unreachable for {self.budget_seconds:g} s: "
                                  f"{self._last_error}") from None  # fmt: skip
            return
        log.info("%s reachable again after %.0f s", self.what, now - self.since)
        self.since = None

    def watching(self, config: dict[str, object]) -> dict[str, object]:
        """`config` with this tracker as its error callback."""
        return {**config, "error_cb": self.on_error}
