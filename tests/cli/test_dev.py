"""numguard dev up / down: a background broker and simulator, then nothing left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from numguard.cli.commands.dev import _alive
from numguard.devtools.localkafka.broker import broker_answers
from tests.support.waiting import wait_for

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


def recorded(workdir: Path) -> dict[str, object]:
    return dict(json.loads((workdir / "dev.json").read_text()))


def test_up_brings_a_killed_broker_back_on_its_port_and_data_and_keeps_the_simulator(
    tmp_path: Path,
) -> None:
    first = dev("up", "--workdir", str(tmp_path), "--days", "2", "--numbers", "20")
    pids: set[int] = set()
    try:
        assert first.returncode == 0, first.stderr
        before = recorded(tmp_path)
        pids |= {int(str(before["kafka_pid"])), int(str(before["simulator_pid"]))}
        bootstrap = str(before["bootstrap"])
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("made-before-the-crash", 1, 1)])[
            "made-before-the-crash"
        ].result(30)

        os.kill(int(str(before["kafka_pid"])), signal.SIGKILL)
        wait_for(lambda: not _alive(int(str(before["kafka_pid"]))), "the broker to die")

        again = dev("up", "--workdir", str(tmp_path))
        assert again.returncode == 0, again.stderr
        after = recorded(tmp_path)
        pids.add(int(str(after["kafka_pid"])))
        assert exports(again.stdout)["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap  # the same port
        assert after["kafka_pid"] != before["kafka_pid"]
        assert after["simulator_pid"] == before["simulator_pid"]  # kept, not orphaned
        assert _alive(int(str(after["simulator_pid"])))
        topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
        assert "made-before-the-crash" in topics  # the same data
    finally:
        down = dev("down", "--workdir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert len(pids) == 3
    assert not [pid for pid in pids if _alive(pid)]
    assert not (tmp_path / "dev.json").exists()


def test_down_stops_every_recorded_process_even_one_that_ignores_sigterm(tmp_path: Path) -> None:
    """The state names the processes; down ends each (SIGKILL after a grace period) and
    leaves a pid the system reused for another program alone."""
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
         "print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True, text=True,
    )  # fmt: skip
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
        state = {
            "bootstrap": "127.0.0.1:9", "simulator_url": "http://127.0.0.1:9",
            "kafka_pid": stubborn.pid, "simulator_pid": bystander.pid,
            "simulator_started": "1",  # recorded for another process that had this pid
        }  # fmt: skip
        (tmp_path / "dev.json").write_text(json.dumps(state))
        down = subprocess.run(
            [sys.executable, "-c", "import sys; from numguard.cli.commands import dev; "
             "dev.STOP_TIMEOUT_SECONDS = 1.0; from numguard.cli import main; "
             "sys.exit(main(sys.argv[1:]))", "dev", "down", "--workdir", str(tmp_path)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert down.returncode == 0, down.stderr
        assert stubborn.wait(10) == -signal.SIGKILL
        assert bystander.poll() is None  # not ours any more: left running
    finally:
        for process in (stubborn, bystander):
            process.kill()
            process.wait()
