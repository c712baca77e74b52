"""Telesign's deactivated numbers: a list of per-carrier daily zips to download.

    GET {base}/files               -> {"list_of_files": ["att-deacts_20210719.zip", ...],
                                       "code": 2200, "description": "..."}
    GET {base}/download/{file}     -> the zip (application/octet-stream)
    Basic auth (Customer ID : API key). Errors {code, description}: 2201 (401),
    2203 (403), 2204 (404, file missing or deleted), 2250 (500).

Each listed file not published yet is a report; its day and carrier come from its
name. ASSUMED (the columns page was not found): a CSV with a header naming a
phone-number column (phone_number, phone, number, mdn or msisdn) and perhaps a date
column (date, deactivation_date, deact_date or disconnect_date) and a status column;
without a header it is one number a line, dated by the file's day. In Verizon
Wireless files only rows whose status is `deactivated` are deactivations; the others
are counted as ignored. The list gives no expected day, so a carrier's day that
never appears is not detected here (the other feeds' missed days still are).
"""

from __future__ import annotations

import base64
import csv
import re
from collections.abc import Iterable, Iterator, Set
from datetime import UTC, date, datetime
from typing import BinaryIO

import httpx

from numguard.core.phone import InvalidNumber, mask, north_american
from numguard.core.times import parse_date_or_time
from numguard.producer.normalize import event_id, printable
from numguard.producer.sources.archives import file_chunks, unzip_lines
from numguard.producer.sources.base import (
    BAD_ROW,
    Ignored,
    Normalized,
    Rejection,
    RejectKind,
    Report,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
)
from numguard.producer.sources.http import (
    REQUEST_TIMEOUT_SECONDS,
    RetryPolicy,
    download_rows,
    send,
)
from numguard.schemas.events import EventType, StateChange

SOURCE = "telesign"
FILE_NAME = re.compile(r"([a-z0-9_]+)-deacts_([0-9]{4})([0-9]{2})([0-9]{2})\.zip", re.IGNORECASE)
NUMBER_COLUMNS = ("phone_number", "phone", "number", "mdn", "msisdn")
DATE_COLUMNS = ("date", "deactivation_date", "deact_date", "disconnect_date")
STATUS_DEACTIVATED = "deactivated"
MISSING = frozenset({404})


def day_and_carrier(name: str) -> tuple[date, str] | None:
    found = FILE_NAME.fullmatch(name)
    if found is None:
        return None
    try:
        return date(*(int(part) for part in found.groups()[1:])), found.group(1).lower()
    except ValueError:
        return None


def read_rows(lines: Iterable[str], report: str) -> Iterator[SourceRow]:
    """Rows with the fields number, date (the row's or the file's day), carrier and
    status (empty when the file has none); positions count records (header: 1)."""
    named = day_and_carrier(report)
    if named is None:
        raise UnreadableReport(
            f"{report}: not a Telesign file name ({{carrier}}-deacts_YYYYMMDD.zip)"
        )
    day, carrier = named
    reader = csv.reader(lines)
    columns: dict[str, int] = {"number": 0}  # no header: one number a line
    position = 0
    while True:
        position += 1
        try:
            values = next(reader, None)
        except csv.Error as error:
            yield SourceRow(SOURCE, report, position, {BAD_ROW: f"not readable as CSV: {error}"})
            continue
        if values is None:
            return
        if not values or values == [""]:
            continue
        if position == 1 and not any(ch.isdigit() for ch in values[0]):
            columns = _columns(values, report)
            continue
        if max(columns.values()) >= len(values):
            yield SourceRow(SOURCE, report, position,
                            {BAD_ROW: f"{len(values)} fields, too few for the header"})  # fmt: skip
            continue
        fields = {"carrier": carrier, "file_day": day.isoformat()}
        fields.update({name: values[index].strip() for name, index in columns.items()})
        yield SourceRow(SOURCE, report, position, fields)


def _columns(header: list[str], report: str) -> dict[str, int]:
    names = [value.strip().lower().lstrip("\ufeff") for value in header]
    number = next((c for c in NUMBER_COLUMNS if c in names), None)
    if number is None:
        raise UnreadableReport(
            f"{report}: no phone-number column in the header {header!r} (one of "
            f"{', '.join(NUMBER_COLUMNS)})"
        )
    columns = {"number": names.index(number)}
    for name, candidates in (("date", DATE_COLUMNS), ("status", ("status",))):
        if match := next((c for c in candidates if c in names), None):
            columns[name] = names.index(match)
    return columns


def read_file(stream: BinaryIO, report: str) -> Iterator[SourceRow]:
    """`numguard ingest`: a saved zip under its own name ({carrier}-deacts_YYYYMMDD.zip)."""
    return read_rows(unzip_lines(file_chunks(stream), report), report)


def telesign_row(row: SourceRow, ingested_at: datetime) -> Normalized:
    """A deactivation at the row's date (or the file's day, at its start, UTC)."""
    fields = printable(row)
    if BAD_ROW in fields:
        return Rejection(row, RejectKind.BAD_SHAPE, fields[BAD_ROW])
    status = fields.get("status", "").lower()
    if fields["carrier"].startswith("verizon") and status != STATUS_DEACTIVATED:
        return Ignored(row, f"a Verizon Wireless row with status {status or 'none'!r}")
    try:
        mdn = north_american(fields["number"])
    except InvalidNumber:
        return Rejection(row, RejectKind.BAD_NUMBER,
                         f"{mask(fields['number'])!r} is not a North American number")  # fmt: skip
    try:
        when = parse_date_or_time(fields.get("date") or fields["file_day"])
    except ValueError:
        return Rejection(row, RejectKind.BAD_TIME, f"date {fields.get('date')!r} is not ISO 8601")
    effective_at = when if isinstance(when, datetime) else datetime.combine(
        when, datetime.min.time(), UTC)  # fmt: skip
    content = f"{mdn}|{effective_at.isoformat()}|{fields['carrier']}"
    return StateChange(
        event_id=event_id(SOURCE, row.report_id, content), mdn=mdn,
        event_type=EventType.DEACTIVATED, effective_at=effective_at, new_mdn=None,
        carrier=fields["carrier"], source=SOURCE, report_id=row.report_id,
        report_position=row.position, raw_reason=status.upper() or "DEACTIVATED",
        ingested_at=ingested_at,
        report_generated_at=datetime.combine(date.fromisoformat(fields["file_day"]),
                                             datetime.min.time(), UTC),
    )  # fmt: skip


class TelesignSource:
    name = SOURCE
    normalize = staticmethod(telesign_row)

    def __init__(
        self,
        base_url: str,
        customer_id: str,
        api_key: str,
        *,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        pair = base64.b64encode(f"{customer_id}:{api_key}".encode()).decode()
        self._authorization = f"Basic {pair}"
        self._client = client or httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS)
        self._policy = policy or RetryPolicy()

    def reports(self, published: Set[str]) -> Iterator[Report]:
        request = self._client.build_request("GET", self._base + "/files")
        request.headers["Authorization"] = self._authorization
        with send(self._client, request, source=SOURCE, policy=self._policy,
                  describe_error=_description) as response:  # fmt: skip
            response.read()
        if response.status_code != 200:
            raise SourceUnavailable(f"telesign: the file list: HTTP {response.status_code}: "
                                    f"{_description(response)}")  # fmt: skip
        try:
            names = response.json()["list_of_files"]
        except (ValueError, KeyError, TypeError) as error:
            raise SourceUnavailable(
                f"telesign: the file list is not Telesign's JSON ({error})"
            ) from None
        if not isinstance(names, list):
            raise SourceUnavailable("telesign: list_of_files is not a list")
        files = sorted((named[0], str(name)) for name in names
                       if (named := day_and_carrier(str(name))) is not None)  # fmt: skip
        for day, name in files:
            if name not in published:
                yield Report(SOURCE, name, covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        request = self._client.build_request("GET", f"{self._base}/download/{report.report_id}")
        request.headers["Authorization"] = self._authorization
        name = report.report_id
        # A 404 here: listed, then deleted before the download (Telesign's 2204).
        yield from download_rows(
            self._client, request,
            lambda response: read_rows(unzip_lines(response.iter_raw(), name), name),
            source=SOURCE, report_id=name, policy=self._policy, missing=MISSING,
            describe_error=_description,
        )  # fmt: skip

    def close(self) -> None:
        self._client.close()


def _description(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('code')} {body.get('description')}".strip()
    except (ValueError, AttributeError):
        return response.text[:200]
