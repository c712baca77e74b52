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
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Set
from datetime import UTC, date, datetime, timedelta
from typing import NoReturn, TextIO

import httpx

from numguard.producer.normalize import daily_list_line
from numguard.producer.sources.base import (
    Report,
    ReportMissing,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
)
from numguard.producer.sources.http import REQUEST_TIMEOUT_SECONDS, RetryPolicy, send

log = logging.getLogger(__name__)

SOURCE = "twilio"
DEACTIVATIONS_PATH = "/v1/Deactivations"
LINK_ATTEMPTS = 3  # ask for a fresh signed link this often when one has expired
# What a signed URL answers once it has expired (S3-style 403, or 404/410 elsewhere).
EXPIRED_LINK = frozenset({403, 404, 410})
NOT_AVAILABLE_YET, TOO_OLD = 30114, 30113
FIRST_DAY = date(2020, 8, 27)  # Twilio's lists start here
_DAY_IN_NAME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")
_BOM = "\ufeff"


def report_id(day: date) -> str:
    return f"twilio-deactivations-{day:%Y-%m-%d}"


def day_of(report: str) -> date:
    """The list's day, from a report id or a file name holding YYYY-MM-DD."""
    found = _DAY_IN_NAME.search(report)
    try:
        return date.fromisoformat(found.group(1)) if found else _no_date(report)
    except ValueError:
        return _no_date(report)


def _no_date(report: str) -> NoReturn:
    raise UnreadableReport(
        f"{report}: no valid date in the name; name a saved Twilio list with its day, "
        "like twilio_deactivations_YYYY-MM-DD.txt"
    )


def read_list(lines: Iterable[str], report: str) -> Iterator[SourceRow]:
    """The numbers of one day's list; position = line number (1-based).

    Blank lines (CRLF or LF endings, a trailing blank line) are skipped; each
    number is kept as written (+1XXXXXXXXXX, 1XXXXXXXXXX or ten digits): the
    normalizer reads all three and rejects anything else with a reason.
    """
    day = day_of(report).isoformat()
    for position, line in enumerate(lines, start=1):
        number = (line.removeprefix(_BOM) if position == 1 else line).strip()
        if number:
            yield SourceRow(SOURCE, report, position, {"number": number, "date": day})


def read_list_file(stream: TextIO, report: str) -> Iterator[SourceRow]:
    """`numguard ingest`: a list saved from the signed URL, named with its date.
    Streamed line by line: a list of millions of numbers uses bounded memory."""
    return read_list(stream, report)


def utc_now() -> datetime:
    return datetime.now(UTC)


class TwilioSource:
    """One report per day from (today - lookback_days) to yesterday, UTC.

    The source owns `client` (None: one is made) and closes it in close(). The
    client must not follow redirects: the 307's link is read from its body.
    `today` is the older spelling of `clock`, kept for existing callers.
    """

    name = SOURCE
    normalize = staticmethod(daily_list_line)

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        *,
        lookback_days: int,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        link_attempts: int = LINK_ATTEMPTS,
        today: Callable[[], date] | None = None,
        first_day: date = FIRST_DAY,
    ) -> None:
        if client is not None and client.follow_redirects:
            raise ValueError("TwilioSource needs a client that does not follow redirects")
        self._base = base_url.rstrip("/")
        # The token lives only in this header: never in a message or a log line.
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._authorization = f"Basic {credentials}"
        self._client = client or httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS)
        self._policy = policy or RetryPolicy()
        self._lookback_days = lookback_days
        clock = clock or utc_now
        self._today = today or (lambda: clock().date())
        self._link_attempts = link_attempts
        # The oldest day Twilio serves: FIRST_DAY, or later once it answers 30113 "too old"
        # for a day. Older days are never asked for again: the answer is permanent.
        self._first_day = first_day
        self._skipped_logged = False

    def reports(self, published: Set[str]) -> Iterator[Report]:
        today = self._today()
        days = [today - timedelta(days=back) for back in range(self._lookback_days, 0, -1)]
        if days and days[0] < self._first_day and not self._skipped_logged:
            self._skipped_logged = True
            log.warning(
                "twilio: lists before %s are not served (30113 'too old'); the %d day(s) of "
                "the look-back window before it are not asked for",
                self._first_day, sum(1 for day in days if day < self._first_day),
            )  # fmt: skip
        for day in days:
            if day >= self._first_day and report_id(day) not in published:
                yield Report(SOURCE, report_id(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        day = report.covers or day_of(report.report_id)
        refused = 0
        for _ in range(self._link_attempts):
            # No credentials go to the signed URL (it is signed; they would leak to the
            # file host), and there a 403 means "expired", not "wrong credentials".
            request = self._client.build_request("GET", self._signed_link(report, day))
            with send(self._client, request, source=SOURCE, policy=self._policy,
                      refusals=frozenset()) as response:  # fmt: skip
                if response.status_code in EXPIRED_LINK:
                    refused = response.status_code
                    continue  # the two-minute link ran out (e.g. retries took long): ask again
                if response.status_code != 200:
                    response.read()
                    raise SourceUnavailable(
                        f"{report.report_id}: the list download: HTTP {response.status_code}"
                    )
                try:
                    yield from read_list(response.iter_lines(), report.report_id)
                except httpx.HTTPError as error:
                    # h11 checks Content-Length: a short body is a truncated download.
                    broke = f"{type(error).__name__}: {error}"
                    raise UnreadableReport(
                        f"{report.report_id}: the download broke off ({broke})"
                    ) from error
                return
        raise SourceUnavailable(
            f"{report.report_id}: {self._link_attempts} signed links in a row were refused "
            f"(last: HTTP {refused}), as links that expired before the download started"
        )

    def close(self) -> None:
        self._client.close()

    def _signed_link(self, report: Report, day: date) -> str:
        request = self._client.build_request(
            "GET", self._base + DEACTIVATIONS_PATH, params={"Date": f"{day:%Y-%m-%d}"}
        )
        request.headers["Authorization"] = self._authorization
        with send(self._client, request, source=SOURCE, policy=self._policy,
                  describe_error=_twilio_message) as response:  # fmt: skip
            try:
                response.read()
            except httpx.HTTPError as error:
                broke = f"{type(error).__name__}: {error}"
                raise UnreadableReport(
                    f"{report.report_id}: the answer broke off ({broke})"
                ) from error
        if response.status_code == 307:
            try:
                link = response.json()["redirect_to"]
            except (ValueError, KeyError, TypeError) as error:
                raise UnreadableReport(
                    f"{report.report_id}: a 307 without a redirect_to link in its body"
                ) from error
            if not isinstance(link, str) or not link.startswith(("https://", "http://")):
                raise UnreadableReport(f"{report.report_id}: redirect_to is not a URL")
            return link
        code = _twilio_code(response)
        if code == NOT_AVAILABLE_YET:
            raise ReportMissing(f"{report.report_id}: not available yet (Twilio 30114)")
        if code == TOO_OLD:
            # Permanent: said once (here), and this day and older ones are not asked again.
            self._first_day = max(self._first_day, day + timedelta(days=1))
            self._skipped_logged = False
            raise ReportMissing(
                f"{report.report_id}: Twilio no longer serves this day (30113 'Specified date "
                f"is too old'; its lists start {FIRST_DAY}): not asked for again; shorten the "
                "look-back window, and get this day's deactivations from another feed"
            )
        raise SourceUnavailable(
            f"{report.report_id}: HTTP {response.status_code}: {_twilio_message(response)}"
        )


def _twilio_code(response: httpx.Response) -> int | None:
    try:
        return int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        return None


def _twilio_message(response: httpx.Response) -> str:
    """Twilio's error body: {"code", "message", "more_info", "status"}."""
    try:
        body = response.json()
        return f"{body.get('code')} {body.get('message')}"
    except (ValueError, AttributeError):
        return response.text[:200]
