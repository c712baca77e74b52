"""<topic>.state: each applied change's resulting state, keyed by number and compacted, so
the latest record per number is the store's answer, whatever order the reports came in
(issue 11, case 8: a backfill ingested newest first)."""

from __future__ import annotations

import json
import random

import pytest
from confluent_kafka import Producer

from numguard.consumer.state_topic import StateNotPublished, StatePublisher
from numguard.consumer.store import Consumed, SqlStore
from numguard.consumer.store.rules import decide
from numguard.consumer.store_consumer import REDRIVEN_FROM_HEADER, StoreConsumer
from numguard.core.kafka.clients import base_config, consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import TopicNames, topic_config
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType, StateChange
from tests.builders import change
from tests.support.commands import numguard
from tests.support.events import publish, publish_raw
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka

NUMBERS = [f"+1202555{i:04d}" for i in range(30)]
KINDS = [EventType.DEACTIVATED, EventType.SUSPENDED, EventType.REACTIVATED,
         EventType.NUMBER_CHANGED, EventType.ACTIVATED]  # fmt: skip


def backfill_newest_first() -> list[StateChange]:
    """Five daily files, ingested newest first: within a number, topic order is the
    reverse of effective order across files."""
    generator = random.Random(8)
    files = []
    for day in range(1, 6):
        report = f"mcdn_deact_202403{day:02d}.csv"
        rows = [
            change(kind, f"2024-03-{day:02d}T{generator.choice([0, 9]):02d}:00", mdn=mdn,
                   new_mdn="+12025559999" if kind is EventType.NUMBER_CHANGED else None,
                   report_id=report, position=position, generated=f"2024-03-{day:02d}")
            for position, (mdn, kind) in enumerate(
                (generator.choice(NUMBERS), generator.choice(KINDS)) for _ in range(40)
            )
        ]  # fmt: skip
        files.append(rows)
    return [row for rows in reversed(files) for row in rows]


def consume_all(bootstrap: str, topics: TopicNames, store: SqlStore) -> None:
    """`consume store` in process, in small batches, until caught up."""
    StoreConsumer(
        consumer_config(bootstrap, f"state-{topics.events}"),
        idempotent_producer_config(bootstrap), topics, store, EventCodec(), batch_size=25,
    ).run(until_idle=True)  # fmt: skip


def latest_per_number(bootstrap: str, topic: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for message in read_committed(bootstrap, topic):  # in order within each partition
        latest[(message.key() or b"").decode()] = json.loads(message.value() or b"{}")
    return latest


def test_the_latest_state_per_number_is_the_stores_answer_after_a_newest_first_backfill(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore, store_url: str
) -> None:
    changes = backfill_newest_first()
    publish(kafka_bootstrap, topics.events, changes)
    consume_all(kafka_bootstrap, topics, store)
    latest = latest_per_number(kafka_bootstrap, topics.state)
    touched = {c.mdn for c in changes}
    assert set(latest) == touched
    for mdn in touched:
        assert latest[mdn]["state"] == decide(mdn, store.state(mdn), None).as_json(), mdn
    sample = sorted(touched)[0]
    checked = numguard("check", sample, "--store", store_url, "--stale-after-hours", "0")
    assert json.loads(checked.stdout) == latest[sample]["state"]
    # Each record names the change it follows; the topic keeps only the latest per number.
    assert latest[sample]["after"]["event_id"] in {c.event_id for c in changes}
    assert topic_config_policy(kafka_bootstrap, topics.state) == "compact"


def topic_config_policy(bootstrap: str, topic: str) -> str:
    from confluent_kafka.admin import AdminClient

    return topic_config(AdminClient(base_config(bootstrap)), topic)["cleanup.policy"]


def test_a_replay_publishes_no_states(
    kafka_bootstrap: str, topics: TopicNames, tmp_path_factory: pytest.TempPathFactory
) -> None:
    publish(kafka_bootstrap, topics.events, backfill_newest_first()[:20])
    url = f"sqlite:///{tmp_path_factory.mktemp('replay') / 'store.sqlite3'}"
    replayed = numguard("replay", "--bootstrap-servers", kafka_bootstrap, "--topic",
                        topics.events, "--store", url)  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    assert read_committed(kafka_bootstrap, topics.state) == []


def test_states_kafka_does_not_take_are_an_error_before_the_commit(store: SqlStore) -> None:
    """Nothing is committed for a batch whose states were not published."""
    publisher = StatePublisher({"bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": 500},
                               "nowhere.state")  # fmt: skip
    item = Consumed(change(EventType.DEACTIVATED, "2024-03-05"), "t", 0, 0)
    with pytest.raises(StateNotPublished):
        store.apply_batch([item], {("t", 0): 1}, "g", on_applied=publisher.publish)
    assert store.state(item.change.mdn) is None
    assert store.offsets("g", "t") == {}


def test_webhooks_from_the_state_topic_end_on_the_stores_answer_for_every_number(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    """The CRM side of a newest-first backfill: in topic order the events contradict each
    other, but each webhook carries the state after its change, so the last one a CRM
    receives for a number is the store's answer."""
    from tests.consumer.crm import crm_config, endpoint, make_notifier, receiver

    changes = backfill_newest_first()
    publish(kafka_bootstrap, topics.events, changes)
    consume_all(kafka_bootstrap, topics, store)
    with receiver() as crm:
        notifier = make_notifier(kafka_bootstrap, topics, crm_config(endpoint("crm", crm.url)),
                                 from_state=True)  # fmt: skip
        summary = notifier.run(until_idle=True)
        last: dict[str, dict] = {}
        for request in crm.requests:  # in arrival order; one number's are sent in order
            last[request.mdn] = request.event["data"]["state"]
    assert summary.delivered == len(changes)
    touched = {c.mdn for c in changes}
    assert set(last) == touched
    for mdn in touched:
        assert last[mdn] == decide(mdn, store.state(mdn), None).as_json(), mdn
    # The scenario is the bug: a CRM acting on the last event alone would be wrong.
    naive = {EventType.SUSPENDED: "hold", EventType.REACTIVATED: "allow"}
    last_event = {c.mdn: c.event_type for c in changes}  # topic order within a number
    assert any(naive.get(last_event[mdn], "block") != last[mdn]["decision"] for mdn in touched)


def test_an_unreadable_event_holds_its_number_on_the_state_topic_until_redriven(
    kafka_bootstrap: str, topics: TopicNames, store: SqlStore
) -> None:
    """The hold of an unreadable event reaches a CRM at once (a state record and, from the
    state topic, a `held` webhook to every endpoint), and the redriven event's state
    counts the hold it ends: the CRM's last word is the store's answer both times."""
    from tests.consumer.crm import crm_config, endpoint, make_notifier, receiver

    number = "+12025550177"
    publish(kafka_bootstrap, topics.events, [change(EventType.REACTIVATED, "2024-03-01",
                                                    mdn=number, report_id="r-0")])  # fmt: skip
    publish_raw(kafka_bootstrap, topics.events, [(number.encode(), b"\xc3\x01 truncated")])
    consume_all(kafka_bootstrap, topics, store)
    held = latest_per_number(kafka_bootstrap, topics.state)[number]
    assert (held["state"]["decision"], held["state"]["reason"]) == ("hold", "unreadable_event")
    assert held["state"] == decide(number, store.state(number), None).as_json()
    assert held["after"] is None
    origin = held["unreadable"]["origin"]
    assert origin.startswith(f"{topics.events}/")

    fixed = change(EventType.REACTIVATED, "2024-03-05", mdn=number)
    redrive(kafka_bootstrap, topics.events, fixed, origin)
    consume_all(kafka_bootstrap, topics, store)
    released = latest_per_number(kafka_bootstrap, topics.state)[number]
    assert (released["state"]["decision"], released["state"]["reason"]) == ("allow", "active")
    assert released["after"]["event_id"] == fixed.event_id

    # Only DEACTIVATED is asked for; the hold goes out all the same.
    with receiver() as crm:
        config = crm_config(endpoint("crm", crm.url, event_types=["DEACTIVATED"]))
        notifier = make_notifier(kafka_bootstrap, topics, config, from_state=True)
        assert notifier.run(until_idle=True).dead_lettered == 0
        types = [(r.event["type"], r.event["data"]["state"]["decision"]) for r in crm.requests]
        ids = [r.event["id"] for r in crm.requests]
    assert types == [("io.numguard.number.held", "hold")]
    assert ids == [f"unreadable:{origin}"]


def redrive(bootstrap: str, topic: str, fixed: StateChange, origin: str) -> None:
    """As `numguard dlq redrive --events` does: the readable event, marked with its origin."""
    producer = Producer(idempotent_producer_config(bootstrap))
    producer.produce(topic, EventCodec().encode(fixed), fixed.mdn.encode(),
                     headers=[(REDRIVEN_FROM_HEADER, origin.encode())])  # fmt: skip
    assert producer.flush(30) == 0
