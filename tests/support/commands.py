"""The `numguard` command as a user runs it: a subprocess, its output captured."""

from __future__ import annotations

import os
import subprocess
import sys

COMMAND_TIMEOUT_SECONDS = 120


def numguard(
    *args: str,
    env: dict[str, str] | None = None,
    clean: bool = False,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m numguard ARGS`. `env` adds to the environment; with clean=True the
    caller's NUMGUARD_* and KAFKA_* variables are left out first."""
    base = dict(os.environ)
    if clean:
        base = {k: v for k, v in base.items() if not k.startswith(("NUMGUARD_", "KAFKA_"))}
    return subprocess.run(
        [sys.executable, "-m", "numguard", *args], capture_output=True, text=True,
        timeout=timeout, env={**base, **(env or {})}, check=False,
    )  # fmt: skip
