"""How current the store is, per source: the latest change it holds and when it last
applied one. Kept in a table of its own, one row a source, updated with each batch
in the same transaction, so asking costs one small read (not a scan of the history).

A source is stale when nothing of it was applied for longer than `stale_after`:
the feed stopped, or the producer did. A scrub, a check and the API say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from numguard.consumer.store.coverage import Coverage, SourceCoverage

DEFAULT_STALE_AFTER = timedelta(hours=48)  # twice a daily feed's cadence

TABLE = """CREATE TABLE IF NOT EXISTS source_freshness (
    source TEXT PRIMARY KEY,
    latest_effective_ms BIGINT NOT NULL,
    last_applied_ms BIGINT NOT NULL)"""
# A store made before this table existed: filled once from the history.
BACKFILL = (
    "INSERT INTO source_freshness (source, latest_effective_ms, last_applied_ms) "
    "SELECT source, MAX(effective_at_ms), MAX(applied_at_ms) FROM event_history GROUP BY source"
)
UPSERT = (
    "INSERT INTO source_freshness VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
    "latest_effective_ms = excluded.latest_effective_ms, "
    "last_applied_ms = excluded.last_applied_ms"
)


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    source: str
    latest_change: datetime  # the latest effective time of a change applied from it
    last_applied: datetime  # when the store last applied a change from it
    # The days its reports covered and missed (coverage.py), when its checkpoints were read.
    coverage: SourceCoverage | None = None

    def stale(self, now: datetime, stale_after: timedelta | None = DEFAULT_STALE_AFTER) -> bool:
        """None: nothing is ever stale."""
        return stale_after is not None and now - self.last_applied > stale_after

    def as_json(
        self, now: datetime, stale_after: timedelta | None = DEFAULT_STALE_AFTER
    ) -> dict[str, object]:
        return {
            "source": self.source,
            "latest_change": _iso(self.latest_change),
            "last_applied": _iso(self.last_applied),
            "stale": self.stale(now, stale_after),
            **(self.coverage.as_json() if self.coverage else {}),
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _moment(millis: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)


def updated_rows(
    current: dict[str, tuple[int, int]], changes: Iterable[tuple[str, int]], now_ms: int
) -> list[tuple[str, int, int]]:
    """The rows to upsert for a batch of (source, effective ms): the latest change kept
    (a backfill of old days never moves it back), applied now."""
    latest: dict[str, int] = {}
    for source, effective_ms in changes:
        latest[source] = max(effective_ms, latest.get(source, effective_ms))
    return [
        (source, max(effective, current.get(source, (effective, 0))[0]), now_ms)
        for source, effective in latest.items()
    ]


def from_rows(rows: Sequence[tuple[Any, ...]], days: Coverage) -> list[SourceFreshness]:
    return [SourceFreshness(str(s), _moment(int(e)), _moment(int(a)), days.sources.get(str(s)))
            for s, e, a in rows]  # fmt: skip
