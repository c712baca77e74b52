"""Convey's daily files over HTTP: GET /convey/mcdn_deact_YYYYMMDD.csv.

Content-Length is always the file's full size, so a client can tell a cut-off
download from a short file. A day without a file is 404.
"""

from __future__ import annotations

from datetime import date, datetime

from numguard.devtools.simulator.feeds import CONVEY_FILE, CarrierData
from numguard.devtools.simulator.responses import Request, Response, text_response

PREFIX = "/convey/"
CSV = "text/csv; charset=utf-8"


class ConveyFiles:
    def __init__(self, data: CarrierData) -> None:
        self.data = data

    def handle(self, request: Request) -> Response | None:
        """The response for a Convey path, or None for any other path."""
        if not request.path.startswith(PREFIX):
            return None
        match = CONVEY_FILE.fullmatch(request.path.removeprefix(PREFIX))
        day = _day(match.group(1)) if match else None
        body = None if day is None else self.data.convey_file(day)
        if body is None:
            return text_response(404, "Not Found\n")
        return Response(200, body, CSV)


def _day(digits: str) -> date | None:
    try:
        return datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        return None
