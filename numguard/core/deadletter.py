"""Dead-letter records: what could not be used, why, and where it came from.

One JSON object per record, so a person can read the dead-letter topic with
any console consumer. Producers write rejected feed rows; consumers write
messages they could not decode or apply.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

# What confluent-kafka takes as a message's headers.
Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class DeadLetter:
    reason: str  # for a person: what is wrong with it
    stage: str  # "ingest" or "consume store", ...
    kind: str | None = None  # the reason in a word, for counting (bad_number, ...)
    source: str | None = None
    report_id: str | None = None
    position: int | None = None  # line or item number inside the report
    raw: Any = None  # the row or message as it was (bytes as hex)
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None

    def to_json(self) -> bytes:
        record = {k: v for k, v in asdict(self).items() if v is not None}
        record["dead_lettered_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        return json.dumps(record, sort_keys=True, default=str).encode()

    def headers(self) -> Headers:
        return [("numguard.reason", self.reason.encode()), ("numguard.stage", self.stage.encode())]
