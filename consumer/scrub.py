"""Scrub a CRM export: every row gets the store's decision for its number.

Streams any size of CSV in chunks: one store lookup per chunk, never the whole
file in memory. A row whose number cannot be read is marked `invalid` (never
`allow`); a consent date that cannot be read counts as no consent date, which
only ever makes a decision stricter.
"""

from __future__ import annotations

import csv
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from itertools import islice
from typing import TextIO

from numguard.consumer.store import SqlStore
from numguard.consumer.store.coverage import span
from numguard.consumer.store.rules import CONSENT_DAY_ZONE, Consent, NoData, decide
from numguard.core.phone import InvalidNumber, normalize
from numguard.core.times import parse_date_or_time

CHUNK_ROWS = 2000
ADDED_COLUMNS = (
    "numguard_decision", "numguard_reason", "numguard_new_mdn", "numguard_deactivated_on",
    "numguard_uncovered_days",
)  # fmt: skip
# Dates as US exports write them, after ISO 8601: a time without a zone is read as UTC,
# which is earlier than any US clock's reading, so a consent never counts too soon.
US_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p",
              "%m/%d/%Y %I:%M:%S %p")  # fmt: skip
# A number a spreadsheet turned into a float: 16195550788.0, 1.6195550788E10.
_SPREADSHEET_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE]\+?[0-9]+)?")
INVALID = "invalid"


class ScrubInputError(ValueError):
    """The input is not a CSV with the named columns."""


@dataclass
class ScrubSummary:
    rows: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    unparseable_numbers: int = 0
    unparseable_consents: int = 0
    unreadable_rows: int = 0  # rows with a number or a consent date that could not be read

    @property
    def unreadable_share(self) -> float:
        return self.unreadable_rows / self.rows if self.rows else 0.0

    def as_json(self) -> dict[str, int]:
        return {
            "rows": self.rows, "allow": self.decisions["allow"], "hold": self.decisions["hold"],
            "block": self.decisions["block"], "unparseable_numbers": self.unparseable_numbers,
            "unparseable_consent_dates": self.unparseable_consents,
        }  # fmt: skip


def _chunks(reader: Iterator[list[str]], width: int) -> Iterator[list[list[str]]]:
    """Rows of `width` fields (a short row padded, a long one cut, blank lines skipped,
    as csv.DictReader and DictWriter would), CHUNK_ROWS at a time."""
    rows = ((row + [""] * (width - len(row)))[:width] for row in reader if row)
    while chunk := list(islice(rows, CHUNK_ROWS)):
        yield chunk


def scrub(
    source: TextIO,
    target: TextIO,
    store: SqlStore,
    number_column: str,
    consent_column: str | None = None,
    on_progress: Callable[[ScrubSummary], None] | None = None,
    day_zone: tzinfo = CONSENT_DAY_ZONE,
    consent_format: str | None = None,
    no_data: NoData | None = None,
) -> ScrubSummary:
    # Lists, not csv.DictReader/DictWriter: a dict a row cost a third of the time.
    reader = csv.reader(source)
    columns = next(reader, [])
    for wanted in filter(None, (number_column, consent_column)):
        if wanted not in columns:
            found = ", ".join(columns) or "(none)"
            raise ScrubInputError(f"no column {wanted!r} in the input; its columns are: {found}")
    number_at = columns.index(number_column)
    consent_at = columns.index(consent_column) if consent_column else None
    writer = csv.writer(target)
    writer.writerow([*columns, *ADDED_COLUMNS])
    summary = ScrubSummary()
    # The same few spans recur on most rows of a large file: written once each.
    uncovered_text = functools.cache(lambda days: " ".join(span(d) for d in days))
    for chunk in _chunks(reader, len(columns)):
        numbers = [contact_number(row[number_at]) for row in chunk]
        states = store.states(sorted({n for n in numbers if n}))
        for row, mdn in zip(chunk, numbers, strict=True):
            summary.rows += 1
            if mdn is None:
                summary.unparseable_numbers += 1
                summary.unreadable_rows += 1
                row += (INVALID, "unparseable_number", "", "", "")
            else:
                text = row[consent_at].strip() if consent_at is not None else ""
                consent = _consent(text, consent_format, summary)
                decision = decide(mdn, states.get(mdn), consent, day_zone, no_data)
                # The members themselves: StrEnums write and count as their values.
                summary.decisions[decision.verdict] += 1
                deactivated_on = decision.deactivated_on
                row += (
                    decision.verdict, decision.reason, decision.new_mdn or "",
                    deactivated_on.isoformat() if deactivated_on else "",
                    uncovered_text(decision.uncovered),
                )  # fmt: skip
        writer.writerows(chunk)
        if on_progress is not None:
            on_progress(summary)
    return summary


def contact_number(text: str) -> str | None:
    """The contact's number as E.164, or None. A number a spreadsheet wrote as a float
    is read when it is a whole number (16195550788.0), never rounded into one."""
    stripped = text.strip()
    if _SPREADSHEET_NUMBER.fullmatch(stripped) and not stripped.isdigit():
        value = Decimal(stripped)
        if value != value.to_integral_value():
            return None
        whole = str(int(value))
        mantissa = stripped.lower().partition("e")[0].replace(".", "").lstrip("0")
        if "e" in stripped.lower() and len(mantissa) < len(whole):
            return None  # 1.62E10: digits the spreadsheet rounded away; never guessed
        stripped = whole
    try:
        return normalize(stripped)
    except InvalidNumber:
        return None


def consent_of(text: str, consent_format: str | None = None) -> Consent:
    """A consent date or time: `consent_format` (strptime) if given, ISO 8601, or a US
    date (MM/DD/YYYY, with an optional time). Raises ValueError."""
    if consent_format:
        try:
            return _utc(datetime.strptime(text, consent_format), consent_format)
        except ValueError:
            pass  # the usual formats may still read it
    try:
        return parse_date_or_time(text)
    except ValueError:
        pass
    for us_format in US_FORMATS:
        try:
            return _utc(datetime.strptime(text, us_format), us_format)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date or time numguard reads")


def _utc(moment: datetime, used_format: str) -> Consent:
    if not any(code in used_format for code in ("%H", "%I", "%M", "%S")):
        return moment.date()  # a date: compared by date
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _consent(text: str, consent_format: str | None, summary: ScrubSummary) -> Consent | None:
    if not text:
        return None
    try:
        return consent_of(text, consent_format)
    except ValueError:
        summary.unparseable_consents += 1
        summary.unreadable_rows += 1
        return None
