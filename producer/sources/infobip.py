"""Infobip's Number Activation State API: network reports, then each report's records.

    GET {base}/number-activation-state/1/network-reports?page&size&dateFrom&dateTo
    GET {base}/number-activation-state/1/network-reports/{reportId}/records?page&size

`Authorization: App <key>`; about one request a second (a shared Pacer, and
429 with Retry-After is honoured by the retry policy). Reports expire (about
60 days): those closest to expiry are published first, and a report that
vanishes before it was published is logged as a compliance gap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Set
from datetime import date, datetime, timedelta
from typing import Any, TextIO

import httpx

from producer.normalize import infobip_item, parse_time
from producer.sources.base import (
    Report,
    ReportMissing,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
)
from producer.sources.http import Pacer, RetryPolicy, send

log = logging.getLogger(__name__)

SOURCE = "infobip"
REPORTS_PATH = "/number-activation-state/1/network-reports"
PAGE_SIZE = 500
EXPIRY_MARGIN = timedelta(days=7)
# Infobip allows about one request a second; a little slack absorbs network jitter,
# which otherwise lands two requests less than a second apart at their end.
REQUEST_INTERVAL_SECONDS = 1.1
ITEM_FIELDS = ("date", "destination", "type", "newDestination")


def error_text(response: httpx.Response) -> str:
    """Infobip's own words: requestError.serviceException.text."""
    try:
        exception = response.json()["requestError"]["serviceException"]
        return f"{exception.get('messageId')}: {exception.get('text')}"
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def _item_row(item: Any, report_id: str, position: int, network: str) -> SourceRow:
    if not isinstance(item, dict):
        return SourceRow(SOURCE, report_id, position, {"_item": json.dumps(item)[:500]})
    fields = {name: str(item[name]) for name in ITEM_FIELDS if item.get(name) is not None}
    return SourceRow(SOURCE, report_id, position, {**fields, "networkName": network})


def read_records_file(stream: TextIO, report_id: str) -> Iterator[SourceRow]:
    """`numguard ingest`: records saved from the API ({"results": [...]} or a list).

    One page of the API is small, so the file is parsed whole; a saved report of
    millions of items should be split into its pages."""
    try:
        document = json.load(stream)
    except json.JSONDecodeError as error:
        where = f"{error.msg} at line {error.lineno}"
        raise UnreadableReport(f"{report_id}: not JSON ({where})") from error
    items = document.get("results") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise UnreadableReport(f'{report_id}: expected {{"results": [...]}} or a list of records')
    network = document.get("networkName", "") if isinstance(document, dict) else ""
    for position, item in enumerate(items, start=1):
        yield _item_row(item, report_id, position, str(network))


class InfobipSource:
    name = SOURCE

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: httpx.Client,
        policy: RetryPolicy,
        lookback_days: int,
        today: Callable[[], date],
        now: Callable[[], datetime],
        pacer: Pacer | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"App {api_key}", "Accept": "application/json"}
        self._client = client
        self._policy = policy
        self._lookback_days = lookback_days
        self._today = today
        self._now = now
        self._pacer = pacer or Pacer(REQUEST_INTERVAL_SECONDS)
        self._page_size = page_size
        self._networks: dict[str, str] = {}  # report id -> network name, for the carrier
        self._unpublished: set[str] = set()  # listed before and not published yet

    def reports(self, published: Set[str]) -> Iterator[Report]:
        since = self._today() - timedelta(days=self._lookback_days)
        listed = list(self._pages(REPORTS_PATH, {"dateFrom": since.isoformat()}))
        found = {}
        for meta in listed:
            try:
                found[str(meta["reportId"])] = meta
            except (KeyError, TypeError) as error:
                raise UnreadableReport(
                    f"report list: an entry without a reportId: {meta!r}"
                ) from error
        for gone in sorted(self._unpublished - found.keys() - published):
            log.warning("infobip: report %s expired or was deleted before it was published: "
                        "its changes are lost unless Infobip sends them again", gone)  # fmt: skip
        self._unpublished = set(found) - published
        now = self._now()
        pending = []
        for report_id, meta in found.items():
            if report_id in published:
                continue
            self._networks[report_id] = str(meta.get("networkName") or "")
            expires = _moment(meta.get("expiryDate"))
            covers = _day(meta.get("dateFrom"))
            urgent = expires is not None and expires - now < EXPIRY_MARGIN
            report = Report(SOURCE, report_id, covers=covers, expires_at=expires)
            pending.append((not urgent, str(meta.get("generatedDate")), report_id, report))
        for *_, report in sorted(pending, key=lambda entry: entry[:3]):
            yield report

    def rows(self, report: Report) -> Iterator[SourceRow]:
        network = self._networks.get(report.report_id, "")
        path = f"{REPORTS_PATH}/{report.report_id}/records"
        for position, item in enumerate(self._pages(path, {}, report.report_id), start=1):
            yield _item_row(item, report.report_id, position, network)

    normalize = staticmethod(infobip_item)

    def close(self) -> None:
        self._client.close()

    def _pages(
        self, path: str, query: dict[str, str], report_id: str | None = None
    ) -> Iterator[Any]:
        page, pages = 0, 1
        while page < pages:
            params = {**query, "page": str(page), "size": str(self._page_size)}
            request = self._client.build_request("GET", self._base + path, params=params,
                                                 headers=self._headers)  # fmt: skip
            with send(self._client, request, source=SOURCE, policy=self._policy,
                      describe_error=error_text, pacer=self._pacer) as response:  # fmt: skip
                response.read()
            what = report_id or "report list"
            if response.status_code == 404 and report_id:
                raise ReportMissing(
                    f"{report_id}: gone (expired or deleted): {error_text(response)}"
                )
            if response.status_code != 200:
                raise SourceUnavailable(
                    f"{what}: HTTP {response.status_code}: {error_text(response)}"
                )
            try:
                body = response.json()
                results, pages = body["results"], int(body["paging"]["totalPages"])
                assert isinstance(results, list)
            except (ValueError, KeyError, TypeError, AssertionError) as error:
                raise UnreadableReport(f"{what}: page {page} is not the API's JSON") from error
            yield from results
            page += 1


def _moment(text: object) -> datetime | None:
    """expiryDate and friends: the spec says yyyy-MM-dd, its example a date-time."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def _day(text: object) -> date | None:
    moment = _moment(text)
    return moment.date() if moment else None
