"""`numguard replay --jobs N`: the events partitions replayed by N processes at once.

Each process is `numguard replay` itself, with the same options and environment and
`--share I/N`: it applies the events of its partitions (numbers never span partitions,
so the shares never touch the same number) and prints its summary. The command then
makes one last pass over every partition, as a single-process replay would: the
checkpoints (the days covered, applied only once every events partition is read to
its end) and whatever was published meanwhile.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from numguard.consumer.store import SqlStore
from numguard.consumer.store_consumer import ConsumeSummary, PartitionShare

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 2.0
STOP_GRACE_SECONDS = 60.0  # for a stopped process to store the batch in hand
STOPPING_POLL_SECONDS = 0.2


class ShareFailed(Exception):
    """A share's process failed: the others were stopped; what they applied is kept."""


def replay_shares(
    argv: list[str],
    jobs: int,
    store: SqlStore,
    offsets_of: tuple[str, str],
    stop: threading.Event,
    progress: Callable[[int], None],
) -> ConsumeSummary:
    """Run `numguard *argv --share I/jobs` for each I, until all end; `progress(n)`
    every few seconds with the offsets applied so far (read from the store, under
    `offsets_of`: its consumer group and events topic). Raises ShareFailed."""
    started = _applied(store, offsets_of) or 0
    shares = [PartitionShare(index, jobs) for index in range(jobs)]
    command = [sys.executable, "-m", "numguard", *argv, "--share"]
    processes = [
        subprocess.Popen([*command, str(share)], stdout=subprocess.PIPE, text=True)
        for share in shares
    ]
    log.info("replaying with %d processes", jobs)
    forwarded = False
    try:
        while None in (codes := [process.poll() for process in processes]):
            for share, code in zip(shares, codes, strict=True):
                if code is not None and not _stopped(code, forwarded):
                    raise _failed(share, code)
            if stop.is_set() and not forwarded:
                # Each finishes the batch in hand, stores it and stops.
                forwarded = True
                for process in processes:
                    if process.poll() is None:
                        process.send_signal(signal.SIGTERM)
            if forwarded:
                time.sleep(STOPPING_POLL_SECONDS)  # waiting on `stop` would return at once
            else:
                stop.wait(PROGRESS_EVERY_SECONDS)
            if (applied := _applied(store, offsets_of)) is not None:
                progress(applied - started)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
    summary = ConsumeSummary()
    for share, process in zip(shares, processes, strict=True):
        output, _ = process.communicate()
        if not _stopped(process.returncode, forwarded):
            raise _failed(share, process.returncode)
        if output.strip():  # nothing from one stopped before it began
            summary.add(json.loads(output.strip().splitlines()[-1]))
    return summary


def _applied(store: SqlStore, offsets_of: tuple[str, str]) -> int | None:
    """The offsets applied so far, or None while the database is unreachable: the
    processes wait it out themselves; the progress line waits with them."""
    try:
        return sum(store.offsets(*offsets_of).values())
    except Exception as error:
        if not store.is_outage(error):
            raise
        log.debug("progress not read: %s", error)
    try:
        store.reconnect()  # for the next read, and the last pass
    except Exception as error:
        if not store.is_outage(error):
            raise
    return None


def _failed(share: PartitionShare, code: int) -> ShareFailed:
    return ShareFailed(
        f"replay process {share} failed (exit {code}); the others were stopped. What was "
        "applied is kept: run the same replay again to go on"
    )


def _stopped(code: int, forwarded: bool) -> bool:
    """Whether a process ended as asked: done, or stopped by the SIGTERM passed on to it
    (before its handler was in place, so before its first batch)."""
    return code == 0 or (forwarded and code == -signal.SIGTERM)
