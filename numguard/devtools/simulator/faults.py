"""Faults the simulator injects, by count, never by chance, so a test sees the same
failures on every run.

A rule matches request paths by glob (`/convey/*`, `*/records`) and hits the
first `count` matching requests (every one when `count` is None); each rule
counts on its own. A missing day is a data fault: that day's Convey file and
Twilio list are not there, and Infobip has no report covering it.
"""

from __future__ import annotations

import enum
import fnmatch
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from numguard.devtools.simulator.feeds import Body, CarrierData, InfobipReport

TRUNCATE_KEEP_FRACTION = 0.5  # a truncated body stops after half its Content-Length


class FaultKind(enum.StrEnum):
    ERROR = "error"  # answer `status` (500) instead of the real response
    THROTTLE = "throttle"  # answer 429 with Retry-After: `seconds`
    DELAY = "delay"  # wait `seconds` before answering
    TRUNCATE = "truncate"  # send half the body, then close the connection


@dataclass(frozen=True, slots=True)
class FaultRule:
    kind: FaultKind
    pattern: str = "*"  # fnmatch glob on the URL path, without the query
    count: int | None = 1  # the first `count` matching requests; None: every one
    seconds: float = 1.0  # DELAY's wait, THROTTLE's Retry-After
    status: int = 500  # ERROR's status

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 0:
            raise ValueError(f"a fault count cannot be negative ({self.count})")
        if self.seconds < 0:
            raise ValueError(f"fault seconds cannot be negative ({self.seconds})")

    def describe(self) -> str:
        which = "every request" if self.count is None else f"the first {self.count} request(s)"
        what = {
            FaultKind.ERROR: f"answer {self.status}",
            FaultKind.THROTTLE: f"answer 429, Retry-After: {self.seconds:g}",
            FaultKind.DELAY: f"wait {self.seconds:g} s",
            FaultKind.TRUNCATE: "cut the body short",
        }[self.kind]
        return f"{what} for {which} to {self.pattern}"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    rules: tuple[FaultRule, ...] = ()
    missing_days: frozenset[date] = field(default_factory=frozenset)

    def describe(self) -> list[str]:
        lines = [rule.describe() for rule in self.rules]
        lines += [f"day {day} is missing from every feed" for day in sorted(self.missing_days)]
        return lines


class FaultInjector:
    """Counts matching requests per rule (thread-safe) and says which faults hit one."""

    def __init__(self, rules: Sequence[FaultRule]) -> None:
        self._rules = tuple(rules)
        self._seen = [0] * len(self._rules)
        self._lock = threading.Lock()

    def faults_for(self, path: str) -> list[FaultRule]:
        hits = []
        with self._lock:
            for position, rule in enumerate(self._rules):
                if not fnmatch.fnmatchcase(path, rule.pattern):
                    continue
                self._seen[position] += 1
                if rule.count is None or self._seen[position] <= rule.count:
                    hits.append(rule)
        return hits


class WithoutDays:
    """A data set with some days taken out of every feed (the missing-day fault)."""

    def __init__(self, data: CarrierData, days: frozenset[date]) -> None:
        self.data = data
        self.days = days

    def convey_file(self, day: date) -> Body | None:
        return None if day in self.days else self.data.convey_file(day)

    def convey_rows(self, day: date) -> Iterator[dict[str, str]] | None:
        return None if day in self.days else self.data.convey_rows(day)

    def infobip_reports(self) -> Sequence[InfobipReport]:
        return [report for report in self.data.infobip_reports() if not self._hides(report)]

    def infobip_record_count(self, report_id: str) -> int:
        self._visible(report_id)
        return self.data.infobip_record_count(report_id)

    def infobip_records(self, report_id: str, start: int, stop: int) -> list[dict[str, Any]]:
        self._visible(report_id)
        return self.data.infobip_records(report_id, start, stop)

    def twilio_numbers(self, day: date) -> Iterator[str] | None:
        return None if day in self.days else self.data.twilio_numbers(day)

    def twilio_file(self, day: date) -> Body | None:
        return None if day in self.days else self.data.twilio_file(day)

    def _hides(self, report: InfobipReport) -> bool:
        return any(report.covers(day) for day in self.days)

    def _visible(self, report_id: str) -> None:
        for report in self.data.infobip_reports():
            if report.report_id == report_id and self._hides(report):
                raise KeyError(report_id)


# -- CLI specs: K[:PATTERN], K:SECONDS[:PATTERN], SECONDS[:PATTERN] --------------------


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"K must be a whole number of requests, 1 or more, not {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(f"SECONDS must be a number, 0 or more, not {text!r}")
    return value


def fail_first(spec: str) -> FaultRule:
    """`K[:PATTERN]`: the first K matching requests get 500."""
    count, _, pattern = spec.partition(":")
    return FaultRule(FaultKind.ERROR, pattern or "*", _count(count))


def throttle_first(spec: str) -> FaultRule:
    """`K[:SECONDS[:PATTERN]]`: the first K matching requests get 429, Retry-After SECONDS."""
    count, _, rest = spec.partition(":")
    seconds, _, pattern = rest.partition(":")
    return FaultRule(FaultKind.THROTTLE, pattern or "*", _count(count), _seconds(seconds or "1"))


def delay_all(spec: str) -> FaultRule:
    """`SECONDS[:PATTERN]`: every matching request waits SECONDS first."""
    seconds, _, pattern = spec.partition(":")
    return FaultRule(FaultKind.DELAY, pattern or "*", None, _seconds(seconds))


def truncate_first(spec: str) -> FaultRule:
    """`K[:PATTERN]`: the first K matching bodies stop halfway, then the connection closes."""
    count, _, pattern = spec.partition(":")
    return FaultRule(FaultKind.TRUNCATE, pattern or "*", _count(count))
