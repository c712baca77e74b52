"""What every local server the developer tools start needs: a free loopback port, and
a child process that does not outlive the process that started it (core.signals)."""

from __future__ import annotations

import socket

from numguard.core.signals import die_with_parent

__all__ = ["die_with_parent", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
