"""The suppression store: per-number state, audit history, consumed offsets."""

from __future__ import annotations

from pathlib import Path

from numguard.consumer.store.sql import Consumed, Dialect, Fenced, SqlStore, Unreadable

__all__ = [
    "Consumed",
    "Fenced",
    "SqlStore",
    "StoreMissing",
    "StoreUrlError",
    "Unreadable",
    "open_store",
]


class StoreUrlError(ValueError):
    """The store URL names no backend numguard has."""


class StoreMissing(LookupError):
    """A command that only reads was pointed at a store that does not exist."""


def open_store(url: str, *, create: bool = True) -> SqlStore:
    """`sqlite:///path` (embedded default) or `postgresql://…` (production).

    With create=False (commands that only read) a missing store is an error, not
    an empty store: an empty store would answer "allow" for every number.
    """
    if url.startswith("sqlite:///"):
        from numguard.consumer.store.sqlite import SqliteDialect

        path = Path(url.removeprefix("sqlite:///"))
        if not create and not path.exists():
            raise StoreMissing(f"no store at {path}: run `numguard consume store` first")
        return _checked(SqliteDialect(path), create, str(path))
    if url.startswith(("postgresql://", "postgres://")):
        from numguard.consumer.store.postgres import PostgresDialect

        return _checked(PostgresDialect(url), create, "the PostgreSQL database")
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreUrlError(
        f"unsupported store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://HOST/DB"
    )


def _checked(dialect: Dialect, create: bool, where: str) -> SqlStore:
    """With create=False, a database without numguard's tables is as missing as no file:
    answering from it would say "allow" for every number."""
    if not create and not dialect.has_table("number_state"):
        dialect.close()
        raise StoreMissing(f"{where} holds no numguard store: run `numguard consume store` first")
    return SqlStore(dialect, create=create)
