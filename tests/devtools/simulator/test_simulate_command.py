"""`simulate` as a subcommand: options, credentials from the environment, and a real run
in a subprocess that prints its URL, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from numguard.cli import build_parser
from numguard.cli.commands import simulate
from numguard.cli.options import UsageError
from numguard.devtools.simulator import DirectoryDataset, FaultKind, GeneratedDataset
from numguard.devtools.simulator.server import DEV_INFOBIP_API_KEY

STARTUP_TIMEOUT_SECONDS = 30
EXIT_TIMEOUT_SECONDS = 15


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["simulate", *argv])


def test_options_become_a_dataset_and_a_fault_plan() -> None:
    args = parse(
        "--seed", "9", "--numbers", "50", "--days", "2", "--start-date", "2024-03-01",
        "--fail-first", "2:/convey/*", "--throttle-first", "1:30", "--delay", "0.5:/v1/*",
        "--truncate-first", "1", "--missing-day", "2024-03-02",
    )  # fmt: skip
    data = simulate.dataset(args)
    assert isinstance(data, GeneratedDataset)
    assert (data.seed, data.numbers, data.days, data.last_date) == (9, 50, 2, date(2024, 3, 2))
    assert [(r.kind, r.pattern, r.count) for r in args.rules] == [
        (FaultKind.ERROR, "/convey/*", 2),
        (FaultKind.THROTTLE, "*", 1),
        (FaultKind.DELAY, "/v1/*", None),
        (FaultKind.TRUNCATE, "*", 1),
    ]
    assert args.missing_days == [date(2024, 3, 2)]
    assert (args.host, args.port) == ("127.0.0.1", 0)


def test_by_default_yesterday_is_the_last_generated_day() -> None:
    before = datetime.now(UTC).date() - timedelta(days=1)
    data = simulate.dataset(parse("--days", "3"))
    after = datetime.now(UTC).date() - timedelta(days=1)  # the same, unless midnight passed
    assert isinstance(data, GeneratedDataset)
    assert (data.last_date - data.start_date).days == 2
    assert data.last_date in {before, after}


def test_from_dir_serves_given_files_and_refuses_generation_options(tmp_path: Path) -> None:
    (tmp_path / "mcdn_deact_20240301.csv").write_text("MDN,REASON_CODE\n")
    assert isinstance(simulate.dataset(parse("--from-dir", str(tmp_path))), DirectoryDataset)
    with pytest.raises(UsageError, match="--seed"):
        simulate.dataset(parse("--from-dir", str(tmp_path), "--seed", "1"))
    with pytest.raises(UsageError, match="not a directory"):
        simulate.dataset(parse("--from-dir", str(tmp_path / "absent")))


def test_impossible_sizes_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="days"):
        simulate.run(parse("--days", "0"))


def test_credentials_come_from_named_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(simulate.INFOBIP_KEY_ENV, raising=False)
    credentials, sources = simulate.credentials(parse())
    assert credentials.infobip_api_key == DEV_INFOBIP_API_KEY
    assert sources["key"] == "development default"

    monkeypatch.setenv("MY_INFOBIP_KEY", "from-the-environment")
    credentials, sources = simulate.credentials(parse("--api-key-env", "MY_INFOBIP_KEY"))
    assert credentials.infobip_api_key == "from-the-environment"
    assert sources["key"] == "$MY_INFOBIP_KEY"
    assert "from-the-environment" not in repr(credentials)

    with pytest.raises(UsageError, match="NOT_SET_ANYWHERE"):
        simulate.credentials(parse("--auth-token-env", "NOT_SET_ANYWHERE"))


def test_bad_fault_specs_and_dates_are_rejected_by_the_parser() -> None:
    for argv in (["--fail-first", "none"], ["--delay", "soon"], ["--missing-day", "tomorrow"]):
        with pytest.raises(SystemExit) as exit_info:
            parse(*argv)
        assert exit_info.value.code == 2


def test_the_command_prints_its_url_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "SIM_TEST_KEY": "key-from-env"}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "numguard", "simulate", "--seed", "5", "--numbers", "100",
            "--days", "2", "--start-date", "2024-03-01", "--api-key-env", "SIM_TEST_KEY",
            "--fail-first", "1:/convey/*",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        banner = read_banner(process)
        first = banner[0]
        assert first.startswith("carrier simulator at http://127.0.0.1:")
        base = first.removeprefix("carrier simulator at ")
        text = "\n".join(banner)
        assert "/number-activation-state/1/network-reports" in text
        assert "/convey/mcdn_deact_YYYYMMDD.csv" in text
        assert "/v1/Deactivations?Date=YYYY-MM-DD" in text
        assert "$SIM_TEST_KEY" in text
        assert "key-from-env" not in text
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/convey/mcdn_deact_20240301.csv").status_code == 500
            csv = client.get("/convey/mcdn_deact_20240301.csv")
            assert csv.status_code == 200
            assert csv.text.startswith("MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME")
            reports = client.get(
                "/number-activation-state/1/network-reports",
                headers={"Authorization": "App key-from-env"},
            )
            assert reports.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(EXIT_TIMEOUT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def read_banner(process: subprocess.Popen[bytes]) -> list[str]:
    """The lines printed up to "stop with ...", waiting at most STARTUP_TIMEOUT_SECONDS
    for each read (raw reads: a buffered readline could hide lines from select)."""
    assert process.stdout is not None
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\nstop with" not in output:
            if not selector.select(STARTUP_TIMEOUT_SECONDS):
                raise AssertionError(f"no banner within {STARTUP_TIMEOUT_SECONDS} s: {output!r}")
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                stderr = process.stderr.read() if process.stderr else b""
                raise AssertionError(f"the simulator exited early: {output!r}\n{stderr!r}")
            output += chunk
    return output.decode().splitlines()
