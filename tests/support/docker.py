"""Whether a Docker engine answers here (testcontainers needs one)."""

from __future__ import annotations

import functools
import shutil
import subprocess

DOCKER_PROBE_TIMEOUT_SECONDS = 10


@functools.cache
def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(
            ["docker", "info"],
            capture_output=True,
            timeout=DOCKER_PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0
