"""numguard dev up / dev down: a local Kafka broker and carrier simulator to work against."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STOP_TIMEOUT_SECONDS = 30.0
SIMULATOR_START_SECONDS = 30.0
# A running broker that does not answer a metadata request in this long is restarted.
BROKER_ANSWER_SECONDS = 5.0

DESCRIPTION = """\
Start or stop a local Apache Kafka broker (KRaft, on 127.0.0.1, from the cached
jars) and a carrier simulator, in the background, for running the pieces of
numguard by hand. `dev up` prints their addresses as shell exports; the broker
keeps its topics in --workdir between runs. `dev down` stops both."""

EPILOG = """\
examples:
  eval "$(numguard dev up)"     # sets KAFKA_BOOTSTRAP_SERVERS and NUMGUARD_SIMULATOR_URL
  numguard produce --once --convey-url "$NUMGUARD_SIMULATOR_URL/convey/mcdn_deact_{date:%Y%m%d}.csv"
  numguard consume store --until-idle
  numguard dev down

exit status:
  0  done (up: both answer; down: both stopped)
  1  a process did not start or stop"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev", help="start or stop a local Kafka and carrier simulator",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    which = parser.add_subparsers(dest="dev_command", metavar="ACTION", required=True)
    up = which.add_parser("up", help="start them in the background and print their addresses")
    up.add_argument("--kafka-port", type=int, help="broker port (default: a free one)")
    up.add_argument("--days", type=int, default=7, help="simulated days of reports (default 7)")
    up.add_argument("--numbers", type=int, default=1000, help="simulated changes (default 1000)")
    down = which.add_parser("down", help="stop them")
    for action in (up, down):
        action.add_argument(
            "--workdir", type=Path,
            help="where their data, logs and state live (default ~/.cache/numguard/dev)",
        )  # fmt: skip
    up.set_defaults(handler=run_up)
    down.set_defaults(handler=run_down)


def _workdir(args: argparse.Namespace) -> Path:
    # The developer tools are imported when a dev command runs, never by other commands.
    from numguard.devtools.localkafka.jars import cache_root

    return Path(args.workdir) if args.workdir is not None else cache_root() / "dev"


def _state_file(workdir: Path) -> Path:
    return workdir / "dev.json"


def _read_state(workdir: Path) -> dict[str, Any]:
    state_file = _state_file(workdir)
    return dict(json.loads(state_file.read_text())) if state_file.exists() else {}


def _write_state(workdir: Path, state: dict[str, Any]) -> None:
    """Written as each process starts, so `dev down` finds whatever was started, even
    when a later step of `dev up` failed."""
    workdir.mkdir(parents=True, exist_ok=True)
    temporary = _state_file(workdir).with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(_state_file(workdir))


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (which may hold spaces), or None
    where /proc is not available or the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _started(pid: int) -> str | None:
    """When `pid` started (clock ticks since boot, field 22): with the pid, it names one
    process, so a pid the system gave to another program since is never taken for ours."""
    fields = _stat(pid)
    return fields[19] if fields else None


def _alive(pid: int | None, started: str | None = None) -> bool:
    """`pid` runs (a zombie does not) and, when its start time was recorded, is still
    the process recorded."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    fields = _stat(pid)
    if fields is None:
        return True  # no /proc: the signal's answer is all there is
    return fields[0] != "Z" and (started is None or fields[19] == started)


def _exports(state: dict[str, Any]) -> str:
    from numguard.devtools.localkafka.jars import kafka_version

    return (
        f"export KAFKA_BOOTSTRAP_SERVERS={state['bootstrap']}\n"
        f"export NUMGUARD_SIMULATOR_URL={state['simulator_url']}\n"
        f"# Kafka {kafka_version()} pid {state['kafka_pid']}, simulator pid "
        f"{state['simulator_pid']}; stop with: numguard dev down"
    )


def run_up(args: argparse.Namespace) -> int:
    """Start what is not running. A broker that died (or hangs) is started again on its
    recorded port and data, so addresses already exported and topics stay valid; a
    simulator still running is kept (never a second one beside it)."""
    from numguard.devtools.localkafka.broker import LocalKafka, broker_answers
    from numguard.devtools.localkafka.jars import kafka_version

    workdir = _workdir(args)
    state = _read_state(workdir)
    kafka_up = _alive(state.get("kafka_pid"), state.get("kafka_started"))
    if kafka_up and not broker_answers(str(state["bootstrap"]), timeout=BROKER_ANSWER_SECONDS):
        print(f"# Kafka (pid {state['kafka_pid']}) does not answer; restarting it", file=sys.stderr)
        _stop(state["kafka_pid"], "Kafka", state.get("kafka_started"))
        kafka_up = False
    if not kafka_up:
        port = args.kafka_port or state.get("kafka_port")
        print(f"# starting Apache Kafka {kafka_version()} in {workdir}", file=sys.stderr)
        broker = LocalKafka(workdir / "kafka", port, tie_to_parent=False).start()
        assert broker.process is not None
        pid = broker.process.pid
        state.update(bootstrap=broker.bootstrap_servers, kafka_port=broker.port, kafka_pid=pid,
                     kafka_started=_started(pid))  # fmt: skip
        _write_state(workdir, state)
    if not _alive(state.get("simulator_pid"), state.get("simulator_started")):
        pid, url = _start_simulator(workdir, args)
        state.update(simulator_url=url, simulator_pid=pid, simulator_started=_started(pid))
        _write_state(workdir, state)
    print(_exports(state))
    return 0


def _start_simulator(workdir: Path, args: argparse.Namespace) -> tuple[int, str]:
    # Files, not pipes: the simulator outlives this command and must never write to a
    # pipe nobody reads.
    banner, log = workdir / "simulator.out", workdir / "simulator.log"
    with banner.open("w") as out, log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "numguard", "simulate", "--days", str(args.days),
             "--numbers", str(args.numbers)],
            stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command, as the broker does
        )  # fmt: skip
    deadline = time.monotonic() + SIMULATOR_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        first = banner.read_text().partition("\n")[0]  # "carrier simulator at http://…"
        if first.startswith("carrier simulator at "):
            return process.pid, first.rsplit(" ", 1)[1].strip()
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"the simulator did not start; see {log}")


def _stop(pid: int | None, what: str, started: str | None = None) -> bool:
    """SIGTERM to the process group `dev up` made for `pid` (start_new_session: the group
    is the process and whatever it started), SIGKILL after STOP_TIMEOUT_SECONDS."""
    if not _alive(pid, started):
        return True
    assert pid is not None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not _alive(pid, started):
                print(f"stopped {what} (pid {pid})")
                return True
            time.sleep(0.1)
        print(f"{what} (pid {pid}) did not stop in {STOP_TIMEOUT_SECONDS:.0f} s", file=sys.stderr)
    return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:  # its own group leader, as dev up started it
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def run_down(args: argparse.Namespace) -> int:
    workdir = _workdir(args)
    state = _read_state(workdir)
    if not state:
        print(f"nothing is running (no dev state in {workdir})")
        return 0
    simulator = _stop(state.get("simulator_pid"), "the simulator", state.get("simulator_started"))
    kafka = _stop(state.get("kafka_pid"), "Kafka", state.get("kafka_started"))
    if simulator and kafka:
        _state_file(workdir).unlink()
    return 0 if simulator and kafka else 1
