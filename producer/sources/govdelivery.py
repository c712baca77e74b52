"""GovDelivery (Granicus) TMS: the numbers carriers reported deactivated on a day.

    GET {base}/deactivated_phone_numbers?date=YYYY-MM-DD     X-AUTH-TOKEN: <32 characters>
        -> 200 text/csv, one number a line, 11 digits with a leading 1, no header
        -> {"error": "Invalid authentication token"}          (401 assumed; 403 likewise)

Past dates only: one report per day from (today - lookback_days) to yesterday, UTC.
The list covers every carrier-reported number of the day, not only the sender's.
What TMS answers for a day not ready yet is not documented: a 404 is taken as "not
there yet" (a missed day once past due), as Convey's and Vonage's are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Set
from datetime import UTC, date, datetime
from typing import TextIO

import httpx

from numguard.producer.normalize import daily_list_line
from numguard.producer.sources.base import (
    Report,
    SourceRow,
    day_in_name,
    expected_days,
)
from numguard.producer.sources.http import REQUEST_TIMEOUT_SECONDS, RetryPolicy, download_rows

SOURCE = "govdelivery"
PATH = "/deactivated_phone_numbers"
TOKEN_HEADER = "X-AUTH-TOKEN"
NOT_THERE_YET = frozenset({404})
_BOM = "\ufeff"


def report_id(day: date) -> str:
    return f"govdelivery-deactivations-{day:%Y-%m-%d}"


def day_of(name: str) -> date:
    return day_in_name(name, "govdelivery_deactivations_YYYY-MM-DD.csv")


def read_list(lines: Iterable[str], report: str) -> Iterator[SourceRow]:
    """The numbers of one day's list; position = line number (1-based); blank lines and
    a header line (a first line without a digit) are skipped."""
    day = day_of(report).isoformat()
    for position, line in enumerate(lines, start=1):
        number = (line.removeprefix(_BOM) if position == 1 else line).strip().strip('"')
        if number and not (position == 1 and not any(c.isdigit() for c in number)):
            yield SourceRow(SOURCE, report, position, {"number": number, "date": day})


def read_list_file(stream: TextIO, report: str) -> Iterator[SourceRow]:
    """`numguard ingest`: a list saved from TMS, named with its day; streamed."""
    return read_list(stream, report)


class GovDeliverySource:
    """The source owns `client` (None: one is made) and closes it in close()."""

    name = SOURCE
    normalize = staticmethod(daily_list_line)

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        lookback_days: int,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + PATH
        self._token = token  # only ever in the request header: never in a message
        self._client = client or httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS)
        self._policy = policy or RetryPolicy()
        self._lookback_days = lookback_days
        self._today = today or (lambda: datetime.now(UTC).date())

    def reports(self, published: Set[str]) -> Iterator[Report]:
        for day in expected_days(self._today(), self._lookback_days):
            if report_id(day) not in published:
                yield Report(SOURCE, report_id(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        day = report.covers or day_of(report.report_id)
        request = self._client.build_request("GET", self._url, params={"date": f"{day:%Y-%m-%d}"})
        request.headers[TOKEN_HEADER] = self._token
        yield from download_rows(
            self._client, request,
            lambda response: read_list(response.iter_lines(), report.report_id),
            source=SOURCE, report_id=report.report_id, policy=self._policy,
            missing=NOT_THERE_YET, describe_error=_error_text,
        )  # fmt: skip

    def close(self) -> None:
        self._client.close()


def _error_text(response: httpx.Response) -> str:
    """TMS's {"error": "..."} message, or the start of the body."""
    try:
        found = response.json().get("error")
    except (ValueError, AttributeError):
        found = None
    return str(found) if found else response.text[:200]
