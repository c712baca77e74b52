"""Waiting for a condition, never for a duration."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
WAIT_SECONDS = 60.0


def wait_for(
    condition: Callable[[], T | None],
    what: str,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.02,
) -> T:
    """The condition's first true value (True, or a found thing); fails only if none
    comes within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)
