"""The checkpoint record on the compacted `<topic>.checkpoints` topic.

A checkpoint says how far a report got: rows published, accepted, rejected, a
running checksum, the last position, whether the report is done, and the day it
covers. The producer writes it in the same Kafka transaction as the events it
accounts for, so a read_committed reader never sees one without the other; it
resumes from it, and the store consumer learns from it which days the feeds covered.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace


@dataclass(frozen=True)
class Checkpoint:
    source: str
    report_id: str
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    flagged: int = 0  # of the accepted: published with a warning dead letter
    ignored: int = 0  # rows read fine that change no state (a temporary delivery failure)
    checksum: str = ""
    position: int = 0  # the last row or item position covered
    done: bool = False
    # The sha256 of the report's bytes, when known (files given to `numguard ingest`):
    # a report re-issued under the same name with other content is published again.
    content_sha256: str = ""
    # The day the report lists the changes of (ISO 8601), when it is a daily report.
    covers: str = ""
    # A daily report past due and absent: the day stays uncovered until it is published.
    missed: bool = False
    # When Kafka stored it (Unix seconds); read from the record, never written into it.
    committed_at: float = field(default=0.0, compare=False)

    @property
    def key(self) -> str:
        return f"{self.source}/{self.report_id}"

    def to_json(self) -> bytes:
        record = asdict(self)
        del record["committed_at"]
        return json.dumps(record, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, committed_at: float = 0.0) -> Checkpoint:
        """Fields this version does not know (a newer writer's) are ignored."""
        record = json.loads(data)
        known = {f.name for f in fields(cls)} - {"committed_at"}
        return cls(**{k: v for k, v in record.items() if k in known}, committed_at=committed_at)

    def advanced(
        self,
        *,
        position: int,
        accepted: int,
        rejected: int,
        checksum: str,
        flagged: int = 0,
        ignored: int = 0,
    ) -> Checkpoint:
        return replace(
            self,
            rows=self.rows + accepted + rejected + ignored,
            ignored=self.ignored + ignored,
            accepted=self.accepted + accepted,
            rejected=self.rejected + rejected,
            flagged=self.flagged + flagged,
            checksum=checksum,
            position=position,
            missed=False,  # rows of it were published: it arrived
        )
