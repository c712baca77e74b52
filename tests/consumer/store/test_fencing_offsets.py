"""The store's side of fencing: a batch is written only over a stored offset that is not
past where it starts; two members writing one partition at once are serialized and the
second is fenced, even for a partition with no stored offset yet."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from numguard.consumer.store import Consumed, Fenced, SqlStore, open_store
from numguard.schemas.events import EventType
from tests.builders import change
from tests.support.postgres import fresh_postgres_database
from tests.support.waiting import wait_for

WAIT_SECONDS = 60.0


def batch(first: int, count: int, kind: EventType = EventType.DEACTIVATED) -> list[Consumed]:
    return [Consumed(change(kind, "2024-03-05", mdn=f"+1202555{i:04d}", position=i), "t", 0, i)
            for i in range(first, first + count)]  # fmt: skip


def test_a_batch_starting_before_the_stored_offset_writes_nothing(store: SqlStore) -> None:
    store.apply_batch(batch(0, 10), {("t", 0): 10}, "g", first_offsets={("t", 0): 0})
    digest = store.digest()
    stale = batch(5, 10, EventType.SUSPENDED)  # from a member that lost the partition
    with pytest.raises(Fenced) as fenced:
        store.apply_batch(stale, {("t", 0): 15, ("t", 1): 3}, "g",
                          first_offsets={("t", 0): 5, ("t", 1): 0})  # fmt: skip
    assert fenced.value.partitions == [("t", 0)]
    assert store.offsets("g", "t") == {0: 10}  # the partition that was not fenced neither
    assert store.digest() == digest
    # A batch that starts at the stored offset, or after it (transaction markers take
    # offsets of their own), is the next one.
    store.apply_batch(batch(12, 3), {("t", 0): 15}, "g", first_offsets={("t", 0): 12})
    assert store.offsets("g", "t") == {0: 15}


def test_two_members_writing_a_new_partition_at_once_apply_it_once(postgres_url: str) -> None:
    """PostgreSQL's read committed: the first member's offset row is not committed when the
    second writes its own; the second waits for it, then is fenced (a check that read the
    row first would have found none and let both through)."""
    url = fresh_postgres_database(postgres_url)
    first, second, watcher = open_store(url), open_store(url), open_store(url)
    inside, release = threading.Event(), threading.Event()

    def hold_open(_applied: Any) -> None:  # called in the transaction, before the commit
        inside.set()
        release.wait(WAIT_SECONDS)

    outcome: list[BaseException | None] = []

    def apply_second() -> None:
        try:
            second.apply_batch(batch(0, 30), {("t", 0): 30}, "g", first_offsets={("t", 0): 0})
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    holder = threading.Thread(target=lambda: first.apply_batch(
        batch(0, 20), {("t", 0): 20}, "g", on_applied=hold_open, first_offsets={("t", 0): 0}
    ))  # fmt: skip
    holder.start()
    wait_for(inside.is_set, "the first member inside its transaction", WAIT_SECONDS)
    racer = threading.Thread(target=apply_second)
    racer.start()
    try:
        wait_for(lambda: waiting_on_a_lock(watcher), "the second member to wait", WAIT_SECONDS)
    finally:
        release.set()
        holder.join(WAIT_SECONDS)
        racer.join(WAIT_SECONDS)
    assert len(outcome) == 1 and isinstance(outcome[0], Fenced), outcome
    assert first.offsets("g", "t") == {0: 20}
    for opened in (first, second, watcher):
        opened.close()


def waiting_on_a_lock(store: SqlStore) -> bool:
    rows = list(store._rows(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()"
    ))  # fmt: skip
    return bool(rows and rows[0][0])
