"""The three carrier feeds' wire formats, and what the server needs from a data set.

Field names, codes and paths follow /work/shared/specs/carrier-feeds.md. Both
data sets (generated and read from a directory) answer the `CarrierData`
protocol below; it is also the ground truth tests compare a producer against.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, Protocol


class Feed(enum.StrEnum):
    CONVEY = "convey"
    INFOBIP = "infobip"
    TWILIO = "twilio"


class Kind(enum.StrEnum):
    """A carrier change, before a feed spells it with its own code."""

    DEACTIVATE = "DEACTIVATE"
    SUSPEND = "SUSPEND"
    REACTIVATE = "REACTIVATE"
    CHANGE_NUMBER = "CHANGE_NUMBER"  # the old number is deactivated, replaced by new_mdn
    ACTIVATE = "ACTIVATE"  # activated for a new owner after a deactivation (Infobip only)


class Change(NamedTuple):
    """One change of one number, as generated. Numbers are E.164 (`+12025550100`).
    A NamedTuple, not a dataclass: millions are made, and tuples are built 3x faster."""

    kind: Kind
    mdn: str
    at: datetime  # UTC
    new_mdn: str | None
    carrier: str  # Convey's CARRIER_NAME, Infobip's networkName; "" for Twilio


# Convey: mcdn_deact_YYYYMMDD.csv
CONVEY_COLUMNS = ("MDN", "REASON_CODE", "MODIFICATION_DATE", "NEW_MDN", "CARRIER_NAME")
CONVEY_HEADER = ",".join(CONVEY_COLUMNS) + "\r\n"
CONVEY_FILE = re.compile(r"mcdn_deact_(\d{8})\.csv")
CONVEY_NO_NEW_MDN = "1"  # Convey's NEW_MDN for every reason but CHANGE_MDN
CONVEY_CODES = {
    Kind.DEACTIVATE: "DEACTIVATE",
    Kind.SUSPEND: "SUSPEND",
    Kind.REACTIVATE: "REACTIVATE",
    Kind.CHANGE_NUMBER: "CHANGE_MDN",
}

# Infobip: Number Activation State API
INFOBIP_TYPES = {
    Kind.DEACTIVATE: "DEACTIVATION",
    Kind.SUSPEND: "SUSPENSION",
    Kind.REACTIVATE: "REACTIVATION",
    Kind.CHANGE_NUMBER: "DEACTIVATION",  # with newDestination
    Kind.ACTIVATE: "ACTIVATION",
}
INFOBIP_NETWORKS = (("Verizon Wireless", 1717), ("AT&T Mobility", 1733))

# Twilio: twilio_deactivations_YYYY-MM-DD.txt when given as files
TWILIO_FILE = re.compile(r"twilio_deactivations_(\d{4}-\d{2}-\d{2})\.txt")
TWILIO_FIRST_DAY = date(2020, 8, 27)  # Twilio's data starts here (error 30113 before)
TWILIO_LIST_END = "\r\n"  # a list ends with a blank line

CHUNK_BYTES = 64 * 1024  # lines are joined into chunks of about this size for the socket


def convey_file_name(day: date) -> str:
    return f"mcdn_deact_{day:%Y%m%d}.csv"


def twilio_file_name(day: date) -> str:
    return f"twilio_deactivations_{day.isoformat()}.txt"


def convey_fields(change: Change) -> dict[str, str]:
    """A row by column name; MODIFICATION_DATE is the UTC date with the time zeroed."""
    return dict(zip(CONVEY_COLUMNS, _convey_values(change), strict=True))


def convey_line(change: Change) -> str:
    """One CSV line; kept cheap: a benchmark file may hold a million of them."""
    return ",".join(_convey_values(change)) + "\r\n"


def _convey_values(change: Change) -> tuple[str, str, str, str, str]:
    return (
        change.mdn[1:],
        CONVEY_CODES[change.kind],
        _convey_date(change.at.date()),
        change.new_mdn[1:] if change.new_mdn else CONVEY_NO_NEW_MDN,
        change.carrier,
    )


@functools.lru_cache(maxsize=1024)
def _convey_date(day: date) -> str:
    return f"{day.isoformat()}T00:00Z"


def infobip_time(moment: datetime) -> str:
    """`2024-03-05T11:00:00.000+0000`: Infobip's yyyy-MM-dd'T'HH:mm:ss.SSSZ in UTC."""
    moment = moment.astimezone(UTC)  # formatted by hand: strftime costs 4x more
    return (
        f"{moment.date().isoformat()}T{moment.hour:02d}:{moment.minute:02d}:"
        f"{moment.second:02d}.{moment.microsecond // 1000:03d}+0000"
    )


def infobip_record(change: Change) -> dict[str, Any]:
    record = {
        "date": infobip_time(change.at),
        "destination": change.mdn[1:],
        "type": INFOBIP_TYPES[change.kind],
    }
    if change.new_mdn:
        record["newDestination"] = change.new_mdn[1:]
    return record


def twilio_line(number: str) -> str:
    return f"{number}\r\n"


def utc_text(moment: datetime) -> str:
    """`2024-03-19T00:00:00Z`, the form of the spec's expiryDate example."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Body:
    """A response body of known length, produced in chunks so a million-row file
    never has to sit in memory as one string."""

    length: int
    chunks: Callable[[], Iterable[bytes]]

    @classmethod
    def of(cls, data: bytes) -> Body:
        return cls(len(data), lambda: (data,))

    @classmethod
    def of_lines(cls, lines: Callable[[], Iterable[str]], length: int | None = None) -> Body:
        """Without a known `length`, lines are generated twice: to measure, then to send."""

        def chunks() -> Iterator[bytes]:
            batch: list[str] = []
            size = 0
            for line in lines():
                batch.append(line)
                size += len(line)
                if size >= CHUNK_BYTES:
                    yield "".join(batch).encode()
                    batch, size = [], 0
            if batch:
                yield "".join(batch).encode()

        if length is None:
            length = sum(len(chunk) for chunk in chunks())
        return cls(length, chunks)

    def read(self) -> bytes:
        return b"".join(self.chunks())


@dataclass(frozen=True, slots=True)
class InfobipReport:
    """One network report's metadata."""

    report_id: str
    network_name: str
    network_id: int
    generated_date: datetime
    date_from: date
    date_to: date
    expiry_date: datetime
    # A given file's metadata, served as it was written (it may spell dates differently).
    given: Mapping[str, Any] | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, Any]:
        if self.given is not None:
            return dict(self.given)
        return {
            "reportId": self.report_id,
            "networkName": self.network_name,
            "networkId": self.network_id,
            "generatedDate": utc_text(self.generated_date),
            "dateFrom": self.date_from.isoformat(),
            "dateTo": self.date_to.isoformat(),
            "expiryDate": utc_text(self.expiry_date),
        }

    def covers(self, day: date) -> bool:
        return self.date_from <= day <= self.date_to

    def expired(self, now: datetime) -> bool:
        return now > self.expiry_date


class CarrierData(Protocol):
    """What the simulator serves, feed by feed; `None` means "no such file or day"."""

    def convey_file(self, day: date) -> Body | None: ...

    def convey_rows(self, day: date) -> Iterator[dict[str, str]] | None:
        """The file's data rows by column name: what a reader must yield."""
        ...

    def infobip_reports(self) -> Sequence[InfobipReport]:
        """Every report, expired ones included (the server hides those)."""
        ...

    def infobip_record_count(self, report_id: str) -> int:
        """How many records a report holds; KeyError if unknown."""
        ...

    def infobip_records(self, report_id: str, start: int, stop: int) -> list[dict[str, Any]]:
        """Records [start, stop) of a report, as JSON objects; KeyError if unknown."""
        ...

    def twilio_numbers(self, day: date) -> Iterator[str] | None:
        """The numbers listed for `day`; None when the day is not available (30114)."""
        ...

    def twilio_file(self, day: date) -> Body | None: ...
