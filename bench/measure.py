"""Running a numguard command as a user does, timed, with its peak memory, and once
under cProfile for the frames where its time goes."""

from __future__ import annotations

import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RSS_SAMPLE_SECONDS = 0.1
PROFILE_FRAMES = 8
COMMAND_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str


def numguard(*args: str, env: dict[str, str] | None = None, profile: bool = False) -> Measured:
    """`numguard args...` in a child process: wall time and peak resident memory (its
    VmHWM, sampled until it exits). With `profile`, under cProfile (slower: not timed
    as a result), and `stdout` holds the top frames instead."""
    with tempfile.TemporaryDirectory(prefix="numguard-bench-profile-") as scratch:
        stats = Path(scratch) / "run.prof"
        runner = ["-m", "cProfile", "-o", str(stats)] if profile else []
        command = [sys.executable, *runner, "-m", "numguard", "--log-level", "warning", *args]
        measured = _run(command, {**os.environ, **(env or {})})
        if profile:
            return Measured(measured.seconds, measured.peak_rss_mb, top_frames(stats))
        return measured


def _run(command: list[str], env: dict[str, str]) -> Measured:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    peak = [0.0]
    sampler = threading.Thread(target=_sample_peak, args=(process, peak), daemon=True)
    sampler.start()
    stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[-6:])} exited {process.returncode}: {stderr[-2000:]}"
        )
    return Measured(seconds, peak[0], stdout)


def _sample_peak(process: subprocess.Popen[str], peak: list[float]) -> None:
    """The highest VmHWM of the command and of the processes it starts (scrub's and
    replay's --jobs): the peak of its largest process. A new process is seen within
    RSS_SAMPLE_SECONDS of its start."""
    while process.poll() is None:
        for pid in _with_descendants(process.pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]) / 1024)
            except (OSError, ValueError):
                continue  # it ended between the listing and the read
        time.sleep(RSS_SAMPLE_SECONDS)


def _with_descendants(pid: int) -> list[int]:
    found, index = [pid], 0
    while index < len(found):
        for task in Path(f"/proc/{found[index]}/task").glob("*"):  # any thread may start one
            try:
                found += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
        index += 1
    return found


def top_frames(stats_file: Path, count: int = PROFILE_FRAMES) -> str:
    """The functions with the most time of their own, one a line: seconds, share, name."""
    stats = pstats.Stats(str(stats_file))
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    ranked = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    lines = []
    for (path, line, function), entry in ranked[:count]:
        where = f"{Path(path).name}:{line}" if line else path
        lines.append(f"{entry[2]:6.2f} s {entry[2] / total:5.1%}  {function} ({where})")
    return "\n".join(lines)


def median(runs: int, measure: Callable[[], float]) -> float:
    """The median of `runs` measurements: the machine is shared, one run is noise."""
    return statistics.median(measure() for _ in range(runs))
