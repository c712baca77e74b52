"""The configuration: one typed model (model.py) read from a TOML file, under env and flags.

Precedence, highest first: a command-line flag, its environment variable, the file,
the model's default. Secrets never live in the file: it names the environment
variables that hold them (`*_env` keys).

    numguard --config numguard.toml produce
    NUMGUARD_CONFIG=numguard.toml numguard consume store

Every problem is reported at once, each with its key path (problems.py).
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from numguard.cli.config import environment
from numguard.cli.config.model import NumguardConfig
from numguard.consumer.crm.config import CrmConfig
from numguard.core import problems

# The command-line attribute each file key fills when neither a flag nor the environment did.
FLAGS = {
    "kafka.bootstrap_servers": "bootstrap_servers",
    "kafka.topic": "topic",
    "kafka.schema_registry_url": "schema_registry_url",
    "kafka.schema_compatibility": "schema_compatibility",
    "store.url": "store",
    "rules.consent_day_zone": "consent_day_zone",
    "rules.no_data": "no_data",
    "sources.convey.url": "convey_url",
    "sources.convey.dir": "convey_dir",
    "sources.infobip.url": "infobip_url",
    "sources.infobip.api_key_env": "infobip_key_env",
    "sources.twilio.url": "twilio_url",
    "sources.twilio.account_sid_env": "twilio_sid_env",
    "sources.twilio.auth_token_env": "twilio_token_env",
    "sources.govdelivery.url": "govdelivery_url",
    "sources.govdelivery.auth_token_env": "govdelivery_token_env",
    "sources.vibes.url": "vibes_url",
    "sources.vibes.dir": "vibes_dir",
    "sources.vonage.url": "vonage_url",
    "sources.telesign.url": "telesign_url",
    "sources.aws_sms.enabled": "aws_sms",
    "sources.aws_sms.region": "aws_region",
    "sources.aws_sms.bucket": "aws_bucket",
    "sources.aws_sms.endpoint_url": "aws_endpoint_url",
    "produce.interval_seconds": "interval",
    "produce.lookback_days": "lookback_days",
    "produce.expected_cadence_hours": "expected_cadence_hours",
    "consume_store.group": "group",
    "serve.port": "port",
    "serve.token_env": "token_env",
    "crm.config": "crm_config",
}
# One attribute, a file key per command.
_METRICS_PORT = {
    "produce": "produce.metrics_port",
    "consume store": "consume_store.metrics_port",
    "consume crm": "consume_crm.metrics_port",
}


class ConfigError(ValueError):
    """The configuration cannot be used; `problems` lists each with its key path."""

    def __init__(self, where: str, found: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(found))
        self.problems = found


def read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read it: {error.strerror}"]) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), [f"not valid TOML: {error}"]) from error


def load(
    path: Path | None, environ: Mapping[str, str] | None = None, *, with_crm: bool = False
) -> NumguardConfig:
    """The file (or none: the defaults) checked whole. Every `*_env` key must name a set
    variable; the CRM endpoints' secrets only `with_crm` (commands that send webhooks)."""
    environ = os.environ if environ is None else environ
    document = read(path) if path is not None else {}
    context = {"environ": environ, "crm_secrets": environ if with_crm else None}
    try:
        return NumguardConfig.model_validate(document, context=context)
    except ValidationError as error:
        raise ConfigError(str(path), problems.lines(error, _labels(document))) from None


def load_crm(
    path: Path | None,
    inline: NumguardConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> CrmConfig:
    """The CRM settings from their own file, else from the main file's [crm] section, with
    the environment over them; the endpoints' secrets resolved."""
    environ = os.environ if environ is None else environ
    if path is not None:
        document = read(path)
    elif inline is not None:
        document = inline.crm.model_dump(exclude={"config"}, exclude_unset=True)
    else:
        document = {}
    where = str(path) if path is not None else "CRM configuration"
    document, unreadable = environment.over_crm(document, environ)
    try:
        config = CrmConfig.model_validate(document, context={"crm_secrets": environ})
    except ValidationError as error:
        raise ConfigError(where, unreadable + problems.lines(error, _labels(document))) from None
    if unreadable:
        raise ConfigError(where, unreadable)
    return config


def _labels(document: Mapping[str, Any]) -> problems.Label:
    """Name a table in an array by its `name` key where it has one: endpoints.salesforce.url."""

    def label(loc: Sequence[int | str]) -> str:
        parts: list[str] = []
        node: Any = document
        for part in loc:
            child = _child(node, part)
            named = isinstance(part, int) and isinstance(child, dict)
            name = child.get("name") if named else None
            if isinstance(name, str):
                parts.append(f".{name}")
            else:
                parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
            node = child
        return "".join(parts).lstrip(".") or "(top)"

    return label


def _child(node: Any, part: int | str) -> Any:
    if isinstance(part, int):
        return node[part] if isinstance(node, list | tuple) and part < len(node) else None
    return node.get(part) if isinstance(node, dict) else None


def apply(config: NumguardConfig, args: argparse.Namespace) -> None:
    """Fill each attribute that neither a flag nor the environment set (None) from the
    file, or the model's default."""
    command = f"{getattr(args, 'command', '')} {getattr(args, 'consumer', '')}".strip()
    wanted = dict(FLAGS)
    if command in _METRICS_PORT:
        wanted[_METRICS_PORT[command]] = "metrics_port"
    for path, attribute in wanted.items():
        if getattr(args, attribute, "absent") is None:
            setattr(args, attribute, config.value_at(path))


def settings_count(model: BaseModel) -> int:
    """How many keys the file set (a table of librdkafka settings counts once)."""
    count = 0
    for name in model.model_fields_set:
        value = getattr(model, name)
        values = value if isinstance(value, tuple) else (value,)
        count += sum(settings_count(v) if isinstance(v, BaseModel) else 1 for v in values)
    return count


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


def inline_secrets(config: NumguardConfig) -> list[str]:
    """The key paths of secrets written into the file itself (they belong in the
    environment, named under [kafka.client_secret_env])."""
    return [f"kafka.client.{name}" for name in config.kafka.client if is_secret_setting(name)]


def secret_values(config: NumguardConfig) -> list[str]:
    """What the log redactor must hide: the client settings that are secrets, and
    nothing else (a username or a file path is not a secret)."""
    from_environment = config.kafka.client_secret_env
    return [
        str(value) for name, value in client_settings(config).items()
        if is_secret_setting(name) or name in from_environment
    ]  # fmt: skip


def client_settings(config: NumguardConfig) -> dict[str, Any]:
    """librdkafka settings from the file, secrets resolved from the environment."""
    secrets = {k: os.environ.get(v, "") for k, v in config.kafka.client_secret_env.items()}
    return {**config.kafka.client, **secrets}
