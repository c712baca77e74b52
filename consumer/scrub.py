"""Scrub a CRM export: every row gets the store's decision for its number.

Streams any size of CSV in chunks: one store lookup per chunk, never the whole
file in memory. A row whose number cannot be read is marked `invalid` (never
`allow`); a consent date that cannot be read counts as no consent date, which
only ever makes a decision stricter.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from itertools import islice
from typing import TextIO

from numguard.consumer.store import SqlStore
from numguard.consumer.store.rules import CONSENT_DAY_ZONE, Consent, decide
from numguard.core.phone import InvalidNumber, normalize
from numguard.core.times import parse_date_or_time

CHUNK_ROWS = 2000
ADDED_COLUMNS = ("numguard_decision", "numguard_reason", "numguard_new_mdn")
INVALID = "invalid"


class ScrubInputError(ValueError):
    """The input is not a CSV with the named columns."""


@dataclass
class ScrubSummary:
    rows: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    unparseable_numbers: int = 0
    unparseable_consents: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "rows": self.rows, "allow": self.decisions["allow"], "hold": self.decisions["hold"],
            "block": self.decisions["block"], "unparseable_numbers": self.unparseable_numbers,
            "unparseable_consent_dates": self.unparseable_consents,
        }  # fmt: skip


def _chunks(reader: Iterator[dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    while chunk := list(islice(reader, CHUNK_ROWS)):
        yield chunk


def scrub(
    source: TextIO,
    target: TextIO,
    store: SqlStore,
    number_column: str,
    consent_column: str | None = None,
    on_progress: Callable[[ScrubSummary], None] | None = None,
    day_zone: tzinfo = CONSENT_DAY_ZONE,
) -> ScrubSummary:
    reader = csv.DictReader(source)
    columns = reader.fieldnames or []
    for wanted in filter(None, (number_column, consent_column)):
        if wanted not in columns:
            found = ", ".join(columns) or "(none)"
            raise ScrubInputError(f"no column {wanted!r} in the input; its columns are: {found}")
    writer = csv.DictWriter(target, [*columns, *ADDED_COLUMNS], extrasaction="ignore")
    writer.writeheader()
    summary = ScrubSummary()
    for chunk in _chunks(reader):
        numbers: list[str | None] = []
        for row in chunk:
            try:
                numbers.append(normalize(row[number_column] or ""))
            except InvalidNumber:
                numbers.append(None)
        states = store.states(sorted({n for n in numbers if n}))
        for row, mdn in zip(chunk, numbers, strict=True):
            summary.rows += 1
            if mdn is None:
                summary.unparseable_numbers += 1
                row.update(
                    dict(zip(ADDED_COLUMNS, (INVALID, "unparseable_number", ""), strict=True))
                )
            else:
                consent = _consent(row, consent_column, summary)
                decision = decide(mdn, states.get(mdn), consent, day_zone)
                summary.decisions[decision.verdict.value] += 1
                row.update(dict(zip(ADDED_COLUMNS, (
                    decision.verdict.value, decision.reason.value, decision.new_mdn or ""
                ), strict=True)))  # fmt: skip
            writer.writerow(row)
        if on_progress is not None:
            on_progress(summary)
    return summary


def _consent(row: dict[str, str], column: str | None, summary: ScrubSummary) -> Consent | None:
    text = (row.get(column) or "").strip() if column else ""
    if not text:
        return None
    try:
        return parse_date_or_time(text)
    except ValueError:
        summary.unparseable_consents += 1
        return None
