"""Signals: a graceful stop for long-running commands (the first SIGTERM or SIGINT sets
an event), and a child process that dies with its parent."""

from __future__ import annotations

import ctypes
import logging
import signal
import threading

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT; the command finishes the work in hand."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping after the work in hand", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def die_with_parent(signum: signal.Signals = signal.SIGTERM) -> None:
    """Ask Linux to send this process `signum` when its parent dies: a child of a process
    killed with SIGKILL (a broker, a server's worker) is never left running."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signum)
