"""What every source adapter offers: the reports to publish, and their rows.

A source lists the reports it has that are not published yet (oldest first),
streams the rows of one report, and normalizes a row into an event or a
rejection. The poller publishes each report in Kafka transactions with its
checkpoint; a report's id is unique within its source and stable over time,
so the checkpoint key `<source>/<report id>` says once and for all whether it
was published.
"""

from __future__ import annotations

import csv
import enum
import re
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from numguard.schemas.events import StateChange


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: str  # the feed: "convey", "infobip", "twilio"
    report_id: str  # the report or file this row belongs to
    position: int  # line or item number inside the report, 1-based
    fields: dict[str, str]  # the row as the source gave it, by the source's own field names


# Fields of a row a source could not split into the feed's fields: why, and the text.
BAD_ROW = "_problem"
RAW_ROW = "_values"


class RejectKind(enum.StrEnum):
    """What is wrong with a rejected row, in a word: the label of its metric."""

    BAD_SHAPE = "bad_shape"  # not the columns or fields the feed has
    UNKNOWN_TYPE = "unknown_type"  # a reason code or type numguard does not know
    BAD_NUMBER = "bad_number"
    BAD_NEW_NUMBER = "bad_new_number"
    BAD_TIME = "bad_time"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that cannot become an event, and why: it goes to the dead-letter topic."""

    row: SourceRow
    kind: RejectKind
    reason: str  # for a person


@dataclass(frozen=True, slots=True)
class Flagged:
    """A row published as an event although part of it is unusable (a CHANGE_MDN whose new
    number is not a number): the event carries what the carrier said for certain, the
    warning goes to the dead-letter topic. Losing the deactivation would be worse."""

    change: StateChange
    warning: Rejection


@dataclass(frozen=True, slots=True)
class Ignored:
    """A row read fine that says nothing about a number's state (a delivery failure that
    is not permanent): counted, neither published nor dead-lettered."""

    row: SourceRow
    why: str


# What a normalizer makes of a row.
Normalized = StateChange | Rejection | Flagged | Ignored


@dataclass(frozen=True, slots=True)
class Report:
    source: str
    report_id: str
    covers: date | None = None  # the day whose changes it lists, when it is a daily report
    expires_at: datetime | None = None  # when the carrier deletes it, if it does


class UnreadableReport(ValueError):
    """A whole file or page cannot be read (wrong header, not CSV, truncated):
    it is rejected whole and the report is not marked done."""


def expected_days(today: date, lookback_days: int) -> list[date]:
    """The days whose daily reports should exist by today, oldest first: feeds publish
    a day's report after it ends."""
    return [today - timedelta(days=back) for back in range(lookback_days, 0, -1)]


_DAY_IN_NAME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")


def day_in_name(name: str, example: str) -> date:
    """The day a report's id or a saved file's name holds (YYYY-MM-DD); UnreadableReport
    naming `example`, a name of the right shape, when there is none."""
    found = _DAY_IN_NAME.search(name)
    try:
        if found:
            return date.fromisoformat(found.group(1))
    except ValueError:
        pass
    raise UnreadableReport(f"{name}: no valid date in the name; name the file with its day, "
                           f"like {example}")  # fmt: skip


def first_column_numbers(
    lines: Iterable[str], source: str, report: str, day: date
) -> Iterator[SourceRow]:
    """A day's list of numbers whose format is not documented (Vonage, AWS): a line's
    first comma- or TAB-separated field is its number; a line without a digit (a header)
    or a blank one is skipped. Positions count lines."""
    for position, line in enumerate(lines, start=1):
        number = line.lstrip("\ufeff").split(",")[0].split("\t")[0].strip().strip('"')
        if number and any(c.isdigit() for c in number):
            yield SourceRow(source, report, position, {"number": number, "date": day.isoformat()})


def csv_header(reader: Iterator[list[str]], report_id: str) -> list[str]:
    """The first record of a CSV report; UnreadableReport when there is none to read."""
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise UnreadableReport(f"{report_id}: not readable as CSV: {error}") from error
    if header is None:
        raise UnreadableReport(f"{report_id}: the file is empty (no header line)")
    return header


class ReportMissing(LookupError):
    """A report expected by now is not there (a carrier's missed day)."""


class SourceUnavailable(RuntimeError):
    """The source kept failing after its retries (5xx, timeouts, 429): try next poll."""


class CredentialsRejected(RuntimeError):
    """The source refused the credentials (401/403): polling it again will not help."""


class Source(Protocol):
    name: str

    def reports(self, published: Set[str]) -> Iterator[Report]:
        """The reports to publish now, oldest first, leaving out the `published` ids.
        Daily sources list every expected day in their look-back window; a day
        whose file is absent raises ReportMissing from rows(). Raises
        SourceUnavailable or CredentialsRejected."""

    def rows(self, report: Report) -> Iterator[SourceRow]:
        """Stream the rows of `report`; raises UnreadableReport, ReportMissing,
        SourceUnavailable or CredentialsRejected."""

    def normalize(self, row: SourceRow, ingested_at: datetime) -> Normalized:
        """The row as an event, or a rejection with a reason a person understands."""

    def close(self) -> None: ...
