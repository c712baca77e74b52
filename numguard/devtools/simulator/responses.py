"""Requests and responses between the HTTP handler and the feed endpoints.

Endpoints are plain functions of a Request returning a Response, so each feed's
rules read without any socket code; error bodies are spelled the way each
carrier spells them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from email.message import Message
from typing import Any

from numguard.devtools.simulator.feeds import Body

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
INFOBIP_PREFIX = "/number-activation-state/1/network-reports"
TWILIO_PREFIXES = ("/v1/", "/twilio/")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    base_url: str  # scheme://host:port the client used, for links back to this server

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Body
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


class BadRequest(Exception):
    """A query parameter the endpoint cannot read: 400."""


def json_response(status: int, value: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, Body.of(json.dumps(value).encode()), JSON, headers)


def text_response(status: int, text: str, content_type: str = TEXT) -> Response:
    return Response(status, Body.of(text.encode()), content_type)


def infobip_error(
    status: int, message_id: str, text: str, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """`{"requestError": {"serviceException": {"messageId", "text"}}}`, Infobip's error body."""
    body = {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}
    return json_response(status, body, headers)


def twilio_error(
    status: int, code: int, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """Twilio's error body: code, message, more_info and status."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return json_response(status, body, headers)


def server_error(path: str, status: int = 500) -> Response:
    """An injected (or unexpected) server failure, in the error format of the path's feed."""
    if path.startswith(INFOBIP_PREFIX):
        return infobip_error(status, "GENERAL_ERROR", "Something went wrong. Please try again.")
    if path.startswith(TWILIO_PREFIXES):
        return twilio_error(status, 20500, "Internal Server Error")
    return text_response(status, "Internal Server Error\n")


def too_many_requests(path: str, retry_after: int) -> Response:
    """429 with Retry-After (whole seconds), in the error format of the path's feed."""
    headers = (("Retry-After", str(retry_after)),)
    if path.startswith(INFOBIP_PREFIX):
        return infobip_error(429, "TOO_MANY_REQUESTS", "Too many requests", headers)
    if path.startswith(TWILIO_PREFIXES):
        return twilio_error(429, 20429, "Too Many Requests", headers)
    return Response(429, Body.of(b"Too Many Requests\n"), TEXT, headers)


def not_found(path: str) -> Response:
    if path.startswith(INFOBIP_PREFIX):
        return infobip_error(404, "NOT_FOUND", "Not found")
    if path.startswith(TWILIO_PREFIXES):
        return twilio_error(404, 20404, "The requested resource was not found")
    return text_response(404, "Not Found\n")


def basic_auth_matches(request: Request, credentials: bytes) -> bool:
    """Whether the request carries HTTP Basic credentials equal to `user:password`."""
    scheme, _, encoded = (request.header("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, credentials)
