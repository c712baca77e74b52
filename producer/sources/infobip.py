"""Infobip's Number Activation State API: network reports, then each report's records.

    GET {base}/number-activation-state/1/network-reports?page&size&dateFrom&dateTo
    GET {base}/number-activation-state/1/network-reports/{reportId}/records?page&size

`Authorization: App <key>`; about one request a second (a shared Pacer, and
429 with Retry-After is honoured by the retry policy). Reports expire (about
60 days): those closest to expiry are published first, and a report that
expired, or vanished, before it was published is logged as a compliance gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Set
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from numguard.producer.normalize import infobip_item
from numguard.producer.sources.base import (
    Report,
    ReportMissing,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
)
from numguard.producer.sources.http import REQUEST_TIMEOUT_SECONDS, Pacer, RetryPolicy, send
from numguard.producer.sources.infobip_records import SOURCE, ReportMeta, item_row
from numguard.producer.sources.infobip_records import read_records_file as read_records_file

log = logging.getLogger(__name__)

REPORTS_PATH = "/number-activation-state/1/network-reports"
PAGE_SIZE = 500
EXPIRY_MARGIN = timedelta(days=7)
# Infobip allows about one request a second. The pacer spaces the *sends*; the
# server measures *arrivals*, and network jitter can land two requests 0.99 s
# apart there, costing a 429 and a whole second of Retry-After. 10 % slack avoids it.
REQUEST_INTERVAL_SECONDS = 1.1
GONE = "it can no longer be fetched, and its changes are lost unless Infobip sends them again"


def error_text(response: httpx.Response) -> str:
    """Infobip's own words: requestError.serviceException.text."""
    try:
        exception = response.json()["requestError"]["serviceException"]
        return f"{exception.get('messageId')}: {exception.get('text')}"
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def utc_now() -> datetime:
    return datetime.now(UTC)


class InfobipSource:
    """Reports of the look-back window, oldest first (those about to expire before them).

    The source owns `client` (None: one is made) and closes it in close().
    `today` and `now` are the older spelling of `clock`, kept for existing callers.
    """

    name = SOURCE
    normalize = staticmethod(infobip_item)

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        lookback_days: int,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
        pacer: Pacer | None = None,
        network_id: int | None = None,
        network_name: str | None = None,
        clock: Callable[[], datetime] | None = None,
        expiry_margin: timedelta = EXPIRY_MARGIN,
        today: Callable[[], date] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        # The key lives only in this header: never in a message or a log line.
        self._headers = {"Authorization": f"App {api_key}", "Accept": "application/json"}
        self._client = client or httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS)
        self._policy = policy or RetryPolicy()
        self._page_size = page_size
        self._pacer = pacer or Pacer(REQUEST_INTERVAL_SECONDS)
        self._filters = {"networkId": network_id, "networkName": network_name}
        self._lookback_days = lookback_days
        self._clock = clock or now or utc_now
        self._today = today or (lambda: self._clock().date())
        self._expiry_margin = expiry_margin
        # Report id -> its listing (network name for the carrier, generated time for ties).
        self._listed: dict[str, ReportMeta] = {}
        self._unpublished: dict[str, ReportMeta] = {}  # listed last time, not published then
        self._warned: set[str] = set()  # each lost report is reported once per process

    def reports(self, published: Set[str]) -> Iterator[Report]:
        today = self._today()
        since = today - timedelta(days=self._lookback_days)
        window = {"From": since.isoformat(), "To": today.isoformat()}
        # By the dates covered, and by when generated: a report generated late for an
        # older range is listed only by the second (the same report once, by its id).
        listed = self._list({f"date{end}": day for end, day in window.items()})
        listed.update(self._list({f"generatedDate{end}": day for end, day in window.items()}))
        self._warn_vanished(listed, published, since)
        now = self._clock()
        urgent: list[ReportMeta] = []
        usual: list[ReportMeta] = []
        for meta in listed.values():
            if meta.report_id in published:
                continue
            if meta.expires is not None and meta.expires <= now:
                self._warn_lost(meta, f"expired at {meta.expires.isoformat()}")
                continue
            self._listed[meta.report_id] = meta
            soon = meta.expires is not None and meta.expires - now <= self._expiry_margin
            (urgent if soon else usual).append(meta)
        self._unpublished = {meta.report_id: meta for meta in urgent + usual}
        urgent.sort(key=lambda m: (m.expires, m.generated, m.report_id))
        usual.sort(key=lambda m: (m.generated, m.report_id))
        for meta in urgent + usual:
            yield Report(SOURCE, meta.report_id, covers=meta.covers, expires_at=meta.expires)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        meta = self._listed.get(report.report_id)
        if meta is None:  # a report this object did not list: ask for its metadata
            meta = self._list({"reportId": report.report_id}).get(report.report_id)
        network, generated = (meta.network_name, meta.generated) if meta else ("", None)
        path = f"{REPORTS_PATH}/{quote(report.report_id, safe='')}/records"
        for position, item in enumerate(self._pages(path, {}, report.report_id), start=1):
            yield item_row(item, report.report_id, position, network, generated)

    def close(self) -> None:
        self._client.close()

    def _list(self, query: dict[str, str]) -> dict[str, ReportMeta]:
        wanted = {**query, **{k: str(v) for k, v in self._filters.items() if v is not None}}
        found: dict[str, ReportMeta] = {}
        try:
            for entry in self._pages(REPORTS_PATH, wanted):
                meta = ReportMeta.of(entry)
                found[meta.report_id] = meta  # a report moving between pages is listed once
        except UnreadableReport as error:
            # A broken list is not one report to reject: like an unreachable source, it
            # fails this poll (the poller expects SourceUnavailable from reports()).
            raise SourceUnavailable(f"{SOURCE}: {error}") from error
        return found

    def _warn_vanished(
        self, listed: dict[str, ReportMeta], published: Set[str], since: date
    ) -> None:
        """A report listed last time, unpublished, and no longer listed is lost to us."""
        for report_id, meta in self._unpublished.items():
            if report_id in listed or report_id in published:
                continue
            if meta.covers is not None and meta.covers < since:
                self._warn_lost(
                    meta, f"left the {self._lookback_days}-day look-back window",
                    "it is no longer asked for; widen the look-back window to publish it",
                )  # fmt: skip
            else:
                self._warn_lost(meta, "expired or was deleted")

    def _warn_lost(self, meta: ReportMeta, what: str, consequence: str = GONE) -> None:
        if meta.report_id in self._warned:
            return
        self._warned.add(meta.report_id)
        network = meta.network_name or "unknown network"
        log.warning(
            "infobip: report %s (%s, covering %s) %s before it was published: %s",
            meta.report_id, network, meta.covers, what, consequence,
        )  # fmt: skip

    def _pages(
        self, path: str, query: dict[str, str], report_id: str | None = None
    ) -> Iterator[Any]:
        """Every item of every page; for a report's records, 404 means it is gone."""
        what = report_id or "report list"
        page, pages, seen = 0, 1, 0
        total: int | None = None
        while page < pages:
            params = {**query, "page": str(page), "size": str(self._page_size)}
            request = self._client.build_request(
                "GET", self._base + path, params=params, headers=self._headers
            )
            with send(self._client, request, source=SOURCE, policy=self._policy,
                      describe_error=error_text, pacer=self._pacer) as response:  # fmt: skip
                try:
                    response.read()
                except httpx.HTTPError as error:  # h11 checks Content-Length: a cut-off page
                    broke = f"{type(error).__name__}: {error}"
                    raise UnreadableReport(f"{what}: page {page} broke off ({broke})") from error
            if response.status_code == 404 and report_id:
                raise ReportMissing(f"{what}: gone (expired or deleted): {error_text(response)}")
            if response.status_code != 200:
                raise SourceUnavailable(
                    f"{what}: HTTP {response.status_code}: {error_text(response)}"
                )
            results, pages, total = _page(response, what, page)
            if not results:
                break  # the list shrank while we paged (a report expired): nothing further
            seen += len(results)
            yield from results
            page += 1
        if report_id and total is not None and seen != total:
            # A report's records do not change: fewer than announced is a broken report.
            raise UnreadableReport(f"{what}: {seen} records arrived of the {total} announced")


def _page(response: httpx.Response, what: str, page: int) -> tuple[list[Any], int, int | None]:
    """A page's items, totalPages and totalResults (when given)."""
    try:
        body = response.json()
        results, paging = body["results"], body["paging"]
        pages = int(paging["totalPages"])
        total = int(paging["totalResults"]) if paging.get("totalResults") is not None else None
    except (ValueError, KeyError, TypeError) as error:
        raise UnreadableReport(f"{what}: page {page} is not the API's JSON") from error
    if not isinstance(results, list):
        raise UnreadableReport(f"{what}: page {page}: results is not a list")
    return results, pages, total
