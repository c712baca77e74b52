"""Vonage US number deactivations: a day's zip of deactivated numbers.

    GET {base}/v1/numbers/deactivations?date=YYYY-MM-DD
        Authorization: Basic base64(api_key:api_secret)   (or Bearer <application JWT>)
        -> 200 application/zip; 401/403 with an RFC 7807 body {type, title, detail}

A date within the last 31 days; a day's file appears the next day after 02:00 UTC.
What the zip holds is not documented where read. ASSUMED: a .csv or .txt with one US
number a line (E.164 digits, perhaps a header, perhaps more columns after the
number: the first column is read). A 404 is taken as "not published yet" (a missed
day once past due) and a 400 as a date outside the 31 days.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Set
from datetime import UTC, date, datetime
from typing import BinaryIO

import httpx

from numguard.producer.normalize import daily_list_line
from numguard.producer.sources.archives import file_chunks, unzip_lines
from numguard.producer.sources.base import (
    Report,
    SourceRow,
    day_in_name,
    expected_days,
    first_column_numbers,
)
from numguard.producer.sources.http import REQUEST_TIMEOUT_SECONDS, RetryPolicy, download_rows

SOURCE = "vonage"
PATH = "/v1/numbers/deactivations"
MAX_LOOKBACK_DAYS = 31  # Vonage serves no older day
# 404: not published yet; 400: a date outside the 31 days (both assumed).
NOT_THERE = frozenset({400, 404})


def report_id(day: date) -> str:
    return f"vonage-deactivations-{day:%Y-%m-%d}.zip"


def day_of(name: str) -> date:
    return day_in_name(name, "vonage-deactivations-YYYY-MM-DD.zip")


def read_rows(lines: Iterable[str], report: str) -> Iterator[SourceRow]:
    """ASSUMED shape: a number a line (see the module's docstring)."""
    return first_column_numbers(lines, SOURCE, report, day_of(report))


def read_file(stream: BinaryIO, report: str) -> Iterator[SourceRow]:
    """`numguard ingest`: a saved zip, named with its day (vonage-deactivations-YYYY-MM-DD.zip)."""
    return read_rows(unzip_lines(file_chunks(stream), report), report)


class VonageSource:
    name = SOURCE
    normalize = staticmethod(daily_list_line)

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        bearer_token: str | None = None,
        lookback_days: int,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        if bearer_token:
            self._authorization = f"Bearer {bearer_token}"
        elif api_key and api_secret:
            pair = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
            self._authorization = f"Basic {pair}"
        else:
            raise ValueError("Vonage needs an API key and secret, or a bearer token")
        self._url = base_url.rstrip("/") + PATH
        self._client = client or httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS)
        self._policy = policy or RetryPolicy()
        self._lookback_days = min(lookback_days, MAX_LOOKBACK_DAYS)
        self._today = today or (lambda: datetime.now(UTC).date())

    def reports(self, published: Set[str]) -> Iterator[Report]:
        for day in expected_days(self._today(), self._lookback_days):
            if report_id(day) not in published:
                yield Report(SOURCE, report_id(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        day = report.covers or day_of(report.report_id)
        request = self._client.build_request("GET", self._url, params={"date": f"{day:%Y-%m-%d}"})
        request.headers["Authorization"] = self._authorization
        name = report.report_id
        yield from download_rows(
            self._client, request,
            lambda response: read_rows(unzip_lines(response.iter_raw(), name), name),
            source=SOURCE, report_id=name, policy=self._policy,
            missing=NOT_THERE, describe_error=_problem,
        )  # fmt: skip

    def close(self) -> None:
        self._client.close()


def _problem(response: httpx.Response) -> str:
    """An RFC 7807 body's title and detail, or the start of the body."""
    try:
        body = response.json()
        return " ".join(str(body[k]) for k in ("title", "detail") if body.get(k)) or "no detail"
    except (ValueError, AttributeError):
        return response.text[:200]
