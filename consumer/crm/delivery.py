"""One endpoint: signed POSTs with retries, at most max_concurrency at a time.

5xx, 408, 429 and network errors are retried with exponential backoff and
jitter until max_attempts; a Retry-After header wins over the backoff (up to 10
minutes, even beyond backoff.max_seconds: it is the endpoint's own word). Any
other status outside 2xx is permanent: that request will never succeed, so it
goes to the dead-letter topic at once. A 3xx counts as permanent too: webhooks
are not followed through redirects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from numguard.consumer.crm import cloudevents, signing
from numguard.consumer.crm.config import Endpoint
from numguard.consumer.crm.metrics import CrmMetrics
from numguard.core import logs
from numguard.core.http import RETRYABLE_STATUS, RetryableAnswer, WaitRetryAfterOrBackoff
from numguard.core.metrics import package_version
from numguard.core.phone import mask

log = logging.getLogger(__name__)

_ERROR_TEXT_LIMIT = 200
RETRY_AFTER_CEILING_SECONDS = 600.0


@dataclass(frozen=True)
class Outcome:
    outcome: str  # "delivered", "rejected" (permanent) or "exhausted" (retries used up)
    status: int | None  # the last HTTP status; None after a network error
    attempts: int
    last_error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


class EndpointClient:
    """Delivers to one endpoint, at most max_concurrency requests at a time. The slot is
    held for one request, not through a backoff wait: a number waiting to retry does not
    keep other numbers from being sent."""

    def __init__(self, endpoint: Endpoint, metrics: CrmMetrics | None = None) -> None:
        self.endpoint = endpoint
        self._metrics = metrics
        self._slots = asyncio.Semaphore(endpoint.max_concurrency)
        backoff = endpoint.backoff
        # Retry-After is the endpoint's own word: honoured beyond the backoff's maximum,
        # up to a ceiling that keeps a mistaken header from parking a number for days.
        self._wait = WaitRetryAfterOrBackoff(
            backoff.initial_seconds, backoff.max_seconds,
            retry_after_ceiling=max(backoff.max_seconds, RETRY_AFTER_CEILING_SECONDS),
        )  # fmt: skip
        # When the endpoint started failing (None while it answers), and how: for the
        # notifier's periodic "endpoint down" log line rather than one line per retry.
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(endpoint.timeout_seconds),
            limits=httpx.Limits(
                max_connections=endpoint.max_concurrency,
                max_keepalive_connections=endpoint.max_concurrency,
            ),
            headers={"User-Agent": f"numguard/{package_version()}"},
        )
        if metrics is not None:
            metrics.register_endpoint(endpoint.name)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver(self, event: dict[str, object]) -> Outcome:
        """POST the CloudEvent until it is accepted, permanently refused, or retries run out."""
        body = cloudevents.body(event)
        event_id = str(event["id"])
        number = str(event.get("subject") or "")
        retrying: AsyncRetrying = AsyncRetrying(
            retry=retry_if_exception_type((RetryableAnswer, httpx.TransportError)),
            wait=self._wait,
            stop=stop_after_attempt(self.endpoint.max_attempts),
            before_sleep=lambda state: self._log_retry(state, number),
            reraise=True,
        )
        attempts = 0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return await self._post_once(body, event_id, number)

        try:
            response: httpx.Response = await retrying(attempt)
            if response.is_success:
                outcome = Outcome("delivered", response.status_code, attempts)
            else:
                text = _clean(response.text[:_ERROR_TEXT_LIMIT], number)
                outcome = Outcome(
                    "rejected", response.status_code, attempts,
                    f"HTTP {response.status_code}: {text}",
                )  # fmt: skip
        except RetryableAnswer as error:
            outcome = Outcome("exhausted", error.response.status_code, attempts, str(error))
        except httpx.TransportError as error:
            text = _clean(f"{type(error).__name__}: {error}", number)
            outcome = Outcome("exhausted", None, attempts, text)
        if self._metrics is not None:
            self._metrics.deliveries.labels(self.endpoint.name, outcome.outcome).inc()
        return outcome

    async def _post_once(self, body: bytes, event_id: str, number: str) -> httpx.Response:
        # Signed at each attempt: a retry hours later still carries a fresh timestamp.
        headers = {
            "Content-Type": cloudevents.CONTENT_TYPE,
            "Idempotency-Key": event_id,
            signing.HEADER: signing.sign(self.endpoint.secret, body),
        }
        async with self._slots:
            started = time.perf_counter()
            try:
                response = await self._client.post(self.endpoint.url, content=body, headers=headers)
            except httpx.TransportError as error:
                self._failing(_clean(f"{type(error).__name__}: {error}", number))
                raise
            finally:
                if self._metrics is not None:
                    name = self.endpoint.name
                    self._metrics.attempts.labels(name).inc()
                    self._metrics.duration.labels(name).observe(time.perf_counter() - started)
        if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
            retryable = RetryableAnswer(response, _clean(response.text[:_ERROR_TEXT_LIMIT], number))
            self._failing(str(retryable))
            raise retryable
        self.failing_since = None  # it answers: a 4xx is the request's fault, not the endpoint's
        return response

    def _failing(self, error: str) -> None:
        self.last_error = error
        if self.failing_since is None:
            self.failing_since = time.monotonic()

    def _log_retry(self, state: RetryCallState, number: str) -> None:
        # Debug only: a down endpoint would log every pending number's every retry; the
        # notifier logs one line per endpoint instead (FlowControl.report).
        error = state.outcome.exception() if state.outcome else None
        log.debug(
            "%s: attempt %d for %s failed (%s); retrying in %.1fs",
            self.endpoint.name, state.attempt_number, mask(number),
            _clean(str(error), number), state.upcoming_sleep,
        )  # fmt: skip


def _clean(text: str, number: str) -> str:
    """An error text for logs and dead letters: the number masked, secrets and any other
    number-shaped digits redacted (a CRM's error page may echo the request)."""
    if number:
        text = text.replace(number, mask(number))
    return logs.scrub(" ".join(text.split()))
