"""Carrier data from a directory of given files, served byte for byte as written.

    mcdn_deact_YYYYMMDD.csv                Convey daily files
    twilio_deactivations_YYYY-MM-DD.txt    Twilio daily lists
    *.json                                 Infobip reports: one report object, or a list of them

A report object holds the metadata (reportId, networkName, networkId, dateFrom,
dateTo; generatedDate and expiryDate are optional, defaulting to 01:00 the day
after dateTo and 60 days later) and its items under "records". Given files may
be broken on purpose (bad rows, odd values): they are served as they are, and
only what the server itself must understand (dates, report ids) is checked.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from numguard.devtools.simulator.dataset import INFOBIP_GENERATED_AFTER, INFOBIP_RETENTION
from numguard.devtools.simulator.feeds import (
    CONVEY_FILE,
    TWILIO_FILE,
    Body,
    InfobipReport,
    utc_text,
)

READ_CHUNK_BYTES = 64 * 1024


class UnusableDirectory(ValueError):
    """The directory is missing, holds no carrier file, or a report cannot be read."""


class DirectoryDataset:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise UnusableDirectory(f"{self.directory} is not a directory")
        self._convey: dict[date, Path] = {}
        self._twilio: dict[date, Path] = {}
        self._reports: dict[str, tuple[InfobipReport, list[dict[str, Any]]]] = {}
        for path in sorted(self.directory.iterdir()):
            if match := CONVEY_FILE.fullmatch(path.name):
                self._convey[_date(match.group(1), "%Y%m%d", path)] = path
            elif match := TWILIO_FILE.fullmatch(path.name):
                self._twilio[_date(match.group(1), "%Y-%m-%d", path)] = path
            elif path.suffix == ".json":
                for report, records in _read_reports(path):
                    self._reports[report.report_id] = (report, records)
        if not (self._convey or self._twilio or self._reports):
            raise UnusableDirectory(
                f"{self.directory} holds no mcdn_deact_YYYYMMDD.csv, "
                "twilio_deactivations_YYYY-MM-DD.txt or Infobip report .json file"
            )

    def dates(self) -> list[date]:
        """Every day some given file covers."""
        days = set(self._convey) | set(self._twilio)
        for report, _ in self._reports.values():
            days.update(
                report.date_from + timedelta(days=n)
                for n in range((report.date_to - report.date_from).days + 1)
            )
        return sorted(days)

    def convey_file(self, day: date) -> Body | None:
        path = self._convey.get(day)
        return None if path is None else _file_body(path)

    def convey_rows(self, day: date) -> Iterator[dict[str, str]] | None:
        path = self._convey.get(day)
        if path is None:
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
        reader = csv.DictReader(io.StringIO(text))
        return (dict(row) for row in reader if any(value for value in row.values()))

    def infobip_reports(self) -> Sequence[InfobipReport]:
        return [report for report, _ in self._reports.values()]

    def infobip_record_count(self, report_id: str) -> int:
        return len(self._reports[report_id][1])

    def infobip_records(self, report_id: str, start: int, stop: int) -> list[dict[str, Any]]:
        return self._reports[report_id][1][start:stop]

    def twilio_numbers(self, day: date) -> Iterator[str] | None:
        path = self._twilio.get(day)
        if path is None:
            return None
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return (line.strip() for line in lines if line.strip())

    def twilio_file(self, day: date) -> Body | None:
        path = self._twilio.get(day)
        return None if path is None else _file_body(path)


def _date(text: str, pattern: str, path: Path) -> date:
    try:
        return datetime.strptime(text, pattern).date()
    except ValueError:
        raise UnusableDirectory(f"{path.name}: {text!r} is not a date") from None


def _file_body(path: Path) -> Body:
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as stream:
            while chunk := stream.read(READ_CHUNK_BYTES):
                yield chunk

    return Body(path.stat().st_size, chunks)


def _read_reports(path: Path) -> Iterator[tuple[InfobipReport, list[dict[str, Any]]]]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise UnusableDirectory(f"{path.name}: not JSON: {error}") from None
    for given in loaded if isinstance(loaded, list) else [loaded]:
        yield _report(given, path)


def _report(given: Any, path: Path) -> tuple[InfobipReport, list[dict[str, Any]]]:
    if not isinstance(given, dict):
        raise UnusableDirectory(f"{path.name}: a report must be a JSON object")
    try:
        date_from = date.fromisoformat(str(given["dateFrom"])[:10])
        date_to = date.fromisoformat(str(given["dateTo"])[:10])
        generated = (
            _moment(given["generatedDate"])
            if "generatedDate" in given
            else datetime.combine(date_to, time(), UTC) + INFOBIP_GENERATED_AFTER
        )
        expiry = (
            _moment(given["expiryDate"]) if "expiryDate" in given else generated + INFOBIP_RETENTION
        )
        report = InfobipReport(
            report_id=str(given["reportId"]),
            network_name=str(given["networkName"]),
            network_id=int(given["networkId"]),
            generated_date=generated,
            date_from=date_from,
            date_to=date_to,
            expiry_date=expiry,
        )
    except KeyError as error:
        raise UnusableDirectory(f"{path.name}: a report lacks {error.args[0]}") from None
    except (TypeError, ValueError) as error:
        raise UnusableDirectory(f"{path.name}: unreadable report metadata: {error}") from None
    records = given.get("records", [])
    if not isinstance(records, list):
        raise UnusableDirectory(f"{path.name}: records must be a list")
    metadata = {name: value for name, value in given.items() if name != "records"}
    metadata.setdefault("generatedDate", utc_text(generated))
    metadata.setdefault("expiryDate", utc_text(expiry))
    return dataclasses.replace(report, given=metadata), records


def _moment(value: Any) -> datetime:
    """yyyy-MM-dd (read as midnight UTC) or an ISO 8601 time: Infobip shows both."""
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
