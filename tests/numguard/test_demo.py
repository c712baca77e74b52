"""`numguard demo`, the README's first command, end to end on its own local broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kafka


def java_processes_under(folder: Path) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in listing.stdout.splitlines() if "java" in line and str(folder) in line]


def test_demo_runs_the_whole_flow_and_leaves_no_broker_behind(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "numguard", "demo", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"accepted": 6, "rejected": 1' in result.stdout
    assert '"mdn": "+12025550104", "decision": "block", "reason": "deactivated"' in result.stdout
    assert result.stdout.rstrip().endswith("decisions allow=2, block=3, hold=1")
    assert java_processes_under(tmp_path) == []
