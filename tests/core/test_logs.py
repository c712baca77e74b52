from __future__ import annotations

import json
import logging

import pytest

from numguard.core import logs


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
        "sent to +1202555**** and 1202555**** and (202) 555-0100 at 1709636400000"
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
