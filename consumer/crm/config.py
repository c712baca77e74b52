"""The CRM notifier's settings: its endpoints and its flow control, typed and checked.

They are part of numguard's one configuration model (numguard.cli.config): the
[crm] section of the main file, or a file of their own, with the environment over
either. An endpoint's secret is never written in a file: `secret_env` names the
variable that holds it, and loading resolves it.

    [notifier]
    max_pending_per_partition = 1000
    shutdown_grace_seconds = 10

    [[endpoints]]
    name = "salesforce"
    url = "https://crm.example.com/hooks/numguard"
    secret_env = "NUMGUARD_CRM_SALESFORCE_SECRET"
    event_types = ["DEACTIVATED", "NUMBER_CHANGED"]  # default: every type
    timeout_seconds = 10
    max_concurrency = 8
    max_attempts = 8
    backoff = { initial_seconds = 1.0, max_seconds = 60.0 }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from numguard.core import logs
from numguard.core.settings import Integer, Number, Seconds, Settings, Text, env_variable
from numguard.schemas.events import EventType

KNOWN_TYPES = tuple(t for t in EventType if t is not EventType.UNKNOWN)
_BY_NAME = {t.value: t for t in KNOWN_TYPES}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
ENDPOINTS_ENV = "NUMGUARD_CRM_ENDPOINTS"


def _secrets_from(info: ValidationInfo) -> Mapping[str, str] | None:
    """The environment to resolve endpoint secrets from: given by the loader of the CRM
    settings only, so a command that sends no webhook never needs the CRM's secrets."""
    return (info.context or {}).get("crm_secrets")


def _event_types(value: Any) -> Any:
    """Names, in any case, to event types; unknown names are an error listing the known."""
    if not isinstance(value, list | tuple | set | frozenset) or not value:
        raise ValueError("expected a non-empty list of event type names")
    if all(isinstance(v, EventType) for v in value):
        return frozenset(value)
    names = [v.strip().upper() if isinstance(v, str) else repr(v) for v in value]
    if unknown := [n for n in names if n not in _BY_NAME]:
        known = ", ".join(_BY_NAME)
        raise ValueError(f"unknown event type(s) {', '.join(unknown)} (known: {known})")
    return frozenset(_BY_NAME[n] for n in names)


EventTypes = Annotated[frozenset[EventType], BeforeValidator(_event_types)]


class Backoff(Settings):
    initial_seconds: Seconds = 1.0
    max_seconds: Seconds = 60.0

    @field_validator("max_seconds")
    @classmethod
    def _not_below_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("initial_seconds")
        if initial is not None and value < initial:
            raise ValueError(f"must be at least initial_seconds ({initial:g})")
        return value


class Endpoint(Settings):
    name: str
    url: Text
    secret_env: Text
    # Resolved from secret_env by loading; repr=False: never shown in a log or traceback.
    secret: str = Field("", repr=False, exclude=True)
    event_types: EventTypes = frozenset(KNOWN_TYPES)
    timeout_seconds: Seconds = 10.0
    max_concurrency: Integer = Field(8, ge=1)
    max_attempts: Integer = Field(8, ge=1)
    backoff: Backoff = Backoff()

    @field_validator("name")
    @classmethod
    def _usable_name(cls, value: str) -> str:
        # The name is part of variable names (NUMGUARD_CRM_<NAME>_URL) and consumer groups.
        if not _NAME.fullmatch(value):
            raise ValueError("expected a name of letters, digits, - and _ (starting with a letter)")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("expected an http(s) URL with a host")
        return value

    @field_validator("secret_env")
    @classmethod
    def _is_set(cls, name: str, info: ValidationInfo) -> str:
        if (environ := _secrets_from(info)) is not None and not environ.get(name):
            raise ValueError(f"the environment variable {name} is not set")
        return name

    @field_validator("secret")
    @classmethod
    def _not_from_a_file(cls, value: str, info: ValidationInfo) -> str:
        if value and _secrets_from(info) is not None:
            raise ValueError("a secret written in the file; name its variable with secret_env")
        return value

    @model_validator(mode="after")
    def _resolve_secret(self, info: ValidationInfo) -> Endpoint:
        if (environ := _secrets_from(info)) is not None:
            secret = environ[self.secret_env]  # checked set above
            object.__setattr__(self, "secret", secret)  # frozen: set once, here
            logs.redact(secret)  # never written to a log line, whoever logs it
        return self

    def wants(self, event_type: EventType) -> bool:
        return event_type in self.event_types


class NotifierSettings(Settings):
    # A partition with this many events not yet delivered everywhere is paused.
    max_pending_per_partition: Integer = Field(1000, ge=1)
    # On SIGTERM, how long in-flight deliveries may finish before being abandoned uncommitted.
    shutdown_grace_seconds: Number = Field(10.0, ge=0)


class CrmConfig(Settings):
    endpoints: tuple[Endpoint, ...]
    notifier: NotifierSettings = NotifierSettings()

    @field_validator("endpoints")
    @classmethod
    def _named_apart(cls, endpoints: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        if not endpoints:
            raise ValueError(f"no endpoints: add [[endpoints]] tables or set {ENDPOINTS_ENV}")
        seen: dict[str, str] = {}
        for endpoint in endpoints:
            other = seen.setdefault(env_variable(endpoint.name), endpoint.name)
            if other != endpoint.name:
                raise ValueError(f"{endpoint.name!r} clashes with {other!r} "
                                 "(names must differ apart from case, - and _)")  # fmt: skip
        return endpoints

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)
