"""SQLite, the embedded default: `sqlite:///relative/path` or `sqlite:////abs/path`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_delay
from tenacity.wait import wait_random

BUSY_TIMEOUT_SECONDS = 30.0
# 64 MB was no faster for 1,000,000 events than 16 (and 8), and cost 95 MB more peak RSS.
CACHE_MB = 16
WAL_CHECKPOINT_PAGES = 16_000  # 64 MB of 4 KB pages
# SQLite caps bound parameters per statement (32,766 here): numbers a statement, well below.
LOOKUP_CHUNK = 500


class SqliteDialect:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.where = f"SQLite at {path}"
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode; transactions are opened explicitly below.
        self._connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
            # The API server hands a connection to one thread at a time, from a pool.
            check_same_thread=False,
        )  # fmt: skip
        self._use_wal()
        # NORMAL in WAL: a commit is not fsynced at once, so a power cut may undo the last
        # batches, never half of one. Their offsets are in the same transactions and are
        # undone with them, so those events are consumed and applied again on restart:
        # nothing lost, nothing applied twice, and no fsync on every commit.
        self._connection.execute("PRAGMA synchronous=NORMAL")
        # A batch upserts thousands of numbers at random places in the B-trees: a page
        # cache of CACHE_MB (2 MB by default) and a checkpoint every WAL_CHECKPOINT_PAGES
        # (1,000) keep them from being read and written back at every commit.
        self._connection.execute(f"PRAGMA cache_size=-{CACHE_MB * 1024}")
        self._connection.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")

    def _use_wal(self) -> None:
        """Switch the file to WAL (it stays so). The switch needs the file to itself and
        SQLite answers "locked" at once, busy timeout or not, while another connection
        opens it: replicas or `serve` workers starting together. Tried again until the
        busy timeout."""
        for attempt in Retrying(
            retry=retry_if_exception(self.is_outage), stop=stop_after_delay(BUSY_TIMEOUT_SECONDS),
            wait=wait_random(0.005, 0.05), reraise=True,
        ):  # fmt: skip
            with attempt:
                self._connection.execute("PRAGMA journal_mode=WAL")

    def sql(self, statement: str) -> str:
        return statement

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so a writer never fails half-way
        # on a busy database; readers take no lock and read one snapshot.
        self._connection.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
        try:
            yield
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def cursor(self) -> sqlite3.Cursor:
        return self._connection.cursor()

    def insert_many(
        self,
        cursor: sqlite3.Cursor,
        table: str,
        columns: str,
        rows: list[tuple[Any, ...]],
        on_conflict: str,
    ) -> None:
        marks = ", ".join("?" * (columns.count(",") + 1))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks}) {on_conflict}", rows)

    def member_of(self, column: str, values: list[str]) -> Iterator[tuple[str, list[Any]]]:
        for start in range(0, len(values), LOOKUP_CHUNK):
            chunk = values[start : start + LOOKUP_CHUNK]
            yield f"{column} IN ({', '.join('?' * len(chunk))})", chunk

    def stream(self, query: str) -> Iterator[tuple[object, ...]]:
        """The rows of `query` as SQLite steps through them: never all held at once."""
        yield from self._connection.execute(query)

    def has_table(self, name: str) -> bool:
        found = self._connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return found.fetchone() is not None

    def is_outage(self, error: BaseException) -> bool:
        """A file another process holds locked past the busy timeout; nothing else."""
        return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)

    def reconnect(self) -> None:
        """One connection to a local file: nothing to re-establish."""

    def close(self) -> None:
        self._connection.close()
