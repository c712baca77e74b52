"""Vonage's US number deactivations: a day's zip, within the last 31 days.

    GET /v1/numbers/deactivations?date=YYYY-MM-DD      Authorization: Basic key:secret
        -> 200 application/zip holding deactivations-YYYY-MM-DD.csv: a header line
           `phone_number`, then one number a line in E.164 digits (the simulator's
           reading of an undocumented format)
        -> 401 RFC 7807 {type, title, detail, instance}; 400 for a date that is not
           YYYY-MM-DD or is over 31 days old; 404 for a day not published yet

The day's numbers are the same day's deactivations as the Twilio list.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta

from numguard.devtools.simulator.feeds import Body, CarrierData
from numguard.devtools.simulator.responses import (
    Request,
    Response,
    basic_auth_matches,
    json_response,
)

PATH = "/v1/numbers/deactivations"
WINDOW_DAYS = 31
PROBLEM = "application/problem+json"


class VonageApi:
    def __init__(self, data: CarrierData, api_key: str, api_secret: str) -> None:
        self.data = data
        self._credentials = f"{api_key}:{api_secret}".encode()

    def handle(self, request: Request) -> Response | None:
        if request.path != PATH:
            return None
        if not self._authorized(request):
            return _problem(401, "Unauthorized", "You did not provide correct credentials.")
        text = request.param("date") or ""
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return _problem(400, "Bad Request", f"date must be YYYY-MM-DD, not {text!r}")
        if day < datetime.now(UTC).date() - timedelta(days=WINDOW_DAYS):
            return _problem(400, "Bad Request", f"{day} is over {WINDOW_DAYS} days old")
        numbers = self.data.twilio_numbers(day)
        if numbers is None:
            return _problem(404, "Not Found", f"no deactivations published for {day} yet")
        listed = "phone_number\r\n" + "".join(f"{n.removeprefix('+')}\r\n" for n in numbers)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as written:
            written.writestr(f"deactivations-{day.isoformat()}.csv", listed)
        return Response(200, Body.of(archive.getvalue()), "application/zip")

    def _authorized(self, request: Request) -> bool:
        return basic_auth_matches(request, self._credentials)


def _problem(status: int, title: str, detail: str) -> Response:
    body = {"type": "https://developer.vonage.com/api-errors", "title": title,
            "detail": detail, "instance": "simulator"}  # fmt: skip
    response = json_response(status, body)
    return Response(response.status, response.body, PROBLEM)
