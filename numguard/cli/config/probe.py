"""librdkafka checks its own settings' names and values, together (they depend on each other)."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException, Producer


def librdkafka_problem(settings: dict[str, Any]) -> str | None:
    if not settings:
        return None
    quiet = logging.getLogger("numguard.config.probe")
    quiet.propagate = False
    try:
        # Port 9 (discard) on loopback: nothing is sent anywhere that matters.
        # log_level 0: nothing logged, even while the probe is torn down.
        probe = {**settings, "bootstrap.servers": "127.0.0.1:9", "logger": quiet, "log_level": 0}
        Producer(probe).flush(0)
    except KafkaException as error:
        return str(error.args[0].str())
    except (TypeError, ValueError) as error:
        return str(error)
    return None
