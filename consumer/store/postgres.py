"""PostgreSQL, for production: `postgresql://user@host:port/dbname` (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from numguard.consumer.store import StoreUrlError  # imported lazily by open_store
from numguard.core.outages import Unreachable

STREAM_PAGE_ROWS = 5000


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class PostgresDialect:
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self._url = url
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as error:
            raise StoreUrlError(f"not a PostgreSQL URL: {error}") from None
        # For messages: where the server is, never the password.
        self.where = (f"PostgreSQL at {params.get('host', 'localhost')}:"
                      f"{params.get('port', 5432)}/{params.get('dbname', '')}")  # fmt: skip
        try:
            self._connection = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as error:
            raise Unreachable(f"{self.where} unreachable: {_first_line(error)}") from None

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def transaction(self, *, write: bool = True) -> AbstractContextManager[Any]:
        return self._connection.transaction()

    def cursor(self) -> psycopg.Cursor[Any]:
        return self._connection.cursor()

    def insert_many(
        self,
        cursor: psycopg.Cursor[Any],
        table: str,
        columns: str,
        rows: list[tuple[Any, ...]],
        on_conflict: str,
    ) -> None:
        """COPY into a temporary table of `table`'s shape, then one INSERT from it: a
        statement a batch on the server, where executemany is a statement a row (and in
        Python, a parameter adaptation each). Created on each call, IF NOT EXISTS: a
        rolled-back transaction or a new connection takes it away; emptied at once, so
        a second call in the transaction starts empty."""
        staging = f"numguard_staging_{table}"
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table})")
        with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "
                       f"{on_conflict}")  # fmt: skip
        cursor.execute(f"TRUNCATE {staging}")

    def member_of(self, column: str, values: list[str]) -> Iterator[tuple[str, list[Any]]]:
        """One statement for any number of values: an array parameter, so the statement
        text is the same for 1 or 10,000 numbers (parsed once, prepared by psycopg)."""
        yield f"{column} = ANY(?)", [values]

    def stream(self, query: str) -> Iterator[tuple[Any, ...]]:
        """The rows of `query` a page at a time from a server-side cursor: a walk of a
        store of any size holds one page (the default cursor holds the whole result)."""
        with self._connection.transaction(), self._connection.cursor(name="numguard_walk") as walk:
            walk.itersize = STREAM_PAGE_ROWS
            walk.execute(query)
            yield from walk

    def has_table(self, name: str) -> bool:
        row = self._connection.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        return bool(row and row[0])

    def is_outage(self, error: BaseException) -> bool:
        """Lost or refused connections (a restart, a failover), not a bad statement."""
        return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)

    def reconnect(self) -> None:
        self._connection.close()
        self._connection = psycopg.connect(self._url, autocommit=True)

    def close(self) -> None:
        self._connection.close()
