"""`numguard serve` as a real process on loopback, for the API's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

TOKEN = "t0ken-for-tests-9f2c"


@contextmanager
def running_api(
    store_url: str, *args: str, token: str | None = TOKEN
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The server on a free port: its base URL, and the process (stderr: its logs)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMGUARD_API_TOKEN"}
    if token is not None:
        env["NUMGUARD_API_TOKEN"] = token
    process = subprocess.Popen(
        [sys.executable, "-m", "numguard", "serve", "--port", "0", "--store", store_url, *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on" in line, process.stderr.read() if process.stderr else ""
        yield line.rsplit(" ", 1)[1].strip(), process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def client(base: str, token: str | None = TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=10)
