"""A bounded pool of store connections for the API.

SQLite answers from the page cache in microseconds, so its lookups run on the event
loop: a hop to a thread would cost more than the lookup. PostgreSQL is a network
round trip: the state lookups (every check) wait for it on the loop through at most
`size` asynchronous connections (a hop to a thread and back cost more than the
query, and its wait for the GIL made the tail); other reads run on at most `size`
threads, each with its connection.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import psycopg

from numguard.consumer.store import SqlStore, open_store
from numguard.consumer.store.coverage import Coverage
from numguard.consumer.store.rules import NumberState
from numguard.consumer.store.sql import fold_state_rows
from numguard.core.outages import Unreachable

log = logging.getLogger(__name__)
T = TypeVar("T")

COVERAGE_TTL_SECONDS = 30.0


class StorePool:
    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._idle: queue.LifoQueue[SqlStore] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._threads = anyio.CapacityLimiter(size)
        # Open one now: a missing or foreign store fails at start-up, not on a request.
        first = open_store(url, create=False)
        self.backend = first.backend
        self._where, self._is_outage = first.where, first.is_outage
        self._idle.put(first)
        self._lookups: AsyncLookups | None = None
        if self.backend != "sqlite":
            # A store of its own, used on the loop only, to write the lookup statements
            # for the store's columns.
            self._lookups = AsyncLookups(url, size, open_store(url, create=False))

    @contextmanager
    def store(self) -> Iterator[SqlStore]:
        with self._slots:
            try:
                store = self._idle.get_nowait()
            except queue.Empty:
                store = open_store(self._url, create=False)
            try:
                yield store
            except Exception:
                # The connection may be broken: do not hand it to the next request.
                store.close()
                raise
            self._idle.put(store)

    async def states(self, mdns: list[str]) -> dict[str, NumberState]:
        """The states of `mdns` (see SqlStore.states). Raises Unreachable while the
        database is."""
        if self._lookups is None:
            return self._with_store(lambda store: store.states(mdns))
        return await self._lookups.states(mdns)

    async def run(self, work: Callable[[SqlStore], T]) -> T:
        """`work` with a store: on the loop for SQLite, on a pool thread otherwise.
        Raises Unreachable while the database is (a restart, a failover)."""
        if self.backend == "sqlite":
            return self._with_store(work)
        return await anyio.to_thread.run_sync(self._with_store, work, limiter=self._threads)

    def _with_store(self, work: Callable[[SqlStore], T]) -> T:
        try:
            with self.store() as store:
                return work(store)
        except Unreachable:
            raise
        except Exception as error:
            if self._is_outage(error):
                raise Unreachable(f"{self._where} unreachable: {error}") from error
            raise

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    async def aclose(self) -> None:
        self.close()
        if self._lookups is not None:
            await self._lookups.close()


class AsyncLookups:
    """At most `size` asynchronous PostgreSQL connections for state lookups, opened as
    needed; one that failed is dropped, and the next lookup opens a fresh one."""

    def __init__(self, url: str, size: int, statements: SqlStore) -> None:
        self._url, self._statements = url, statements
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)
        self._statements_broken = False

    async def states(self, mdns: list[str]) -> dict[str, NumberState]:
        statements = self._statements_for(mdns)
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            try:
                if connection is None:
                    connection = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
                found: dict[str, NumberState] = {}
                async with connection.cursor() as cursor:
                    for statement, params in statements:
                        await cursor.execute(statement, params)
                        fold_state_rows(await cursor.fetchall(), found)
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                if connection is not None:
                    await connection.close()
                raise Unreachable(f"{self._statements.where} unreachable: {error}") from error
            except BaseException:
                if connection is not None:  # its state is unknown: not for the next lookup
                    await connection.close()
                raise
            self._idle.append(connection)
            return found

    def _statements_for(self, mdns: list[str]) -> list[tuple[str, list[Any]]]:
        # Only a store not yet upgraded makes this read the database (its columns).
        try:
            if self._statements_broken:
                self._statements.reconnect()
                self._statements_broken = False
            return list(self._statements.state_reads(mdns))
        except Exception as error:
            if not self._statements.is_outage(error):
                raise
            self._statements_broken = True
            raise Unreachable(f"{self._statements.where} unreachable: {error}") from error

    async def close(self) -> None:
        self._statements.close()
        while self._idle:
            await self._idle.pop().close()


class CoverageCache:
    """The store's coverage, read at most once a COVERAGE_TTL_SECONDS: it changes once a
    report, and a no-record answer should not cost a read of it each time."""

    def __init__(self) -> None:
        self._coverage: Coverage | None = None
        self._read_at = 0.0

    async def get(self, pool: StorePool) -> Coverage:
        now = time.monotonic()
        if self._coverage is None or now - self._read_at > COVERAGE_TTL_SECONDS:
            self._coverage = await pool.run(lambda store: store.coverage())
            self._read_at = now
        return self._coverage
