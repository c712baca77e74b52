"""What every local server the developer tools start needs: a free loopback port, and
a child process that does not outlive the process that started it."""

from __future__ import annotations

import ctypes
import signal
import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when its parent dies,
    so a killed test run leaves no server behind."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
