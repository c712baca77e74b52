"""The `<topic>.state` topic: every number's state after each change the store applied,
keyed by the number and compacted, so its latest record per number is the store's
answer. A CRM bootstraps from it (read from the start) and then follows it.

Published by `consume store` inside its batch: the records are flushed to Kafka
before the database commits, so a state is never missing for an applied change.
A crash between the two publishes the same states again on restart (a repeat is
harmless: the record carries the event id, and a number's latest record stands).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from confluent_kafka import KafkaError, Message, Producer

from numguard.consumer.store import Consumed, Unreadable
from numguard.consumer.store.rules import NumberState, decide
from numguard.core.kafka.clients import KafkaConfig
from numguard.core.kafka.outage import PROBE_SECONDS, KafkaOutage
from numguard.core.times import parse_time
from numguard.schemas.events import EventType, StateChange

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_SECONDS = 30.0


class StateNotPublished(RuntimeError):
    """Kafka did not take every state record of a batch: the batch is not committed."""


def state_record(item: Consumed | Unreadable, state: NumberState) -> bytes:
    """The number's answer with no consent date after `item`, and the change that led to it
    (`after`), or for a message that could not be read, where it is (`unreadable`) and
    `after` null: the number is held until it is redriven, and a CRM must know.
    Compact JSON; times in RFC 3339 with a Z."""
    if isinstance(item, Unreadable):
        return orjson.dumps({"mdn": item.mdn, "state": decide(item.mdn, state, None).as_json(),
                             "after": None, "unreadable": {"origin": item.origin}})  # fmt: skip
    change = item.change
    after = {
        "event_id": change.event_id, "event_type": change.event_type,
        "effective_at": change.effective_at, "new_mdn": change.new_mdn,
        "carrier": change.carrier, "source": change.source, "report_id": change.report_id,
        "report_position": change.report_position, "raw_reason": change.raw_reason,
        "ingested_at": change.ingested_at, "report_generated_at": change.report_generated_at,
    }  # fmt: skip
    record = {"mdn": change.mdn, "state": decide(change.mdn, state, None).as_json(),
              "after": after}  # fmt: skip
    return orjson.dumps(record, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


class UnreadableStateRecord(ValueError):
    """A record of the state topic that is not one numguard wrote."""


@dataclass(frozen=True, slots=True)
class Held:
    """A state record for a message of `mdn` that could not be read (at `origin`)."""

    mdn: str
    origin: str


def read_state_record(key: bytes | None, value: bytes | None) -> tuple[StateChange | Held, dict]:
    """The change (or the unreadable message) and the resulting state a record carries;
    UnreadableStateRecord if it is not one numguard wrote."""
    try:
        record = json.loads(value or b"")
        after = record["after"]
        if after is None:
            held = Held(str(record["mdn"]), str(record["unreadable"]["origin"]))
            if key != held.mdn.encode():
                raise ValueError("the key is not the record's number")
            return held, dict(record["state"])
        generated = after.get("report_generated_at")
        change = StateChange(
            event_id=str(after["event_id"]), mdn=str(record["mdn"]),
            event_type=EventType(after["event_type"]),
            effective_at=parse_time(after["effective_at"]), new_mdn=after.get("new_mdn"),
            carrier=after.get("carrier"), source=str(after["source"]),
            report_id=str(after["report_id"]), report_position=int(after["report_position"]),
            raw_reason=str(after["raw_reason"]), ingested_at=parse_time(after["ingested_at"]),
            report_generated_at=parse_time(generated) if generated else None,
        )  # fmt: skip
        state = dict(record["state"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UnreadableStateRecord(f"not a numguard state record: {error}") from None
    if key != change.mdn.encode() or change.event_type is EventType.UNKNOWN:
        raise UnreadableStateRecord("not a numguard state record: key or type")
    return change, state


class StatePublisher:
    def __init__(
        self, producer_config: KafkaConfig, topic: str, outage: KafkaOutage | None = None
    ) -> None:
        """With `outage` (the consumer's), records Kafka does not acknowledge because it is
        unreachable are waited for as long as its budget allows, said once every
        PROBE_SECONDS in its log line and gauge; without, for FLUSH_TIMEOUT_SECONDS."""
        self._outage = outage
        self._producer = Producer(outage.watching(producer_config) if outage else producer_config)
        self._topic = topic
        self._failed: list[KafkaError] = []

    def publish(self, applied: Sequence[tuple[Consumed | Unreadable, NumberState]]) -> None:
        """Every record produced and acknowledged, or StateNotPublished."""
        self._failed.clear()
        for item, state in applied:
            value = state_record(item, state)
            while True:
                try:
                    self._producer.produce(self._topic, value, state.mdn.encode(),
                                           on_delivery=self._delivered)  # fmt: skip
                    break
                except BufferError:  # the local queue is full: let it drain
                    self._producer.poll(0.1)
        left = self._flush()
        if left or self._failed:
            problem = self._failed[0].str() if self._failed else f"{left} not acknowledged"
            raise StateNotPublished(f"state records not published to {self._topic}: {problem}")

    def _flush(self) -> int:
        """Flush, a slice at a time; how many records are left unacknowledged."""
        started, waited = time.monotonic(), False
        left = self._producer.flush(PROBE_SECONDS)
        while left and not self._failed:
            slow = time.monotonic() - started >= FLUSH_TIMEOUT_SECONDS
            if self._outage is None and slow:
                return left
            if self._outage is not None and (slow or self._outage.since is not None):
                # Every broker down (librdkafka said so), or no answer for long: an outage.
                waited = True
                self._outage.waiting(f"{left} state record(s) not acknowledged")
            left = self._producer.flush(PROBE_SECONDS)
        if waited and not left and self._outage is not None:
            self._outage.over()
        return left

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._failed.append(error)
