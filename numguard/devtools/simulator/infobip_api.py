"""Infobip's Number Activation State API: report metadata, then each report's records.

    GET /number-activation-state/1/network-reports?page&size&dateFrom&dateTo
        &generatedDateFrom&generatedDateTo&networkId&networkName&reportId
    GET /number-activation-state/1/network-reports/{reportId}/records?page&size

Both need `Authorization: App <key>`. Reports past their expiryDate are gone
(not listed, records 404). With a minimum interval set, a key asking again
sooner gets 429 with Retry-After, as Infobip throttles about 1 request/second.
"""

from __future__ import annotations

import hmac
import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from numguard.devtools.simulator.clock import Clock, utc
from numguard.devtools.simulator.feeds import CarrierData, InfobipReport
from numguard.devtools.simulator.responses import (
    INFOBIP_PREFIX,
    BadRequest,
    Request,
    Response,
    infobip_error,
    json_response,
)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000  # the simulator's limit; larger sizes get 400
RECORDS_PATH = re.compile(re.escape(INFOBIP_PREFIX) + r"/([^/]+)/records")


class Pacer:
    """At most one accepted request per `interval` seconds per API key."""

    def __init__(self, interval: float | None, clock: Clock) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """None (and the request counts) when it may proceed, else whole seconds to wait."""
        if not self.interval:
            return None
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return max(1, math.ceil(self.interval - (now - last)))
            self._last[key] = now
        return None


class InfobipApi:
    def __init__(
        self,
        data: CarrierData,
        api_key: str,
        clock: Clock,
        min_interval: float | None = None,
    ) -> None:
        self.data = data
        self._api_key = api_key
        self._clock = clock
        self._pacer = Pacer(min_interval, clock)

    def handle(self, request: Request) -> Response | None:
        """The response for an Infobip path, or None for any other path."""
        report_id: str | None = None
        if match := RECORDS_PATH.fullmatch(request.path):
            report_id = match.group(1)
        elif request.path.rstrip("/") != INFOBIP_PREFIX:
            return None
        key = self._authorized_key(request)
        if key is None:
            return infobip_error(401, "UNAUTHORIZED", "Invalid login details")
        wait = self._pacer.retry_after(key)
        if wait is not None:
            return infobip_error(
                429, "TOO_MANY_REQUESTS", "Too many requests", (("Retry-After", str(wait)),)
            )
        try:
            if report_id is None:
                return self._reports(request)
            return self._records(request, report_id)
        except BadRequest as error:
            return infobip_error(400, "BAD_REQUEST", str(error))

    def _authorized_key(self, request: Request) -> str | None:
        scheme, _, key = (request.header("Authorization") or "").strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "app" or not hmac.compare_digest(key.encode(), self._api_key.encode()):
            return None
        return key

    def _live(self) -> list[InfobipReport]:
        now = utc(self._clock)
        return [report for report in self.data.infobip_reports() if not report.expired(now)]

    def _reports(self, request: Request) -> Response:
        wanted = _filter(request)
        reports = sorted(
            (report for report in self._live() if wanted(report)),
            key=lambda r: (r.generated_date, r.network_id, r.report_id),
        )
        page, size = _paging(request)
        results = [report.as_json() for report in reports[page * size : (page + 1) * size]]
        return json_response(
            200, {"results": results, "paging": _paging_json(page, size, len(reports))}
        )

    def _records(self, request: Request, report_id: str) -> Response:
        if not any(report.report_id == report_id for report in self._live()):
            return infobip_error(404, "NOT_FOUND", f"Report {report_id} not found")
        page, size = _paging(request)
        total = self.data.infobip_record_count(report_id)
        start = min(page * size, total)
        results = self.data.infobip_records(report_id, start, min(start + size, total))
        return json_response(200, {"results": results, "paging": _paging_json(page, size, total)})


def _int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    text = request.param(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, not {value}")
    return value


def _paging(request: Request) -> tuple[int, int]:
    page = _int(request, "page", 0, 0, 10**9)
    size = _int(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    assert page is not None and size is not None
    return page, size


def _paging_json(page: int, size: int, total: int) -> dict[str, int]:
    return {
        "page": page,
        "size": size,
        "totalPages": math.ceil(total / size),
        "totalResults": total,
    }


def _day(request: Request, name: str) -> date | None:
    text = request.param(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be yyyy-MM-dd, not {text!r}") from None


def _moment(request: Request, name: str, end_of_day: bool) -> datetime | None:
    """A date (its start, or with `end_of_day` its last instant) or an ISO date-time."""
    text = request.param(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be yyyy-MM-dd or an ISO 8601 time, not {text!r}") from None
    if len(text) == len("yyyy-mm-dd") and end_of_day:
        value += timedelta(days=1, microseconds=-1)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _filter(request: Request) -> Callable[[InfobipReport], bool]:
    date_from, date_to = _day(request, "dateFrom"), _day(request, "dateTo")
    generated_from = _moment(request, "generatedDateFrom", end_of_day=False)
    generated_to = _moment(request, "generatedDateTo", end_of_day=True)
    network_id = _int(request, "networkId", None, 0, 2**31 - 1)
    network_name = request.param("networkName")
    report_id = request.param("reportId")

    def wanted(report: InfobipReport) -> bool:
        return (
            (date_from is None or report.date_from >= date_from)
            and (date_to is None or report.date_to <= date_to)
            and (generated_from is None or report.generated_date >= generated_from)
            and (generated_to is None or report.generated_date <= generated_to)
            and (network_id is None or report.network_id == network_id)
            and (not network_name or report.network_name.lower() == network_name.lower())
            and (not report_id or report.report_id == report_id)
        )

    return wanted
