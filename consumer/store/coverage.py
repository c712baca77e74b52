"""Which days the store has heard from each source: the coverage behind `no_data`.

A number with no record is only "never reported" for the days the feeds covered.
The producer writes a checkpoint per report on `<topic>.checkpoints`, in the same
transaction as the report's events, naming the day the report covers; when a daily
report is past due and absent it writes a `missed` checkpoint for it. The store
consumer keeps one row per (source, report) here. A day is uncovered when it is
before the first day any source covered, or when a source missed it: a `missed`
report, or a day without a report between that source's first and latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from numguard.core.checkpoints import Checkpoint

COVERED = "covered"
MISSED = "missed"

TABLE = """CREATE TABLE IF NOT EXISTS report_coverage (
    source TEXT NOT NULL,
    report_id TEXT NOT NULL,
    day TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (source, report_id))"""
UPSERT = (
    "INSERT INTO report_coverage VALUES (?, ?, ?, ?) ON CONFLICT (source, report_id) "
    "DO UPDATE SET day = excluded.day, status = excluded.status"
)
SELECT = "SELECT source, day, status FROM report_coverage"

# A range of days, both ends included.
DayRange = tuple[date, date]


def row(checkpoint: Checkpoint) -> tuple[str, str, str, str] | None:
    """The coverage row a checkpoint makes, or None: a report still being published
    (or one that names no day) says nothing about coverage yet."""
    done, missed = checkpoint.done is True, checkpoint.missed is True  # "false" is not done
    if not (isinstance(checkpoint.source, str) and isinstance(checkpoint.report_id, str)):
        return None
    if not isinstance(checkpoint.covers, str) or not checkpoint.covers or not (done or missed):
        return None
    try:
        day = date.fromisoformat(checkpoint.covers)
    except ValueError:
        return None
    status = COVERED if done else MISSED
    return (checkpoint.source, checkpoint.report_id, day.isoformat(), status)


@dataclass(frozen=True)
class SourceCoverage:
    source: str
    covered: frozenset[date]
    missed_reports: frozenset[date] = frozenset()

    @property
    def first_day(self) -> date | None:
        return min(self.covered, default=None)

    @property
    def latest_day(self) -> date | None:
        return max(self.covered, default=None)

    @property
    def missed(self) -> frozenset[date]:
        """The days of reports still missed (a report's row turns covered when that
        report is published: another report of the same day, another carrier's file,
        does not cover it), and the days between the first and the latest covered day
        that no report covered (the producer was down for longer than its look-back)."""
        gaps: set[date] = set()
        if (first := self.first_day) is not None and (latest := self.latest_day) is not None:
            gaps.update(first + timedelta(days=n) for n in range((latest - first).days))
        return frozenset(self.missed_reports | (gaps - self.covered))

    def as_json(self) -> dict[str, object]:
        first, latest = self.first_day, self.latest_day
        return {
            "first_day": first.isoformat() if first else None,
            "latest_day": latest.isoformat() if latest else None,
            "missed_days": spans(self.missed),
        }


@dataclass(frozen=True)
class Coverage:
    sources: dict[str, SourceCoverage] = field(default_factory=dict)
    # Answers already given: a scrub of a million contacts asks about a few hundred days.
    _answers: dict[tuple[date, date], list[DayRange]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @cached_property
    def first_day(self) -> date | None:
        """The first day any source covered: before it, the store knows nothing."""
        return min((d for s in self.sources.values() if (d := s.first_day)), default=None)

    def uncovered(self, since: date, until: date) -> list[DayRange]:
        """The days from `since` to `until` (both included) that are not covered."""
        if (answer := self._answers.get((since, until))) is None:
            answer = self._answers[since, until] = self._uncovered(since, until)
        return list(answer)

    def _uncovered(self, since: date, until: date) -> list[DayRange]:
        if since > until:
            return []
        first = self.first_day
        days: set[date] = set()
        for source in self.sources.values():
            days.update(d for d in source.missed if since <= d <= until)
        ranges = [] if first is not None and first <= since else [
            (since, min(until, first - timedelta(days=1)) if first is not None else until)
        ]  # fmt: skip
        return _merge(ranges + [(d, d) for d in sorted(days)])


def from_rows(rows: Iterable[Sequence[Any]]) -> Coverage:
    covered: dict[str, set[date]] = {}
    missed: dict[str, set[date]] = {}
    for source, day, status in rows:
        found = covered if status == COVERED else missed
        found.setdefault(str(source), set()).add(date.fromisoformat(str(day)))
    return Coverage({
        name: SourceCoverage(name, frozenset(covered.get(name, ())),
                             frozenset(missed.get(name, ())))
        for name in sorted(covered.keys() | missed.keys())
    })  # fmt: skip


def _merge(ranges: list[DayRange]) -> list[DayRange]:
    merged: list[DayRange] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def spans(days: Iterable[date]) -> list[str]:
    """Days as ISO 8601: a lone day `2024-03-07`, a run `2024-03-01/2024-03-05`."""
    return [span(r) for r in _merge([(d, d) for d in days])]


def span(days: DayRange) -> str:
    start, end = days
    return start.isoformat() if start == end else f"{start.isoformat()}/{end.isoformat()}"
