"""The HTTP server behind `numguard serve`.

Routes: GET /v1/numbers/{number}, POST /v1/check, GET /v1/numbers/{number}/history,
/healthz, /metrics and /openapi.json. /v1/ needs `Authorization: Bearer <token>`
when a token is configured. Request logs name the route, never the number.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from datetime import tzinfo
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from numguard.consumer.api.openapi import document
from numguard.consumer.api.pool import StorePool
from numguard.consumer.store.rules import CONSENT_DAY_ZONE, Consent, decide
from numguard.core.phone import InvalidNumber, normalize
from numguard.core.times import parse_date_or_time

MAX_BATCH_ITEMS = 10_000
MAX_BODY_BYTES = 4 * 1024 * 1024
_NUMBER_ROUTE = re.compile(r"/v1/numbers/([^/]+)(/history)?")


class ApiError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "numguard_api_requests", "HTTP requests answered, by route and status code",
            ["route", "code"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "numguard_api_request_duration_seconds", "Time to answer a request, by route",
            ["route"], registry=registry,
        )  # fmt: skip
        self.decisions = Counter(
            "numguard_api_decisions", "Decisions given, by decision", ["decision"],
            registry=registry,
        )  # fmt: skip


class StoreApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        pool: StorePool,
        token: str | None,
        day_zone: tzinfo = CONSENT_DAY_ZONE,
    ) -> None:
        super().__init__(address, _Handler)
        self.pool = pool
        self.token = token
        self.day_zone = day_zone
        self.registry = CollectorRegistry()
        self.metrics = ApiMetrics(self.registry)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def _number(text: str) -> str:
    try:
        return normalize(unquote(text))
    except InvalidNumber as error:
        raise ApiError(HTTPStatus.BAD_REQUEST, str(error)) from error


def _consent(text: str | None) -> Consent | None:
    if not text:
        return None
    try:
        return parse_date_or_time(text)
    except ValueError as error:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"consented_at {text!r} is not ISO 8601") from error


class _Handler(BaseHTTPRequestHandler):
    server: StoreApiServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the path holds a phone number. _answer logs the route instead."""

    def _answer(self, method: str) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        route = "unknown"
        try:
            route, body, content_type = self._route(method, url.path, parse_qs(url.query))
            status = HTTPStatus.OK
        except ApiError as error:
            status, body, content_type = error.status, {"error": str(error)}, "application/json"
        except Exception:
            logging.getLogger(__name__).exception("%s %s failed", method, route)
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            body, content_type = {"error": "internal error"}, "application/json"
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="numguard"')
        self.end_headers()
        self.wfile.write(payload)
        elapsed = time.perf_counter() - started
        self.server.metrics.requests.labels(route, str(status.value)).inc()
        self.server.metrics.latency.labels(route).observe(elapsed)
        logging.getLogger(__name__).info(
            "%s %s %d %.1f ms", method, route, status.value, elapsed * 1000
        )

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[str, Any, str]:
        if path == "/healthz" and method == "GET":
            with self.server.pool.store() as store:
                store.consumer_groups()
            return "/healthz", {"status": "ok"}, "application/json"
        if path == "/metrics" and method == "GET":
            return "/metrics", generate_latest(self.server.registry), CONTENT_TYPE_LATEST
        if path == "/openapi.json" and method == "GET":
            return "/openapi.json", document(MAX_BATCH_ITEMS), "application/json"
        if path.startswith("/v1/"):
            self._authorize()
            if path == "/v1/check" and method == "POST":
                return "/v1/check", self._check_batch(), "application/json"
            if (match := _NUMBER_ROUTE.fullmatch(path)) and method == "GET":
                mdn = _number(match.group(1))
                if match.group(2):
                    with self.server.pool.store() as store:
                        history = store.history(mdn)
                    return (
                        "/v1/numbers/{number}/history",
                        {"mdn": mdn, "events": history},
                        ("application/json"),
                    )
                consent = _consent(query.get("consented_at", [None])[0])
                return (
                    "/v1/numbers/{number}",
                    self._decide([(mdn, consent)])[0],
                    ("application/json"),
                )
        raise ApiError(HTTPStatus.NOT_FOUND, f"no such endpoint ({method}); see /openapi.json")

    def _authorize(self) -> None:
        expected = self.server.token
        if expected is None:
            return
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
            raise ApiError(HTTPStatus.UNAUTHORIZED, "a valid bearer token is required")

    def _decide(self, items: list[tuple[str, Consent | None]]) -> list[dict[str, str]]:
        with self.server.pool.store() as store:
            states = store.states(sorted({mdn for mdn, _ in items}))
        answers = []
        for mdn, consent in items:
            answer = decide(mdn, states.get(mdn), consent, self.server.day_zone).as_json()
            self.server.metrics.decisions.labels(answer["decision"]).inc()
            answers.append(answer)
        return answers

    def _check_batch(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
        try:
            items = json.loads(self.rfile.read(length))["items"]
            assert isinstance(items, list)
        except (ValueError, KeyError, TypeError, AssertionError) as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, 'expected {"items": [...]}') from error
        if len(items) > MAX_BATCH_ITEMS:
            raise ApiError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"{len(items)} items; at most {MAX_BATCH_ITEMS} a request",
            )
        valid: list[tuple[int, str, Consent | None]] = []
        results: list[dict[str, Any]] = [{} for _ in items]
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict) or not isinstance(item.get("number"), str):
                    raise ApiError(HTTPStatus.BAD_REQUEST, "an item needs a number string")
                valid.append((index, _number(item["number"]), _consent(item.get("consented_at"))))
            except ApiError as error:
                results[index] = {"index": index, "error": str(error)}
        answers = self._decide([(mdn, consent) for _, mdn, consent in valid])
        for (index, _, _), answer in zip(valid, answers, strict=True):
            results[index] = answer
        return {"results": results}
