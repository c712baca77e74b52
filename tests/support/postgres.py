"""The tests' PostgreSQL: the developer tools' local server (numguard.devtools.localpostgres)."""

from numguard.devtools.localpostgres import fresh_postgres_database, local_postgres

__all__ = ["fresh_postgres_database", "local_postgres"]
