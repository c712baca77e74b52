"""PartitionProgress without a broker: the commit position, under any completion order."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from numguard.consumer.crm.progress import PartitionProgress

# (gap before the offset, deliveries it needs): a partition's records as the notifier
# takes them; gaps are compacted or transaction-marker offsets.
records = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=30)


@given(records, st.randoms(use_true_random=False))
def test_the_position_never_passes_an_offset_with_a_delivery_outstanding(
    taken: list[tuple[int, int]], order: random.Random
) -> None:
    progress = PartitionProgress()
    outstanding: dict[int, int] = {}
    offset = 0
    for gap, parts in taken:
        offset += gap
        assert progress.take(offset, parts)
        assert not progress.take(offset, parts), "the same offset is never taken twice"
        if parts:
            outstanding[offset] = parts
        offset += 1
    completions = [o for o, parts in outstanding.items() for _ in range(parts)]
    order.shuffle(completions)
    for done in completions:
        progress.complete(done)
        outstanding[done] -= 1
        if not outstanding[done]:
            del outstanding[done]
        expected = min(outstanding) if outstanding else offset
        assert progress.position() == expected
    assert progress.position() == offset == progress.next_offset
    assert progress.pending == 0


@given(records)
def test_to_commit_moves_only_forward(taken: list[tuple[int, int]]) -> None:
    progress = PartitionProgress()
    offset = 0
    for gap, parts in taken:
        offset += gap
        progress.take(offset, parts)
        for _ in range(parts):
            progress.complete(offset)
        position = progress.to_commit()
        if position is not None:
            assert progress.committed is None or position > progress.committed
            progress.committed = position
        offset += 1
    assert progress.committed == offset
