"""A bounded pool of store connections for the API's request threads."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from numguard.consumer.store import SqlStore, open_store

log = logging.getLogger(__name__)


class StorePool:
    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._idle: queue.LifoQueue[SqlStore] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        # Open one now: a missing store fails at start-up, not on the first request.
        self._idle.put(open_store(url, create=False))

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

    @property
    def backend(self) -> str:
        with self.store() as store:
            return store.backend

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
