"""A secured cluster that refuses numguard's credentials or certificate: said at once.

librdkafka treats a refused SASL login, or a broker certificate it cannot verify, like
any lost connection: it reconnects for ever, logging each attempt, and every call
waits out its own timeout (an outage budget of minutes). Neither ever heals by
waiting. So before the first client on a secured connection is made, one metadata
request is made with an error callback: an authentication or TLS failure raises
CredentialsRejected (the command line: one line, exit 2); an answer, or any other
error (an outage, which each command rides out in its own way), lets the command go on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

# Errors no retry can cure: the credentials, the mechanism or the trust settings are wrong.
REFUSED_CODES = frozenset({KafkaError._AUTHENTICATION, KafkaError._SSL})
# Long enough for TLS and SCRAM on a slow link, short enough to fail well inside 10 s.
CHECK_SECONDS = 5.0
ATTEMPT_SECONDS = 0.5
_PLAIN = "plaintext"


class CredentialsRejected(RuntimeError):
    """The cluster refused the connection's credentials or TLS settings."""


def is_secured(settings: dict[str, Any]) -> bool:
    return str(settings.get("security.protocol", _PLAIN)).lower() != _PLAIN


def check_credentials(bootstrap_servers: str, settings: dict[str, Any]) -> None:
    """Raise CredentialsRejected when the cluster refuses `settings`; return once a
    broker answered, or on any other error (e.g. unreachable: not this check's to judge)."""
    refused: list[KafkaError] = []
    other: list[KafkaError] = []

    def on_error(error: KafkaError) -> None:
        (refused if error.code() in REFUSED_CODES else other).append(error)

    quiet = logging.getLogger("numguard.kafka.credentials")
    quiet.propagate = False
    # log_level 0: librdkafka's own line per failed attempt would be the stream of
    # retries this check exists to replace.
    probe = Producer({**settings, "bootstrap.servers": bootstrap_servers,
                      "error_cb": on_error, "logger": quiet, "log_level": 0})  # fmt: skip
    deadline = time.monotonic() + CHECK_SECONDS
    while time.monotonic() < deadline:
        try:
            probe.list_topics(timeout=ATTEMPT_SECONDS)
            return
        except KafkaException:
            pass
        probe.poll(0)  # serves on_error
        if refused:
            reason = refused[0].str().split(": ", 1)[-1]  # without librdkafka's broker prefix
            raise CredentialsRejected(
                f"Kafka at {bootstrap_servers} refused the connection: {reason}; check "
                "sasl.username, sasl.password, sasl.mechanisms and ssl.ca.location"
            )
        if other:
            return
