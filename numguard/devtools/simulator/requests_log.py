"""Every request the simulator answered, in order, for tests to assert on.

Paths and queries hold dates, pages and report ids, never phone numbers.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass

from numguard.devtools.simulator.faults import FaultKind


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]  # the first value of each parameter
    at: float  # the simulator's clock when the request arrived (POSIX seconds)
    status: int
    faults: tuple[FaultKind, ...]  # the injected faults that hit this request


class RequestLog:
    """Append-only and thread-safe: handler threads add, tests read."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        at: float,
        status: int,
        faults: tuple[FaultKind, ...],
    ) -> None:
        first = {name: values[0] for name, values in query.items() if values}
        with self._lock:
            self._records.append(RequestRecord(method, path, first, at, status, faults))

    def matching(self, pattern: str = "*") -> list[RequestRecord]:
        with self._lock:
            records = list(self._records)
        return [record for record in records if fnmatch.fnmatchcase(record.path, pattern)]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
