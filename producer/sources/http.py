"""HTTP for source adapters: one retry policy, pacing, and clear failures.

5xx, 408, 429 and network errors are retried with exponential backoff and
jitter (a Retry-After header wins); 401 and 403 stop at once with
CredentialsRejected, so expired credentials never cause a retry storm. Any
other answer goes back to the adapter, which knows what a 404 or 400 means for
its feed.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from producer.sources.base import CredentialsRejected, SourceUnavailable

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
AUTH_STATUS = frozenset({401, 403})
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial_seconds: float = 1.0
    max_seconds: float = 60.0


class _RetryableAnswer(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds (it may be a number or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


class _WaitRetryAfterOrBackoff:
    def __init__(self, policy: RetryPolicy) -> None:
        # initial, 2 x initial, 4 x initial ... plus up to one `initial` of jitter, capped.
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_seconds, jitter=policy.initial_seconds, max=policy.max_seconds
        )
        self._max = policy.max_seconds

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableAnswer):
            asked = retry_after_seconds(error.response)
            if asked is not None:
                return min(asked, self._max)
        return float(self._backoff(state))


class Pacer:
    """At most one request per `interval` seconds (Infobip: about one a second)."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                time.sleep(self._next - now)
            self._next = max(now, self._next) + self._interval


@contextmanager
def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    source: str,
    policy: RetryPolicy,
    describe_error: Callable[[httpx.Response], str] = lambda r: r.text[:200],
    pacer: Pacer | None = None,
    refusals: frozenset[int] = AUTH_STATUS,
) -> Iterator[httpx.Response]:
    """Send with retries; yield the answer with its body unread (stream it or .read()).

    Raises CredentialsRejected for a status in `refusals` (401/403; pass an empty set
    where a 403 means something else, such as an expired signed link) or
    SourceUnavailable (retries used up).
    """
    retrying = Retrying(
        retry=retry_if_exception_type((_RetryableAnswer, httpx.TransportError)),
        wait=_WaitRetryAfterOrBackoff(policy),
        stop=stop_after_attempt(policy.attempts),
        reraise=True,
    )
    try:
        response = retrying(_send_once, client, request, pacer)
    except _RetryableAnswer as error:
        error.response.read()
        raise SourceUnavailable(
            f"{source}: HTTP {error.response.status_code} after {policy.attempts} attempts: "
            f"{describe_error(error.response)}"
        ) from None
    except httpx.TransportError as error:
        raise SourceUnavailable(
            f"{source}: {type(error).__name__} after {policy.attempts} attempts: {error}"
        ) from None
    try:
        if response.status_code in refusals:
            response.read()
            raise CredentialsRejected(
                f"{source}: the credentials were refused (HTTP {response.status_code}): "
                f"{describe_error(response)}"
            )
        yield response
    finally:
        response.close()


def _send_once(client: httpx.Client, request: httpx.Request, pacer: Pacer | None) -> Any:
    if pacer is not None:
        pacer.wait()
    response = client.send(request, stream=True)
    if response.status_code in RETRYABLE_STATUS:
        response.read()
        response.close()
        raise _RetryableAnswer(response)
    return response
