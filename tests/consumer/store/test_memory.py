"""Issue 13: a walk of the whole store holds a page of it, not all of it. `store digest`
of a 1,000,000-number PostgreSQL store (1,000,000 events in its history) stays under
the 150 MB peak RSS every command must keep (1.41 GB with the default cursor)."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg

from numguard.consumer.store import open_store
from tests.support.postgres import fresh_postgres_database

NUMBERS = 1_000_000
PEAK_RSS_LIMIT_MB = 150
MARCH_5 = 1_709_596_800_000  # 2024-03-05, in ms

# Run the command as a child of a fresh interpreter: its children's peak RSS is the
# command's alone (the test process has had other, larger children).
_MEASURED = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stdout, end="")
sys.stderr.write(done.stderr)
"""


def fill(url: str) -> None:
    open_store(url).close()  # the tables
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY number_state (mdn, last_voided_at_ms, updated_at_ms) FROM STDIN"
        ) as copy:
            for n in range(NUMBERS):
                copy.write_row((f"+1202{n:07d}", MARCH_5, MARCH_5))
        with cursor.copy(
            "COPY event_history (event_id, mdn, event_type, effective_at_ms, source, report_id, "
            "report_position, raw_reason, kafka_topic, kafka_partition, kafka_offset, "
            "applied_at_ms) FROM STDIN"
        ) as copy:
            for n in range(NUMBERS):
                copy.write_row((f"{n:032x}", f"+1202{n:07d}", "DEACTIVATED", MARCH_5,
                                "convey", "mcdn_deact_20240305.csv", n + 1, "DEACTIVATE",
                                "numguard.number-state", n % 6, n // 6, MARCH_5))  # fmt: skip


def test_store_digest_of_a_million_numbers_stays_under_150_mb(postgres_url: str) -> None:
    url = fresh_postgres_database(postgres_url)
    fill(url)
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURED, sys.executable, "-m", "numguard", "store", "digest",
         "--json", "--store", url],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    status, peak_kb = measured.stdout.splitlines()[0].split()
    assert status == "0", measured.stderr
    answer = json.loads(measured.stdout.splitlines()[1])
    assert answer["numbers"] == NUMBERS
    assert int(peak_kb) / 1024 < PEAK_RSS_LIMIT_MB, f"peak RSS {int(peak_kb) / 1024:.0f} MB"
