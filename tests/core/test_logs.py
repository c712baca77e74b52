from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from numguard.core import logs
from numguard.core.logs import scrub


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """configure() replaces the root's handlers (here: one on this test's captured
    stderr) and sets levels: put them back, or every later test logs at DEBUG to a
    closed stream, past pytest's capture (a later caplog test missed its warning)."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    levels = {name: logger.level for name, logger in logging.Logger.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}  # fmt: skip
    root_level = root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(root_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def library_logger() -> logging.Logger:
    """numguard's logging set-up, configured inside the test that captures its output."""
    logs.configure("debug", "json")
    return logging.getLogger("some.library")


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_numbers_are_masked_whoever_logs_them(capsys: pytest.CaptureFixture[str]) -> None:
    library_logger().info("sent to %s and 12025550199 and (202) 555-0100 at %d", "+12025550123",
                  1709636400000)  # fmt: skip
    (line,) = lines(capsys)
    assert line["message"] == (
        "sent to +1202555**** and 1202555**** and (202) 555-**** at 1709636400000"
    )
    assert line["level"] == "info" and line["logger"] == "some.library"


def test_registered_secrets_never_reach_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    captured = library_logger()
    logs.redact("App-key-7f3e9b")
    try:
        raise RuntimeError("refused: Authorization: App App-key-7f3e9b")
    except RuntimeError:
        captured.exception("call failed with key App-key-7f3e9b")
    (line,) = lines(capsys)
    assert "App-key-7f3e9b" not in json.dumps(line)
    assert "[redacted]" in line["message"] and "[redacted]" in line["error"]


@pytest.mark.parametrize(
    "written",
    ["+1 (202) 555-0143", "1-202-555-0143", "202.555.0143", "(202)555-0143", "+1 202 555 0143",
     "2025550143", "+12025550143"],
)  # fmt: skip
def test_a_number_in_any_format_is_masked(written: str) -> None:
    """Issue 10: `+1 (202) 555-0143` is a number too."""
    assert "0143" not in scrub(f"row had {written} in it")


def test_dates_times_and_long_digit_runs_are_not_numbers() -> None:
    text = (
        "2024-03-05T11:00:00Z offset 1709636400000 file mcdn_deact_20240305.csv port 127.0.0.1:9092"
    )
    assert scrub(text) == text
