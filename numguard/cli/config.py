"""The configuration file: one TOML document for every command, under env and flags.

Precedence, highest first: a command-line flag, its environment variable, this
file, the built-in default. Secrets never live in the file: it names the
environment variables that hold them (`*_env` keys).

    numguard --config numguard.toml produce
    NUMGUARD_CONFIG=numguard.toml numguard consume store
"""

from __future__ import annotations

import argparse
import logging
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, Producer

# Every key the file may hold: its type, and the command-line attribute it fills.
SCHEMA: dict[str, tuple[type | tuple[type, ...], str | None]] = {
    "kafka.bootstrap_servers": (str, "bootstrap_servers"),
    "kafka.topic": (str, "topic"),
    "kafka.schema_registry_url": (str, "schema_registry_url"),
    "kafka.client": (dict, None),  # librdkafka settings, passed through as they are
    "kafka.client_secret_env": (dict, None),  # librdkafka setting -> env var holding its value
    "store.url": (str, "store"),
    "rules.consent_day_zone": (str, "consent_day_zone"),
    "sources.convey.url": (str, "convey_url"),
    "sources.convey.dir": (str, "convey_dir"),
    "sources.infobip.url": (str, "infobip_url"),
    "sources.infobip.api_key_env": (str, "infobip_key_env"),
    "sources.twilio.url": (str, "twilio_url"),
    "sources.twilio.account_sid_env": (str, "twilio_sid_env"),
    "sources.twilio.auth_token_env": (str, "twilio_token_env"),
    "produce.interval_seconds": ((int, float), "interval"),
    "produce.lookback_days": (int, "lookback_days"),
    "produce.expected_cadence_hours": ((int, float), "expected_cadence_hours"),
    "produce.metrics_port": (int, "metrics_port"),
    "consume_store.group": (str, "group"),
    "consume_store.metrics_port": (int, "metrics_port"),
    "consume_crm.metrics_port": (int, "metrics_port"),
    "serve.port": (int, "port"),
    "serve.token_env": (str, "token_env"),
    "crm.config": (str, "crm_config"),
}
# Settings whose command-line attribute is shared: the file key that applies per command.
_PER_COMMAND = {
    "metrics_port": {
        "produce": "produce.metrics_port",
        "consume store": "consume_store.metrics_port",
        "consume crm": "consume_crm.metrics_port",
    },
}


class Default:
    """A built-in default, marked so the configuration file may replace it
    (a value from a flag or the environment it never replaces)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


class ConfigError(ValueError):
    """The file cannot be used; `problems` lists each with its key path."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.problems = problems


def flatten(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in SCHEMA:
            yield from flatten(value, path + ".")
        else:
            yield path, value


def problems_in(document: dict[str, Any]) -> list[str]:
    """Every problem in the document at once, each with its key path."""
    found = []
    for path, value in flatten(document):
        if path not in SCHEMA:
            found.append(f"{path}: unknown key")
            continue
        wanted, _ = SCHEMA[path]
        if not isinstance(value, wanted) or isinstance(value, bool):
            names = wanted.__name__ if isinstance(wanted, type) else "number"
            found.append(f"{path}: expected {names}, got {type(value).__name__} {value!r}")
        elif isinstance(value, str) and path.endswith("_env") and not os.environ.get(value):
            found.append(f"{path}: the environment variable {value} is not set")
    kafka = document.get("kafka", {})
    for setting, variable in kafka.get("client_secret_env", {}).items():
        if not os.environ.get(str(variable)):
            found.append(f"kafka.client_secret_env.{setting}: {variable} is not set")
    secrets = {name: "placeholder" for name in kafka.get("client_secret_env", {})}
    if problem := _librdkafka_problem({**kafka.get("client", {}), **secrets}):
        found.append(f"kafka.client: {problem}")
    return found


def _librdkafka_problem(settings: dict[str, Any]) -> str | None:
    """librdkafka itself checks the names and values, together (they depend on each other)."""
    if not settings:
        return None
    quiet = logging.getLogger("numguard.config.probe")
    quiet.propagate = False
    try:
        # Port 9 (discard) on loopback: nothing is sent anywhere that matters.
        Producer({**settings, "bootstrap.servers": "127.0.0.1:9", "logger": quiet}).flush(0)
    except KafkaException as error:
        return str(error.args[0].str())
    except (TypeError, ValueError) as error:
        return str(error)
    return None


def load(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(path, [f"cannot read it: {error.strerror}"]) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, [f"not valid TOML: {error}"]) from error
    if problems := problems_in(document):
        raise ConfigError(path, problems)
    return document


def lookup(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def apply(document: dict[str, Any], args: argparse.Namespace) -> None:
    """Fill the attributes that neither a flag nor the environment set."""
    for path, (_, attribute) in SCHEMA.items():
        current = getattr(args, attribute, "absent") if attribute else "absent"
        if attribute is None or not (current is None or isinstance(current, Default)):
            continue
        per_command = _PER_COMMAND.get(attribute, {})
        command = f"{getattr(args, 'command', '')} {getattr(args, 'consumer', '')}".strip()
        if per_command and path != per_command.get(command):
            continue
        if (value := lookup(document, path)) is not None:
            setattr(args, attribute, value)


def unwrap_defaults(args: argparse.Namespace) -> None:
    """After apply(): every attribute still holding a Default gets its plain value."""
    for name, value in vars(args).items():
        if isinstance(value, Default):
            setattr(args, name, value.value)


# librdkafka settings whose values are secrets, besides any name holding these words.
_SECRET_CLIENT_SETTINGS = frozenset({"ssl.key.pem", "sasl.oauthbearer.config"})
_SECRET_WORDS = ("password", "secret")


def is_secret_setting(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_CLIENT_SETTINGS or any(w in lowered for w in _SECRET_WORDS)


INLINE_SECRET = (
    "a secret written in the file; name the environment variable that holds it "
    "under [kafka.client_secret_env] instead"
)


def inline_secrets(document: dict[str, Any]) -> list[str]:
    """The key paths of secrets written into the file itself (they belong in the
    environment, named under [kafka.client_secret_env])."""
    client = document.get("kafka", {}).get("client", {})
    return [f"kafka.client.{name}" for name in client if is_secret_setting(str(name))]


def secret_values(document: dict[str, Any]) -> list[str]:
    """What the log redactor must hide: the client settings that are secrets, and
    nothing else (a username or a file path is not a secret)."""
    from_environment = document.get("kafka", {}).get("client_secret_env", {})
    return [
        str(value) for name, value in client_settings(document).items()
        if is_secret_setting(name) or name in from_environment
    ]  # fmt: skip


def client_settings(document: dict[str, Any]) -> dict[str, Any]:
    """librdkafka settings from the file, secrets resolved from the environment."""
    kafka = document.get("kafka", {})
    secrets = {k: os.environ[v] for k, v in kafka.get("client_secret_env", {}).items()}
    return {**kafka.get("client", {}), **secrets}
