"""Which offsets of a partition may be committed: the contiguous run of completed ones.

Deliveries finish out of order (many numbers at once, retries), so the commit
position is the lowest offset not yet completed: everything before it was
delivered to every endpoint or dead-lettered. A crash then resends at most what
was in flight, and never skips an event (at-least-once).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from confluent_kafka import Message


class PartitionProgress:
    def __init__(self) -> None:
        self._taken: deque[int] = deque()  # offsets taken, in increasing order
        self._remaining: dict[int, int] = {}  # offset -> deliveries not yet completed
        self.next_offset: int | None = None  # the offset after the last one taken
        self.committed: int | None = None  # the last position committed to Kafka
        self.paused = False

    def take(self, offset: int, parts: int) -> bool:
        """Track `offset` with `parts` deliveries to complete. False for an offset already
        taken (a refetch after pause or an error), which must not be sent twice."""
        if self.next_offset is not None and offset < self.next_offset:
            return False
        self.next_offset = offset + 1
        if parts > 0:
            self._taken.append(offset)
            self._remaining[offset] = parts
        return True

    def complete(self, offset: int) -> None:
        """One delivery of `offset` is done (delivered, or durably dead-lettered)."""
        left = self._remaining.get(offset)
        if left is None:
            return
        if left <= 1:
            del self._remaining[offset]
        else:
            self._remaining[offset] = left - 1

    @property
    def pending(self) -> int:
        """Offsets taken and not yet completed."""
        return len(self._remaining)

    def position(self) -> int | None:
        """The offset to commit: the first one not completed, or the next one to read."""
        while self._taken and self._taken[0] not in self._remaining:
            self._taken.popleft()
        return self._taken[0] if self._taken else self.next_offset

    def to_commit(self) -> int | None:
        """The position, when it moved past the last commit."""
        position = self.position()
        if position is None or (self.committed is not None and position <= self.committed):
            return None
        return position


@dataclass(frozen=True)
class Origin:
    """Where one delivery's event came from, and what completing it means."""

    progress: PartitionProgress
    partition: tuple[str, int]
    offset: int
    key: bytes | None
    endpoint: str
    ticket: int  # its entry in Waiting, for the oldest-undelivered gauge


def published_at(message: Message) -> float:
    """When the event reached Kafka (the age of an undelivered event counts from then)."""
    kind, millis = message.timestamp()
    return millis / 1000 if kind != 0 and millis > 0 else time.time()
