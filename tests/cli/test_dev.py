"""numguard dev up / down: a background broker and simulator, then nothing left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from numguard.devtools.localkafka.broker import broker_answers

pytestmark = pytest.mark.kafka


def dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "numguard", "dev", *args], capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


def exports(text: str) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in text.splitlines()
             if line.startswith("export "))  # fmt: skip
    return dict(pairs)


def test_up_prints_addresses_that_answer_and_down_stops_everything(tmp_path: Path) -> None:
    up = dev("up", "--workdir", str(tmp_path), "--days", "2", "--numbers", "20")
    try:
        assert up.returncode == 0, up.stderr
        found = exports(up.stdout)
        assert broker_answers(found["KAFKA_BOOTSTRAP_SERVERS"], timeout=10)
        day_file = httpx.get(found["NUMGUARD_SIMULATOR_URL"] + "/v1/Deactivations?Date=2000-01-01")
        assert day_file.status_code in (400, 401)  # the simulator answers

        again = dev("up", "--workdir", str(tmp_path))  # already up: same addresses
        assert exports(again.stdout) == found
    finally:
        down = dev("down", "--workdir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert "stopped Kafka" in down.stdout and "stopped the simulator" in down.stdout
    assert not broker_answers(found["KAFKA_BOOTSTRAP_SERVERS"], timeout=2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(found["NUMGUARD_SIMULATOR_URL"] + "/convey/mcdn_deact_20000101.csv")
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path) not in listing
    assert os.path.exists(tmp_path / "kafka" / "broker.log")
