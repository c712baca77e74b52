"""Riding out an outage of a service numguard depends on (PostgreSQL, Kafka), for a
bounded time.

A long-running command retries the failed step with exponential backoff and jitter
(tenacity), saying once per attempt what it waits for; past its budget it raises
Unreachable, which the command line turns into exit 1 and one line naming what was
unreachable, for how long, and the last error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay
from tenacity.wait import wait_exponential_jitter

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_OUTAGE_SECONDS = 300.0
FIRST_WAIT_SECONDS = 0.5
LONGEST_WAIT_SECONDS = 15.0


class Unreachable(Exception):
    """A service stayed unreachable for longer than the outage budget."""


def ride_out(
    what: str | Callable[[BaseException | None], str],
    step: Callable[[], T],
    is_outage: Callable[[BaseException], bool],
    budget_seconds: float,
    recover: Callable[[], None] | None = None,
) -> T:
    """`step()`, again after each error `is_outage` accepts (with `recover()` first, e.g.
    a reconnect), until it succeeds or `budget_seconds` have passed. `what` names the
    service, or says from the error which one it was."""

    def named(error: BaseException | None) -> str:
        return what(error) if callable(what) else what

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("%s unreachable (attempt %d, %.0f s so far): %s; retrying in %.1f s",
                    named(error), state.attempt_number, state.seconds_since_start, error,
                    state.upcoming_sleep)  # fmt: skip

    def attempt() -> T:
        if recover is not None and attempts.statistics.get("attempt_number", 1) > 1:
            recover()
        return step()

    def give_up(state: RetryCallState) -> T:
        error = state.outcome.exception() if state.outcome else None
        raise Unreachable(
            f"{named(error)} unreachable for {budget_seconds:g} s: {error}"
        ) from error

    attempts = Retrying(
        retry=retry_if_exception(is_outage),
        wait=wait_exponential_jitter(
            multiplier=FIRST_WAIT_SECONDS, jitter=FIRST_WAIT_SECONDS, max=LONGEST_WAIT_SECONDS
        ),
        stop=stop_after_delay(budget_seconds),
        before_sleep=before_sleep,
        retry_error_callback=give_up,
    )
    return attempts(attempt)
