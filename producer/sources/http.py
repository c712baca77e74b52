"""HTTP for source adapters: one retry policy, pacing, and clear failures.

5xx, 408, 429 and network errors are retried with exponential backoff and
jitter (a Retry-After header wins); 401 and 403 stop at once with
CredentialsRejected, so expired credentials never cause a retry storm. Any
other answer goes back to the adapter, which knows what a 404 or 400 means for
its feed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from numguard.core.http import RETRYABLE_STATUS, RetryableAnswer, WaitRetryAfterOrBackoff
from numguard.producer.sources.base import (
    CredentialsRejected,
    ReportMissing,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
)

AUTH_STATUS = frozenset({401, 403})
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial_seconds: float = 1.0
    max_seconds: float = 60.0


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
        retry=retry_if_exception_type((RetryableAnswer, httpx.TransportError)),
        wait=WaitRetryAfterOrBackoff(policy.initial_seconds, policy.max_seconds),
        stop=stop_after_attempt(policy.attempts),
        reraise=True,
    )
    try:
        response = retrying(_send_once, client, request, pacer)
    except RetryableAnswer as error:
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
        raise RetryableAnswer(response)
    return response


def download_rows(
    client: httpx.Client,
    request: httpx.Request,
    read: Callable[[httpx.Response], Iterator[SourceRow]],
    *,
    source: str,
    report_id: str,
    policy: RetryPolicy,
    missing: frozenset[int] = frozenset({404}),
    describe_error: Callable[[httpx.Response], str] = lambda r: r.text[:200],
) -> Iterator[SourceRow]:
    """The rows `read` makes of a report's download, with the answers every daily feed
    gives the same meaning: a status in `missing` is a report not there (yet), another
    non-200 an outage, a body that breaks off a report unreadable whole."""
    with send(client, request, source=source, policy=policy,
              describe_error=describe_error) as response:  # fmt: skip
        if response.status_code != 200:
            response.read()
            status = f"HTTP {response.status_code}: {describe_error(response)}"
            if response.status_code in missing:
                raise ReportMissing(f"{report_id}: not on the server ({status})")
            raise SourceUnavailable(f"{report_id}: {status}")
        try:
            yield from read(response)
        except httpx.HTTPError as error:
            # h11 checks Content-Length: a short body is a truncated download.
            broke = f"{type(error).__name__}: {error}"
            raise UnreadableReport(f"{report_id}: the download broke off ({broke})") from error
