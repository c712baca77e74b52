"""What every source adapter yields: raw rows of one report, in order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: str  # the feed: "convey", "infobip", "twilio"
    report_id: str  # the report or file this row belongs to
    position: int  # line or item number inside the report, 1-based
    fields: dict[str, str]  # the row as the source gave it, by the source's own field names


class UnreadableReport(ValueError):
    """A whole file or page cannot be read (wrong header, not CSV, truncated):
    it is rejected whole and the report is not marked done."""
