"""Vibes carrier disconnect files, gzip'd TSV by day, behind HTTP Basic.

    GET /vibes/disconnect_YYYY_MM_DD.tsv.gz    -> 200 application/gzip:
        MDN<TAB>Carrier Code CRLF, then 8475551212<TAB>104 CRLF ... (domestic numbers)
        401 without the credentials; 404 for a day not published (yet)

The day's numbers are the same day's deactivations as the Twilio list; the
carrier code is a stable made-up code per number (Vibes' table is not public).
"""

from __future__ import annotations

import gzip
import re
import zlib
from datetime import date

from numguard.devtools.simulator.feeds import Body, CarrierData
from numguard.devtools.simulator.responses import (
    Request,
    Response,
    basic_auth_matches,
    text_response,
)

PATH = re.compile(r"/vibes/disconnect_([0-9]{4})_([0-9]{2})_([0-9]{2})\.tsv\.gz")
HEADER = "MDN\tCarrier Code\r\n"


class VibesFiles:
    def __init__(self, data: CarrierData, username: str, password: str) -> None:
        self.data = data
        self._credentials = f"{username}:{password}".encode()

    def handle(self, request: Request) -> Response | None:
        found = PATH.fullmatch(request.path)
        if found is None:
            return None
        if not self._authorized(request):
            return Response(401, Body.of(b"Unauthorized\n"), "text/plain",
                            (("WWW-Authenticate", 'Basic realm="Vibes"'),))  # fmt: skip
        try:
            day = date(*(int(part) for part in found.groups()))
        except ValueError:
            return text_response(404, "Not Found\n")
        numbers = self.data.twilio_numbers(day)
        if numbers is None:
            return text_response(404, "Not Found\n")
        lines = [HEADER] + [f"{n.removeprefix('+1')}\t{carrier_code(n)}\r\n" for n in numbers]
        return Response(200, Body.of(gzip.compress("".join(lines).encode(), mtime=0)),
                        "application/gzip")  # fmt: skip

    def _authorized(self, request: Request) -> bool:
        return basic_auth_matches(request, self._credentials)


def carrier_code(number: str) -> str:
    return str(100 + zlib.crc32(number.encode()) % 50)
