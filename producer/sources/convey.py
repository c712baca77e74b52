"""Convey-style daily deactivation files: `mcdn_deact_YYYYMMDD.csv`.

Columns MDN, REASON_CODE, MODIFICATION_DATE, NEW_MDN, CARRIER_NAME. Rows are
streamed, never loaded whole: a file of millions of rows uses bounded memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import TextIO

from producer.sources.base import SourceRow, UnreadableReport

SOURCE = "convey"
COLUMNS = ("MDN", "REASON_CODE", "MODIFICATION_DATE", "NEW_MDN", "CARRIER_NAME")
FILE_NAME = re.compile(r"mcdn_deact_(\d{8})\.csv")


def read_rows(stream: TextIO, report_id: str) -> Iterator[SourceRow]:
    """Yield the data rows of one file; position is the line number in the file.

    Raises UnreadableReport when the header is not Convey's or the bytes are not CSV.
    """
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
        if header is None:
            raise UnreadableReport(f"{report_id}: the file is empty (no header line)")
        names = [name.strip().upper() for name in header]
        if sorted(names) != sorted(COLUMNS):
            raise UnreadableReport(
                f"{report_id}: not a Convey deactivation file: header is {header!r}, "
                f"expected the columns {', '.join(COLUMNS)}"
            )
        for values in reader:
            if not values or values == [""]:
                continue  # blank line, e.g. a trailing one
            if len(values) != len(names):
                fields = {"_values": ",".join(values)}
            else:
                fields = dict(zip(names, (v.strip() for v in values), strict=True))
            yield SourceRow(SOURCE, report_id, reader.line_num, fields)
    except csv.Error as error:
        raise UnreadableReport(f"{report_id}: not readable as CSV: {error}") from error
