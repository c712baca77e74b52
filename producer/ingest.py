"""`numguard ingest`: publish local report files once each, in the order given."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from numguard.core.checkpoints import Checkpoint
from numguard.producer import normalize
from numguard.producer.delivery import csv_file
from numguard.producer.delivery.codes import PermanentFailures
from numguard.producer.publish import ReportPublisher
from numguard.producer.sources import (
    aws_sms,
    convey,
    govdelivery,
    infobip,
    telesign,
    twilio,
    vibes,
    vonage,
)
from numguard.producer.sources.base import Normalized, SourceRow, UnreadableReport

log = logging.getLogger(__name__)

_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 (and UTF-32 LE) byte-order marks


@dataclass(frozen=True)
class FileFormat:
    """A kind of report file `ingest` reads: how to know it, read it and normalize it."""

    source: str  # the checkpoint's source name: a file and its feed share checkpoints
    recognizes: Callable[[Path], bool]
    read_rows: Callable[[Any, str], Iterator[SourceRow]]  # (TextIO or BinaryIO, report id)
    normalize: Callable[[SourceRow, datetime], Normalized]
    # The day a file of this kind covers, from its name (None: not a daily report).
    covers: Callable[[str], date | None] = lambda name: None
    # A compressed kind: read_rows gets the file's bytes (a BinaryIO), not its text.
    binary: bool = False


FILE_FORMATS: dict[str, FileFormat] = {
    # The formats named in a file's name first: convey takes any other .csv.
    "delivery-failures": FileFormat(
        csv_file.SOURCE,
        lambda path: csv_file.recognizes(path.name),
        csv_file.read_rows,
        csv_file.DeliveryFailuresFile(PermanentFailures()).normalize,
    ),
    "vibes": FileFormat(
        "vibes",
        lambda path: bool(vibes.FILE_NAME.fullmatch(path.name)),
        vibes.read_file,
        normalize.vibes_row,
        vibes.day_of,
        binary=True,
    ),
    "aws-sms": FileFormat(
        aws_sms.SOURCE,
        lambda path: bool(aws_sms.FILE_NAME.fullmatch(path.name)),
        aws_sms.read_rows,
        normalize.daily_list_line,
        aws_sms.day_of,
    ),
    "telesign": FileFormat(
        "telesign",
        lambda path: telesign.day_and_carrier(path.name) is not None,
        telesign.read_file,
        telesign.telesign_row,
        lambda name: found[0] if (found := telesign.day_and_carrier(name)) else None,
        binary=True,
    ),
    "vonage": FileFormat(
        "vonage",
        lambda path: path.name.lower().startswith("vonage") and path.suffix.lower() == ".zip",
        vonage.read_file,
        normalize.daily_list_line,
        vonage.day_of,
        binary=True,
    ),
    "govdelivery": FileFormat(
        "govdelivery",
        lambda path: "govdelivery" in path.name.lower(),
        govdelivery.read_list_file,
        normalize.daily_list_line,
        govdelivery.day_of,  # a list's name must carry its day
    ),
    "convey": FileFormat(
        "convey",
        lambda path: bool(convey.FILE_NAME.fullmatch(path.name)) or path.suffix.lower() == ".csv",
        convey.read_rows,
        normalize.convey_row,
        convey.day_of,
    ),
    "infobip": FileFormat(
        "infobip",
        lambda path: path.suffix.lower() == ".json",
        infobip.read_records_file,
        normalize.infobip_item,
    ),
    "twilio": FileFormat(
        "twilio",
        lambda path: path.suffix.lower() == ".txt",
        twilio.read_list_file,
        normalize.daily_list_line,
        twilio.day_of,  # a list's name must carry its day: an UnreadableReport otherwise
    ),
}
FORMATS = tuple(FILE_FORMATS)


@dataclass
class IngestSummary:
    files: int = 0
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    flagged: int = 0  # of the accepted: published with a warning dead letter
    ignored: int = 0  # read fine, no state change in them (temporary delivery failures)
    already_done: list[str] = field(default_factory=list)
    reissued: list[str] = field(default_factory=list)  # published again: the content changed
    unreadable: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "flagged": self.flagged,
            "ignored": self.ignored,
            "already_published": self.already_done,
            "reissued": self.reissued,
            "unreadable": self.unreadable,
        }


def content_sha256(path: Path) -> str:
    """The file's bytes, hashed in chunks (bounded memory for any size)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def detect_format(path: Path) -> str:
    for name, candidate in FILE_FORMATS.items():
        if candidate.recognizes(path):
            return name
    raise UnreadableReport(f"{path}: cannot tell the format from the name; pass --format")


def file_changes(
    path: Path, file_format: FileFormat, ingested_at: datetime
) -> Iterator[Normalized]:
    if file_format.binary:
        with path.open("rb") as compressed:
            for row in file_format.read_rows(compressed, path.name):
                yield file_format.normalize(row, ingested_at)
        return
    with path.open("rb") as raw:
        head = raw.read(4)
        # A byte-order mark, or NULs in the first characters (UTF-16/32 without one).
        if head.startswith(_WIDE_BOMS) or b"\x00" in head:
            raise UnreadableReport(f"{path.name}: UTF-16 or UTF-32 text; save it as UTF-8")
    # A byte that is not UTF-8 spoils its field only (read as U+FFFD): the row it is in
    # may still be good, and a bad number or date is that row's dead letter.
    with path.open(newline="", encoding="utf-8", errors="replace") as stream:
        for row in file_format.read_rows(stream, path.name):
            yield file_format.normalize(row, ingested_at)


def ingest_files(
    paths: list[Path],
    publisher: ReportPublisher,
    checkpoints: dict[str, Checkpoint],
    *,
    file_format: str | None = None,
    force: bool = False,
    codes: PermanentFailures | None = None,
) -> IngestSummary:
    summary = IngestSummary()
    for path in paths:
        try:
            fmt = FILE_FORMATS[file_format or detect_format(path)]
            if codes is not None and fmt.source == csv_file.SOURCE:
                fmt = replace(fmt, normalize=csv_file.DeliveryFailuresFile(codes).normalize)
            content = content_sha256(path)
            day = fmt.covers(path.name)
            start = Checkpoint(source=fmt.source, report_id=path.name, content_sha256=content,
                               covers=day.isoformat() if day else "")  # fmt: skip
            previous = checkpoints.get(start.key)
            if previous is not None and not force:
                if previous.content_sha256 != content:
                    # Never skipped quietly: its rows are published again (event ids keep
                    # the unchanged ones harmless downstream), from its first row.
                    log.warning("%s: re-issued with other content than the copy published "
                                "before; publishing all of it again", path.name)  # fmt: skip
                    summary.reissued.append(path.name)
                elif previous.done:
                    log.info("%s was published before (%d rows, same content); skipping it",
                             path.name, previous.rows)  # fmt: skip
                    summary.already_done.append(path.name)
                    continue
                else:
                    log.info("%s: resuming after position %d", path.name, previous.position)
                    start = replace(previous, covers=previous.covers or start.covers)
            done = publisher.publish(file_changes(path, fmt, datetime.now(UTC)), start)
        except (UnreadableReport, OSError) as error:
            log.error("rejected whole, not marked done: %s", error)
            summary.unreadable.append(path.name)
            continue
        summary.files += 1
        summary.rows += done.rows - start.rows
        summary.accepted += done.accepted - start.accepted
        summary.rejected += done.rejected - start.rejected
        summary.flagged += done.flagged - start.flagged
        summary.ignored += done.ignored - start.ignored
    return summary
