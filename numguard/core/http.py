"""HTTP retries shared by the feed sources and the CRM webhooks.

Both retry the same answers (5xx, 408, 429, network errors) with exponential
backoff and jitter, and both let the peer's Retry-After header win over the
backoff: it is the server's own word on when to come back.
"""

from __future__ import annotations

import email.utils
import time

import httpx
from tenacity import RetryCallState
from tenacity.wait import wait_exponential_jitter

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class RetryableAnswer(Exception):
    """An HTTP answer worth asking again for (see RETRYABLE_STATUS)."""

    def __init__(self, response: httpx.Response, text: str | None = None) -> None:
        super().__init__(f"HTTP {response.status_code}" + (f": {text}" if text else ""))
        self.response = response


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds (it may be a number or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None  # neither seconds nor a date: fall back to the backoff
        return max(0.0, when.timestamp() - time.time())


class WaitRetryAfterOrBackoff:
    """A tenacity wait: Retry-After when a RetryableAnswer carries one (capped at
    `retry_after_ceiling`), else initial, 2 x initial, 4 x initial ... plus up to one
    `initial` of jitter, capped at `max_backoff`."""

    def __init__(
        self, initial: float, max_backoff: float, retry_after_ceiling: float | None = None
    ) -> None:
        self._backoff = wait_exponential_jitter(multiplier=initial, jitter=initial, max=max_backoff)
        self._ceiling = max_backoff if retry_after_ceiling is None else retry_after_ceiling

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableAnswer):
            asked = retry_after_seconds(error.response)
            if asked is not None:
                return min(asked, self._ceiling)
        return float(self._backoff(state))
