"""Convey-style daily deactivation files: `mcdn_deact_YYYYMMDD.csv`.

Columns MDN, REASON_CODE, MODIFICATION_DATE, NEW_MDN, CARRIER_NAME. Rows are
streamed, never loaded whole: a file of millions of rows uses bounded memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Set
from datetime import date, datetime
from pathlib import Path

import httpx

from numguard.producer.normalize import convey_row
from numguard.producer.sources.base import (
    BAD_ROW,
    RAW_ROW,
    Report,
    ReportMissing,
    SourceRow,
    UnreadableReport,
    csv_header,
    expected_days,
)
from numguard.producer.sources.http import RetryPolicy, download_rows

SOURCE = "convey"
COLUMNS = ("MDN", "REASON_CODE", "MODIFICATION_DATE", "NEW_MDN", "CARRIER_NAME")
FILE_NAME = re.compile(r"mcdn_deact_([0-9]{8})\.csv")


_BOM = "\ufeff"


def read_rows(stream: Iterable[str], report_id: str) -> Iterator[SourceRow]:
    """Yield the data rows of one file, numbered as records: the header is 1, and on a
    file without quoted line breaks a row's position is its line number.

    Positions come from counting records, never from the reader's line count, so how
    the bytes arrived (chunk boundaries inside a CRLF) cannot shift them: a resumed
    report skips exactly the rows it published. A row that cannot be read (wrong
    width, a field over the CSV limit, a quoted field holding what looks like further
    rows) is yielded with BAD_ROW set, to become a dead letter; the rows after it are
    read on. Raises UnreadableReport when the header is not Convey's.
    """
    reader = csv.reader(stream)
    header = csv_header(reader, report_id)
    names = [name.strip().upper() for name in header]
    if names:
        names[0] = names[0].removeprefix(_BOM)  # a UTF-8 byte-order mark, as Excel writes
    if sorted(names) != sorted(COLUMNS) or len(set(names)) != len(names):
        raise UnreadableReport(
            f"{report_id}: not a Convey deactivation file: header is {header!r}, "
            f"expected the columns {', '.join(COLUMNS)}"
        )
    position, last_line = 1, reader.line_num
    while True:
        position += 1
        try:
            values = next(reader, None)
        except csv.Error as error:
            last_line = reader.line_num
            yield _bad(report_id, position, f"line {last_line}: not readable as CSV: {error}", "")
            continue
        if values is None:
            return
        first_line, last_line = last_line + 1, reader.line_num
        if not values or values == [""]:
            continue  # a blank line, e.g. a trailing one
        if problem := _shape_problem(values, len(names), first_line, last_line):
            yield _bad(report_id, position, problem, ",".join(values))
            continue
        fields = dict(zip(names, (v.strip() for v in values), strict=True))
        yield SourceRow(SOURCE, report_id, position, fields)


def _shape_problem(values: list[str], width: int, first_line: int, last_line: int) -> str | None:
    if len(values) != width:
        return f"expected {width} columns, found {len(values)}"
    continuations = [line for value in values for line in value.splitlines()[1:]]
    if any("," in line for line in continuations):
        # An unterminated quote swallows the rows after it into one field: never
        # accept it quietly, whatever the columns say.
        return (
            f"a quoted field runs from line {first_line} to line {last_line} and holds "
            "what look like further rows (an unterminated quote?)"
        )
    return None


def _bad(report_id: str, position: int, problem: str, raw: str) -> SourceRow:
    return SourceRow(SOURCE, report_id, position, {BAD_ROW: problem, RAW_ROW: raw[:2000]})


def file_name(day: date) -> str:
    return f"mcdn_deact_{day:%Y%m%d}.csv"


def day_of(name: str) -> date | None:
    match = FILE_NAME.fullmatch(name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


class ConveyHttpSource:
    """Daily files by date from an HTTP endpoint: `url_template` holds `{date:%Y%m%d}`."""

    name = SOURCE

    def __init__(
        self,
        url_template: str,
        *,
        client: httpx.Client,
        policy: RetryPolicy,
        lookback_days: int,
        today: Callable[[], date],
    ) -> None:
        self._template = url_template
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
        yield from download_rows(
            self._client, request,
            lambda response: read_rows(lines_of(response.iter_text()), report.report_id),
            source=SOURCE, report_id=report.report_id, policy=self._policy,
        )  # fmt: skip

    normalize = staticmethod(convey_row)

    def close(self) -> None:
        self._client.close()


class ConveyDirectorySource:
    """Daily files dropped into a folder (SFTP-style): every file there not yet
    published, and every expected day of the look-back window without a file."""

    name = SOURCE

    def __init__(self, folder: Path, *, lookback_days: int, today: Callable[[], date]) -> None:
        self._folder = folder
        self._lookback_days = lookback_days
        self._today = today

    def reports(self, published: Set[str]) -> Iterator[Report]:
        days = set(expected_days(self._today(), self._lookback_days))
        days |= {d for p in self._folder.glob("mcdn_deact_*.csv") if (d := day_of(p.name))}
        for day in sorted(days):
            if file_name(day) not in published:
                yield Report(SOURCE, file_name(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        path = self._folder / report.report_id
        if not path.exists():
            raise ReportMissing(f"{report.report_id}: not in {self._folder}")
        # As `numguard ingest` reads files: a byte that is not UTF-8 spoils its field only.
        with path.open(newline="", encoding="utf-8", errors="replace") as stream:
            yield from read_rows(stream, report.report_id)

    normalize = staticmethod(convey_row)

    def close(self) -> None:
        pass


def lines_of(chunks: Iterator[str]) -> Iterator[str]:
    """Text chunks to lines that keep their endings, as the csv module wants.

    Split on LF only: a CRLF cut between two chunks stays one line ending, and the
    Unicode line separators that str.splitlines knows stay inside their field."""
    pending = ""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    if pending:
        yield pending
