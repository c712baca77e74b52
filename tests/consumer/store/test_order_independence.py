"""Applying the same events in any order, any number of times, gives the same state."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numguard.consumer.store import Consumed, SqlStore, open_store
from numguard.consumer.store.rules import NumberState, apply, decide
from numguard.schemas.events import EventType, StateChange
from tests.builders import at, change
from tests.support.postgres import fresh_postgres_database

NUMBERS = ["+12025550100", "+12025550101"]
TYPES = [t for t in EventType if t is not EventType.UNKNOWN]

events = st.builds(
    lambda event_type, day, hour, number, report, position: change(
        event_type,
        f"2024-03-{day:02d}T{hour:02d}:00",
        mdn=number,
        new_mdn="+12025550199" if event_type is EventType.NUMBER_CHANGED else None,
        report_id=f"mcdn_deact_202403{report:02d}.csv",
        position=position,
        # Known, unknown, and equal generated times across reports: every tie-break.
        generated=None if report == 3 else f"2024-03-0{min(report, 2)}",
    ),
    st.sampled_from(TYPES),
    st.integers(1, 4),
    st.sampled_from([0, 12]),  # few distinct times, so ties happen often
    st.sampled_from(NUMBERS),
    st.integers(1, 3),
    st.integers(1, 3),
)


def random_change(generator: random.Random) -> StateChange:
    event_type = generator.choice(TYPES)
    return change(
        event_type,
        f"2024-03-{generator.randint(1, 4):02d}T{generator.choice([0, 12]):02d}:00",
        mdn=generator.choice(NUMBERS),
        new_mdn="+12025550199" if event_type is EventType.NUMBER_CHANGED else None,
        report_id=f"mcdn_deact_202403{generator.randint(1, 3):02d}.csv",
        position=generator.randint(1, 3),
        generated=generator.choice([None, "2024-03-01", "2024-03-02"]),
    )


def fold(changes: list[StateChange]) -> dict[str, NumberState]:
    states: dict[str, NumberState] = {}
    for item in changes:
        states[item.mdn] = apply(states.get(item.mdn), item)
    return states


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=12), st.randoms(use_true_random=False), st.data())
def test_state_is_independent_of_order_and_repeats(
    changes: list[StateChange], shuffler: random.Random, data: st.DataObject
) -> None:
    repeated = (
        changes + data.draw(st.lists(st.sampled_from(changes), max_size=6)) if changes else []
    )
    shuffled = repeated[:]
    shuffler.shuffle(shuffled)
    assert fold(shuffled) == fold(changes)


@settings(max_examples=200, deadline=None)
@given(st.lists(events, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_decision_is_independent_of_order(
    changes: list[StateChange], shuffler: random.Random
) -> None:
    shuffled = changes[:]
    shuffler.shuffle(shuffled)
    for number in NUMBERS:
        for consent in (None, at("2024-03-02T12:00"), at("2024-03-05")):
            assert decide(number, fold(shuffled).get(number), consent) == decide(
                number, fold(changes).get(number), consent
            )


def test_store_digest_is_independent_of_batching_order_and_repeats(
    store: SqlStore, store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Same events, shuffled, duplicated and split into other batches: same digest."""
    generator = random.Random(7)
    changes = [random_change(generator) for _ in range(60)]
    store.apply_batch([Consumed(c, "t", 0, i) for i, c in enumerate(changes)], {}, "g")

    if store_url.startswith("sqlite"):
        other_url = f"sqlite:///{tmp_path_factory.mktemp('other') / 'store.sqlite3'}"
    else:
        other_url = fresh_postgres_database(store_url)
    other = open_store(other_url)
    try:
        replayed = changes + generator.sample(changes, 20)
        generator.shuffle(replayed)
        for start in range(0, len(replayed), 7):
            chunk = replayed[start : start + 7]
            other.apply_batch([Consumed(c, "t", 0, i) for i, c in enumerate(chunk)], {}, "g")
        assert other.digest() == store.digest()
    finally:
        other.close()
