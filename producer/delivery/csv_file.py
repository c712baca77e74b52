"""A CSV of delivery failures, through `numguard ingest --format delivery-failures`.

    number,provider,code,failed_at,message_id
    +12025550101,twilio,30005,2024-03-05T15:30:00Z,SM0123
    2025550102,openmarket,3041,2024-03-05,

The header names the columns (any order, any case; others are ignored): `number`,
`provider` (a provider of codes.py: twilio, infobip, openmarket) and `code` are
required; `failed_at` (ISO 8601; empty: when the file is read) and `message_id` are
optional. A row whose code means the number is gone becomes an UNDELIVERABLE event;
a row with another code is ignored (a temporary failure); a row that cannot be read
is a dead letter.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from numguard.core.phone import InvalidNumber, mask, north_american
from numguard.core.times import parse_time
from numguard.producer.delivery.codes import PermanentFailures
from numguard.producer.delivery.failures import DeliveryFailure, undeliverable
from numguard.producer.sources.base import (
    BAD_ROW,
    Ignored,
    Normalized,
    Rejection,
    RejectKind,
    SourceRow,
    UnreadableReport,
    csv_header,
)

SOURCE = "delivery-failures"  # the checkpoints' source: one per file name
REQUIRED = ("number", "provider", "code")
OPTIONAL = ("failed_at", "message_id")


def recognizes(name: str) -> bool:
    lowered = name.lower().replace("_", "-")
    return "delivery-failure" in lowered and lowered.endswith(".csv")


def read_rows(stream: Iterable[str], report_id: str) -> Iterator[SourceRow]:
    """Rows by the header's names; positions count records (the header is 1)."""
    reader = csv.reader(stream)
    header = csv_header(reader, report_id)
    names = [name.strip().lower().removeprefix("\ufeff") for name in header]
    if missing := [column for column in REQUIRED if column not in names]:
        raise UnreadableReport(
            f"{report_id}: not a delivery-failures file: no column {', '.join(missing)} "
            f"(header {header!r}; needs {', '.join(REQUIRED)}, may have {', '.join(OPTIONAL)})"
        )
    wanted = {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}
    position = 1
    while True:
        position += 1
        try:
            values = next(reader, None)
        except csv.Error as error:
            yield SourceRow(SOURCE, report_id, position, {BAD_ROW: f"not readable as CSV: {error}"})
            continue
        if values is None:
            return
        if not values or values == [""]:
            continue
        if len(values) != len(names):
            problem = f"{len(values)} fields where the header has {len(names)}"
            yield SourceRow(SOURCE, report_id, position, {BAD_ROW: problem})
            continue
        fields = {name: values[index].strip() for name, index in wanted.items()}
        yield SourceRow(SOURCE, report_id, position, fields)


class DeliveryFailuresFile:
    """Normalizes the rows with the code table in force."""

    def __init__(self, codes: PermanentFailures) -> None:
        self._codes = codes

    def normalize(self, row: SourceRow, ingested_at: datetime) -> Normalized:
        fields = row.fields
        if BAD_ROW in fields:
            return Rejection(row, RejectKind.BAD_SHAPE, fields[BAD_ROW])
        provider = fields["provider"].lower()
        if provider not in self._codes.codes:
            known = ", ".join(self._codes.providers())
            return Rejection(row, RejectKind.UNKNOWN_TYPE,
                             f"provider {provider!r} is not one of {known}")  # fmt: skip
        if not self._codes.means_gone(provider, fields["code"]):
            return Ignored(row, f"{provider} code {fields['code']!r} is not a permanent failure")
        try:
            mdn = north_american(fields["number"])
        except InvalidNumber as error:
            if fields["number"].strip().startswith("+") and "North American" in str(error):
                return Ignored(row, "not a North American number: numguard watches US numbers")
            shown = mask(fields["number"])
            return Rejection(row, RejectKind.BAD_NUMBER, f"number {shown!r} is not a phone number")
        try:
            given = fields.get("failed_at")
            failed_at = parse_time(given) if given else ingested_at
        except ValueError:
            return Rejection(row, RejectKind.BAD_TIME,
                             f"failed_at {fields['failed_at']!r} is not ISO 8601")  # fmt: skip
        message_id = fields.get("message_id") or f"{row.report_id}#{row.position}"
        failure = DeliveryFailure(provider, mdn, fields["code"], failed_at, message_id)
        # Numbered as a row of its file, so a resumed file skips exactly what it published.
        return replace(undeliverable(failure, ingested_at), report_id=row.report_id,
                       report_position=row.position)  # fmt: skip
