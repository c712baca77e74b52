"""Time as the simulator sees it: the wall clock, or a clock a test moves by hand.

Link expiry, report expiry and Infobip's request pacing all read the simulator's
clock, so a test can jump two minutes ahead instead of sleeping, and never
depends on how fast the machine is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]  # POSIX seconds, like time.time
wall_clock: Clock = time.time


def utc(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


class ManualClock:
    """A clock that stands still until `advance` or `set` moves it."""

    def __init__(self, start: float | datetime | None = None) -> None:
        if start is None:
            start = time.time()
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, moment: float | datetime) -> None:
        with self._lock:
            self._now = moment.timestamp() if isinstance(moment, datetime) else float(moment)
