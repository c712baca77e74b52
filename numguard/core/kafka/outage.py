"""Noticing that Kafka is unreachable, and for how long, from the client's error events.

librdkafka reconnects by itself; a client only has to wait. But it cannot wait
for ever: past the outage budget the command exits 1 with one line (Unreachable).
While it waits it says so once every PROBE_SECONDS, in the log and in the gauge
numguard_kafka_unreachable_seconds. Whether Kafka is back is asked with a metadata
request every PROBE_SECONDS (consumers), since an idle, healthy consumer receives
nothing that would say so; a producer knows when its next request succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from numguard.core.outages import Unreachable

log = logging.getLogger(__name__)

# Every broker down: one lost connection in a cluster is librdkafka's to route around.
OUTAGE_CODES = frozenset({KafkaError._ALL_BROKERS_DOWN})
# During an outage these say it again, a line per broker and client every second.
_QUIET_IN_OUTAGE = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})
PROBE_SECONDS = 5.0
# How long a consumer's close may take before it is left behind (close_within).
CLOSE_TIMEOUT_SECONDS = 10.0
_RDKAFKA_LOGGER = "numguard.rdkafka"  # where librdkafka's own log lines go (clients.py)


class _FewerConnectionFailures(logging.Filter):
    """librdkafka logs each failed connection attempt ("FAIL": per broker, about every
    second, and all at once when the client was not polled for a while, busy in a batch).
    One line every PROBE_SECONDS tells as much; an outage is said by KafkaOutage."""

    def __init__(self) -> None:
        super().__init__()
        self._passed = -PROBE_SECONDS
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("FAIL "):
            return True
        now = time.monotonic()
        if now - self._passed < PROBE_SECONDS:
            self._held += 1
            return False
        self._passed = now
        if self._held:
            record.msg, record.args = f"{record.getMessage()} ({self._held} alike held back)", ()
            self._held = 0
        return True


_fewer = _FewerConnectionFailures()


_gauges: weakref.WeakKeyDictionary[CollectorRegistry, Gauge] = weakref.WeakKeyDictionary()


def unreachable_gauge(registry: CollectorRegistry = REGISTRY) -> Gauge:
    """One per registry, whichever clients share it (`demo` runs them all in one process)."""
    if (found := _gauges.get(registry)) is None:
        found = _gauges[registry] = Gauge(
            "numguard_kafka_unreachable_seconds", "How long Kafka has been unreachable as of "
            "the last check, while the command waits for it (0: reachable)", registry=registry,
        )  # fmt: skip
    return found


class KafkaOutage:
    def __init__(
        self, bootstrap_servers: str, budget_seconds: float, gauge: Gauge | None = None
    ) -> None:
        self.what = f"Kafka at {bootstrap_servers}"
        self.budget_seconds = budget_seconds
        self.since: float | None = None
        self._gauge = gauge
        self._probed = 0.0
        self._last_error = ""
        self._transport_logged = -PROBE_SECONDS
        logging.getLogger(_RDKAFKA_LOGGER).addFilter(_fewer)  # once: a filter is kept once

    def on_error(self, error: KafkaError) -> None:
        """The client's `error_cb`: the start of an outage, maybe (other errors are
        logged, as librdkafka would have)."""
        if self.since is not None and error.code() in _QUIET_IN_OUTAGE:
            return  # said once per interval by waiting()
        if error.code() == KafkaError._TRANSPORT:
            # A connection lost or refused: librdkafka retries, and says it every second.
            now = time.monotonic()
            if now - self._transport_logged < PROBE_SECONDS:
                return
            self._transport_logged = now
        if error.code() not in OUTAGE_CODES:
            log.warning("Kafka: %s", error.str())
            return
        self._last_error = error.str()
        self._start()

    def waiting(self, error: str) -> None:
        """Kafka still did not answer (`error` says how): say so, in the log and the gauge.
        Callers call it once a try, a try every PROBE_SECONDS. Raises Unreachable past
        the budget."""
        self._last_error = error
        if self._start():
            return
        assert self.since is not None
        waited = time.monotonic() - self.since
        log.warning("%s unreachable for %.0f s: %s; waiting up to %g s", self.what, waited,
                    error, self.budget_seconds)  # fmt: skip
        if self._gauge is not None:
            self._gauge.set(waited)
        if waited > self.budget_seconds:
            raise Unreachable(f"{self.what} unreachable for {self.budget_seconds:g} s: "
                              f"{self._last_error}") from None  # fmt: skip

    def _start(self) -> bool:
        """The outage's first line; False when it had started already."""
        if self.since is not None:
            return False
        self.since = time.monotonic()
        log.warning("%s unreachable: %s; waiting up to %g s", self.what, self._last_error,
                    self.budget_seconds)  # fmt: skip
        return True

    def over(self) -> None:
        """Kafka answered: an outage, if any, is over."""
        if self.since is None:
            return
        log.info("%s reachable again after %.0f s", self.what, time.monotonic() - self.since)
        self.since = None
        if self._gauge is not None:
            self._gauge.set(0)

    def check(self, client: Consumer | Producer) -> None:
        """During an outage: is Kafka back? Raises Unreachable past the budget."""
        now = time.monotonic()
        if self.since is None or now - self._probed < PROBE_SECONDS:
            return
        self._probed = now
        try:
            client.list_topics(timeout=PROBE_SECONDS)
        except KafkaException as error:
            self.waiting(str(error.args[0]))
            return
        self.over()

    def watching(self, config: dict[str, object]) -> dict[str, object]:
        """`config` with this tracker as its error callback."""
        return {**config, "error_cb": self.on_error}


def close_within(consumer: Consumer, seconds: float = CLOSE_TIMEOUT_SECONDS) -> bool:
    """`consumer.close()`, given up after `seconds` (False then). With the group
    coordinator unreachable, librdkafka's close waits on requests that time out and are
    queued again: a consumer past its outage budget was seen never to exit. Leaving
    without a clean close loses nothing: the offsets are kept with the work (the store)
    or committed after it (CRM), and the group moves the partitions on after
    session.timeout.ms."""
    failure: list[BaseException] = []

    def close() -> None:
        try:
            consumer.close()
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)

    closing = threading.Thread(target=close, name="kafka-consumer-close", daemon=True)
    closing.start()
    closing.join(seconds)
    if closing.is_alive():
        log.warning("the Kafka consumer did not close within %g s (Kafka unreachable?): "
                    "leaving without it; the group reassigns its partitions", seconds)  # fmt: skip
        return False
    if failure:
        raise failure[0]
    return True
