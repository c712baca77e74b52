"""Apache Kafka (KRaft) run with Java on loopback: one node, or a replicated cluster.

For tests and local runs on machines without a Docker engine: the jars come
from Maven Central (see jars.py), every node listens on 127.0.0.1 only, and
readiness means an admin metadata call answered, not a sleep.

LocalKafka is one node that is both broker and controller; alone it is a
cluster of one. LocalKafkaCluster runs N of them as one cluster (a controller
quorum of N, every topic replicated min(3, N) times, one fewer in sync), and
can kill a node with SIGKILL and start it again on the same ports and data.
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
# A cluster's nodes start together on shared cores, and a restarted node catches up
# with the others' logs before its replicas count as in sync again.
CLUSTER_START_TIMEOUT_SECONDS = 180.0
IN_SYNC_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
FORMAT_TIMEOUT_SECONDS = 60.0
HEAP = "-Xmx768m"
# Several nodes share the machine: each gets less.
CLUSTER_NODE_HEAP = "-Xmx384m"
BIND_ATTEMPTS = 3
MAX_REPLICATION = 3  # as numguard.core.kafka.topics creates its topics
_POLL_SECONDS = 0.2

# Every node plays broker and controller. The internal topics (group offsets,
# transaction state) are replicated like numguard's own: min(3, nodes) copies, one
# fewer in sync (a single node: 1 and 1, or transactions and groups hang).
_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
{listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={data_dir}
auto.create.topics.enable=false
num.partitions=1
default.replication.factor={replication}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_isr}
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor={replication}
share.coordinator.state.topic.min.isr={min_isr}
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


def _quiet_admin(bootstrap: str, client: dict[str, Any] | None = None) -> AdminClient:
    """An admin client whose connection errors (a node down, on purpose) stay quiet
    (`client`: librdkafka settings such as a secured listener's)."""
    quiet = logging.getLogger("numguard.devtools.localkafka.probe")
    quiet.propagate = False
    quiet.setLevel(logging.CRITICAL)
    settings: dict[str, Any] = {**(client or {}), "bootstrap.servers": bootstrap,
                                "logger": quiet}  # fmt: skip
    return AdminClient(settings)


def broker_answers(
    bootstrap: str, timeout: float = 2.0, client: dict[str, Any] | None = None
) -> bool:
    """True when a metadata request to `bootstrap` lists at least one broker."""
    try:
        return bool(_quiet_admin(bootstrap, client).list_topics(timeout=timeout).brokers)
    except Exception:
        return False


class LocalKafka:
    """Start with `start()` (or `with LocalKafka(...)`), stop with `stop()`.

    `workdir` keeps the configuration, the data and broker.log. A workdir that
    was formatted before is reused as it is (a used log directory will not
    re-format), so `numguard dev up` keeps its topics across restarts.

    Alone, the node is a cluster of one. LocalKafkaCluster makes it one of several
    with `node_id`, `voters` (every node's id@127.0.0.1:controller port), `size` and
    a shared `cluster_id`, and starts the nodes with launch() and wait_until_ready().

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
        controller_port: int | None = None,
        node_id: int = 1,
        voters: str | None = None,
        size: int = 1,
        cluster_id: str | None = None,
        heap: str = HEAP,
        scram_users: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self._port_chosen_here = port is None
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self.tie_to_parent = tie_to_parent
        self.node_id = node_id
        self._voters = voters
        self.size = size
        self._cluster_id = cluster_id
        self._heap = heap
        self.scram_users = dict(scram_users or {})
        self.internal_port = free_port() if scram_users else self.port
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

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> LocalKafka:
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                self.launch()
                self.wait_until_ready(timeout)
                return self
            except PortTaken:
                if not self._port_chosen_here:
                    raise PortTaken(f"port {self.port} is in use; choose another") from None
                # Another process took a port between free_port() and the broker's bind.
                log.warning("port taken before the broker bound it (attempt %d)", attempt)
                self.port, self.controller_port = free_port(), free_port()
                self.internal_port = free_port() if self.secured else self.port
        raise BrokerStartError(f"no free ports after {BIND_ATTEMPTS} attempts")

    def launch(self) -> None:
        """Start the Java process (formatting the data directory on first use); return
        at once. Again after stop() or kill(): the same ports, the same data."""
        java = shutil.which("java")
        if java is None:
            raise BrokerStartError("Java is not installed; the local Kafka broker needs Java 17+")
        classpath = str(ensure_kafka_jars() / "*")
        config = self._write_config()
        base = [
            java,
            self._heap,
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

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM: a clean shutdown (leadership handed over first, in a cluster)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        self.wait_for_exit(timeout)

    def kill(self) -> None:
        """SIGKILL: the node dies mid-write, as in a crash or a lost machine."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def wait_for_exit(self, timeout: float) -> None:
        assert self.process is not None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("local Kafka node %d did not stop in %.0f s; killing it",
                        self.node_id, timeout)  # fmt: skip
            self.kill()

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
        replication = min(MAX_REPLICATION, self.size)
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
                node_id=self.node_id,
                voters=self._voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
                listeners=listeners,
                data_dir=self.workdir / "data",
                replication=replication,
                min_isr=max(1, replication - 1),
            )
        )
        (self.workdir / "log4j2.properties").write_text(
            _LOG4J2_PROPERTIES.format(log_file=self.log_file)
        )
        return config

    def _format(self, base: list[str], config: Path) -> None:
        cluster_id = self._cluster_id or new_cluster_id()
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

    def wait_until_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until this node answers a metadata request (stopped if it does not in time)."""
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
                log.info("local Kafka node %d ready at %s (pid %d)", self.node_id,
                         self.bootstrap_servers, self.process.pid)  # fmt: skip
                return
            time.sleep(_POLL_SECONDS)
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


class LocalKafkaCluster:
    """`size` LocalKafka nodes on loopback as one cluster, each broker and controller
    (a controller quorum of `size`); topics replicated min(3, size) times with one
    fewer in sync, the internal ones too. Node ids are 1..size, node N's files are in
    `workdir`/node-N. kill(N) and restart(N) crash and revive one node; its ports and
    data stay the same."""

    def __init__(self, workdir: Path, size: int = 3, *, heap: str = CLUSTER_NODE_HEAP) -> None:
        self.workdir = Path(workdir)
        self.size = size
        self._heap = heap
        self._cluster_id = new_cluster_id()
        self.nodes = self._new_nodes()

    def _new_nodes(self) -> dict[int, LocalKafka]:
        ids = range(1, self.size + 1)
        ports = {node_id: (free_port(), free_port()) for node_id in ids}
        voters = ",".join(f"{n}@127.0.0.1:{controller}" for n, (_, controller) in ports.items())
        return {
            node_id: LocalKafka(
                self.workdir / f"node-{node_id}", port, controller_port=controller,
                node_id=node_id, voters=voters, size=self.size, cluster_id=self._cluster_id,
                heap=self._heap,
            )
            for node_id, (port, controller) in ports.items()
        }  # fmt: skip

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    def start(self, timeout: float = CLUSTER_START_TIMEOUT_SECONDS) -> LocalKafkaCluster:
        """Every node at once (a controller quorum needs a majority up to elect a
        leader), then until the cluster lists every broker."""
        fresh = not any((n.workdir / "data" / "meta.properties").exists()
                        for n in self.nodes.values())  # fmt: skip
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                for node in self.nodes.values():
                    node.launch()
                deadline = time.monotonic() + timeout
                for node in self.nodes.values():
                    node.wait_until_ready(max(1.0, deadline - time.monotonic()))
                self._wait_for_brokers(self.size, deadline)
                return self
            except PortTaken:
                self.kill_all()
                if not fresh:
                    raise
                # A port taken between free_port() and the bind: the quorum's addresses
                # are in every node's configuration, so start afresh on new ones.
                log.warning("port taken before a node bound it (attempt %d)", attempt)
                for node in self.nodes.values():
                    shutil.rmtree(node.workdir, ignore_errors=True)
                self.nodes = self._new_nodes()
            except BaseException:
                self.kill_all()
                raise
        raise BrokerStartError(f"no free ports after {BIND_ATTEMPTS} attempts")

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM to every node at once (one by one, the last ones would wait for a
        controller quorum that is gone), then wait."""
        running = [node for node in self.nodes.values() if node.running]
        for node in running:
            assert node.process is not None
            node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node in running:
            node.wait_for_exit(max(1.0, deadline - time.monotonic()))

    def kill_all(self) -> None:
        for node in self.nodes.values():
            node.kill()

    def kill(self, node_id: int) -> None:
        self.nodes[node_id].kill()
        log.info("killed local Kafka node %d", node_id)

    def restart(self, node_id: int, timeout: float = CLUSTER_START_TIMEOUT_SECONDS) -> None:
        """Start a killed or stopped node again on its ports and data, until it answers."""
        node = self.nodes[node_id]
        node.launch()
        node.wait_until_ready(timeout)

    def start_all(self, timeout: float = CLUSTER_START_TIMEOUT_SECONDS) -> None:
        """After the whole cluster was down: every node again, until all are listed."""
        for node in self.nodes.values():
            if not node.running:
                node.launch()
        deadline = time.monotonic() + timeout
        for node in self.nodes.values():
            node.wait_until_ready(max(1.0, deadline - time.monotonic()))
        self._wait_for_brokers(self.size, deadline)

    def leader(self, topic: str, partition: int) -> int:
        """The node id leading the partition, as the cluster's metadata says now."""
        found = self._metadata().topics[topic].partitions[partition].leader
        if found < 0:
            raise LookupError(f"{topic}[{partition}] has no leader")
        return int(found)

    def wait_in_sync(self, timeout: float = IN_SYNC_TIMEOUT_SECONDS) -> None:
        """Until every partition of every topic has a leader and all its replicas in
        sync: only then can another node die without a partition going under its
        minimum in-sync replicas."""
        deadline = time.monotonic() + timeout
        lagging: list[str] = []
        while time.monotonic() < deadline:
            try:
                metadata = self._metadata()
            except Exception as error:  # a controller election under way: ask again
                lagging = [str(error)]
            else:
                lagging = [
                    f"{name}[{number}]"
                    for name, topic in metadata.topics.items()
                    for number, partition in topic.partitions.items()
                    if partition.leader < 0 or set(partition.isrs) != set(partition.replicas)
                ]  # fmt: skip
                if len(metadata.brokers) == self.size and not lagging:
                    return
            time.sleep(_POLL_SECONDS)
        raise BrokerStartError(f"replicas not in sync within {timeout:.0f} s: {lagging[:10]}")

    def _metadata(self) -> Any:
        return _quiet_admin(self.bootstrap_servers).list_topics(timeout=10)

    def _wait_for_brokers(self, count: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                if len(self._metadata().brokers) >= count:
                    log.info("local Kafka cluster of %d ready at %s", count,
                             self.bootstrap_servers)  # fmt: skip
                    return
            except Exception:
                pass  # not answering yet: ask again
            time.sleep(_POLL_SECONDS)
        self.kill_all()
        raise BrokerStartError(f"the cluster did not list {count} brokers in time")

    def __enter__(self) -> LocalKafkaCluster:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
