"""`numguard demo`, the README's first command, end to end on its own broker and simulator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from numguard.devtools.simulator import GeneratedDataset

pytestmark = pytest.mark.kafka


def java_processes_under(folder: Path) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in listing.stdout.splitlines() if "java" in line and str(folder) in line]


def test_demo_runs_the_whole_flow_and_leaves_nothing_running(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "numguard", "demo", "--workdir", str(tmp_path),
         "--days", "2", "--numbers", "120"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # The demo's simulator is seeded: the same data the test can count itself.
    data = GeneratedDataset(seed=1, numbers=120, days=2)
    # Daily: Convey, and Twilio, GovDelivery, Vibes, Vonage, Telesign (two carriers' files a
    # day) and AWS all serving the day's Twilio list; Infobip's reports.
    reports = len(data.dates()) * 8 + len(data.infobip_reports())
    events = sum(len(list(data.convey_rows(d) or [])) + 6 * len(list(data.twilio_numbers(d) or []))
                 for d in data.dates()) + sum(
        data.infobip_record_count(r.report_id) for r in data.infobip_reports())  # fmt: skip
    done = re.search(r"done: (\d+) reports polled, (\d+) events published, 0 rows rejected; "
                     r"(\d+) delivery failures; (\d+) numbers blocked, (\d+) held; "
                     r"(\d+) webhooks delivered", result.stdout)  # fmt: skip
    assert done, result.stdout
    assert (int(done.group(1)), int(done.group(2)), int(done.group(3))) == (reports, events, 2)
    assert int(done.group(4)) > 0 and int(done.group(5)) > 0
    # One endpoint, every event (the two UNDELIVERABLE too), each signature checked.
    assert int(done.group(6)) == events + 2
    assert "2 blocked (undeliverable)" in result.stdout
    assert "delivered -: HTTP 204" in result.stdout
    assert "0 bad signatures, 0 dead-lettered" in result.stdout
    assert '"decision": "hold", "reason": "suspended"' in result.stdout
    assert '"reason": "deactivated"' in result.stdout and '"new_mdn"' in result.stdout
    assert "metrics at http://127.0.0.1:" in result.stdout
    assert java_processes_under(tmp_path) == []
