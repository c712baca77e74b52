"""The store's reads for deciding: states and unreadable-event holds together, in one
snapshot, for one number, a few, or more than one statement's worth."""

from __future__ import annotations

import pytest

from numguard.consumer.store import Consumed, SqlStore, Unreadable, open_store
from numguard.consumer.store.rules import Reason, decide
from numguard.schemas.events import EventType
from tests.builders import change


@pytest.mark.parametrize("count", [1, 3, 1_201])
def test_states_carry_every_hold_whatever_the_number_of_numbers(
    store: SqlStore, count: int
) -> None:
    numbers = [f"+1202555{i:04d}" for i in range(count)]
    deactivated, held, held_and_deactivated = numbers[0], numbers[-1], numbers[count // 2]
    store.apply_batch(
        [Consumed(change(EventType.DEACTIVATED, "2024-03-05", mdn=mdn), "t", 0, i)
         for i, mdn in enumerate({deactivated, held_and_deactivated})],
        {}, "g",
        [Unreadable(mdn, "t", 0, 100 + i, "bad") for i, mdn in
         enumerate({held, held_and_deactivated})],
    )  # fmt: skip
    states = store.states(numbers)
    assert states[held].unreadable == 1
    assert states[held_and_deactivated].unreadable == 1
    if held not in (deactivated, held_and_deactivated):  # a block outranks a hold
        assert decide(held, states[held], None).reason is Reason.UNREADABLE_EVENT
    if deactivated not in (held, held_and_deactivated):
        assert states[deactivated].unreadable == 0
        assert states[deactivated].last_voided_at is not None
    assert len(states) == len({deactivated, held, held_and_deactivated})


def test_order_keys_stored_before_the_generated_time_still_fold(store: SqlStore) -> None:
    """A store written by an older version holds keys with the report id in second place:
    read as an unknown generated time, so a later report's change at the same time wins."""
    store.apply_batch([Consumed(change(EventType.SUSPENDED, "2024-03-05T11:00"), "t", 0, 0)],
                      {}, "g")  # fmt: skip
    old_key = '[1709636400000, "mcdn_deact_20240305.csv", 1, "e-old"]'
    cursor = store._db.cursor()  # an older version's row, as it wrote it
    with store._db.transaction():
        cursor.execute(store._db.sql("UPDATE number_state SET pause_key = ?"), (old_key,))
    later = change(EventType.REACTIVATED, "2024-03-05T11:00", report_id="r-2",
                   generated="2024-03-06")  # fmt: skip
    store.apply_batch([Consumed(later, "t", 0, 1)], {}, "g")
    state = store.states([later.mdn])[later.mdn]
    assert decide(later.mdn, state, None).reason is Reason.ACTIVE


def test_order_keys_written_as_json_by_the_previous_version_fold_and_digest_alike(
    store: SqlStore,
) -> None:
    """Keys are stored as `millis|generated|position|event_id` now, as JSON arrays before:
    a store holding either folds the same and has the same digest."""
    first = change(EventType.SUSPENDED, "2024-03-05T11:00", generated="2024-03-05")
    store.apply_batch([Consumed(first, "t", 0, 0)], {}, "g")
    digest = store.digest()
    (text,) = next(store._rows("SELECT pause_key FROM number_state"))
    assert text == f"1709636400000|1709596800000|1|{first.event_id}"
    as_json = f'[1709636400000, 1709596800000, 1, "{first.event_id}"]'
    with store._db.transaction():
        store._db.cursor().execute(store._db.sql("UPDATE number_state SET pause_key = ?"),
                                   (as_json,))  # fmt: skip
    assert store.digest() == digest
    earlier_report = change(EventType.REACTIVATED, "2024-03-05T11:00", report_id="r-0",
                            generated="2024-03-04")  # fmt: skip
    store.apply_batch([Consumed(earlier_report, "t", 0, 1)], {}, "g")
    assert decide(first.mdn, store.state(first.mdn), None).reason is Reason.SUSPENDED


def test_the_state_after_an_unreadable_event_keeps_a_deactivation(store: SqlStore) -> None:
    """Found in review: a batch holding only an unreadable message of a deactivated number
    published `hold` without the deactivation, replacing `block` on the state topic."""
    deactivated = change(EventType.DEACTIVATED, "2024-03-05")
    store.apply_batch([Consumed(deactivated, "t", 0, 0)], {}, "g")
    published: list = []
    unreadable = Unreadable(deactivated.mdn, "t", 0, 1, "corrupt Avro body")
    store.apply_batch([], {("t", 0): 2}, "g", [unreadable], published.extend)
    ((item, state),) = published
    assert item == unreadable
    answer = decide(state.mdn, state, None)
    assert (answer.verdict, answer.reason, answer.deactivated_on is not None) == (
        "block", "deactivated", True)  # fmt: skip


def test_a_reader_opened_on_an_older_store_sees_columns_added_later(store_url: str) -> None:
    """Found in review: `serve` opened before `consume store` upgraded the store kept
    reading the undeliverable columns as NULL: allow where the writer says block."""
    writer = open_store(store_url)
    cursor = writer._db.cursor()
    with writer._db.transaction():  # the store as an older version left it
        cursor.execute("ALTER TABLE number_state DROP COLUMN undeliverable_at_ms")
        cursor.execute("ALTER TABLE number_state DROP COLUMN active_again_at_ms")
    reader = open_store(store_url, create=False)
    upgraded = open_store(store_url)  # `consume store` starts: adds the columns
    failed = change(EventType.UNDELIVERABLE, "2024-03-05")
    upgraded.apply_batch([Consumed(failed, "t", 0, 0)], {}, "g")
    assert decide(failed.mdn, reader.state(failed.mdn), None).reason == "undeliverable"
    for opened in (writer, reader, upgraded):
        opened.close()
