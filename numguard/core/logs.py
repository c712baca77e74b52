"""Logging set-up: plain text for a terminal, or one JSON object a line.

Every line passes a redacting filter on the way out, whichever library wrote
it: anything shaped like a North American phone number is masked, and every
secret registered with `redact()` is replaced. Code masks numbers itself too;
this is the net under it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from numguard.core.phone import mask_numbers

_PLAIN = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_secrets: set[str] = set()
_SHORTEST_SECRET = 4  # shorter values would redact ordinary words


def redact(secret: str | None) -> None:
    """Never let `secret` reach a log line."""
    if secret and len(secret) >= _SHORTEST_SECRET:
        _secrets.add(secret)


def scrub(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "[redacted]")
    return mask_numbers(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry)


def configure(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_PLAIN))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # librdkafka reports every broker reconnect; keep its chatter to warnings.
    logging.getLogger("numguard.rdkafka").setLevel(max(root.level, logging.WARNING))
    # httpx logs every request URL at INFO: useful at debug only. confluent-kafka's
    # schema registry client uses its successor, httpx2, where installed.
    for http_client in ("httpx", "httpx2"):
        logging.getLogger(http_client).setLevel(max(root.level, logging.WARNING))
