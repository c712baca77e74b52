"""A report generated late for an older range, against a server written from the spec.

Not the project's simulator: a few lines of Infobip's list endpoint, filtering as
../shared/specs/carrier-feeds.md says (dateFrom/dateTo: the dates a report covers;
generatedDateFrom/generatedDateTo: when it was generated).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from numguard.producer.sources.http import Pacer
from numguard.producer.sources.infobip import InfobipSource
from numguard.schemas.events import EventType, StateChange

NOW = datetime(2024, 6, 20, 9, tzinfo=UTC)
YESTERDAY = NOW.date() - timedelta(days=1)
LONG_AGO = NOW.date() - timedelta(days=40)
REPORTS: list[dict[str, Any]] = [
    {"reportId": "on-time", "networkName": "Verizon Wireless", "networkId": 1717,
     "generatedDate": f"{YESTERDAY}T06:00:00Z", "dateFrom": f"{YESTERDAY}",
     "dateTo": f"{YESTERDAY}", "expiryDate": "2024-08-19"},
    # Generated yesterday for dates 40 days back: outside a 14-day window of dateFrom.
    {"reportId": "late", "networkName": "AT&T Mobility", "networkId": 1733,
     "generatedDate": f"{YESTERDAY}T07:00:00Z", "dateFrom": f"{LONG_AGO}",
     "dateTo": f"{LONG_AGO}", "expiryDate": "2024-08-19"},
]  # fmt: skip
RECORDS = {
    "on-time": [{"date": f"{YESTERDAY}T11:00:00.000+0000", "destination": "12025550101",
                 "type": "SUSPENSION"}],
    "late": [{"date": f"{LONG_AGO}T11:00:00.000+0000", "destination": "12025550102",
              "type": "DEACTIVATION"}],
}  # fmt: skip


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


def _listed(query: dict[str, str]) -> list[dict[str, Any]]:
    found = REPORTS
    if "dateFrom" in query:
        found = [r for r in found if _day(r["dateFrom"]) >= _day(query["dateFrom"])]
    if "dateTo" in query:
        found = [r for r in found if _day(r["dateTo"]) <= _day(query["dateTo"])]
    if "generatedDateFrom" in query:
        found = [r for r in found if _day(r["generatedDate"]) >= _day(query["generatedDateFrom"])]
    if "generatedDateTo" in query:
        found = [r for r in found if _day(r["generatedDate"]) <= _day(query["generatedDateTo"])]
    return found


class SpecHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        items = RECORDS.get(parts[3], []) if len(parts) == 5 else _listed(query)
        body = json.dumps(
            {
                "results": items,
                "paging": {
                    "page": 0,
                    "size": len(items),
                    "totalPages": 1,
                    "totalResults": len(items),
                },
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def spec_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SpecHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_report_generated_late_for_older_dates_is_fetched() -> None:
    """Issue 10, case 10: listed by dateFrom only, the late report was never fetched."""
    with spec_server() as base:
        source = InfobipSource(base, "key", lookback_days=14, clock=lambda: NOW,
                               pacer=Pacer(0.0))  # fmt: skip
        try:
            reports = list(source.reports(set()))
            assert sorted(r.report_id for r in reports) == ["late", "on-time"]  # each once
            (late,) = [r for r in reports if r.report_id == "late"]
            (event,) = [source.normalize(row, NOW) for row in source.rows(late)]
        finally:
            source.close()
    assert isinstance(event, StateChange)
    assert (event.mdn, event.event_type, event.carrier) == (
        "+12025550102", EventType.DEACTIVATED, "AT&T Mobility",
    )  # fmt: skip
