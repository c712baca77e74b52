"""FlowControl without a broker: pause at the bound, resume at half, commit what is done.

The consumer is a recorder of the three calls FlowControl makes; the commit logic
itself (PartitionProgress) is real.
"""

from __future__ import annotations

from confluent_kafka import TopicPartition as KafkaPartition
from hypothesis import given
from hypothesis import strategies as st

from numguard.consumer.crm.flow import FlowControl, NotifierSummary

TOPIC = "events"


class RecordingConsumer:
    def __init__(self) -> None:
        self.paused: set[int] = set()
        self.committed: dict[int, int] = {}

    def pause(self, partitions: list[KafkaPartition]) -> None:
        self.paused |= {p.partition for p in partitions}

    def resume(self, partitions: list[KafkaPartition]) -> None:
        self.paused -= {p.partition for p in partitions}

    def commit(self, *, offsets: list[KafkaPartition], asynchronous: bool) -> None:
        self.committed.update({p.partition: p.offset for p in offsets})


def flow(max_pending: int) -> tuple[FlowControl, RecordingConsumer]:
    consumer = RecordingConsumer()
    control = FlowControl(consumer, max_pending, NotifierSummary(), None)  # type: ignore[arg-type]
    control.assigned([KafkaPartition(TOPIC, 0)])
    return control, consumer


# Steps: take the next offset (True) or complete the oldest pending one (False).
steps = st.lists(st.booleans(), max_size=60)


@given(st.integers(2, 8), steps)
def test_a_partition_is_paused_at_the_bound_and_resumed_at_half(
    max_pending: int, taking: list[bool]
) -> None:
    control, consumer = flow(max_pending)
    progress = control.progress[(TOPIC, 0)]
    offset, open_offsets = 0, []
    was_paused = False
    for take in taking:
        if take and not was_paused:  # a paused partition fetches nothing more
            progress.take(offset, 1)
            open_offsets.append(offset)
            offset += 1
        elif open_offsets:
            progress.complete(open_offsets.pop(0))
        control.pause_or_resume(stopping=False)
        pending = len(open_offsets)
        if pending >= max_pending:
            assert 0 in consumer.paused
        if pending <= max_pending // 2:
            assert 0 not in consumer.paused
        if was_paused and pending > max_pending // 2:
            assert 0 in consumer.paused  # hysteresis: no flapping between the marks
        was_paused = 0 in consumer.paused
        assert pending <= max_pending  # memory bounded by the bound


@given(steps)
def test_commits_never_pass_an_undelivered_event(taking: list[bool]) -> None:
    control, consumer = flow(1000)
    progress = control.progress[(TOPIC, 0)]
    offset, open_offsets = 0, []
    for take in taking:
        if take:
            progress.take(offset, 1)
            open_offsets.append(offset)
            offset += 1
        elif open_offsets:
            progress.complete(open_offsets.pop())  # newest first: out of order
        control.commit(asynchronous=True)
        committed = consumer.committed.get(0)
        if committed is not None:
            assert all(committed <= o for o in open_offsets)


def test_stopping_never_resumes() -> None:
    control, consumer = flow(2)
    progress = control.progress[(TOPIC, 0)]
    progress.take(0, 1)
    progress.take(1, 1)
    control.pause_or_resume(stopping=False)
    assert consumer.paused == {0}
    progress.complete(0)
    progress.complete(1)
    control.pause_or_resume(stopping=True)
    assert consumer.paused == {0}  # draining for shutdown: fetch nothing more
