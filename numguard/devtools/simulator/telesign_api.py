"""Telesign's deactivated numbers: a list of per-carrier daily zips, then each zip.

    GET /files                -> {"list_of_files": [...], "code": 2200, "description": ...}
    GET /download/{file}      -> application/octet-stream, the zip
    Basic auth (customer ID : API key): else 401 {"code": 2201, ...}; 404 {"code": 2204}

Each day's deactivations (the Twilio list's) are split between two carriers by a hash:
`att-deacts_YYYYMMDD.zip` and `verizon-deacts_YYYYMMDD.zip`, each a CSV with the
header phone_number,date,status. Verizon's also lists numbers whose status is
`active` (not deactivations: a reader must skip them), as Telesign's Verizon files do.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from datetime import date

from numguard.devtools.simulator.feeds import Body, CarrierData
from numguard.devtools.simulator.responses import (
    Request,
    Response,
    basic_auth_matches,
    json_response,
)

FILE = re.compile(r"/download/(att|verizon)-deacts_([0-9]{4})([0-9]{2})([0-9]{2})\.zip")
CARRIERS = ("att", "verizon")


def carrier_of(number: str) -> str:
    return CARRIERS[zlib.crc32(number.encode()) % 2]


def active_decoy(number: str) -> str:
    """A number Verizon's file lists as still active: not a deactivation."""
    return number[:-4] + f"{(int(number[-4:]) + 5000) % 10000:04d}"


class TelesignApi:
    def __init__(self, data: CarrierData, customer_id: str, api_key: str, days: list[date]) -> None:
        self.data = data
        self._credentials = f"{customer_id}:{api_key}".encode()
        self._days = days

    def handle(self, request: Request) -> Response | None:
        found = FILE.fullmatch(request.path)
        if request.path != "/files" and found is None:
            return None
        if not self._authorized(request):
            return json_response(401, {"code": 2201, "description": "Unauthorized"})
        if found is None:
            served = [day for day in self._days if self.data.twilio_numbers(day) is not None]
            names = [f"{carrier}-deacts_{day:%Y%m%d}.zip" for day in served for carrier in CARRIERS]
            listing = {"list_of_files": names, "code": 2200,
                       "description": "Request successfully completed"}  # fmt: skip
            return json_response(200, listing)
        carrier = found.group(1)
        try:
            day = date(*(int(part) for part in found.groups()[1:]))
        except ValueError:
            return json_response(404, {"code": 2204, "description": "File not found"})
        numbers = self.data.twilio_numbers(day)
        if numbers is None:
            return json_response(404, {"code": 2204, "description": "File not found"})
        rows = ["phone_number,date,status\r\n"]
        for number in numbers:
            if carrier_of(number) == carrier:
                rows.append(f"{number.removeprefix('+')},{day.isoformat()},deactivated\r\n")
                if carrier == "verizon":
                    rows.append(f"{active_decoy(number).removeprefix('+')},{day},active\r\n")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as written:
            written.writestr(f"{carrier}-deacts_{day:%Y%m%d}.csv", "".join(rows))
        return Response(200, Body.of(archive.getvalue()), "application/octet-stream")

    def _authorized(self, request: Request) -> bool:
        return basic_auth_matches(request, self._credentials)
