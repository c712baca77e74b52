"""Seeded carrier data: the same (seed, numbers, days, start_date) gives the same feeds.

`numbers` changes are spread evenly over the days, each day's over the feeds
(Convey 50 %, Infobip 30 %, Twilio 20 %) and Infobip's over its networks, one
report per network and day (or two: a later, smaller second one for the same
dates). Each feed has its own numbers. A suspension is lifted 1 to 3 days later
by a reactivation of the same number on the same feed, when that day is
generated. Rows are made on demand (see synthesis.py); only a day's suspensions
and the files' lengths are remembered.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from numguard.devtools.simulator.feeds import (
    CONVEY_HEADER,
    INFOBIP_NETWORKS,
    TWILIO_LIST_END,
    Body,
    Change,
    Feed,
    InfobipReport,
    convey_fields,
    convey_line,
    infobip_record,
    twilio_line,
)
from numguard.devtools.simulator.synthesis import MAX_REACTIVATION_LAG_DAYS, Block, Synthesis

SECOND_REPORT_SHARE = 5  # with two reports a day, the second holds 1/5 of a network's day
INFOBIP_GENERATED_AFTER = timedelta(days=1, hours=1)  # a day's report appears at 01:00 next day
INFOBIP_RETENTION = timedelta(days=60)  # Infobip deletes reports after about 60 days
_REPORT_NAMESPACE = uuid.UUID("6f1d5a4e-2c1b-4b7e-9a43-6e8c1f0d5b21")


def default_start_date(days: int, today: date | None = None) -> date:
    """The first day such that yesterday (UTC) is the last generated day."""
    return (today or datetime.now(UTC).date()) - timedelta(days=days)


@dataclass(frozen=True, slots=True)
class _Part:
    """The indices one Infobip report serves; report 0 of a day also gets the reactivations."""

    block: Block
    number: int


class GeneratedDataset:
    """Carrier data made from a seed, and the truth about it; see the module docstring."""

    def __init__(
        self,
        seed: int = 0,
        numbers: int = 1000,
        days: int = 7,
        start_date: date | None = None,
        *,
        infobip_reports_per_day: int = 1,
    ) -> None:
        if infobip_reports_per_day not in (1, 2):
            raise ValueError("infobip_reports_per_day must be 1 or 2")
        self.seed, self.numbers, self.days = seed, numbers, days
        self.start_date = start_date or default_start_date(days)
        self.infobip_reports_per_day = infobip_reports_per_day
        self._synthesis = Synthesis(seed, numbers, days, self.start_date)
        self._lock = threading.Lock()
        self._suspensions: dict[Block, tuple[tuple[int, int], ...]] = {}
        self._lifted: dict[tuple[Feed, int, int], list[Change]] = {}
        self._lengths: dict[tuple[Feed, date], int] = {}
        self._reports = {report.report_id: (report, part) for report, part in self._plan()}

    @property
    def last_date(self) -> date:
        return self.start_date + timedelta(days=self.days - 1)

    def dates(self) -> list[date]:
        return [self.start_date + timedelta(days=d) for d in range(self.days)]

    # -- the typed truth --------------------------------------------------------------------

    def changes(self, feed: Feed, day: date) -> Iterator[Change]:
        """Every change `feed` reports for `day`, in the order it serves them (Infobip:
        network by network, each network's reports in order)."""
        index = self._day_index(day)
        if index is None:
            return
        for block in self._synthesis.blocks(feed, index):
            for j in range(block.start, block.stop):
                yield self._synthesis.change(block, j)
            yield from self._reactivations(block)

    def report_changes(
        self, report_id: str, start: int = 0, stop: int | None = None
    ) -> list[Change]:
        """Changes [start, stop) of one Infobip report: its share of the network's day,
        then, in the day's first report, the reactivations due that day."""
        part = self._reports[report_id][1]
        primary = len(part.block)
        stop = self.infobip_record_count(report_id) if stop is None else stop
        first, last = part.block.start + start, part.block.start + min(stop, primary)
        found = [self._synthesis.change(part.block, j) for j in range(first, last)]
        if part.number == 0 and stop > primary:
            found.extend(self._reactivations(part.block)[max(start - primary, 0) : stop - primary])
        return found

    # -- CarrierData ------------------------------------------------------------------------

    def convey_file(self, day: date) -> Body | None:
        if self._day_index(day) is None:
            return None

        def lines() -> Iterator[str]:
            yield CONVEY_HEADER
            for change in self.changes(Feed.CONVEY, day):
                yield convey_line(change)

        return self._sized(Feed.CONVEY, day, lines)

    def convey_rows(self, day: date) -> Iterator[dict[str, str]] | None:
        if self._day_index(day) is None:
            return None
        return (convey_fields(change) for change in self.changes(Feed.CONVEY, day))

    def infobip_reports(self) -> Sequence[InfobipReport]:
        return [report for report, _ in self._reports.values()]

    def infobip_record_count(self, report_id: str) -> int:
        part = self._reports[report_id][1]
        return len(part.block) + (len(self._reactivations(part.block)) if part.number == 0 else 0)

    def infobip_records(self, report_id: str, start: int, stop: int) -> list[dict[str, Any]]:
        return [infobip_record(change) for change in self.report_changes(report_id, start, stop)]

    def twilio_numbers(self, day: date) -> Iterator[str] | None:
        if day > self.last_date:
            return None  # not available yet (30114); days before the first list nothing
        return (change.mdn for change in self.changes(Feed.TWILIO, day))

    def twilio_file(self, day: date) -> Body | None:
        if day > self.last_date:
            return None

        def lines() -> Iterator[str]:
            for number in self.twilio_numbers(day) or ():
                yield twilio_line(number)
            yield TWILIO_LIST_END

        return self._sized(Feed.TWILIO, day, lines)

    # -- helpers ----------------------------------------------------------------------------

    def _day_index(self, day: date) -> int | None:
        index = (day - self.start_date).days
        return index if 0 <= index < self.days else None

    def _suspended(self, block: Block) -> tuple[tuple[int, int], ...]:
        """(index, days until lifted) of the block's suspensions; each block is scanned once."""
        with self._lock:
            cached = self._suspensions.get(block)
        if cached is None:
            found = []
            for j in range(block.start, block.stop):
                suspension, lag = self._synthesis.is_suspension(block, j)
                if suspension:
                    found.append((j, lag))
            cached = tuple(found)
            with self._lock:
                self._suspensions[block] = cached
        return cached

    def _reactivations(self, block: Block) -> list[Change]:
        """The reactivations due on the block's day: earlier suspensions on the same feed
        (and network) being lifted. Remembered: every page of a report asks for them."""
        key = (block.feed, block.network, block.day)
        with self._lock:
            cached = self._lifted.get(key)
        if cached is not None:
            return cached
        found = []
        for lag in range(1, min(MAX_REACTIVATION_LAG_DAYS, block.day) + 1):
            if block.feed is Feed.INFOBIP:
                earlier = self._synthesis.network_block(block.day - lag, block.network)
            else:
                earlier = self._synthesis.feed_block(block.feed, block.day - lag)
            for j, due in self._suspended(earlier):
                if due == lag:
                    found.append(self._synthesis.reactivation(earlier, j, lag))
        with self._lock:
            self._lifted[key] = found
        return found

    def _sized(self, feed: Feed, day: date, lines: Callable[[], Iterable[str]]) -> Body:
        """A body whose length is measured on first use and remembered."""
        with self._lock:
            length = self._lengths.get((feed, day))
        body = Body.of_lines(lines, length)
        with self._lock:
            self._lengths[(feed, day)] = body.length
        return body

    def _plan(self) -> Iterator[tuple[InfobipReport, _Part]]:
        """Every Infobip report's metadata and the indices it serves."""
        for index, day in enumerate(self.dates()):
            for network, (name, network_id) in enumerate(INFOBIP_NETWORKS):
                block = self._synthesis.network_block(index, network)
                parts = [block]
                if self.infobip_reports_per_day == 2:
                    cut = block.stop - len(block) // SECOND_REPORT_SHARE
                    parts = [
                        Block(Feed.INFOBIP, index, block.start, cut, network),
                        Block(Feed.INFOBIP, index, cut, block.stop, network),
                    ]
                for number, served in enumerate(parts):
                    generated = datetime.combine(day, time(), UTC) + INFOBIP_GENERATED_AFTER
                    generated += timedelta(hours=number)
                    name_in_seed = f"{self.seed}/{network_id}/{day}/{number}"
                    report = InfobipReport(
                        report_id=str(uuid.uuid5(_REPORT_NAMESPACE, name_in_seed)),
                        network_name=name,
                        network_id=network_id,
                        generated_date=generated,
                        date_from=day,
                        date_to=day,
                        expiry_date=generated + INFOBIP_RETENTION,
                    )
                    yield report, _Part(served, number)
