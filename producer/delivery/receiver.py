"""`numguard receive`: delivery-report webhooks in, UNDELIVERABLE events out.

    POST /v1/delivery-reports/twilio    Twilio status callbacks (X-Twilio-Signature)
    POST /v1/delivery-reports/infobip   Infobip delivery reports (HTTP Basic)

A permanent failure whose code codes.py lists becomes an UNDELIVERABLE event on
the events topic, keyed by the number. The answer is 200 only once Kafka has
acknowledged the events: a provider that gets a 503 sends the report again, so a
report is never lost between the two. Anything else is answered and counted, never
published: a failure that is not permanent, a status that is not a failure.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import anyio
from confluent_kafka import KafkaError, Message, Producer
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from numguard.core import logs
from numguard.core.kafka.clients import idempotent_producer_config
from numguard.core.phone import mask
from numguard.producer.delivery import infobip_reports, twilio_callbacks
from numguard.producer.delivery.codes import PermanentFailures
from numguard.producer.delivery.failures import DeliveryFailure, undeliverable
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import StateChange
from numguard.schemas.registry import DEFAULT_COMPATIBILITY, Compatibility

log = logging.getLogger(__name__)

SETTINGS_ENV = "NUMGUARD_RECEIVE_SETTINGS"
PUBLISH_TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 1024 * 1024  # Infobip's 100 reports a request are far below it
RETRY_AFTER_SECONDS = "30"


@dataclass(frozen=True)
class ReceiverSettings:
    """What the command line checked, for each worker (secrets stay in their variables)."""

    bootstrap_servers: str
    topic: str
    schema_registry_url: str | None = None
    schema_compatibility: Compatibility = DEFAULT_COMPATIBILITY
    twilio_token_env: str = "TWILIO_AUTH_TOKEN"
    infobip_user_env: str = "INFOBIP_DLR_USERNAME"
    infobip_password_env: str = "INFOBIP_DLR_PASSWORD"
    # The base URL the providers call (https://hooks.example.com) when a proxy stands
    # in front: Twilio signs the URL it called, not the one this server sees.
    public_url: str | None = None
    codes: dict[str, list[str]] = field(default_factory=dict)  # overrides of codes.py
    publish_timeout_seconds: float = PUBLISH_TIMEOUT_SECONDS
    log_level: str = "info"
    log_format: str = "text"


@dataclass(frozen=True)
class Credentials:
    twilio_token: str | None
    infobip_user: str | None
    infobip_password: str | None

    @classmethod
    def from_environment(cls, settings: ReceiverSettings) -> Credentials:
        def env(name: str) -> str | None:
            return os.environ.get(name) or None

        return cls(env(settings.twilio_token_env), env(settings.infobip_user_env),
                   env(settings.infobip_password_env))  # fmt: skip

    @property
    def infobip(self) -> bool:
        return self.infobip_user is not None and self.infobip_password is not None

    def enabled(self) -> list[str]:
        return [name for name, on in (("twilio", self.twilio_token is not None),
                                      ("infobip", self.infobip)) if on]  # fmt: skip


class NotPublished(RuntimeError):
    """Kafka did not acknowledge every event of a request within the timeout."""


class FailurePublisher:
    """UNDELIVERABLE events onto the events topic, each request's acknowledged before it
    is answered. Thread-safe: requests publish from worker threads."""

    def __init__(self, settings: ReceiverSettings) -> None:
        self._producer = Producer(idempotent_producer_config(settings.bootstrap_servers))
        self._timeout = settings.publish_timeout_seconds
        self._topic = settings.topic
        self._codec = EventCodec.from_registry_url(
            settings.schema_registry_url, settings.topic, settings.schema_compatibility
        )
        self._lock = threading.Lock()  # the codec registers its schema once

    def publish(self, changes: list[StateChange]) -> None:
        failed: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failed.append(error)

        for change in changes:
            with self._lock:
                value = self._codec.encode(change)
            self._producer.produce(self._topic, value, change.mdn.encode(), on_delivery=delivered)
        left = self._producer.flush(self._timeout)
        if failed or left:
            raise NotPublished(failed[0].str() if failed else f"{left} not acknowledged")

    def close(self) -> None:
        self._producer.flush(self._timeout)


class ReceiverMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.reports = Counter(
            "numguard_delivery_reports", "Delivery reports received, by provider and outcome "
            "(published: an UNDELIVERABLE event; ignored: not a permanent failure; rejected: "
            "unreadable; unauthorized; unavailable: Kafka did not take it, answered 503)",
            ["provider", "outcome"], registry=registry,
        )  # fmt: skip


def create_app(
    settings: ReceiverSettings,
    credentials: Credentials,
    publisher: FailurePublisher,
    registry: CollectorRegistry,
) -> FastAPI:
    metrics = ReceiverMetrics(registry)
    codes = PermanentFailures.with_overrides(settings.codes)
    app = FastAPI(title="numguard receive", docs_url=None, redoc_url=None, openapi_url=None)

    async def publish(provider: str, found: list[DeliveryFailure]) -> Response | None:
        """None once published; the 503 to answer when Kafka did not take them."""
        now = datetime.now(UTC)
        try:
            await anyio.to_thread.run_sync(
                publisher.publish, [undeliverable(f, now) for f in found]
            )
        except NotPublished as error:
            log.error("%s: %d failure(s) not published: %s", provider, len(found), error)
            metrics.reports.labels(provider, "unavailable").inc(len(found))
            return JSONResponse({"error": "not published; send it again"}, 503,
                                headers={"Retry-After": RETRY_AFTER_SECONDS})  # fmt: skip
        for failure in found:
            log.info("%s: %s failed with %s: UNDELIVERABLE published", provider,
                     mask(failure.mdn), failure.code)  # fmt: skip
        metrics.reports.labels(provider, "published").inc(len(found))
        return None

    @app.post("/v1/delivery-reports/twilio")
    async def twilio(request: Request) -> Response:
        if credentials.twilio_token is None:
            return _not_enabled("twilio", settings.twilio_token_env)
        body = await _body(request)
        if body is None:
            return JSONResponse({"error": f"over {MAX_BODY_BYTES} bytes"}, 413)
        params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        given = request.headers.get(twilio_callbacks.SIGNATURE_HEADER, "")
        url = _called_url(request, settings.public_url)
        if not twilio_callbacks.signed(credentials.twilio_token, url, params, given):
            metrics.reports.labels("twilio", "unauthorized").inc()
            log.warning("twilio: a callback whose signature does not match %s", url)
            return JSONResponse({"error": "X-Twilio-Signature does not match"}, 403)
        try:
            failure = twilio_callbacks.failure(params, datetime.now(UTC))
        except twilio_callbacks.BadCallback as error:
            metrics.reports.labels("twilio", "rejected").inc()
            return JSONResponse({"error": str(error)}, 400)
        if failure is None or not codes.means_gone("twilio", failure.code):
            metrics.reports.labels("twilio", "ignored").inc()
            return Response(status_code=204)
        return await publish("twilio", [failure]) or Response(status_code=204)

    @app.post("/v1/delivery-reports/infobip")
    async def infobip(request: Request) -> Response:
        if not credentials.infobip:
            return _not_enabled("infobip", settings.infobip_password_env)
        if not _basic_auth_matches(request, credentials):
            metrics.reports.labels("infobip", "unauthorized").inc()
            return JSONResponse({"error": "unauthorized"}, 401,
                                headers={"WWW-Authenticate": 'Basic realm="numguard"'})  # fmt: skip
        body = await _body(request)
        if body is None:
            return JSONResponse({"error": f"over {MAX_BODY_BYTES} bytes"}, 413)
        try:
            document = json.loads(body)
            found, problems = infobip_reports.failures(document, codes, datetime.now(UTC))
        except (ValueError, infobip_reports.BadReport) as error:
            metrics.reports.labels("infobip", "rejected").inc()
            return JSONResponse({"error": f"not an Infobip delivery report: {error}"}, 400)
        results = len(document["results"])
        metrics.reports.labels("infobip", "rejected").inc(len(problems))
        metrics.reports.labels("infobip", "ignored").inc(results - len(found) - len(problems))
        if found and (unavailable := await publish("infobip", found)) is not None:
            return unavailable
        return JSONResponse({"published": len(found), "unreadable": problems})

    @app.get("/healthz")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "providers": credentials.enabled()})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _not_enabled(provider: str, variable: str) -> JSONResponse:
    return JSONResponse({"error": f"{provider} reports are not enabled here: set {variable}"}, 404)


async def _body(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY_BYTES (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _called_url(request: Request, public_url: str | None) -> str:
    if public_url is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return public_url.rstrip("/") + request.url.path + query


def _basic_auth_matches(request: Request, credentials: Credentials) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        return False
    # Both compared whole, whatever the first says: no early answer to time.
    user_ok = hmac.compare_digest(user.encode(), (credentials.infobip_user or "").encode())
    password_ok = hmac.compare_digest(
        password.encode(), (credentials.infobip_password or "").encode()
    )
    return user_ok and password_ok


def app_from_environment() -> FastAPI:
    """The worker's application, from the settings the command line checked."""
    settings = ReceiverSettings(**json.loads(os.environ[SETTINGS_ENV]))
    logs.configure(settings.log_level, settings.log_format)
    credentials = Credentials.from_environment(settings)
    for secret in (credentials.twilio_token, credentials.infobip_password):
        logs.redact(secret)
    publisher = FailurePublisher(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        publisher.close()

    app = create_app(settings, credentials, publisher, CollectorRegistry())
    app.router.lifespan_context = lifespan
    log.debug("worker %d ready", os.getpid())
    return app
