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

STOP_TIMEOUT_SECONDS = 30.0
SIMULATOR_START_SECONDS = 30.0

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


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _exports(state: dict[str, object]) -> str:
    from numguard.devtools.localkafka.jars import kafka_version

    return (
        f"export KAFKA_BOOTSTRAP_SERVERS={state['bootstrap']}\n"
        f"export NUMGUARD_SIMULATOR_URL={state['simulator_url']}\n"
        f"# Kafka {kafka_version()} pid {state['kafka_pid']}, simulator pid "
        f"{state['simulator_pid']}; stop with: numguard dev down"
    )


def run_up(args: argparse.Namespace) -> int:
    from numguard.devtools.localkafka.broker import LocalKafka, broker_answers
    from numguard.devtools.localkafka.jars import kafka_version

    workdir = _workdir(args)
    state_file = _state_file(workdir)
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if _alive(state["kafka_pid"]) and broker_answers(str(state["bootstrap"])):
            print(_exports(state))
            return 0
    print(f"# starting Apache Kafka {kafka_version()} in {workdir}", file=sys.stderr)
    broker = LocalKafka(workdir / "kafka", args.kafka_port, tie_to_parent=False).start()
    assert broker.process is not None
    simulator = _start_simulator(workdir, args)
    state = {
        "bootstrap": broker.bootstrap_servers, "kafka_pid": broker.process.pid,
        "simulator_url": simulator[1], "simulator_pid": simulator[0],
    }  # fmt: skip
    state_file.write_text(json.dumps(state))
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
    raise RuntimeError(f"the simulator did not start; see {log}")


def _stop(pid: int | None, what: str) -> bool:
    if not _alive(pid):
        return True
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not _alive(pid):
            print(f"stopped {what} (pid {pid})")
            return True
        time.sleep(0.1)
    print(f"{what} (pid {pid}) did not stop in {STOP_TIMEOUT_SECONDS:.0f} s", file=sys.stderr)
    return False


def run_down(args: argparse.Namespace) -> int:
    workdir = _workdir(args)
    state_file = _state_file(workdir)
    if not state_file.exists():
        print(f"nothing is running (no dev state in {workdir})")
        return 0
    state = json.loads(state_file.read_text())
    stopped = _stop(state.get("simulator_pid"), "the simulator") & _stop(
        state.get("kafka_pid"), "Kafka"
    )
    if stopped:
        state_file.unlink()
    return 0 if stopped else 1
