"""PostgreSQL, for production: `postgresql://user@host:port/dbname` (psycopg 3)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import psycopg


class PostgresDialect:
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self._connection = psycopg.connect(url, autocommit=True)

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def transaction(self, *, write: bool = True) -> AbstractContextManager[Any]:
        return self._connection.transaction()

    def cursor(self) -> psycopg.Cursor[Any]:
        return self._connection.cursor()

    def has_table(self, name: str) -> bool:
        row = self._connection.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        self._connection.close()
