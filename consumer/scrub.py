"""Scrub a CRM export: every row gets the store's decision for its number.

Streams any size of CSV in chunks: one store lookup per chunk, never the whole
file in memory. A row whose number cannot be read is marked `invalid` (never
`allow`); a consent date that cannot be read counts as no consent date, which
only ever makes a decision stricter.

A large file's chunks are decided by worker processes (`jobs`), each with its own
connection to the store, a few chunks ahead of the writer, and written in their
order: the output is the same as from one process.
"""

from __future__ import annotations

import csv
import functools
import itertools
import multiprocessing
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from itertools import islice
from typing import TextIO

from numguard.consumer.store import SqlStore, open_store
from numguard.consumer.store.coverage import DayRange, span
from numguard.consumer.store.rules import CONSENT_DAY_ZONE, Consent, NoData, decide
from numguard.core.phone import InvalidNumber, normalize
from numguard.core.times import parse_date_or_time

CHUNK_ROWS = 2000
# The first chunks are decided here: a small file is done before workers would start.
IN_PROCESS_CHUNKS = 10
# Chunks handed out per worker ahead of the writer: enough to keep each busy, and
# memory bounded whatever the file's size.
CHUNKS_AHEAD_PER_JOB = 2
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

    def add(self, other: ScrubSummary) -> None:
        self.rows += other.rows
        self.decisions.update(other.decisions)
        self.unparseable_numbers += other.unparseable_numbers
        self.unparseable_consents += other.unparseable_consents
        self.unreadable_rows += other.unreadable_rows

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
    *,
    store_url: str | None = None,
    jobs: int = 1,
) -> ScrubSummary:
    """Write each row of `source` to `target` with its decision; with `jobs` > 1 and the
    store's URL, a large file's chunks are decided by that many worker processes."""
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
    rows = RowDecisions(number_at, consent_at, day_zone, consent_format, no_data)
    chunks = _chunks(reader, len(columns))
    first = ((chunk, rows.decide(chunk, store)) for chunk in islice(chunks, IN_PROCESS_CHUNKS))
    summary = ScrubSummary()
    for decided in (first, _decided(chunks, rows, store, store_url, jobs)):
        for chunk, counts in decided:
            writer.writerows(chunk)
            summary.add(counts)
            if on_progress is not None:
                on_progress(summary)
    return summary


@dataclass(frozen=True)
class RowDecisions:
    """How a chunk's rows get their decisions: all a worker process needs but the store."""

    number_at: int
    consent_at: int | None
    day_zone: tzinfo
    consent_format: str | None
    no_data: NoData | None

    def decide(self, chunk: list[list[str]], store: SqlStore) -> ScrubSummary:
        """Append the decision columns to each row of `chunk`; return the chunk's counts."""
        counts = ScrubSummary()
        numbers = [contact_number(row[self.number_at]) for row in chunk]
        states = store.states(sorted({n for n in numbers if n}))
        for row, mdn in zip(chunk, numbers, strict=True):
            counts.rows += 1
            if mdn is None:
                counts.unparseable_numbers += 1
                counts.unreadable_rows += 1
                row += (INVALID, "unparseable_number", "", "", "")
                continue
            text = row[self.consent_at].strip() if self.consent_at is not None else ""
            consent = _consent(text, self.consent_format, counts)
            decision = decide(mdn, states.get(mdn), consent, self.day_zone, self.no_data)
            # The members themselves: StrEnums write and count as their values.
            counts.decisions[decision.verdict] += 1
            deactivated_on = decision.deactivated_on
            row += (
                decision.verdict, decision.reason, decision.new_mdn or "",
                deactivated_on.isoformat() if deactivated_on else "",
                _uncovered_text(decision.uncovered),
            )  # fmt: skip
        return counts


# The same few spans recur on most rows of a large file: written once each.
@functools.lru_cache(maxsize=4096)
def _uncovered_text(days: tuple[DayRange, ...]) -> str:
    return " ".join(span(d) for d in days)


def _decided(
    chunks: Iterator[list[list[str]]],
    rows: RowDecisions,
    store: SqlStore,
    store_url: str | None,
    jobs: int,
) -> Iterator[tuple[list[list[str]], ScrubSummary]]:
    """Each chunk with its decisions appended and its counts, in the input's order: by
    `jobs` worker processes when there are several (and the store's URL to open)."""
    if jobs <= 1 or store_url is None:
        yield from ((chunk, rows.decide(chunk, store)) for chunk in chunks)
        return
    if (following := next(chunks, None)) is None:
        return  # all done in this process: no worker to start
    chunks = itertools.chain([following], chunks)
    # spawn: a fresh interpreter; a fork would carry this process's store connection.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(store_url, rows)) as pool:  # fmt: skip
        ahead: deque[Future[tuple[list[list[str]], ScrubSummary]]] = deque()
        for chunk in chunks:
            ahead.append(pool.submit(_decide_in_worker, chunk))
            if len(ahead) >= jobs * CHUNKS_AHEAD_PER_JOB:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


_worker: tuple[SqlStore, RowDecisions] | None = None


def _start_worker(store_url: str, rows: RowDecisions) -> None:
    global _worker
    _worker = (open_store(store_url, create=False), rows)


def _decide_in_worker(chunk: list[list[str]]) -> tuple[list[list[str]], ScrubSummary]:
    assert _worker is not None, "started by _start_worker"
    store, rows = _worker
    return chunk, rows.decide(chunk, store)


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
