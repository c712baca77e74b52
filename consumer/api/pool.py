"""A bounded pool of store connections for the API.

SQLite answers from the page cache in microseconds, so its lookups run on the event
loop: a hop to a thread would cost more than the lookup. PostgreSQL is a network
round trip, so its lookups run on at most `size` threads, each with its connection.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio

from numguard.consumer.store import SqlStore, open_store

log = logging.getLogger(__name__)
T = TypeVar("T")


class StorePool:
    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._idle: queue.LifoQueue[SqlStore] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._threads = anyio.CapacityLimiter(size)
        # Open one now: a missing or foreign store fails at start-up, not on a request.
        first = open_store(url, create=False)
        self.backend = first.backend
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
        """`work` with a store: on the loop for SQLite, on a pool thread otherwise."""
        if self.backend == "sqlite":
            with self.store() as store:
                return work(store)
        return await anyio.to_thread.run_sync(self._with_store, work, limiter=self._threads)

    def _with_store(self, work: Callable[[SqlStore], T]) -> T:
        with self.store() as store:
            return work(store)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
