"""The ASGI application behind `numguard serve` (FastAPI: routing, validation, OpenAPI).

Routes: GET /v1/numbers/{number}, POST /v1/check, GET /v1/numbers/{number}/history,
/healthz, /metrics and /openapi.json. All but those three need `Authorization: Bearer <token>`
when a token is configured. Request logs name the route, never the number.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.exceptions import HTTPException

from numguard.consumer.api.limits import BearerToken, BodyLimit, RequestMetrics
from numguard.consumer.api.metrics import ApiMetrics, exposition
from numguard.consumer.api.models import (
    MAX_BATCH_ITEMS,
    Answer,
    CheckAnswers,
    CheckRequest,
    ConsentText,
    Health,
    History,
    Number,
    Problem,
)
from numguard.consumer.api.openapi import document
from numguard.consumer.api.pool import CoverageCache, StorePool
from numguard.consumer.store import SqlStore
from numguard.consumer.store.freshness import DEFAULT_STALE_AFTER, SourceFreshness
from numguard.consumer.store.rules import Consent, NoData, Verdict, decide
from numguard.core.outages import Unreachable
from numguard.core.phone import InvalidNumber, normalize
from numguard.core.problems import dotted

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    pool: StorePool
    token: str | None
    day_zone: tzinfo
    registry: CollectorRegistry
    stale_after: timedelta | None = DEFAULT_STALE_AFTER  # None: never unhealthy for it
    no_data: Verdict = Verdict.ALLOW  # for a number with no record on an uncovered day
    coverage: CoverageCache = field(default_factory=CoverageCache)


class JSONAnswer(JSONResponse):
    """JSON written by orjson: a 10,000-answer batch in a twentieth of json.dumps' time."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class BadItem(ValueError):
    """An item, or the one number of a GET, that cannot be answered."""


def _errors(status: int, *, model: type = Problem, what: str) -> dict[int | str, Any]:
    return {status: {"model": model, "description": what}}


def create_app(settings: ApiSettings) -> FastAPI:
    metrics = ApiMetrics(settings.registry)
    app = FastAPI(
        title="numguard",
        version="1",
        description="May I text this number? Answers from the suppression store.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        # A body sent without a Content-Type is read as JSON, as before this stack.
        strict_content_type=False,
        default_response_class=JSONAnswer,
    )
    _add_error_handlers(app)
    # The token is checked by the BearerToken middleware, before the body is read; the
    # OpenAPI document says so (openapi.py), not a dependency run on every request.
    unauthorized = {**_errors(401, what="no valid bearer token"),
                    **_errors(503, what="the store is unreachable: ask again")}  # fmt: skip

    @app.get(
        "/v1/numbers/{number}", response_model=Answer,
        responses={**unauthorized, **_errors(400, what="the request could not be read")},
        summary="The decision for one number",
    )  # fmt: skip
    async def one(
        number: Number,
        consented_at: Annotated[ConsentText | None, Query()] = None,
    ) -> JSONAnswer:
        try:
            item = (_number(number), consented_at)
        except BadItem as error:
            raise HTTPException(400, str(error)) from None
        (answer,) = await _decide(settings, metrics, [item])
        return JSONAnswer(answer)

    @app.post(
        "/v1/check", response_model=CheckAnswers,
        responses={**unauthorized, **_errors(400, what="the request does not match the schema"),
                   **_errors(413, what=f"more than {MAX_BATCH_ITEMS} items, or over "
                             f"{MAX_BODY_BYTES} bytes")},
        summary=f"Decisions for up to {MAX_BATCH_ITEMS:,} numbers, in order",
    )  # fmt: skip
    async def batch(request: CheckRequest) -> JSONAnswer:
        results: list[dict[str, Any]] = [{} for _ in request.items]
        readable: list[tuple[int, tuple[str, Consent | None]]] = []
        for index, item in enumerate(request.items):
            try:
                if (number := item.get("number")) is None:
                    raise BadItem("an item needs a number")
                readable.append((index, (_number(number), item.get("consented_at"))))
            except BadItem as error:
                results[index] = {"index": index, "error": str(error)}
        answers = await _decide(settings, metrics, [item for _, item in readable])
        for (index, _), answer in zip(readable, answers, strict=True):
            results[index] = answer
        return JSONAnswer({"results": results})

    @app.get(
        "/v1/numbers/{number}/history", response_model=History,
        responses={**unauthorized, **_errors(400, what="not a phone number")},
        summary="Every event applied to the number, oldest first",
    )  # fmt: skip
    async def history(number: Number) -> JSONAnswer:
        try:
            mdn = _number(number)
        except BadItem as error:
            raise HTTPException(400, str(error)) from None
        events = await settings.pool.run(lambda store: store.history(mdn))
        return JSONAnswer({"mdn": mdn, "events": events})

    @app.get(
        "/healthz", response_model=Health,
        responses={503: {"model": Health, "description": "the store does not answer, or a "
                         "source is stale"}},
        summary="200 when the store answers and no source is stale",
    )  # fmt: skip
    async def healthz() -> JSONAnswer:
        try:
            sources = await settings.pool.run(_health_of)
        except Exception:
            log.warning("health check: the store does not answer", exc_info=True)
            return JSONAnswer({"status": "unavailable"}, status_code=503)
        now = datetime.now(UTC)
        report = [source.as_json(now, settings.stale_after) for source in sources]
        if any(source["stale"] for source in report):
            return JSONAnswer({"status": "stale", "sources": report}, status_code=503)
        return JSONAnswer({"status": "ok", "sources": report})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(exposition(settings.registry), media_type=CONTENT_TYPE_LATEST)

    # The last added runs first: metrics see every answer, the token is checked before
    # the body is read.
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(BearerToken, token=settings.token)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def _health_of(store: SqlStore) -> list[SourceFreshness]:
    store.consumer_groups()  # a read of the store's own tables: it answers
    return store.freshness()


def _number(text: str) -> str:
    try:
        return normalize(text)
    except InvalidNumber as error:
        raise BadItem(str(error)) from None


async def _decide(
    settings: ApiSettings, metrics: ApiMetrics, items: list[tuple[str, Consent | None]]
) -> list[dict[str, str | list[str]]]:
    wanted = sorted({mdn for mdn, _ in items})
    states = await settings.pool.states(wanted) if wanted else {}
    no_data = None
    if any(consent is not None and mdn not in states for mdn, consent in items):
        # Only a number with no record and a consent needs the coverage.
        no_data = NoData(await settings.coverage.get(settings.pool), settings.no_data)
    decisions = [
        decide(mdn, states.get(mdn), consent, settings.day_zone, no_data) for mdn, consent in items
    ]
    metrics.decided(Counter(decision.verdict for decision in decisions))
    return [decision.as_json() for decision in decisions]


def _add_error_handlers(app: FastAPI) -> None:
    async def http_error(_request: Request, error: Exception) -> JSONAnswer:
        assert isinstance(error, HTTPException)
        detail = error.detail
        if error.status_code == 404 and detail == "Not Found":
            detail = "no such endpoint; see /openapi.json"
        return JSONAnswer({"error": detail}, error.status_code, headers=error.headers)

    async def invalid(_request: Request, error: Exception) -> JSONAnswer:
        assert isinstance(error, RequestValidationError)
        found = error.errors()
        if any(e["type"] == "too_long" and tuple(e["loc"]) == ("body", "items") for e in found):
            return JSONAnswer(
                {"error": f"too many items: at most {MAX_BATCH_ITEMS} a request"}, 413
            )
        problems = [f"{dotted(e['loc'])}: {_message(e)}" for e in found]
        summary = problems[0] if len(problems) == 1 else f"{len(problems)} problems"
        return JSONAnswer({"error": summary, "problems": problems[:20]}, 400)

    async def unreachable(_request: Request, error: Exception) -> JSONAnswer:
        log.warning("%s", error)
        # Never an answer without the store: the client asks again, or holds its message.
        return JSONAnswer({"error": "the store is unreachable; try again"}, 503,
                            headers={"Retry-After": "5"})  # fmt: skip

    async def failed(_request: Request, error: Exception) -> JSONAnswer:
        log.error("request failed: %s", type(error).__name__, exc_info=error)
        return JSONAnswer({"error": "internal error"}, 500)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Unreachable, unreachable)
    app.add_exception_handler(Exception, failed)


def _message(error: Any) -> str:
    """pydantic's message, without echoing the input (it may be a phone number)."""
    if error["type"] == "json_invalid":
        return "not valid JSON"
    if error["type"] == "string_pattern_mismatch" and error["loc"][-1] == "number":
        return "not a phone number"
    return str(error["msg"])
