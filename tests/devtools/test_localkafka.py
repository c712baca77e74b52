"""The local broker from the Maven jars: start, reuse, stop, clear failures."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from numguard.devtools.localkafka.broker import (
    BrokerStartError,
    LocalKafka,
    broker_answers,
    new_cluster_id,
)
from tests.support.kafka import SECURED_USER

pytestmark = pytest.mark.kafka


def test_a_stopped_broker_restarts_on_its_workdir_with_its_topics(tmp_path: Path) -> None:
    with LocalKafka(tmp_path) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(30)
    assert not broker_answers(broker.bootstrap_servers, timeout=1)
    assert broker.process is not None and broker.process.returncode is not None

    with LocalKafka(tmp_path) as again:  # a formatted log dir is reused, not re-formatted
        admin = AdminClient({"bootstrap.servers": again.bootstrap_servers})
        assert "kept" in admin.list_topics(timeout=30).topics


def test_a_port_given_and_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(BrokerStartError, match=f"port {port} is in use"):
            LocalKafka(tmp_path, port=port).start()


def test_cluster_ids_never_start_with_a_dash() -> None:
    """kafka-storage would read such an id as an option (seen: 1 run in 64 failed)."""
    ids = [new_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids)


def test_a_secured_listener_takes_tls_and_scram_only(secured_kafka: LocalKafka) -> None:
    bootstrap = secured_kafka.bootstrap_servers
    assert broker_answers(bootstrap, client=secured_kafka.client_settings(SECURED_USER))
    wrong = secured_kafka.client_settings(SECURED_USER, password="wrong-password")
    assert not broker_answers(bootstrap, timeout=1, client=wrong)
    assert not broker_answers(bootstrap, timeout=1)  # plain text on the TLS port
    # Without the local CA (the system's CAs do not know it) the broker is not trusted.
    settings = secured_kafka.client_settings(SECURED_USER)
    untrusted = {k: v for k, v in settings.items() if k != "ssl.ca.location"}
    assert not broker_answers(bootstrap, timeout=1, client=untrusted)
