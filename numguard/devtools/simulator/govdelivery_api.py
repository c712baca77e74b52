"""GovDelivery TMS's deactivated numbers: the day's list as text/csv.

    GET /deactivated_phone_numbers?date=YYYY-MM-DD      X-AUTH-TOKEN: <token>
        -> 200 text/csv: 15075551212 CRLF ... (11 digits, a leading 1, no header)
        -> 401 {"error": "Invalid authentication token"}
        -> 400 {"error": "..."} for a date that is not a past YYYY-MM-DD
        -> 404 {"error": "..."} for a day not published (yet): the simulator's choice,
           TMS does not document it

It serves the same day's deactivations as the Twilio list (every carrier-reported
number of the day), so missing days and faults apply to both alike.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import date

from numguard.devtools.simulator.feeds import Body, CarrierData
from numguard.devtools.simulator.responses import Request, Response, json_response

PATH = "/deactivated_phone_numbers"


class GovDeliveryApi:
    def __init__(self, data: CarrierData, token: str) -> None:
        self.data = data
        self._token = token.encode()

    def handle(self, request: Request) -> Response | None:
        if request.path != PATH:
            return None
        given = (request.header("X-AUTH-TOKEN") or "").encode()
        if not hmac.compare_digest(given, self._token):
            return json_response(401, {"error": "Invalid authentication token"})
        text = request.param("date") or ""
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return json_response(400, {"error": f"date must be YYYY-MM-DD, not {text!r}"})
        numbers = self.data.twilio_numbers(day)
        if numbers is None:
            return json_response(404, {"error": f"no deactivated numbers published for {day}"})
        listed = list(numbers)

        def lines() -> Iterator[str]:
            for number in listed:
                yield number.removeprefix("+") + "\r\n"

        body = Body.of_lines(lines, sum(len(n) + 1 for n in listed))
        return Response(200, body, "text/csv; charset=utf-8")
