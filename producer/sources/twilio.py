"""Twilio-style Deactivations: one list of deactivated numbers per day.

GET {base}/v1/Deactivations?Date=YYYY-MM-DD (HTTP basic auth: account SID and
auth token) answers 307 with {"redirect_to": "<signed URL>"}: a text file,
one number per line, valid for about two minutes. The link is in the JSON body
(not followed as a redirect) and is downloaded at once, without credentials;
an expired link is asked for again. Error 30114 (the day is not available yet)
and 30113 (too old) mean the day's list is missing, not that Twilio failed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Iterator, Set
from datetime import date, timedelta
from typing import TextIO

import httpx

from producer.normalize import twilio_line
from producer.sources.base import (
    Report,
    ReportMissing,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
)
from producer.sources.http import RetryPolicy, send

SOURCE = "twilio"
LINK_ATTEMPTS = 3  # ask for a fresh signed link this often when one has expired
_EXPIRED_LINK = frozenset({403, 404, 410})
_DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
NOT_AVAILABLE_YET, TOO_OLD = 30114, 30113


def report_id(day: date) -> str:
    return f"twilio-deactivations-{day:%Y-%m-%d}"


def day_of(report: str) -> date:
    found = _DAY_IN_NAME.search(report)
    if not found:
        raise UnreadableReport(
            f"{report}: no date in the name; name a Twilio list like "
            "twilio_deactivations_YYYY-MM-DD.txt"
        )
    return date.fromisoformat(found.group(1))


def read_list(lines: Iterable[str], report: str) -> Iterator[SourceRow]:
    """The numbers of one day's list; position = line number. Blank lines are skipped."""
    day = day_of(report)
    for position, line in enumerate(lines, start=1):
        number = line.strip()
        if number:
            yield SourceRow(SOURCE, report, position, {"number": number, "date": day.isoformat()})


def read_list_file(stream: TextIO, report: str) -> Iterator[SourceRow]:
    """`numguard ingest`: a list saved from the signed URL, named with its date."""
    return read_list(stream, report)


class TwilioSource:
    name = SOURCE

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        *,
        client: httpx.Client,
        policy: RetryPolicy,
        lookback_days: int,
        today: Callable[[], date],
    ) -> None:
        self._base = base_url.rstrip("/")
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._authorization = f"Basic {credentials}"
        self._client = client
        self._policy = policy
        self._lookback_days = lookback_days
        self._today = today

    def reports(self, published: Set[str]) -> Iterator[Report]:
        today = self._today()
        for back in range(self._lookback_days, 0, -1):
            day = today - timedelta(days=back)
            if report_id(day) not in published:
                yield Report(SOURCE, report_id(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        assert report.covers is not None
        for _ in range(LINK_ATTEMPTS):
            link = self._signed_link(report)
            request = self._client.build_request("GET", link)
            # No credentials go to the signed URL; its 403 means the link expired.
            with send(self._client, request, source=SOURCE, policy=self._policy,
                      refusals=frozenset()) as response:  # fmt: skip
                if response.status_code in _EXPIRED_LINK:
                    continue  # the two-minute link ran out: ask for a new one
                if response.status_code != 200:
                    response.read()
                    status = response.status_code
                    raise SourceUnavailable(f"{report.report_id}: the list download: HTTP {status}")
                try:
                    yield from read_list(response.iter_lines(), report.report_id)
                except httpx.HTTPError as error:
                    raise UnreadableReport(
                        f"{report.report_id}: the download broke off ({error})"
                    ) from error
                return
        raise SourceUnavailable(f"{report.report_id}: {LINK_ATTEMPTS} signed links expired in turn")

    def _signed_link(self, report: Report) -> str:
        assert report.covers is not None
        request = self._client.build_request(
            "GET", f"{self._base}/v1/Deactivations", params={"Date": f"{report.covers:%Y-%m-%d}"}
        )
        request.headers["Authorization"] = self._authorization
        with send(self._client, request, source=SOURCE, policy=self._policy,
                  describe_error=_twilio_message) as response:  # fmt: skip
            response.read()
            if response.status_code == 307:
                try:
                    return str(response.json()["redirect_to"])
                except (ValueError, KeyError, TypeError) as error:
                    raise UnreadableReport(
                        f"{report.report_id}: a 307 without a redirect_to link"
                    ) from error
            code = _twilio_code(response)
            if code == NOT_AVAILABLE_YET:
                raise ReportMissing(f"{report.report_id}: not available yet (Twilio 30114)")
            if code == TOO_OLD:
                raise ReportMissing(f"{report.report_id}: too old for Twilio (30113)")
            raise SourceUnavailable(
                f"{report.report_id}: HTTP {response.status_code}: {_twilio_message(response)}"
            )

    normalize = staticmethod(twilio_line)

    def close(self) -> None:
        self._client.close()


def _twilio_code(response: httpx.Response) -> int | None:
    try:
        return int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        return None


def _twilio_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('code')} {body.get('message')}"
    except ValueError:
        return response.text[:200]
