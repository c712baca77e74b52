"""A replica that lost its partitions while it held a batch (stuck past
max.poll.interval.ms on a slow database, say) must not commit that batch: the
partition's new owner applied those events already. The offsets stored with the
state are checked inside the transaction (fencing)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from numguard.consumer.store import open_store
from numguard.consumer.store_consumer import StoreConsumer
from numguard.core.kafka.clients import consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import TopicNames
from numguard.schemas.codec import EventCodec
from tests.consumer.test_replay_and_crash import applied_so_far, random_changes
from tests.support.events import publish
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

WAIT_SECONDS = 90.0
# The broker's smallest session: a member stuck longer leaves the group.
SHORT_SESSION = {"session.timeout.ms": 6000, "max.poll.interval.ms": 6000}


def replica(bootstrap: str, names: TopicNames, url: str, group: str, **config: Any) -> Any:
    store = open_store(url)
    consumer = StoreConsumer(
        {**consumer_config(bootstrap, group), **config}, idempotent_producer_config(bootstrap),
        names, store, EventCodec(), batch_size=100, publish_state=False,
    )  # fmt: skip
    return consumer, store


def test_a_replica_that_lost_its_partitions_mid_batch_commits_nothing_of_it(
    kafka_bootstrap: str, topics: TopicNames, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = 600
    publish(kafka_bootstrap, topics.events, random_changes(total, seed=17))
    group = f"fence-{topics.events}"
    stale, stale_store = replica(kafka_bootstrap, topics, store_url, group, **SHORT_SESSION)
    held, release, returned = threading.Event(), threading.Event(), threading.Event()
    apply_batch = stale_store.apply_batch

    def stuck_first(*args: Any, **kwargs: Any) -> None:
        """The first batch waits (as on a database failover) until the test says."""
        if not release.is_set():
            held.set()
            release.wait(WAIT_SECONDS)
        try:
            apply_batch(*args, **kwargs)
        finally:
            returned.set()

    monkeypatch.setattr(stale_store, "apply_batch", stuck_first)
    stops = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=stale.run, kwargs={"stop": stops[0]}, daemon=True)]
    threads[0].start()
    try:
        wait_for(held.is_set, "the first replica to hold its first batch", WAIT_SECONDS)
        # A second replica joins; the stuck one misses the rebalance and is dropped from
        # the group, so the new one owns every partition and applies every event.
        fresh, fresh_store = replica(kafka_bootstrap, topics, store_url, group)
        threads.append(threading.Thread(target=fresh.run, kwargs={"stop": stops[1]}, daemon=True))
        threads[1].start()
        wait_for(lambda: applied_so_far(store_url, group, topics.events) == total,
                 "the second replica to apply everything", WAIT_SECONDS)  # fmt: skip
        release.set()  # the database answers the stuck replica again
        wait_for(returned.is_set, "the stuck batch to come back", WAIT_SECONDS)
    finally:
        release.set()
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(WAIT_SECONDS)
    stale_store.close()
    fresh_store.close()
    # Every event applied exactly once, and the stored offsets never went back.
    assert stale.summary.applied + fresh.summary.applied == total
    assert stale.summary.applied == 0
    assert applied_so_far(store_url, group, topics.events) == total
