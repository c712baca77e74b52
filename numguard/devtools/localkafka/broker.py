"""A single-node Apache Kafka broker (KRaft) run with Java on loopback.

For tests and local runs on machines without a Docker engine: the jars come
from Maven Central (see jars.py), the broker listens on 127.0.0.1 only, and
readiness means an admin metadata call answered, not a sleep.
"""

from __future__ import annotations

import base64
import logging
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from confluent_kafka.admin import AdminClient

from numguard.devtools.localkafka.jars import ensure_kafka_jars
from numguard.devtools.localkafka.tls import BrokerCertificates, broker_certificates
from numguard.devtools.processes import die_with_parent, free_port

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0
FORMAT_TIMEOUT_SECONDS = 60.0
HEAP = "-Xmx768m"
BIND_ATTEMPTS = 3

# One node plays broker and controller. Internal topics must fit a single node
# (replication factor 1, min ISR 1) or transactions and groups hang.
_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
{listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={data_dir}
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.backoff.ms=1000
"""

_PLAIN_LISTENERS = """\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"""

# Clients on SASL_SSL (TLS, then SCRAM); the broker talks to itself in plain text on a
# second loopback port, so it needs no credentials of its own.
_SECURE_LISTENERS = """\
listeners=PLAINTEXT://127.0.0.1:{internal_port},SASL_SSL://127.0.0.1:{port},\
CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{internal_port},SASL_SSL://127.0.0.1:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms={mechanism}
listener.name.sasl_ssl.{mechanism_lower}.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.client.auth=none"""

SCRAM_MECHANISM = "SCRAM-SHA-512"

_LOG4J2_PROPERTIES = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class BrokerStartError(RuntimeError):
    """The local broker did not come up."""


class PortTaken(BrokerStartError):
    """The broker exited because its port was taken."""


def new_cluster_id() -> str:
    """A KRaft cluster id: a UUID in URL-safe base64. One that starts with "-" would
    be read as an option by kafka-storage, so draw again."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def broker_answers(
    bootstrap: str, timeout: float = 2.0, client: dict[str, Any] | None = None
) -> bool:
    """True when a metadata request to `bootstrap` lists at least one broker (`client`:
    librdkafka settings such as a secured listener's)."""
    quiet = logging.getLogger("numguard.devtools.localkafka.probe")
    quiet.propagate = False
    quiet.setLevel(logging.CRITICAL)
    settings: dict[str, Any] = {**(client or {}), "bootstrap.servers": bootstrap,
                                "logger": quiet}  # fmt: skip
    admin = AdminClient(settings)
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except Exception:
        return False


class LocalKafka:
    """Start with `start()` (or `with LocalKafka(...)`), stop with `stop()`.

    `workdir` keeps the configuration, the data and broker.log. A workdir that
    was formatted before is reused as it is (a used log directory will not
    re-format), so `numguard dev up` keeps its topics across restarts.

    With `scram_users` (name -> password) the client listener on `port` is SASL_SSL:
    TLS with a certificate for 127.0.0.1 signed by a CA made in the workdir (`ca_file`),
    then SCRAM-SHA-512 for those users, created when the storage is formatted.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        tie_to_parent: bool = True,
        scram_users: dict[str, str] | None = None,
        heap: str = HEAP,
    ) -> None:
        self.workdir = Path(workdir)
        self._port_chosen_here = port is None
        self.port = port or free_port()
        self.controller_port = free_port()
        self.internal_port = free_port() if scram_users else self.port
        self.tie_to_parent = tie_to_parent
        self.scram_users = dict(scram_users or {})
        self.heap = heap
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def secured(self) -> bool:
        return bool(self.scram_users)

    @property
    def certificates(self) -> BrokerCertificates:
        return BrokerCertificates.in_dir(self.workdir / "tls")

    @property
    def ca_file(self) -> Path:
        return self.certificates.ca_file

    def client_settings(self, username: str, password: str | None = None) -> dict[str, Any]:
        """librdkafka settings for the SASL_SSL listener as `username`."""
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": SCRAM_MECHANISM,
            "sasl.username": username,
            "sasl.password": self.scram_users[username] if password is None else password,
            "ssl.ca.location": str(self.ca_file),
        }

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "broker.log"

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> LocalKafka:
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if not self._port_chosen_here:
                    raise PortTaken(f"port {self.port} is in use; choose another") from None
                # Another process took a port between free_port() and the broker's bind.
                log.warning("port taken before the broker bound it (attempt %d)", attempt)
                self.port, self.controller_port = free_port(), free_port()
                self.internal_port = free_port() if self.secured else self.port
        raise BrokerStartError(f"no free ports after {BIND_ATTEMPTS} attempts")

    def _start_once(self, timeout: float) -> LocalKafka:
        java = shutil.which("java")
        if java is None:
            raise BrokerStartError("Java is not installed; the local Kafka broker needs Java 17+")
        classpath = str(ensure_kafka_jars() / "*")
        config = self._write_config()
        base = [
            java,
            self.heap,
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            "-cp",
            classpath,
        ]
        if not (self.workdir / "data" / "meta.properties").exists():
            self._format(base, config)
        stdout = (self.workdir / "broker.out").open("ab")
        self.process = subprocess.Popen(
            [*base, "kafka.Kafka", str(config)],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent if self.tie_to_parent else None,
        )
        stdout.close()
        self._wait_until_ready(timeout)
        log.info("local Kafka ready at %s (pid %d)", self.bootstrap_servers, self.process.pid)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("local Kafka did not stop in %.0f s; killing it", timeout)
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "server.properties"
        if self.secured:
            listeners = _SECURE_LISTENERS.format(
                port=self.port, internal_port=self.internal_port,
                controller_port=self.controller_port, mechanism=SCRAM_MECHANISM,
                mechanism_lower=SCRAM_MECHANISM.lower(),
                keystore=broker_certificates(self.workdir / "tls").keystore,
            )  # fmt: skip
        else:
            listeners = _PLAIN_LISTENERS.format(
                port=self.port, controller_port=self.controller_port
            )
        config.write_text(
            _SERVER_PROPERTIES.format(
                listeners=listeners,
                controller_port=self.controller_port,
                data_dir=self.workdir / "data",
            )
        )
        (self.workdir / "log4j2.properties").write_text(
            _LOG4J2_PROPERTIES.format(log_file=self.log_file)
        )
        return config

    def _format(self, base: list[str], config: Path) -> None:
        cluster_id = new_cluster_id()
        # KRaft keeps SCRAM credentials in its metadata log: written once, at format time.
        users = [
            argument
            for name, password in self.scram_users.items()
            for argument in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]")
        ]
        storage_tool = [*base, "kafka.tools.StorageTool", "format", "-t", cluster_id]
        result = subprocess.run(
            [*storage_tool, "-c", str(config), *users],
            capture_output=True,
            text=True,
            timeout=FORMAT_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerStartError(
                f"formatting the Kafka storage failed:\n{result.stdout}{result.stderr}"
            )

    def _wait_until_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self._log_tail(200):
                    raise PortTaken()
                raise BrokerStartError(
                    f"the local Kafka broker exited with code {self.process.returncode}; "
                    f"last lines of {self.log_file}:\n{self._log_tail()}"
                )
            if broker_answers(self.bootstrap_servers, timeout=1.0, client=self._probe_settings()):
                return
            time.sleep(0.2)
        self.stop()
        raise BrokerStartError(
            f"the local Kafka broker did not answer within {timeout:.0f} s; "
            f"last lines of {self.log_file}:\n{self._log_tail()}"
        )

    def _probe_settings(self) -> dict[str, Any] | None:
        """Ready means a client got through TLS and SCRAM, when the listener has them."""
        return self.client_settings(next(iter(self.scram_users))) if self.secured else None

    def _log_tail(self, lines: int = 30) -> str:
        for candidate in (self.log_file, self.workdir / "broker.out"):
            if candidate.exists() and candidate.stat().st_size:
                return "\n".join(candidate.read_text(errors="replace").splitlines()[-lines:])
        return "(no log output)"
