"""Infobip's JSON shapes: report metadata, record items as rows, saved records files.

Shared by the API source (infobip.py) and `numguard ingest` (read_records_file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from numguard.core.times import parse_time
from numguard.producer.sources.base import SourceRow, UnreadableReport

SOURCE = "infobip"
ITEM_FIELDS = ("date", "destination", "type", "newDestination")
NETWORK_FIELD = "networkName"  # added to every row so the normalizer can set the carrier
GENERATED_FIELD = "generatedDate"  # the report's, added to every row: it orders ties
BAD_ITEM_FIELD = "_item"  # a record that is not a JSON object: the normalizer rejects it
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ReportMeta:
    """One entry of the report list, with its dates read."""

    report_id: str
    network_name: str
    covers: date | None  # dateFrom
    generated: datetime  # unknown: _NEVER, so it sorts last
    expires: datetime | None  # the first moment it may be gone

    @classmethod
    def of(cls, entry: Any) -> ReportMeta:
        if not isinstance(entry, dict) or not entry.get("reportId"):
            # Only the keys are shown: metadata holds no numbers, but stay short.
            keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise UnreadableReport(f"report list: an entry without a reportId ({keys})")
        moment = _moment(entry.get("dateFrom"))
        return cls(
            report_id=str(entry["reportId"]),
            network_name=str(entry.get("networkName") or ""),
            covers=moment.date() if moment else None,
            generated=_moment(entry.get("generatedDate")) or _NEVER,
            expires=expiry(entry.get("expiryDate")),
        )


def expiry(value: object) -> datetime | None:
    """expiryDate: the spec's prose says yyyy-MM-dd, its example `2024-03-19T00:00:00Z`.

    A bare date means the report lives through that day (it is deleted *after*
    it), so it expires at the next midnight UTC: reading it as the day's first
    instant would give up on a report a day early.
    """
    moment = _moment(value)
    if moment is not None and isinstance(value, str) and len(value.strip()) == len("yyyy-mm-dd"):
        return moment + timedelta(days=1)
    return moment


def item_row(
    item: Any, report_id: str, position: int, network: str, generated: datetime | None = None
) -> SourceRow:
    """A record item as a row of strings; anything but an object becomes a bad row."""
    if not isinstance(item, dict):
        # Kept (cut short) for the dead letter; the rejection's reason never shows it.
        return SourceRow(SOURCE, report_id, position, {BAD_ITEM_FIELD: json.dumps(item)[:500]})
    fields = {name: str(item[name]) for name in ITEM_FIELDS if item.get(name) is not None}
    fields[NETWORK_FIELD] = network
    if generated is not None and generated != _NEVER:
        fields[GENERATED_FIELD] = generated.isoformat()
    return SourceRow(SOURCE, report_id, position, fields)


def read_records_file(stream: TextIO, report_id: str) -> Iterator[SourceRow]:
    """`numguard ingest`: a report's records saved from the API.

    Accepted: {"results": [...]} (one page or all pages' items, as the API answers),
    a bare list of items, or a report object holding its items under "records" (the
    simulator's file form). The report's metadata, when the file has it (at the top
    level or under "report"), gives the carrier (networkName).

    The file is parsed whole with json.load: the API pages its records (at most a
    page size each), so a saved page is small. A report of millions of items should
    be saved page by page rather than merged into one file.
    Raises UnreadableReport for a file that is not JSON or not one of these shapes.
    """
    try:
        document = json.load(stream)
    except json.JSONDecodeError as error:
        where = f"{error.msg} at line {error.lineno}"
        raise UnreadableReport(f"{report_id}: not JSON ({where})") from error
    items, metadata = _items_and_metadata(document)
    if not isinstance(items, list):
        raise UnreadableReport(
            f'{report_id}: not Infobip records: expected {{"results": [...]}}, '
            '{"records": [...]} or a list of records'
        )
    network = str(metadata.get(NETWORK_FIELD) or "")
    for position, item in enumerate(items, start=1):
        yield item_row(item, report_id, position, network)


def _items_and_metadata(document: Any) -> tuple[Any, dict[str, Any]]:
    if isinstance(document, list):
        return document, {}
    if not isinstance(document, dict):
        return None, {}
    items = document.get("results", document.get("records"))
    nested = document.get("report")
    return items, nested if isinstance(nested, dict) else document


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
