"""Several processes opening one new SQLite store at once: replicas of `consume store`
started together, or a consumer and `serve` workers. Each must open it, none fail."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from numguard.consumer.store import open_store

OPENERS = 6
ROUNDS = 5


def _open(url: str, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait()
    open_store(url).close()


def test_processes_opening_one_new_sqlite_store_together_all_open_it(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    for round_ in range(ROUNDS):  # a race: several fresh files, each opened by all at once
        url = f"sqlite:///{tmp_path / f'store-{round_}.sqlite3'}"
        start = spawn.Barrier(OPENERS)
        openers = [spawn.Process(target=_open, args=(url, start)) for _ in range(OPENERS)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=60)
        assert [opener.exitcode for opener in openers] == [0] * OPENERS, f"round {round_}"
