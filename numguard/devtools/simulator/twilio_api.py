"""Twilio's Deactivations resource: a 307 to a short-lived signed link to a .txt list.

    GET /v1/Deactivations?Date=YYYY-MM-DD         (HTTP basic auth: account SID, auth token)
        -> 307 {"redirect_to": "<base>/twilio/deactivations/YYYY-MM-DD.txt?Expires=…&Signature=…"}
    GET /twilio/deactivations/YYYY-MM-DD.txt?Expires&Signature
        -> the numbers, `+1XXXXXXXXXX` CRLF, then a blank line; 403 once expired

Like Twilio, the link is only in the JSON body (no Location header): a client
that just follows redirects gets nothing. Errors 30113 (date before
2020-08-27) and 30114 (not available yet) are Twilio's codes.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from datetime import date

from numguard.devtools.simulator.clock import Clock
from numguard.devtools.simulator.feeds import TWILIO_FIRST_DAY, CarrierData
from numguard.devtools.simulator.responses import (
    Request,
    Response,
    basic_auth_matches,
    json_response,
    text_response,
    twilio_error,
)

DEACTIVATIONS_PATH = "/v1/Deactivations"
LINK_PATH = re.compile(r"/twilio/deactivations/(\d{4}-\d{2}-\d{2})\.txt")
LINK_TTL_SECONDS = 120.0  # Twilio's links are valid for about two minutes
BAD_DATE_CODE = 20001  # the simulator's choice: the spec gives no code for a malformed Date
_ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>\n"
)


class TwilioApi:
    def __init__(
        self,
        data: CarrierData,
        account_sid: str,
        auth_token: str,
        clock: Clock,
        link_ttl: float = LINK_TTL_SECONDS,
        signing_key: bytes = b"",
    ) -> None:
        self.data = data
        self._credentials = f"{account_sid}:{auth_token}".encode()
        self._clock = clock
        self.link_ttl = link_ttl
        self._signing_key = signing_key

    def handle(self, request: Request) -> Response | None:
        """The response for a Twilio path, or None for any other path."""
        if request.path == DEACTIVATIONS_PATH:
            return self._deactivations(request)
        if match := LINK_PATH.fullmatch(request.path):
            return self._download(request, match.group(1))
        return None

    def _authorized(self, request: Request) -> bool:
        return basic_auth_matches(request, self._credentials)

    def _deactivations(self, request: Request) -> Response:
        if not self._authorized(request):
            response = twilio_error(401, 20003, "Authenticate")
            return _with_header(response, "WWW-Authenticate", 'Basic realm="Twilio API"')
        text = request.param("Date") or ""
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return twilio_error(400, BAD_DATE_CODE, f"Date must be YYYY-MM-DD, not {text!r}")
        if day < TWILIO_FIRST_DAY:
            return twilio_error(400, 30113, "Specified date is too old")
        if self.data.twilio_numbers(day) is None:
            return twilio_error(400, 30114, "Specified date is not available yet")
        expires = math.ceil(self._clock() + self.link_ttl)
        link = (
            f"{request.base_url}/twilio/deactivations/{day.isoformat()}.txt"
            f"?Expires={expires}&Signature={self._sign(day, expires)}"
        )
        return json_response(307, {"redirect_to": link})

    def _download(self, request: Request, day_text: str) -> Response:
        try:
            day = date.fromisoformat(day_text)
            expires = int(request.param("Expires") or "")
        except ValueError:
            return _denied("Invalid link")
        if not hmac.compare_digest(request.param("Signature") or "", self._sign(day, expires)):
            return _denied("The request signature does not match")
        if self._clock() > expires:
            return _denied("Request has expired")
        body = self.data.twilio_file(day)
        if body is None:
            return text_response(404, "Not Found\n")
        return Response(200, body, "text/plain; charset=utf-8")

    def _sign(self, day: date, expires: int) -> str:
        message = f"{day.isoformat()}:{expires}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()


def _denied(message: str) -> Response:
    return text_response(403, _ACCESS_DENIED.format(message=message), "application/xml")


def _with_header(response: Response, name: str, value: str) -> Response:
    return Response(
        response.status, response.body, response.content_type, (*response.headers, (name, value))
    )
