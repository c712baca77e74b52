"""A bounded pool of store connections for the API.

SQLite answers from the page cache in microseconds, so its lookups run on the event
loop: a hop to a thread would cost more than the lookup. PostgreSQL is a network
round trip, so its lookups run on at most `size` threads, each with its connection.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio

from numguard.consumer.store import SqlStore, open_store
from numguard.consumer.store.coverage import Coverage
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
