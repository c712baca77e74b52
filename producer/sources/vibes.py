"""Vibes carrier disconnect files: a day's disconnected numbers, gzip'd TSV.

    disconnect_YYYY_MM_DD.tsv.gz          domestic: MDN 8475551212
    disconnect_intl_YYYY_MM_DD.tsv.gz     international: MDN +18475551212

Two TAB-separated columns, MDN and Carrier Code (an opaque code, kept as the
carrier), no quoting; a header row is tolerated. Published at the end of the day
(US Central); numguard asks for a day once it has ended everywhere in the US.
How the files are delivered was not documented where read: over HTTPS (a URL
template, HTTP Basic when VIBES_USERNAME and VIBES_PASSWORD are set) or dropped
into a folder (Vibes' SFTP /files/out, mirrored). Both are supported; numguard
fetches the domestic files.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Iterator, Set
from datetime import date
from pathlib import Path
from typing import BinaryIO

import httpx

from numguard.producer.normalize import vibes_row
from numguard.producer.sources.archives import file_chunks, gunzip_lines
from numguard.producer.sources.base import (
    BAD_ROW,
    Report,
    ReportMissing,
    SourceRow,
    UnreadableReport,
    expected_days,
)
from numguard.producer.sources.http import RetryPolicy, download_rows

SOURCE = "vibes"
FILE_NAME = re.compile(r"disconnect_(?:intl_)?([0-9]{4})_([0-9]{2})_([0-9]{2})\.tsv\.gz")
COLUMNS = 2


def file_name(day: date) -> str:
    return f"disconnect_{day:%Y_%m_%d}.tsv.gz"


def day_of(name: str) -> date | None:
    found = FILE_NAME.fullmatch(name)
    try:
        return date(*(int(part) for part in found.groups())) if found else None
    except ValueError:
        return None


def read_rows(lines: Iterable[str], report_id: str) -> Iterator[SourceRow]:
    """Rows numbered as lines (1-based); a first line without a digit is a header."""
    day = day_of(report_id)
    if day is None:
        raise UnreadableReport(
            f"{report_id}: not a Vibes file name (disconnect_YYYY_MM_DD.tsv.gz): its day is unknown"
        )
    for position, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if not text.strip() or (position == 1 and not any(c.isdigit() for c in text)):
            continue
        values = text.split("\t")
        if len(values) != COLUMNS:
            problem = f"{len(values)} TAB-separated fields where the file has {COLUMNS}"
            yield SourceRow(SOURCE, report_id, position, {BAD_ROW: problem})
            continue
        number, carrier_code = values
        yield SourceRow(SOURCE, report_id, position,
                        {"number": number, "carrier_code": carrier_code,
                         "date": day.isoformat()})  # fmt: skip


def read_file(stream: BinaryIO, report_id: str) -> Iterator[SourceRow]:
    """`numguard ingest` and the folder source: a saved file, decompressed as read."""
    return read_rows(gunzip_lines(file_chunks(stream), report_id), report_id)


class VibesHttpSource:
    """Daily files by date: `url_template` holds {date:%Y_%m_%d}."""

    name = SOURCE
    normalize = staticmethod(vibes_row)

    def __init__(
        self,
        url_template: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client: httpx.Client,
        policy: RetryPolicy,
        lookback_days: int,
        today: Callable[[], date],
    ) -> None:
        self._template = url_template
        self._authorization = (
            "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
            if username and password else None
        )  # fmt: skip
        self._client = client
        self._policy = policy
        self._lookback_days = lookback_days
        self._today = today

    def reports(self, published: Set[str]) -> Iterator[Report]:
        for day in expected_days(self._today(), self._lookback_days):
            if file_name(day) not in published:
                yield Report(SOURCE, file_name(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        assert report.covers is not None
        request = self._client.build_request("GET", self._template.format(date=report.covers))
        if self._authorization:
            request.headers["Authorization"] = self._authorization
        name = report.report_id
        yield from download_rows(
            self._client, request,
            # The raw bytes: the file is gzip'd, whatever Content-Encoding says.
            lambda response: read_rows(gunzip_lines(response.iter_raw(), name), name),
            source=SOURCE, report_id=name, policy=self._policy,
        )  # fmt: skip

    def close(self) -> None:
        self._client.close()


class VibesDirectorySource:
    """Files dropped into a folder: every file there not yet published, and every day of
    the look-back window without one (a missed day once past due)."""

    name = SOURCE
    normalize = staticmethod(vibes_row)

    def __init__(self, folder: Path, *, lookback_days: int, today: Callable[[], date]) -> None:
        self._folder = folder
        self._lookback_days = lookback_days
        self._today = today

    def reports(self, published: Set[str]) -> Iterator[Report]:
        days = set(expected_days(self._today(), self._lookback_days))
        domestic = (p for p in self._folder.glob("disconnect_*.tsv.gz")
                    if not p.name.startswith("disconnect_intl_"))  # fmt: skip
        days |= {d for p in domestic if (d := day_of(p.name))}
        for day in sorted(days):
            if file_name(day) not in published:
                yield Report(SOURCE, file_name(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        path = self._folder / report.report_id
        if not path.exists():
            raise ReportMissing(f"{report.report_id}: not in {self._folder}")
        with path.open("rb") as stream:
            yield from read_file(stream, report.report_id)

    def close(self) -> None:
        """Nothing held open between reports."""
