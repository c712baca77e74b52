"""KeyedSerialExecutor without a broker: strict order per key, under any interleaving."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from numguard.consumer.crm.ordering import Job, KeyedSerialExecutor

# Jobs as (key, how many times the job yields to the loop while it runs): the yields
# interleave keys differently in every example, deterministically.
jobs = st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 4)), min_size=1, max_size=40)


@given(jobs)
def test_each_keys_jobs_run_one_at_a_time_in_submission_order(
    submitted: list[tuple[str, int]],
) -> None:
    log: list[tuple[str, str, int]] = []  # ("start" | "end", key, index)

    def job(key: str, index: int, yields: int) -> Job:
        async def run() -> None:
            log.append(("start", key, index))
            for _ in range(yields):
                await asyncio.sleep(0)
            log.append(("end", key, index))

        return run

    async def scenario() -> KeyedSerialExecutor:
        executor = KeyedSerialExecutor()
        for index, (key, yields) in enumerate(submitted):
            executor.submit(key, job(key, index, yields))
        while executor.pending:
            await asyncio.sleep(0)
        return executor

    executor = asyncio.run(scenario())
    for key in {k for k, _ in submitted}:
        mine = [(event, index) for event, k, index in log if k == key]
        order = [index for index, (k, _) in enumerate(submitted) if k == key]
        # start, end, start, end ... in submission order: never two at once for a key.
        assert mine == [(event, i) for i in order for event in ("start", "end")]
    assert executor.failure is None
    assert executor.pending == 0 and not executor._workers  # memory follows the backlog


def test_a_failing_job_is_the_executors_failure_and_stops_its_key() -> None:
    ran: list[str] = []

    async def boom() -> None:
        raise ValueError("a bug")

    async def after() -> None:
        ran.append("after")

    async def scenario() -> KeyedSerialExecutor:
        executor = KeyedSerialExecutor()
        executor.submit("a", boom)
        executor.submit("a", after)
        for _ in range(5):
            await asyncio.sleep(0)
        return executor

    executor = asyncio.run(scenario())
    assert isinstance(executor.failure, ValueError)
    assert ran == []  # the key's later job never runs past an unexplained failure
