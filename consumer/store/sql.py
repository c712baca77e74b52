"""The suppression store on a SQL database: one implementation, two dialects.

Per number it keeps the state the rules need (see rules.py), plus an audit
history of every applied event and the consumed offsets. A batch's state, its
history rows and its offsets are written in one database transaction, so the
store is always exactly as far as its offsets say: effectively once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from numguard.consumer.store import coverage, freshness, rules
from numguard.consumer.store.rules import NumberState, OrderKey
from numguard.schemas.events import EventType, StateChange

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS number_state (
        mdn TEXT PRIMARY KEY,
        last_voided_at_ms BIGINT,
        pause_key TEXT,
        pause_type TEXT,
        pause_since_ms BIGINT,
        new_mdn TEXT,
        new_mdn_key TEXT,
        updated_at_ms BIGINT NOT NULL,
        undeliverable_at_ms BIGINT,
        active_again_at_ms BIGINT)""",
    """CREATE TABLE IF NOT EXISTS event_history (
        event_id TEXT PRIMARY KEY,
        mdn TEXT NOT NULL,
        event_type TEXT NOT NULL,
        effective_at_ms BIGINT NOT NULL,
        new_mdn TEXT,
        carrier TEXT,
        source TEXT NOT NULL,
        report_id TEXT NOT NULL,
        report_position BIGINT NOT NULL,
        raw_reason TEXT NOT NULL,
        kafka_topic TEXT NOT NULL,
        kafka_partition INTEGER NOT NULL,
        kafka_offset BIGINT NOT NULL,
        applied_at_ms BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS event_history_by_mdn ON event_history (mdn, effective_at_ms)",
    # A message keyed by a number that could not be decoded holds that number until
    # the message is redriven and applied (origin: topic/partition/offset).
    """CREATE TABLE IF NOT EXISTS unreadable_events (
        mdn TEXT NOT NULL,
        origin TEXT NOT NULL,
        reason TEXT NOT NULL,
        since_ms BIGINT NOT NULL,
        PRIMARY KEY (mdn, origin))""",
    freshness.TABLE,
    coverage.TABLE,
    """CREATE TABLE IF NOT EXISTS consumer_offsets (
        consumer_group TEXT NOT NULL,
        kafka_topic TEXT NOT NULL,
        kafka_partition INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (consumer_group, kafka_topic, kafka_partition))""",
)

_STATE_COLUMNS = (
    "mdn, last_voided_at_ms, pause_key, pause_type, pause_since_ms, new_mdn, new_mdn_key, "
    "undeliverable_at_ms, active_again_at_ms"
)
_HISTORY_COLUMNS = (
    "event_id, mdn, event_type, effective_at_ms, new_mdn, carrier, source, report_id, "
    "report_position, raw_reason, kafka_topic, kafka_partition, kafka_offset, applied_at_ms"
)
# Columns added after the table's first version: added by `consume store` when it opens
# an older store; a reader of one not yet upgraded reads them as NULL.
_ADDED_STATE_COLUMNS = ("undeliverable_at_ms", "active_again_at_ms")


class Dialect(Protocol):
    """What differs between the databases: connecting, parameters, transactions."""

    name: str
    where: str  # for messages: the database, without credentials

    def sql(self, statement: str) -> str:
        """`statement` with `?` parameters rewritten for this driver."""

    def transaction(self, *, write: bool = True) -> AbstractContextManager[Any]:
        """A context in which every statement commits together, or none does.
        write=False: a read-only snapshot."""

    def cursor(self) -> Any: ...

    def insert_many(
        self, cursor: Any, table: str, columns: str, rows: list[tuple[Any, ...]], on_conflict: str
    ) -> None:
        """`rows` (values of `columns`) into `table`, in the caller's transaction; a row
        whose key is taken is resolved by `on_conflict` (an ON CONFLICT clause)."""

    def member_of(self, column: str, values: list[str]) -> Iterator[tuple[str, list[Any]]]:
        """`column` is one of `values`, as conditions (with `?` parameters) and their
        parameters: as many statements as the driver needs for that many values."""

    def stream(self, query: str) -> Iterator[tuple[Any, ...]]:
        """The rows of `query`, read a page at a time (bounded memory for any size)."""

    def has_table(self, name: str) -> bool:
        """Whether the table exists (a read-only command refuses a database without ours)."""

    def is_outage(self, error: BaseException) -> bool:
        """Whether `error` means the database is unreachable for now (worth a reconnect
        and a retry), not that the work itself is wrong."""

    def reconnect(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Consumed:
    """A decoded event and where it was read from."""

    change: StateChange
    topic: str
    partition: int
    offset: int
    redriven_from: str | None = None  # the unreadable message's origin it replaces


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A message that could not be decoded, keyed by a readable number."""

    mdn: str
    topic: str
    partition: int
    offset: int
    reason: str
    replaces: str | None = None  # a redriven copy that failed again: the hold moves here

    @property
    def origin(self) -> str:
        return origin(self.topic, self.partition, self.offset)


def origin(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/{partition}/{offset}"


class Fenced(Exception):
    """The store's offsets of some of a batch's partitions are past where the batch
    starts: another consumer applied them since this one was assigned them (it lost
    them in a rebalance it has not heard of yet). Nothing of the batch was written."""

    def __init__(self, partitions: list[tuple[str, int]]) -> None:
        super().__init__(", ".join(f"{topic}[{number}]" for topic, number in partitions))
        self.partitions = partitions


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _moment(millis: int | None) -> datetime | None:
    # The epoch plus a timedelta: a third of the time of datetime.fromtimestamp(…, UTC).
    return None if millis is None else _EPOCH + timedelta(milliseconds=millis)


def _key_text(key: OrderKey | None) -> str | None:
    """`millis|generated|position|event_id`: an f-string, a fifth of json.dumps' cost
    (a hostile event id made storable, as every text: it only breaks exact ties)."""
    return None if key is None else f"{key[0]}|{key[1]}|{key[2]}|{storable(key[3])}"


def _key(text: str | None) -> OrderKey | None:
    if text is None:
        return None
    if not text.startswith("["):
        parts = text.split("|", 3)
        return (int(parts[0]), int(parts[1]), int(parts[2]), parts[3])
    # Written as a JSON array by an earlier version.
    millis, generated, position, event_id = json.loads(text)
    if isinstance(generated, str):
        # Written before the generated time was in the key (its place held the report
        # id): the generated time is unknown, 0, as for any event that lacks it.
        generated = 0
    return (int(millis), int(generated), int(position), str(event_id))


_EVENT_TYPES = {t.value: t for t in EventType}  # a dict lookup: EventType() is slower


def _state_from_row(row: tuple[Any, ...], with_keys: bool = True) -> NumberState:
    mdn, voided, pause_key, pause_type, pause_since, new_mdn, new_mdn_key, failed, active = row
    # The None tests inline, not _moment(): a batch of 10,000 reads spends more here
    # than in SQLite.
    return NumberState(
        mdn=mdn,
        last_voided_at=None if voided is None else _EPOCH + timedelta(milliseconds=voided),
        # The order keys matter only to fold a change in; a reader deciding skips them.
        pause_key=_key(pause_key) if with_keys else None,
        pause_type=_EVENT_TYPES[pause_type] if pause_type else None,
        pause_since=None if pause_since is None else _EPOCH + timedelta(milliseconds=pause_since),
        new_mdn=new_mdn,
        new_mdn_key=_key(new_mdn_key) if with_keys else None,
        undeliverable_at=None if failed is None else _EPOCH + timedelta(milliseconds=failed),
        active_again_at=None if active is None else _EPOCH + timedelta(milliseconds=active),
    )


def fold_state_rows(rows: list[tuple[Any, ...]], found: dict[str, NumberState]) -> None:
    """Add the rows of one of SqlStore.state_reads' statements to `found`: a state
    row (its last column 0) or a count of the number's open unreadable events."""
    holds: dict[str, int] = {}
    for row in rows:
        if row[-1]:
            holds[row[0]] = int(row[-1])
        else:
            found[row[0]] = _state_from_row(row[:-1], with_keys=False)
    for mdn, count in holds.items():
        found[mdn] = replace(found.get(mdn) or NumberState(mdn), unreadable=count)


def _state_to_row(state: NumberState, now_ms: int) -> tuple[Any, ...]:
    return (
        state.mdn,
        _millis(state.last_voided_at),
        _key_text(state.pause_key),
        state.pause_type.value if state.pause_type else None,
        _millis(state.pause_since),
        storable(state.new_mdn),
        _key_text(state.new_mdn_key),
        _millis(state.undeliverable_at),
        _millis(state.active_again_at),
        now_ms,
    )


class SqlStore:
    """The suppression store. Create with `consumer.store.open_store(url)`."""

    # Up to this many numbers are read without a transaction: one statement on either
    # database (sqlite.LOOKUP_CHUNK), itself a snapshot.
    _LOOKUP_CHUNK = 500

    def __init__(self, dialect: Dialect, *, create: bool = True) -> None:
        self._db = dialect
        if create:
            with self._db.transaction():
                cursor = self._db.cursor()
                for statement in SCHEMA:
                    cursor.execute(statement)
                cursor.execute("SELECT 1 FROM source_freshness LIMIT 1")
                if cursor.fetchone() is None:
                    cursor.execute(freshness.BACKFILL)
                for column in self._missing_state_columns(cursor):
                    cursor.execute(f"ALTER TABLE number_state ADD COLUMN {column} BIGINT")
        self._state_columns_found = self._readable_state_columns()

    @property
    def _state_columns(self) -> str:
        """The state columns to select; while the store lacks some (an older store not yet
        upgraded by `consume store`), looked up again at each read, so a long-running
        reader sees them as soon as they are added."""
        if self._state_columns_found != _STATE_COLUMNS:
            self._state_columns_found = self._readable_state_columns()
        return self._state_columns_found

    def _missing_state_columns(self, cursor: Any) -> list[str]:
        cursor.execute("SELECT * FROM number_state LIMIT 0")
        present = {column[0] for column in cursor.description}
        return [column for column in _ADDED_STATE_COLUMNS if column not in present]

    def _readable_state_columns(self) -> str:
        """_STATE_COLUMNS, with NULL for a column an older store does not have yet."""
        if not self._db.has_table("number_state"):
            return _STATE_COLUMNS
        missing = self._missing_state_columns(self._db.cursor())
        columns = _STATE_COLUMNS
        for column in missing:
            columns = columns.replace(column, f"NULL AS {column}")
        return columns

    @property
    def backend(self) -> str:
        return self._db.name

    @property
    def where(self) -> str:
        return self._db.where

    def is_outage(self, error: BaseException) -> bool:
        return self._db.is_outage(error)

    def reconnect(self) -> None:
        self._db.reconnect()

    def close(self) -> None:
        self._db.close()

    def apply_batch(
        self,
        batch: list[Consumed],
        offsets: dict[tuple[str, int], int],
        group: str,
        unreadable: Sequence[Unreadable] = (),
        on_applied: Callable[[list[tuple[Consumed | Unreadable, NumberState]]], None] | None = None,
        coverage_rows: Sequence[tuple[str, str, str, str]] = (),
        first_offsets: Mapping[tuple[str, int], int] | None = None,
    ) -> None:
        """Apply `batch`, hold the numbers of `unreadable` messages, release the holds the
        batch's redriven events replace, record the reports' `coverage_rows` (in order:
        a later row of a report replaces an earlier one) and `offsets`, all atomically.
        `on_applied` gets each change, and each unreadable message, with its number's
        state after it (holds counted after this batch's), before the commit: if it
        raises, nothing is committed.

        `first_offsets` (a consumer group member gives them): where the batch starts in
        each partition of `offsets`. If the store's offset of one is already past it,
        another member applied those events: Fenced, and nothing is written."""
        now_ms = int(time.time() * 1000)
        with self._db.transaction():
            cursor = self._db.cursor()
            # First: the offset rows it takes stay locked to the commit, so two members
            # that both believe they own a partition apply one after the other, and the
            # second is fenced before it reads a state.
            if offsets:
                self._store_offsets(cursor, group, offsets, first_offsets)
            # The held numbers too: the state published after an unreadable message is the
            # number's whole state (a deactivation stays), not a bare hold.
            wanted = {item.change.mdn for item in batch} | {u.mdn for u in unreadable}
            states = self._load_states(cursor, sorted(wanted))
            applied: list[tuple[Consumed | Unreadable, NumberState]] = []
            for item in batch:
                after = rules.apply(states.get(item.change.mdn), item.change)
                states[item.change.mdn] = after
                applied.append((item, after))
            if states:
                self._db.insert_many(
                    cursor, "number_state", f"{_STATE_COLUMNS}, updated_at_ms",
                    [_state_to_row(state, now_ms) for state in states.values()],
                    "ON CONFLICT (mdn) DO UPDATE SET "
                    "last_voided_at_ms = excluded.last_voided_at_ms, "
                    "pause_key = excluded.pause_key, pause_type = excluded.pause_type, "
                    "pause_since_ms = excluded.pause_since_ms, new_mdn = excluded.new_mdn, "
                    "new_mdn_key = excluded.new_mdn_key, "
                    "undeliverable_at_ms = excluded.undeliverable_at_ms, "
                    "active_again_at_ms = excluded.active_again_at_ms, "
                    "updated_at_ms = excluded.updated_at_ms",
                )  # fmt: skip
            if batch:
                self._db.insert_many(
                    cursor, "event_history", _HISTORY_COLUMNS,
                    [_history_row(item, now_ms) for item in batch],
                    "ON CONFLICT (event_id) DO NOTHING",
                )  # fmt: skip
                self._record_freshness(cursor, batch, now_ms)
            if unreadable:
                cursor.executemany(
                    self._db.sql(
                        "INSERT INTO unreadable_events VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (mdn, origin) DO NOTHING"
                    ),
                    [(u.mdn, u.origin, storable(u.reason), now_ms) for u in unreadable],
                )
            released = [(i.change.mdn, i.redriven_from) for i in batch if i.redriven_from]
            released += [(u.mdn, u.replaces) for u in unreadable if u.replaces]
            if released:
                cursor.executemany(
                    self._db.sql("DELETE FROM unreadable_events WHERE mdn = ? AND origin = ?"),
                    released,
                )
            if coverage_rows:
                cursor.executemany(
                    self._db.sql(coverage.UPSERT),
                    [tuple(storable(v) for v in r) for r in coverage_rows],
                )
            if on_applied is not None and (applied or unreadable):
                touched = {u.mdn for u in unreadable} | {mdn for mdn, _ in released}
                on_applied(self._with_holds(cursor, applied, unreadable, states, touched))

    def _store_offsets(
        self,
        cursor: Any,
        group: str,
        offsets: dict[tuple[str, int], int],
        first_offsets: Mapping[tuple[str, int], int] | None,
    ) -> None:
        """Write the batch's offsets; with `first_offsets`, only over a stored offset not
        past the batch's start (a conditional upsert: it waits for another transaction
        holding the row, then judges the row that one committed)."""
        upsert = (
            "INSERT INTO consumer_offsets VALUES (?, ?, ?, ?) "
            "ON CONFLICT (consumer_group, kafka_topic, kafka_partition) "
            "DO UPDATE SET next_offset = excluded.next_offset"
        )
        if first_offsets is None:
            rows = [(group, topic, partition, nxt) for (topic, partition), nxt in offsets.items()]
            cursor.executemany(self._db.sql(upsert), rows)
            return
        fenced = []
        # In one order everywhere: two members locking rows never wait on each other.
        for (topic, partition), nxt in sorted(offsets.items()):
            first = first_offsets[(topic, partition)]
            cursor.execute(
                self._db.sql(upsert + " WHERE consumer_offsets.next_offset <= ?"),
                (group, topic, partition, nxt, first),
            )
            if cursor.rowcount != 1:
                fenced.append((topic, partition))
        if fenced:
            raise Fenced(fenced)

    def _with_holds(
        self,
        cursor: Any,
        applied: list[tuple[Consumed | Unreadable, NumberState]],
        unreadable: Sequence[Unreadable],
        states: dict[str, NumberState],
        touched: set[str],
    ) -> list[tuple[Consumed | Unreadable, NumberState]]:
        """`applied` and each unreadable message with its number's state, the open holds
        of the numbers this batch held or released counted as they now stand."""
        if not touched:
            return applied
        holds = self._hold_counts(cursor, sorted(touched))

        def counted(mdn: str, state: NumberState | None) -> NumberState:
            return replace(state or NumberState(mdn), unreadable=holds.get(mdn, 0))

        updated = [(item, counted(state.mdn, state) if state.mdn in touched else state)
                   for item, state in applied]  # fmt: skip
        return updated + [(u, counted(u.mdn, states.get(u.mdn))) for u in unreadable]

    def _hold_counts(self, cursor: Any, mdns: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for among, params in self._db.member_of("mdn", mdns):
            cursor.execute(self._db.sql(
                f"SELECT mdn, COUNT(*) FROM unreadable_events WHERE {among} GROUP BY mdn"
            ), params)  # fmt: skip
            found.update((str(mdn), int(count)) for mdn, count in cursor.fetchall())
        return found

    def _record_freshness(self, cursor: Any, batch: list[Consumed], now_ms: int) -> None:
        cursor.execute("SELECT source, latest_effective_ms, last_applied_ms FROM source_freshness")
        current = {str(s): (int(e), int(a)) for s, e, a in cursor.fetchall()}
        # Delivery reports come when messages fail, not on a feed's cadence: a quiet day
        # of them is good news, not a stale source.
        feeds = [i.change for i in batch if i.change.event_type is not EventType.UNDELIVERABLE]
        changes = ((storable(c.source) or "", _millis(c.effective_at) or 0) for c in feeds)
        rows = freshness.updated_rows(current, changes, now_ms)
        cursor.executemany(self._db.sql(freshness.UPSERT), rows)

    def freshness(self) -> list[freshness.SourceFreshness]:
        """Per source, the latest change held and when one was last applied."""
        if not self._db.has_table("source_freshness"):
            return []  # a store from before the table: `consume store` creates it
        return freshness.from_rows(list(self._rows(
            "SELECT source, latest_effective_ms, last_applied_ms FROM source_freshness "
            "ORDER BY source"
        )), self.coverage())  # fmt: skip

    def coverage(self) -> coverage.Coverage:
        """The days each source's reports covered, and the days they missed."""
        if not self._db.has_table("report_coverage"):
            return coverage.Coverage()  # a store from before the table: nothing known
        return coverage.from_rows(self._rows(coverage.SELECT))

    def offsets(self, group: str, topic: str) -> dict[int, int]:
        """The next offset to read per partition, as the last committed batch left it."""
        cursor = self._db.cursor()
        cursor.execute(
            self._db.sql(
                "SELECT kafka_partition, next_offset FROM consumer_offsets "
                "WHERE consumer_group = ? AND kafka_topic = ?"
            ),
            (group, topic),
        )
        return {int(partition): int(offset) for partition, offset in cursor.fetchall()}

    def state(self, mdn: str) -> NumberState | None:
        return self.states([mdn]).get(mdn)

    def states(self, mdns: list[str]) -> dict[str, NumberState]:
        """The state of each number that has one, read in one snapshot, for deciding
        (without the order keys that only folding a change in needs)."""
        if len(mdns) <= self._LOOKUP_CHUNK:
            # One statement is one snapshot: no transaction, one round trip.
            return self._read_states(self._db.cursor(), mdns)
        with self._db.transaction(write=False):
            return self._read_states(self._db.cursor(), mdns)

    def _read_states(self, cursor: Any, mdns: list[str]) -> dict[str, NumberState]:
        """States and open unreadable-event holds together, a statement a chunk."""
        found: dict[str, NumberState] = {}
        for statement, params in self.state_reads(mdns):
            cursor.execute(statement, params)
            fold_state_rows(cursor.fetchall(), found)
        return found

    def state_reads(self, mdns: list[str]) -> Iterator[tuple[str, list[Any]]]:
        """The statements (and their parameters) that read the states of `mdns`: one on
        PostgreSQL, one a chunk on SQLite; each statement's rows go to fold_state_rows.
        For readers with their own connection (the API's asynchronous PostgreSQL reads)."""
        for among, params in self._db.member_of("mdn", mdns):
            yield self._db.sql(
                f"SELECT {self._state_columns}, 0 FROM number_state WHERE {among} "
                "UNION ALL SELECT mdn, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, COUNT(*) "
                f"FROM unreadable_events WHERE {among} GROUP BY mdn"
            ), params + params  # fmt: skip

    def consumer_groups(self) -> list[str]:
        """The consumer groups whose offsets this store holds."""
        return [group for (group,) in self._rows(
            "SELECT DISTINCT consumer_group FROM consumer_offsets ORDER BY consumer_group"
        )]  # fmt: skip

    def numbers_by_state(self) -> dict[str, int]:
        """How many numbers would be blocked, held or allowed with no consent date."""
        query = (
            "SELECT CASE WHEN last_voided_at_ms IS NOT NULL THEN 'deactivated' "
            "WHEN undeliverable_at_ms IS NOT NULL AND (active_again_at_ms IS NULL "
            "OR undeliverable_at_ms >= active_again_at_ms) THEN 'undeliverable' "
            "WHEN pause_type = 'SUSPENDED' THEN 'suspended' ELSE 'active' END AS state, "
            "COUNT(*) FROM number_state GROUP BY 1"
        )
        found = {"deactivated": 0, "undeliverable": 0, "suspended": 0, "active": 0}
        found.update({state: int(count) for state, count in self._rows(query)})
        (held,) = next(self._rows("SELECT COUNT(DISTINCT mdn) FROM unreadable_events"))
        found["unreadable"] = int(held)
        return found

    def counts(self) -> dict[str, int]:
        """Numbers with a state and events in the audit history."""
        (numbers,) = next(self._rows("SELECT COUNT(*) FROM number_state"))
        (events,) = next(self._rows("SELECT COUNT(*) FROM event_history"))
        return {"numbers": int(numbers), "events": int(events)}

    def history(self, mdn: str) -> list[dict[str, Any]]:
        """Every applied event for `mdn`, oldest first: why a number is blocked."""
        cursor = self._db.cursor()
        cursor.execute(
            self._db.sql(
                "SELECT event_id, event_type, effective_at_ms, new_mdn, carrier, source, "
                "report_id, report_position, raw_reason FROM event_history WHERE mdn = ? "
                "ORDER BY effective_at_ms, report_id, report_position, event_id"
            ),
            (mdn,),
        )
        names = [column[0] for column in cursor.description]
        events = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for event in events:
            moment = _moment(event.pop("effective_at_ms"))
            event["effective_at"] = moment.isoformat().replace("+00:00", "Z") if moment else None
        return events

    def digest(self) -> str:
        """A stable hash of every number's decision-relevant state and of the audit trail."""
        digest = hashlib.sha256()
        states = f"SELECT {self._state_columns} FROM number_state ORDER BY mdn"
        for row in self._db.stream(states):
            # The order keys as values, not as text: their text changed between versions.
            mdn, voided, pause_key, pause_type, since, new_mdn, new_mdn_key, failed, active = row
            canonical = [mdn, voided, _key(pause_key), pause_type, since, new_mdn,
                         _key(new_mdn_key)]  # fmt: skip
            if failed is not None or active is not None:  # older digests stay the same
                canonical += [failed, active]
            digest.update(json.dumps(canonical).encode())
        for (event_id,) in self._db.stream("SELECT event_id FROM event_history ORDER BY event_id"):
            digest.update(event_id.encode())
        return digest.hexdigest()

    def _rows(self, query: str) -> Iterator[tuple[Any, ...]]:
        cursor = self._db.cursor()
        cursor.execute(query)
        while rows := cursor.fetchmany(1000):
            yield from rows

    def _load_states(self, cursor: Any, mdns: list[str]) -> dict[str, NumberState]:
        found: dict[str, NumberState] = {}
        for among, params in self._db.member_of("mdn", mdns):
            cursor.execute(
                self._db.sql(f"SELECT {self._state_columns} FROM number_state WHERE {among}"),
                params,
            )
            for row in cursor.fetchall():
                found[row[0]] = _state_from_row(row)
        for mdn, count in self._hold_counts(cursor, mdns).items():
            found[mdn] = replace(found.get(mdn) or NumberState(mdn), unreadable=count)
        return found


def storable(text: str | None) -> str | None:
    """Text any backend keeps: PostgreSQL refuses a NUL in text (and psycopg a lone
    surrogate), and one refused event would stop the store for every number. Both
    become U+FFFD; everything else, control characters and 64 KB included, is kept."""
    if text is None or (text.isascii() and "\x00" not in text):
        return text  # the common case, checked in C
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _history_row(item: Consumed, now_ms: int) -> tuple[Any, ...]:
    change = item.change
    return (
        storable(change.event_id),
        change.mdn,
        change.event_type.value,
        _millis(change.effective_at),
        storable(change.new_mdn),
        storable(change.carrier),
        storable(change.source),
        storable(change.report_id),
        change.report_position,
        storable(change.raw_reason),
        item.topic,
        item.partition,
        item.offset,
        now_ms,
    )
