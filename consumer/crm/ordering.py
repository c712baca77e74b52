"""Strict order per key, concurrency across keys.

Each key (an endpoint and a number) has a FIFO of jobs and at most one task
draining it: a number's second event is not sent to an endpoint until its first
was delivered there or dead-lettered, however long the retries take, while any
number of other numbers proceed. A key's task ends when its FIFO is empty, so
memory follows the backlog, not the count of numbers ever seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class KeyedSerialExecutor:
    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[Job]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}
        # The first unexpected error of any job: the caller stops and fails loudly rather
        # than leave an offset that can never complete.
        self.failure: BaseException | None = None

    def submit(self, key: Hashable, job: Job) -> None:
        """Queue `job` after every job already queued for `key` (needs a running loop)."""
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(job)
        if key not in self._workers:
            self._workers[key] = asyncio.get_running_loop().create_task(self._drain(key, queue))

    async def _drain(self, key: Hashable, queue: deque[Job]) -> None:
        try:
            while queue:
                job = queue[0]
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # a bug, not a delivery failure: those are outcomes
                    log.exception("delivery job failed")
                    if self.failure is None:
                        self.failure = error
                    return
                queue.popleft()
        finally:
            # Only when this task still owns the key (cancel() may have replaced it).
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]
                if self._queues.get(key) is queue:
                    del self._queues[key]

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return sum(len(queue) for queue in self._queues.values())

    def cancel(self, where: Callable[[Hashable], bool] = lambda _key: True) -> list[asyncio.Task]:
        """Cancel every key's jobs for which `where(key)`: their work is abandoned (and,
        never having completed, not committed). Returns the tasks, to await their unwinding."""
        keys = [key for key in self._workers if where(key)]
        tasks = [self._workers.pop(key) for key in keys]
        for key, task in zip(keys, tasks, strict=True):
            task.cancel()
            self._queues.pop(key, None)
        return tasks
